import { describe, expect, it } from 'vitest';
import { IncomingQos2, OutgoingInflight, OutgoingState } from '../../../src/broker/session/inflight.js';
import { outgoing } from './fixtures.js';

describe('OutgoingInflight', () => {
  it('qos1 publish should wait for puback and then complete', () => {
    const inflight = new OutgoingInflight(10);
    const entry = inflight.start(outgoing(1));
    expect(entry?.state).toBe(OutgoingState.AwaitingPuback);
    expect(inflight.puback(entry!.packetId)).toBe(entry);
    expect(inflight.size).toBe(0);
  });

  it('qos0 messages never enter the window', () => {
    expect(new OutgoingInflight(10).start(outgoing(0))).toBeUndefined();
  });

  it('qos2 publish should send pubrel on pubrec and complete on pubcomp', () => {
    const inflight = new OutgoingInflight(10);
    const entry = inflight.start(outgoing(2))!;
    expect(entry.state).toBe(OutgoingState.AwaitingPubrec);
    expect(inflight.pubcomp(entry.packetId)).toBeUndefined();
    expect(inflight.pubrec(entry.packetId)).toEqual({ pubrel: 0, completed: undefined });
    expect(entry.state).toBe(OutgoingState.AwaitingPubcomp);
    expect(inflight.pubcomp(entry.packetId)).toBe(entry);
    expect(inflight.size).toBe(0);
  });

  it('a duplicate pubrec should send pubrel again', () => {
    const inflight = new OutgoingInflight(10);
    const entry = inflight.start(outgoing(2))!;
    inflight.pubrec(entry.packetId);
    expect(inflight.pubrec(entry.packetId).pubrel).toBe(0);
  });

  it('a pubrec for an unknown id should answer pubrel with packet identifier not found', () => {
    expect(new OutgoingInflight(10).pubrec(42)).toEqual({ pubrel: 0x92, completed: undefined });
  });

  it('a pubrec with a failure reason code should end the exchange without pubrel', () => {
    const inflight = new OutgoingInflight(10);
    const entry = inflight.start(outgoing(2))!;
    expect(inflight.pubrec(entry.packetId, 0x80)).toEqual({ pubrel: undefined, completed: entry });
    expect(inflight.packetIds.has(entry.packetId)).toBe(false);
  });

  it('a puback for a qos2 message or an unknown id should be ignored', () => {
    const inflight = new OutgoingInflight(10);
    const entry = inflight.start(outgoing(2))!;
    expect(inflight.puback(entry.packetId)).toBeUndefined();
    expect(inflight.puback(999)).toBeUndefined();
    expect(inflight.size).toBe(1);
  });

  it('should refuse to start more messages than its limit', () => {
    const inflight = new OutgoingInflight(2);
    expect(inflight.start(outgoing(1))).toBeDefined();
    expect(inflight.start(outgoing(1))).toBeDefined();
    expect(inflight.full).toBe(true);
    expect(inflight.start(outgoing(1))).toBeUndefined();
  });

  it('should list pending entries in the order they were first sent, for resending', () => {
    const inflight = new OutgoingInflight(10);
    const a = inflight.start(outgoing(1, 'a'))!;
    const b = inflight.start(outgoing(2, 'b'))!;
    const c = inflight.start(outgoing(1, 'c'))!;
    inflight.pubrec(b.packetId);
    expect([...inflight.pending()].map((e) => e.outgoing.message.topic)).toEqual(['a', 'b', 'c']);
    expect([...inflight.pending()].map((e) => e.state)).toEqual([
      OutgoingState.AwaitingPuback,
      OutgoingState.AwaitingPubcomp,
      OutgoingState.AwaitingPuback,
    ]);
    expect(a.packetId).not.toBe(c.packetId);
  });

  it('abort should free the packet id whatever the state', () => {
    const inflight = new OutgoingInflight(10);
    const entry = inflight.start(outgoing(2))!;
    expect(inflight.abort(entry.packetId)).toBe(entry);
    expect(inflight.size).toBe(0);
    expect(inflight.packetIds.size).toBe(0);
  });
});

describe('IncomingQos2', () => {
  it('incoming qos2 publish should be delivered once and a resend before pubrel should not be delivered again', () => {
    const incoming = new IncomingQos2();
    expect(incoming.publish(5)).toBe(true);
    expect(incoming.publish(5)).toBe(false);
    expect(incoming.pubrel(5)).toBe(true);
    expect(incoming.publish(5)).toBe(true);
  });

  it('a pubrel for an unknown id should report it as unknown', () => {
    expect(new IncomingQos2().pubrel(1)).toBe(false);
  });
});
