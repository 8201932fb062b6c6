import { describe, expect, it } from 'vitest';
import type { Outgoing } from '../../../src/broker/message.js';
import { type DropReason, Session, type SessionLink } from '../../../src/broker/session/session.js';
import { outgoing } from './fixtures.js';

class FakeLink implements SessionLink {
  writable = true;
  maxTopicLength = Number.POSITIVE_INFINITY;
  sent: { topic: string; packetId: number | undefined; dup: boolean }[] = [];
  pubrels: number[] = [];
  sendPublish(o: Outgoing, packetId: number | undefined, dup: boolean): boolean {
    if (o.message.topic.length > this.maxTopicLength) return false;
    this.sent.push({ topic: o.message.topic, packetId, dup });
    return true;
  }
  sendPubrel(packetId: number): void {
    this.pubrels.push(packetId);
  }
}

function makeSession(maxInflight = 2, maxQueued = 10, queueQos0Offline = false) {
  const dropped: [string, DropReason][] = [];
  const delivered: string[] = [];
  const session = new Session(
    'c',
    { maxInflight, maxQueuedMessages: maxQueued, queueQos0Offline },
    {
      messageDropped: (_s, o, reason) => dropped.push([o.message.topic, reason]),
      messageDelivered: (_s, o) => delivered.push(o.message.topic),
    },
  );
  return { session, dropped, delivered };
}

describe('Session', () => {
  it('should send qos0 messages straight to a connected client', () => {
    const { session, delivered } = makeSession();
    const link = new FakeLink();
    session.attach(link, 65_535, Date.now());
    session.deliver(outgoing(0, 'a'));
    expect(link.sent).toEqual([{ topic: 'a', packetId: undefined, dup: false }]);
    expect(delivered).toEqual(['a']);
  });

  it('should queue qos1 messages beyond the inflight window and send them as acks arrive', () => {
    const { session } = makeSession(2);
    const link = new FakeLink();
    session.attach(link, 65_535, Date.now());
    for (const t of ['a', 'b', 'c']) session.deliver(outgoing(1, t));
    expect(link.sent.map((s) => s.topic)).toEqual(['a', 'b']);
    expect(session.queue.length).toBe(1);
    session.puback(link.sent[0]!.packetId!, Date.now());
    expect(link.sent.map((s) => s.topic)).toEqual(['a', 'b', 'c']);
  });

  it('should honour a client receive maximum smaller than its own limit', () => {
    const { session } = makeSession(10);
    const link = new FakeLink();
    session.attach(link, 1, Date.now());
    session.deliver(outgoing(1, 'a'));
    session.deliver(outgoing(1, 'b'));
    expect(link.sent.length).toBe(1);
  });

  it('should keep qos0 messages behind queued messages so order is preserved', () => {
    const { session } = makeSession(1);
    const link = new FakeLink();
    session.attach(link, 65_535, Date.now());
    session.deliver(outgoing(1, 'a'));
    session.deliver(outgoing(1, 'b'));
    session.deliver(outgoing(0, 'c'));
    expect(link.sent.map((s) => s.topic)).toEqual(['a']);
    session.puback(link.sent[0]!.packetId!, Date.now());
    expect(link.sent.map((s) => s.topic)).toEqual(['a', 'b', 'c']);
  });

  it('should drop qos0 messages for an offline client and queue qos1/2 messages', () => {
    const { session, dropped } = makeSession();
    session.deliver(outgoing(0, 'a'));
    session.deliver(outgoing(1, 'b'));
    session.deliver(outgoing(2, 'c'));
    expect(dropped).toEqual([['a', 'offline-qos0']]);
    expect(session.queue.length).toBe(2);
  });

  it('should deliver queued messages in order on reconnect', () => {
    const { session } = makeSession(10);
    session.deliver(outgoing(1, 'a'));
    session.deliver(outgoing(2, 'b'));
    const link = new FakeLink();
    session.attach(link, 65_535, Date.now());
    expect(link.sent.map((s) => [s.topic, s.dup])).toEqual([
      ['a', false],
      ['b', false],
    ]);
  });

  it('should resend unacknowledged publishes with dup and pubrels on reconnect, in order', () => {
    const { session } = makeSession(10);
    const first = new FakeLink();
    session.attach(first, 65_535, Date.now());
    session.deliver(outgoing(1, 'a'));
    session.deliver(outgoing(2, 'b'));
    session.deliver(outgoing(2, 'c'));
    session.pubrec(first.sent[2]!.packetId!, 0, Date.now());
    session.detach();
    const second = new FakeLink();
    session.attach(second, 65_535, Date.now());
    expect(second.sent).toEqual([
      { topic: 'a', packetId: first.sent[0]!.packetId, dup: true },
      { topic: 'b', packetId: first.sent[1]!.packetId, dup: true },
    ]);
    expect(second.pubrels).toEqual([first.sent[2]!.packetId]);
  });

  it('should queue even qos0 messages while the link is back-pressured and drain them later', () => {
    const { session } = makeSession();
    const link = new FakeLink();
    session.attach(link, 65_535, Date.now());
    link.writable = false;
    session.deliver(outgoing(0, 'a'));
    expect(link.sent).toEqual([]);
    link.writable = true;
    session.drain(Date.now());
    expect(link.sent.map((s) => s.topic)).toEqual(['a']);
  });

  it('should drop queued messages whose expiry passed before delivery started', () => {
    const { session, dropped } = makeSession();
    const o = outgoing(1, 'a');
    o.message.expiresAt = Date.now() - 1;
    session.deliver(o);
    session.attach(new FakeLink(), 65_535, Date.now());
    expect(dropped).toEqual([['a', 'expired']]);
  });

  it('should drop a message too large for the client and free its packet id', () => {
    const { session, dropped } = makeSession();
    const link = new FakeLink();
    link.maxTopicLength = 1;
    session.attach(link, 65_535, Date.now());
    session.deliver(outgoing(2, 'long'));
    expect(dropped).toEqual([['long', 'packet-too-large']]);
    expect(session.inflight.size).toBe(0);
  });

  it('should count messages dropped because the queue is full', () => {
    const { session, dropped } = makeSession(1, 1);
    session.deliver(outgoing(1, 'a'));
    session.deliver(outgoing(1, 'b'));
    expect(dropped).toEqual([['b', 'queue-full']]);
  });
});
