import { describe, expect, it } from 'vitest';
import { PacketType, ReasonCode } from '../../src/codec/index.js';
import { withBroker } from '../helpers/broker.js';
import { useLiveBroker } from '../helpers/live-broker.js';
import { delay, publish, RawClient, receive, subscribe, text } from '../helpers/raw-client.js';

const live = useLiveBroker();
const { connect, pair } = live;

describe('PUBLISH from a client', () => {
  it('routes a QoS 0 message to a matching subscriber', async () => {
    const { sub, pub } = await pair([{ topicFilter: 'a/b', qos: 0 }]);
    await publish(pub, 'a/b', 'hello');
    const received = await receive(sub);
    expect(text(received.payload)).toBe('hello');
    expect(received.qos).toBe(0);
  });

  it.each([
    ['[3.1.1 MQTT-2.3.1-6] [3.1.1 MQTT-4.3.2-2]', 4],
    ['[MQTT-4.3.2-4] [MQTT-2.2.1-5]', 5],
  ] as const)(
    '%s level %d: a QoS 1 PUBLISH is answered with PUBACK carrying its packet id',
    async (_tags, protocolVersion) => {
      const pub = await connect({ protocolVersion });
      pub.send({
        type: PacketType.PUBLISH,
        topic: 'q1',
        payload: Buffer.from('x'),
        qos: 1,
        retain: false,
        dup: false,
        packetId: 77,
      });
      const puback = await pub.expectPacket(PacketType.PUBACK);
      expect(puback.packetId).toBe(77);
    },
  );

  it.each([
    ['[3.1.1 MQTT-2.3.1-6]', 4],
    ['[MQTT-4.3.3-8] [MQTT-2.2.1-5]', 5],
  ] as const)(
    '%s level %d: a QoS 2 PUBLISH is answered with PUBREC carrying its packet id',
    async (_tags, protocolVersion) => {
      const pub = await connect({ protocolVersion });
      pub.send({
        type: PacketType.PUBLISH,
        topic: 'q2',
        payload: Buffer.from('x'),
        qos: 2,
        retain: false,
        dup: false,
        packetId: 78,
      });
      const pubrec = await pub.expectPacket(PacketType.PUBREC);
      expect(pubrec.packetId).toBe(78);
    },
  );

  it.each([
    ['[3.1.1 MQTT-4.3.3-2]', 4],
    ['[MQTT-4.3.3-10]', 5],
  ] as const)(
    '%s level %d: a QoS 2 PUBLISH resent before PUBREL is acknowledged again but not delivered again',
    async (_tag, protocolVersion) => {
      const { sub, pub } = await pair(['once'], { protocolVersion });
      const packet = {
        type: PacketType.PUBLISH,
        topic: 'once',
        payload: Buffer.from('x'),
        qos: 2,
        retain: false,
        dup: false,
        packetId: 9,
      } as const;
      pub.send(packet);
      await pub.expectPacket(PacketType.PUBREC);
      pub.send({ ...packet, dup: true });
      await pub.expectPacket(PacketType.PUBREC);
      pub.send({ type: PacketType.PUBREL, packetId: 9 });
      await pub.expectPacket(PacketType.PUBCOMP);
      await receive(sub);
      await sub.expectNoPacket(300);
    },
  );

  it.each([
    ['[3.1.1 MQTT-4.3.3-2]', 4],
    ['[MQTT-4.3.3-11]', 5],
  ] as const)(
    '%s level %d: PUBREL is answered with PUBCOMP carrying the same packet id',
    async (_tag, protocolVersion) => {
      const pub = await connect({ protocolVersion });
      pub.send({
        type: PacketType.PUBLISH,
        topic: 'q2',
        payload: Buffer.from('x'),
        qos: 2,
        retain: false,
        dup: false,
        packetId: 5,
      });
      await pub.expectPacket(PacketType.PUBREC);
      pub.send({ type: PacketType.PUBREL, packetId: 5 });
      expect((await pub.expectPacket(PacketType.PUBCOMP)).packetId).toBe(5);
    },
  );

  it.each([
    ['[3.1.1 MQTT-4.3.3-2]', 4],
    ['[MQTT-4.3.3-12]', 5],
  ] as const)(
    '%s level %d: after PUBCOMP a PUBLISH with the same packet id is a new message',
    async (_tag, protocolVersion) => {
      const { sub, pub } = await pair([{ topicFilter: 'again', qos: 1 }], { protocolVersion });
      await publish(pub, 'again', 'one', { qos: 2, packetId: 3 });
      await publish(pub, 'again', 'two', { qos: 2, packetId: 3 });
      expect(text((await receive(sub)).payload)).toBe('one');
      expect(text((await receive(sub)).payload)).toBe('two');
    },
  );

  it('[MQTT-3.7.2-1] (5.0) PUBREL for an unknown packet id is answered PUBCOMP 0x92 Packet Identifier not found', async () => {
    const pub = await connect({ protocolVersion: 5 });
    pub.send({ type: PacketType.PUBREL, packetId: 1234 });
    const pubcomp = await pub.expectPacket(PacketType.PUBCOMP);
    expect(pubcomp.reasonCode).toBe(ReasonCode.PacketIdentifierNotFound);
  });

  it('[MQTT-3.4.2-1] [MQTT-3.5.2-1] (5.0) PUBACK and PUBREC carry 0x10 No matching subscribers when nobody subscribed', async () => {
    const pub = await connect({ protocolVersion: 5 });
    expect(await publish(pub, 'nobody/here', 'x', { qos: 1 })).toBe(ReasonCode.NoMatchingSubscribers);
    expect(await publish(pub, 'nobody/here', 'x', { qos: 2, packetId: 2 })).toBe(ReasonCode.NoMatchingSubscribers);
  });

  it('(5.0) more unacknowledged QoS 2 PUBLISH than the Receive Maximum gets DISCONNECT 0x93', async () => {
    const pub = await connect({ protocolVersion: 5 });
    for (let id = 1; id <= 21; id++) {
      pub.send({
        type: PacketType.PUBLISH,
        topic: 'rm',
        payload: Buffer.from('x'),
        qos: 2,
        retain: false,
        dup: false,
        packetId: id,
      });
    }
    for (let id = 1; id <= 20; id++) await pub.expectPacket(PacketType.PUBREC);
    const disconnect = await pub.expectPacket(PacketType.DISCONNECT);
    expect(disconnect.reasonCode).toBe(ReasonCode.ReceiveMaximumExceeded);
    await pub.expectClose();
  });

  it('(3.1.1) a client may have more unacknowledged QoS 2 PUBLISH than maxInflight (no Receive Maximum in 3.1.1)', async () => {
    const pub = await connect();
    for (let id = 1; id <= 30; id++) {
      pub.send({
        type: PacketType.PUBLISH,
        topic: 'rm4',
        payload: Buffer.from('x'),
        qos: 2,
        retain: false,
        dup: false,
        packetId: id,
      });
    }
    for (let id = 1; id <= 30; id++) expect((await pub.expectPacket(PacketType.PUBREC)).packetId).toBe(id);
  });

  it.each([
    ['[3.1.1 MQTT-4.6.0-5] [3.1.1 MQTT-4.6.0-6]', 4],
    ['[MQTT-4.6.0-5] [MQTT-4.6.0-6]', 5],
  ] as const)(
    '%s level %d: messages from one client are delivered in the order they were published',
    async (_tags, protocolVersion) => {
      const { sub, pub } = await pair([{ topicFilter: 'order/#', qos: 1 }], { protocolVersion });
      for (let i = 0; i < 50; i++) {
        pub.send({
          type: PacketType.PUBLISH,
          topic: 'order/x',
          payload: Buffer.from(String(i)),
          qos: 1,
          retain: false,
          dup: false,
          packetId: i + 1,
        });
      }
      for (let i = 0; i < 50; i++) expect(text((await receive(sub)).payload)).toBe(String(i));
    },
  );
});

