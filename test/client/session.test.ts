/** The client session state machine, without sockets: requests and packets in, packets out. */
import { describe, expect, it, vi } from 'vitest';
import { PublishError, QueueFullError } from '../../src/client/errors.js';
import { ClientSession, type SessionOptions, type Ticket } from '../../src/client/session.js';
import {
  type ConnackPacket,
  type Packet,
  PacketType,
  type PublishPacket,
  type QoS,
  ReasonCode,
} from '../../src/codec/index.js';

const connack = (sessionPresent = false, receiveMaximum?: number): ConnackPacket => {
  const packet: ConnackPacket = { type: PacketType.CONNACK, sessionPresent, reasonCode: 0 };
  if (receiveMaximum !== undefined) packet.properties = { receiveMaximum };
  return packet;
};

const publish = (qos: QoS, topic = 't', packetId?: number): PublishPacket => {
  const packet: PublishPacket = {
    type: PacketType.PUBLISH,
    topic,
    payload: new Uint8Array([1]),
    qos,
    retain: false,
    dup: false,
  };
  if (packetId !== undefined) packet.packetId = packetId;
  return packet;
};

const ticket = <T>() => ({ resolve: vi.fn(), reject: vi.fn() }) satisfies Ticket<T>;

function connected(options: SessionOptions = {}, receiveMaximum?: number): ClientSession {
  const session = new ClientSession(options);
  session.connack(connack(false, receiveMaximum));
  return session;
}

const types = (packets: Packet[]) => packets.map((p) => p.type);

describe('ClientSession: outgoing publishes', () => {
  it('a QoS 0 publish is sent at once and completes when handed out', () => {
    const session = connected();
    const t = ticket();
    const out = session.publish(publish(0), t);
    expect(types(out)).toEqual([PacketType.PUBLISH]);
    expect(t.resolve).toHaveBeenCalledWith({ reasonCode: 0 });
  });

  it('a QoS 1 publish gets a packet identifier and completes on PUBACK', () => {
    const session = connected();
    const t = ticket();
    const [sent] = session.publish(publish(1), t) as PublishPacket[];
    expect(sent?.packetId).toBe(1);
    expect(t.resolve).not.toHaveBeenCalled();
    expect(session.handle({ type: PacketType.PUBACK, packetId: 1 })).toEqual([]);
    expect(t.resolve).toHaveBeenCalledWith({ reasonCode: 0 });
    expect(session.inFlight).toBe(0);
  });

  it('a QoS 2 publish answers PUBREC with PUBREL and completes on PUBCOMP', () => {
    const session = connected();
    const t = ticket();
    session.publish(publish(2), t);
    expect(session.handle({ type: PacketType.PUBREC, packetId: 1 })).toEqual([
      { type: PacketType.PUBREL, packetId: 1 },
    ]);
    expect(t.resolve).not.toHaveBeenCalled();
    session.handle({ type: PacketType.PUBCOMP, packetId: 1 });
    expect(t.resolve).toHaveBeenCalledWith({ reasonCode: 0 });
  });

  it('a PUBACK with a reason code of 0x80 or more rejects the publish with a PublishError carrying it', () => {
    const session = connected({ protocolVersion: 5 });
    const t = ticket();
    session.publish(publish(1), t);
    session.handle({ type: PacketType.PUBACK, packetId: 1, reasonCode: ReasonCode.NotAuthorized });
    const error = t.reject.mock.calls[0]?.[0];
    expect(error).toBeInstanceOf(PublishError);
    expect(error.reasonCode).toBe(0x87);
  });

  it('a PUBREC refusing the message ends the flow without PUBREL', () => {
    const session = connected({ protocolVersion: 5 });
    const t = ticket();
    session.publish(publish(2), t);
    expect(session.handle({ type: PacketType.PUBREC, packetId: 1, reasonCode: ReasonCode.QuotaExceeded })).toEqual([]);
    expect(t.reject.mock.calls[0]?.[0].reasonCode).toBe(0x97);
    expect(session.inFlight).toBe(0);
  });

  it('No matching subscribers (0x10) is a success', () => {
    const session = connected({ protocolVersion: 5 });
    const t = ticket();
    session.publish(publish(1), t);
    session.handle({ type: PacketType.PUBACK, packetId: 1, reasonCode: ReasonCode.NoMatchingSubscribers });
    expect(t.resolve).toHaveBeenCalledWith({ reasonCode: 0x10 });
  });

  it('never has more QoS 1/2 publishes in flight than the broker Receive Maximum, and sends the rest as acks come', () => {
    const session = connected({}, 2);
    const sent = [0, 1, 2, 3].flatMap(() => session.publish(publish(1), ticket()));
    expect(sent).toHaveLength(2);
    expect(session.queued).toBe(2);
    const next = session.handle({ type: PacketType.PUBACK, packetId: 1 }) as PublishPacket[];
    expect(next.map((p) => p.packetId)).toEqual([3]);
  });

  it('QoS 0 publishes are not held back by a full window', () => {
    const session = connected({}, 1);
    session.publish(publish(1), ticket());
    expect(types(session.publish(publish(0), ticket()))).toEqual([PacketType.PUBLISH]);
  });

  it('skips packet identifiers still in use', () => {
    const session = connected();
    session.publish(publish(1), ticket()); // id 1, stays in flight
    const noop = { resolve() {}, reject() {} };
    for (let i = 0; i < 65_534; i++) {
      const [p] = session.publish(publish(1), noop) as PublishPacket[];
      session.handle({ type: PacketType.PUBACK, packetId: p!.packetId! });
    }
    const [p] = session.publish(publish(1), ticket()) as PublishPacket[];
    expect(p?.packetId).toBe(2); // wrapped past 65,535 and skipped 1
  });
});

describe('ClientSession: offline queue and reconnection', () => {
  it('publishes made while disconnected are queued and sent after CONNACK', () => {
    const session = new ClientSession();
    const t = ticket();
    expect(session.publish(publish(0, 'q0'), t)).toEqual([]);
    expect(session.publish(publish(1, 'q1'), ticket())).toEqual([]);
    expect(t.resolve).not.toHaveBeenCalled();
    const out = session.connack(connack()) as PublishPacket[];
    expect(out.map((p) => p.topic)).toEqual(['q0', 'q1']);
    expect(t.resolve).toHaveBeenCalled();
  });

  it('the offline queue is bounded: beyond the limit a publish is rejected with QueueFullError', () => {
    const session = new ClientSession({ queueLimit: 2 });
    session.publish(publish(1), ticket());
    session.publish(publish(1), ticket());
    const t = ticket();
    session.publish(publish(1), t);
    expect(t.reject.mock.calls[0]?.[0]).toBeInstanceOf(QueueFullError);
  });

  it('[MQTT-4.4.0-1] resends unacknowledged PUBLISH packets with DUP=1 and their original identifiers', () => {
    const session = connected();
    session.publish(publish(1, 'a'), ticket());
    session.publish(publish(2, 'b'), ticket());
    session.disconnected();
    const out = session.connack(connack(true)) as PublishPacket[];
    expect(out.map((p) => [p.topic, p.packetId, p.dup])).toEqual([
      ['a', 1, true],
      ['b', 2, true],
    ]);
  });

  it('[MQTT-4.4.0-1] resends PUBREL (not the PUBLISH) for a QoS 2 message whose PUBREC came', () => {
    const session = connected();
    session.publish(publish(2), ticket());
    session.handle({ type: PacketType.PUBREC, packetId: 1 });
    session.disconnected();
    expect(session.connack(connack(true))).toEqual([{ type: PacketType.PUBREL, packetId: 1 }]);
  });

  it('re-subscribes granted subscriptions when the broker did not keep the session', () => {
    const session = connected();
    session.subscribe(
      [
        { topicFilter: 'a/#', qos: 1 },
        { topicFilter: 'refused', qos: 1 },
      ],
      undefined,
      ticket(),
    );
    session.handle({ type: PacketType.SUBACK, packetId: 1, reasonCodes: [1, 0x80] });
    session.disconnected();
    const out = session.connack(connack(false));
    expect(out).toEqual([{ type: PacketType.SUBSCRIBE, packetId: 2, subscriptions: [{ topicFilter: 'a/#', qos: 1 }] }]);
  });

  it('does not re-subscribe when the broker kept the session', () => {
    const session = connected();
    session.subscribe([{ topicFilter: 'a/#', qos: 1 }], undefined, ticket());
    session.handle({ type: PacketType.SUBACK, packetId: 1, reasonCodes: [1] });
    session.disconnected();
    expect(session.connack(connack(true))).toEqual([]);
  });

  it('forgets an unsubscribed filter', () => {
    const session = connected();
    session.subscribe([{ topicFilter: 'a', qos: 0 }], undefined, ticket());
    session.handle({ type: PacketType.SUBACK, packetId: 1, reasonCodes: [0] });
    const t = ticket();
    session.unsubscribe(['a'], undefined, t);
    session.handle({ type: PacketType.UNSUBACK, packetId: 2 });
    expect(t.resolve).toHaveBeenCalledWith({ reasonCodes: [0] });
    expect(session.subscribedFilters).toEqual([]);
  });

  it('close() rejects every open request', () => {
    const session = connected();
    const a = ticket();
    const b = ticket();
    session.publish(publish(1), a);
    session.disconnected();
    session.publish(publish(1), b);
    session.close(new Error('bye'));
    expect(a.reject).toHaveBeenCalled();
    expect(b.reject).toHaveBeenCalled();
  });
});