describe('PUBLISH to a subscriber', () => {
  it('[3.1.1 MQTT-3.8.4-6] a message is delivered at the lower of its QoS and the granted QoS', async () => {
    const { sub, pub } = await pair([{ topicFilter: 'down', qos: 1 }]);
    await publish(pub, 'down', 'x', { qos: 2 });
    const received = await receive(sub);
    expect(received.qos).toBe(1);
    await publish(pub, 'down', 'y', { qos: 0 });
    expect((await receive(sub)).qos).toBe(0);
  });

  it('[MQTT-3.8.4-8] (5.0) a message is delivered at the lower of its QoS and the granted QoS', async () => {
    const { sub, pub } = await pair([{ topicFilter: 'down5', qos: 0 }], { protocolVersion: 5 });
    await publish(pub, 'down5', 'x', { qos: 2 });
    expect((await receive(sub)).qos).toBe(0);
  });

  it('a QoS 2 delivery completes PUBLISH, PUBREC, PUBREL, PUBCOMP', async () => {
    const { sub, pub } = await pair(['q2flow']);
    await publish(pub, 'q2flow', 'x', { qos: 2 });
    const received = await sub.expectPacket(PacketType.PUBLISH);
    expect(received.qos).toBe(2);
    sub.send({ type: PacketType.PUBREC, packetId: received.packetId! });
    expect((await sub.expectPacket(PacketType.PUBREL)).packetId).toBe(received.packetId);
    sub.send({ type: PacketType.PUBCOMP, packetId: received.packetId! });
    await sub.expectNoPacket(200);
  });

  it('[MQTT-3.3.4-9] [MQTT-4.9.0-2] (5.0) no more unacknowledged QoS 1 PUBLISH are sent than the client Receive Maximum', async () => {
    const sub = await connect({ protocolVersion: 5, properties: { receiveMaximum: 2 } });
    await subscribe(sub, [{ topicFilter: 'window', qos: 1 }]);
    const pub = await connect();
    for (let i = 0; i < 4; i++) await publish(pub, 'window', String(i), { qos: 1, packetId: i + 1 });
    const first = await receive(sub, { ack: false });
    await receive(sub, { ack: false });
    await sub.expectNoPacket(300);
    sub.send({ type: PacketType.PUBACK, packetId: first.packetId! });
    expect(text((await receive(sub, { ack: false })).payload)).toBe('2');
  });

  it.each([
    ['[3.1.1 MQTT-2.3.1-4]', 4],
    ['[MQTT-2.2.1-4]', 5],
  ] as const)(
    '%s level %d: packet ids of unacknowledged messages to a client are non-zero and all different',
    async (_tag, protocolVersion) => {
      const { sub, pub } = await pair([{ topicFilter: 'ids', qos: 1 }], { protocolVersion });
      for (let i = 0; i < 10; i++) await publish(pub, 'ids', String(i), { qos: 1, packetId: i + 1 });
      const ids = new Set<number>();
      for (let i = 0; i < 10; i++) ids.add((await receive(sub, { ack: false })).packetId!);
      expect(ids.size).toBe(10);
      expect(ids.has(0)).toBe(false);
    },
  );

  it('fan-out: one message reaches every matching subscriber once, across wildcard filters', async () => {
    const subs = await Promise.all([connect(), connect(), connect({ protocolVersion: 5 })]);
    await subscribe(subs[0]!, ['fan/+/x']);
    await subscribe(subs[1]!, ['fan/#']);
    await subscribe(subs[2]!, ['fan/+/x', 'fan/#']);
    const pub = await connect();
    await publish(pub, 'fan/1/x', 'hi', { qos: 1 });
    for (const sub of subs) expect(text((await receive(sub)).payload)).toBe('hi');
    await subs[2]!.expectNoPacket(200);
  });

  it('[3.1.1 MQTT-3.3.1-9] the RETAIN flag is 0 when a message is forwarded on an established subscription', async () => {
    const { sub, pub } = await pair(['live/retain']);
    await publish(pub, 'live/retain', 'x', { retain: true, qos: 1 });
    expect((await receive(sub)).retain).toBe(false);
    await publish(pub, 'live/retain', '', { retain: true });
    await receive(sub);
  });

  it('[MQTT-3.3.1-12] (5.0) without Retain As Published the RETAIN flag is 0 on live forwarding', async () => {
    const { sub, pub } = await pair([{ topicFilter: 'rap/0', qos: 1, retainAsPublished: false }], {
      protocolVersion: 5,
    });
    await publish(pub, 'rap/0', 'x', { retain: true, qos: 1 });
    expect((await receive(sub)).retain).toBe(false);
    await publish(pub, 'rap/0', '', { retain: true });
  });

  it('[MQTT-3.3.1-13] (5.0) with Retain As Published the RETAIN flag is forwarded as published', async () => {
    const { sub, pub } = await pair([{ topicFilter: 'rap/1', qos: 1, retainAsPublished: true }], {
      protocolVersion: 5,
    });
    await publish(pub, 'rap/1', 'x', { retain: true, qos: 1 });
    expect((await receive(sub)).retain).toBe(true);
    await publish(pub, 'rap/1', 'y', { retain: false, qos: 1 });
    expect((await receive(sub)).retain).toBe(false);
    await publish(pub, 'rap/1', '', { retain: true });
  });

  it('a subscriber that does not read does not make the broker buffer without bound: messages are dropped and counted', async () => {
    await withBroker({ maxWriteBuffer: 64 * 1024, maxQueuedMessages: 100 }, async (own) => {
      const { client: sub } = await RawClient.connect(own.port);
      await subscribe(sub, [{ topicFilter: 'flood', qos: 0 }]);
      sub.socket.pause();
      const { client: pub } = await RawClient.connect(own.port);
      const payload = Buffer.alloc(16 * 1024, 1);
      for (let i = 0; i < 2000; i++) {
        pub.send({ type: PacketType.PUBLISH, topic: 'flood', payload, qos: 0, retain: false, dup: false });
        if (i % 100 === 0) await delay(1);
      }
      pub.send({ type: PacketType.PINGREQ });
      await pub.expectPacket(PacketType.PINGRESP, 5000);
      await delay(100);
      expect(own.broker.stats.messagesDropped).toBeGreaterThan(0);
      const session = own.broker.sessions.get([...own.broker.sessions.keys()][0]!)!;
      expect(session.queue.length).toBeLessThanOrEqual(100);
      sub.socket.resume();
      await pub.end();
      await sub.end();
    });
  });
});