describe('ClientSession: incoming publishes', () => {
  it('an incoming QoS 1 publish is acknowledged with PUBACK and delivered', () => {
    const session = connected();
    expect(session.receivePublish(publish(1, 't', 9))).toEqual({
      send: [{ type: PacketType.PUBACK, packetId: 9 }],
      deliver: true,
    });
  });

  it('an incoming QoS 2 publish sends PUBREC and is delivered once, even if the broker resends it', () => {
    const session = connected();
    expect(session.receivePublish(publish(2, 't', 5))).toEqual({
      send: [{ type: PacketType.PUBREC, packetId: 5 }],
      deliver: true,
    });
    expect(session.receivePublish({ ...publish(2, 't', 5), dup: true })).toEqual({
      send: [{ type: PacketType.PUBREC, packetId: 5 }],
      deliver: false,
    });
    expect(session.handle({ type: PacketType.PUBREL, packetId: 5 })).toEqual([
      { type: PacketType.PUBCOMP, packetId: 5 },
    ]);
    expect(session.receivePublish(publish(2, 't', 5)).deliver).toBe(true); // a new message with a reused id
  });

  it('a PUBREL for an unknown identifier is answered with PUBCOMP 0x92 in MQTT 5.0', () => {
    const session = connected({ protocolVersion: 5 });
    expect(session.handle({ type: PacketType.PUBREL, packetId: 3 })).toEqual([
      { type: PacketType.PUBCOMP, packetId: 3, reasonCode: ReasonCode.PacketIdentifierNotFound },
    ]);
  });

  it('with manualAck nothing is acknowledged until the user acknowledges', () => {
    const session = connected({ manualAck: true, protocolVersion: 5 });
    expect(session.receivePublish(publish(1, 't', 1))).toEqual({ send: [], deliver: true });
    expect(session.acknowledge(1, 1)).toEqual([{ type: PacketType.PUBACK, packetId: 1 }]);
    expect(session.receivePublish(publish(2, 't', 2))).toEqual({ send: [], deliver: true });
    expect(session.receivePublish({ ...publish(2, 't', 2), dup: true })).toEqual({ send: [], deliver: false });
    expect(session.acknowledge(2, 2, 0x80)).toEqual([{ type: PacketType.PUBREC, packetId: 2, reasonCode: 0x80 }]);
  });

  it('forgets incoming QoS 2 state when the broker did not keep the session', () => {
    const session = connected();
    session.receivePublish(publish(2, 't', 5));
    session.disconnected();
    session.connack(connack(false));
    expect(session.receivePublish(publish(2, 't', 5)).deliver).toBe(true);
  });
});
