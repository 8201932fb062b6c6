/**
 * QoS flows with the server as sender and receiver, redelivery, flow control, UNSUBSCRIBE in flight, shared
 * subscriptions and the properties the server does not send (MQTT 5.0 and 3.1.1 §3.3, §3.10, §4.3 - §4.9).
 */
import { describe, expect, it } from 'vitest';
import { PacketType, ReasonCode } from '../../src/codec/index.js';
import { useLiveBroker } from '../helpers/live-broker.js';
import {
  type ConnectOptions,
  delay,
  persistentSession,
  publish,
  receive,
  subscribe,
  text,
} from '../helpers/raw-client.js';

const live = useLiveBroker();
const { connect, pair } = live;
/** A persistent session (persistentSession) for `clientId`. */
const persistent = (clientId: string, protocolVersion: 4 | 5): ConnectOptions => ({
  clientId,
  ...persistentSession(protocolVersion),
});

describe('the server as QoS 1 and QoS 2 sender', () => {
  it.each([
    ['[3.1.1 MQTT-4.3.2-1]', 4],
    ['[MQTT-4.3.2-1] [MQTT-4.3.2-2] [MQTT-4.3.2-3]', 5],
  ] as const)(
    '%s level %d: a QoS 1 PUBLISH has DUP 0 and a packet id, and stays unacknowledged until PUBACK',
    async (_tags, version) => {
      const id = `q1-sender-${version}`;
      const sub = await connect(persistent(id, version));
      await subscribe(sub, [{ topicFilter: id, qos: 1 }]);
      const pub = await connect({ protocolVersion: version });
      await publish(pub, id, 'x', { qos: 1 });
      const first = await receive(sub, { ack: false });
      expect([first.qos, first.dup]).toEqual([1, false]);
      expect(first.packetId).toBeGreaterThan(0);
      await sub.end();
      const again = await connect(persistent(id, version));
      const resent = await receive(again);
      expect([resent.packetId, resent.dup, text(resent.payload)]).toEqual([first.packetId, true, 'x']);
      again.send({ type: PacketType.PINGREQ });
      await again.expectPacket(PacketType.PINGRESP);
      await again.end();
      const third = await connect(persistent(id, version));
      await third.expectNoPacket(200);
    },
  );

  it.each([
    ['[3.1.1 MQTT-4.3.3-1]', 4],
    ['[MQTT-4.3.3-1] [MQTT-4.3.3-2] [MQTT-4.3.3-3] [MQTT-4.3.3-4] [MQTT-4.3.3-5] [MQTT-4.3.3-6] [MQTT-3.6.2-1]', 5],
  ] as const)(
    '%s level %d: QoS 2 sender: PUBLISH until PUBREC, then PUBREL with the same id until PUBCOMP, never PUBLISH again',
    async (_tags, version) => {
      const id = `q2-sender-${version}`;
      const sub = await connect(persistent(id, version));
      await subscribe(sub, [{ topicFilter: id, qos: 2 }]);
      const pub = await connect({ protocolVersion: version });
      await publish(pub, id, 'x', { qos: 2 });
      const first = await receive(sub, { ack: false });
      expect([first.qos, first.dup]).toEqual([2, false]);
      await sub.end();
      const second = await connect(persistent(id, version));
      const resent = await receive(second, { ack: false });
      expect([resent.packetId, resent.dup]).toEqual([first.packetId, true]);
      second.send({ type: PacketType.PUBREC, packetId: first.packetId! });
      const pubrel = await second.expectPacket(PacketType.PUBREL);
      expect([pubrel.packetId, pubrel.reasonCode ?? 0]).toEqual([first.packetId, 0]);
      await second.end();
      const third = await connect(persistent(id, version));
      expect((await third.expectPacket(PacketType.PUBREL)).packetId).toBe(first.packetId);
      await third.expectNoPacket(200);
      third.send({ type: PacketType.PUBCOMP, packetId: first.packetId! });
      await third.end();
      const fourth = await connect(persistent(id, version));
      await fourth.expectNoPacket(200);
    },
  );

  it('[MQTT-4.3.3-7] level 5: a QoS 2 PUBLISH already sent is resent even after its Message Expiry Interval passed', async () => {
    const sub = await connect(persistent('q2-expiry', 5));
    await subscribe(sub, [{ topicFilter: 'q2/expiry', qos: 2 }]);
    const pub = await connect({ protocolVersion: 5 });
    await publish(pub, 'q2/expiry', 'x', { qos: 2, properties: { messageExpiryInterval: 1 } });
    const first = await receive(sub, { ack: false });
    await sub.end();
    await delay(1200);
    const again = await connect(persistent('q2-expiry', 5));
    const resent = await receive(again);
    expect([resent.packetId, resent.dup, text(resent.payload)]).toEqual([first.packetId, true, 'x']);
  });

  it('[MQTT-4.4.0-2] level 5: a PUBLISH answered with PUBACK 0x80 is acknowledged and never resent', async () => {
    const sub = await connect(persistent('refuser', 5));
    await subscribe(sub, [{ topicFilter: 'refused', qos: 1 }]);
    const pub = await connect({ protocolVersion: 5 });
    await publish(pub, 'refused', 'x', { qos: 1 });
    const received = await receive(sub, { ack: false });
    sub.send({ type: PacketType.PUBACK, packetId: received.packetId!, reasonCode: ReasonCode.UnspecifiedError });
    await sub.expectNoPacket(100);
    await sub.end();
    const again = await connect(persistent('refuser', 5));
    await again.expectNoPacket(200);
  });

  it.each([
    ['[3.1.1 MQTT-4.5.0-1]', 4],
    ['[MQTT-4.5.0-1]', 5],
  ] as const)(
    '%s level %d: a message goes into the session of every matching subscriber, connected or not',
    async (_tag, version) => {
      const online = await connect({ protocolVersion: version });
      await subscribe(online, [{ topicFilter: 'everyone/+', qos: 1 }]);
      const offline = await connect(persistent(`everyone-${version}`, version));
      await subscribe(offline, [{ topicFilter: 'everyone/#', qos: 1 }]);
      await offline.disconnect();
      const pub = await connect({ protocolVersion: version });
      await publish(pub, 'everyone/x', 'x', { qos: 1 });
      expect(text((await receive(online)).payload)).toBe('x');
      const back = await connect(persistent(`everyone-${version}`, version));
      expect(text((await receive(back)).payload)).toBe('x');
    },
  );
});

describe('the server as QoS 1 and QoS 2 receiver', () => {
  it.each([
    ['[3.1.1 MQTT-4.3.2-2]', 4],
    ['[MQTT-4.3.2-5]', 5],
  ] as const)(
    '%s level %d: after PUBACK a PUBLISH reusing the packet id is a new message, even with DUP 1',
    async (_tag, version) => {
      const { sub, pub } = await pair([{ topicFilter: 'reuse/q1', qos: 1 }], { protocolVersion: version });
      await publish(pub, 'reuse/q1', 'one', { qos: 1, packetId: 6 });
      pub.send({
        type: PacketType.PUBLISH,
        topic: 'reuse/q1',
        payload: Buffer.from('two'),
        qos: 1,
        retain: false,
        dup: true,
        packetId: 6,
      });
      await pub.expectPacket(PacketType.PUBACK);
      expect(text((await receive(sub)).payload)).toBe('one');
      expect(text((await receive(sub)).payload)).toBe('two');
    },
  );

  it('[MQTT-4.3.3-9] level 5: after a PUBREC of 0x80 or more, a PUBLISH reusing the packet id is a new message', async () => {
    await live.withBroker(
      { hooks: { authorizePublish: (_client, packet) => text(packet.payload) !== 'no' } },
      async (own) => {
        const { sub, pub } = await pair(['reuse/q2'], { protocolVersion: 5 }, own.port);
        const base = {
          type: PacketType.PUBLISH,
          topic: 'reuse/q2',
          qos: 2,
          retain: false,
          dup: false,
          packetId: 4,
        } as const;
        pub.send({ ...base, payload: Buffer.from('no') });
        expect((await pub.expectPacket(PacketType.PUBREC)).reasonCode).toBe(ReasonCode.NotAuthorized);
        pub.send({ ...base, payload: Buffer.from('yes') });
        expect((await pub.expectPacket(PacketType.PUBREC)).reasonCode ?? 0).toBe(0);
        pub.send({ type: PacketType.PUBREL, packetId: 4 });
        await pub.expectPacket(PacketType.PUBCOMP);
        expect(text((await receive(sub)).payload)).toBe('yes');
      },
    );
  });

  it('[MQTT-4.3.3-13] level 5: the QoS 2 exchange is completed even after the message expired', async () => {
    const pub = await connect({ protocolVersion: 5 });
    pub.send({
      type: PacketType.PUBLISH,
      topic: 'expired/q2',
      payload: Buffer.from('x'),
      qos: 2,
      retain: false,
      dup: false,
      packetId: 8,
      properties: { messageExpiryInterval: 1 },
    });
    await pub.expectPacket(PacketType.PUBREC);
    await delay(1200);
    pub.send({ type: PacketType.PUBREL, packetId: 8 });
    const pubcomp = await pub.expectPacket(PacketType.PUBCOMP);
    expect([pubcomp.packetId, pubcomp.reasonCode ?? 0]).toEqual([8, 0]);
  });
});

describe('flow control', () => {
  it('[MQTT-3.3.4-10] [MQTT-4.9.0-3] [MQTT-4.9.0-1] level 5: with the Receive Maximum window full, other packets are still answered', async () => {
    const sub = await connect({ protocolVersion: 5, properties: { receiveMaximum: 1 } });
    await subscribe(sub, [{ topicFilter: 'full/window', qos: 1 }]);
    const pub = await connect({ protocolVersion: 5 });
    await publish(pub, 'full/window', '1', { qos: 1 });
    await publish(pub, 'full/window', '2', { qos: 1, packetId: 2 });
    const first = await receive(sub, { ack: false });
    expect(text(first.payload)).toBe('1');
    sub.send({ type: PacketType.PINGREQ });
    await sub.expectPacket(PacketType.PINGRESP);
    expect(await subscribe(sub, [{ topicFilter: 'other', qos: 0 }], { packetId: 2 })).toEqual([0]);
    sub.send({ type: PacketType.UNSUBSCRIBE, packetId: 3, topicFilters: ['other'] });
    await sub.expectPacket(PacketType.UNSUBACK);
    sub.send({ type: PacketType.PUBACK, packetId: first.packetId! });
    expect(text((await receive(sub)).payload)).toBe('2');
  });
});

describe('UNSUBSCRIBE', () => {
  it.each([
    ['[3.1.1 MQTT-3.10.4-3]', 4],
    ['[MQTT-3.10.4-3]', 5],
  ] as const)(
    '%s level %d: a QoS 2 delivery started before UNSUBSCRIBE is completed after it',
    async (_tag, version) => {
      const { sub, pub } = await pair([{ topicFilter: 'leaving', qos: 2 }], { protocolVersion: version });
      await publish(pub, 'leaving', 'x', { qos: 2 });
      const inflight = await receive(sub, { ack: false });
      sub.send({ type: PacketType.UNSUBSCRIBE, packetId: 5, topicFilters: ['leaving'] });
      await sub.expectPacket(PacketType.UNSUBACK);
      sub.send({ type: PacketType.PUBREC, packetId: inflight.packetId! });
      expect((await sub.expectPacket(PacketType.PUBREL)).packetId).toBe(inflight.packetId);
      sub.send({ type: PacketType.PUBCOMP, packetId: inflight.packetId! });
      await publish(pub, 'leaving', 'after', { qos: 2, packetId: 2 });
      await sub.expectNoPacket(200);
    },
  );

  it.each([
    ['[3.1.1 MQTT-3.10.4-6]', 4],
    ['[MQTT-3.10.4-6]', 5],
  ] as const)(
    '%s level %d: an UNSUBSCRIBE of several filters is answered by one UNSUBACK and removes each',
    async (_tag, version) => {
      const sub = await connect({ protocolVersion: version });
      await subscribe(sub, ['multi/a', 'multi/b', 'multi/c']);
      sub.send({ type: PacketType.UNSUBSCRIBE, packetId: 4, topicFilters: ['multi/a', 'multi/b', 'multi/none'] });
      const unsuback = await sub.expectPacket(PacketType.UNSUBACK);
      expect(unsuback.packetId).toBe(4);
      if (version === 5) expect(unsuback.reasonCodes).toEqual([0, 0, ReasonCode.NoSubscriptionExisted]);
      const pub = await connect({ protocolVersion: version });
      for (const topic of ['multi/a', 'multi/b', 'multi/c']) await publish(pub, topic, topic);
      expect((await receive(sub)).topic).toBe('multi/c');
      await sub.expectNoPacket(200);
    },
  );
});

describe('shared subscriptions (5.0)', () => {
  it('[MQTT-4.8.2-4] level 5: a QoS 2 delivery to a member interrupted by a disconnect is completed when it reconnects', async () => {
    const member = await connect(persistent('shared-q2', 5));
    await subscribe(member, [{ topicFilter: '$share/g4/jobs4', qos: 2 }]);
    const pub = await connect({ protocolVersion: 5 });
    await publish(pub, 'jobs4', 'x', { qos: 2 });
    const first = await receive(member, { ack: false });
    await member.end();
    const again = await connect(persistent('shared-q2', 5));
    const resent = await receive(again);
    expect([resent.packetId, resent.dup, text(resent.payload)]).toEqual([first.packetId, true, 'x']);
  });

  it('[MQTT-4.8.2-5] level 5: if the member session ends before it reconnects, the message goes to no other member', async () => {
    const leaving = await connect({ protocolVersion: 5, clientId: 'shared-ends' });
    await subscribe(leaving, [{ topicFilter: '$share/g5/jobs5', qos: 1 }]);
    const pub = await connect({ protocolVersion: 5 });
    await publish(pub, 'jobs5', 'x', { qos: 1 });
    await receive(leaving, { ack: false });
    const other = await connect({ protocolVersion: 5 });
    await subscribe(other, [{ topicFilter: '$share/g5/jobs5', qos: 1 }]);
    await leaving.end();
    await other.expectNoPacket(300);
  });

  it('[MQTT-4.8.2-6] level 5: a PUBACK of 0x80 or more from a member discards the message: no other member gets it', async () => {
    const a = await connect({ protocolVersion: 5 });
    const b = await connect({ protocolVersion: 5 });
    await subscribe(a, [{ topicFilter: '$share/g6/jobs6', qos: 1 }]);
    await subscribe(b, [{ topicFilter: '$share/g6/jobs6', qos: 1 }]);
    const pub = await connect({ protocolVersion: 5 });
    await publish(pub, 'jobs6', 'x', { qos: 1 });
    await delay(200);
    const chosen = a.packets.length > 0 ? a : b;
    expect(a.packets.length + b.packets.length).toBe(1);
    const delivered = await chosen.expectPacket(PacketType.PUBLISH);
    chosen.send({ type: PacketType.PUBACK, packetId: delivered.packetId!, reasonCode: ReasonCode.UnspecifiedError });
    await a.expectNoPacket(300);
    await b.expectNoPacket(100);
  });
});

describe('properties the server does not send', () => {
  it('[MQTT-3.1.2-26] [MQTT-3.1.2-27] [MQTT-3.3.2-11] level 5: the server sends no Topic Alias, whatever the client Topic Alias Maximum', async () => {
    const none = await connect({ protocolVersion: 5 });
    const some = await connect({ protocolVersion: 5, properties: { topicAliasMaximum: 2 } });
    for (const client of [none, some]) await subscribe(client, ['alias/out']);
    const pub = await connect({ protocolVersion: 5 });
    for (let i = 0; i < 3; i++) await publish(pub, 'alias/out', String(i), { qos: 1, packetId: i + 1 });
    for (const client of [none, some]) {
      for (let i = 0; i < 3; i++) {
        const received = await receive(client);
        expect([received.topic, received.properties?.topicAlias]).toEqual(['alias/out', undefined]);
      }
    }
  });

  it('[MQTT-3.1.2-29] level 5: with Request Problem Information 0 no Reason String or User Property is sent outside PUBLISH, CONNACK and DISCONNECT', async () => {
    await live.withBroker({ hooks: { authorizeSubscribe: () => ReasonCode.NotAuthorized } }, async (own) => {
      const client = await connect({ protocolVersion: 5, properties: { requestProblemInformation: 0 } }, own.port);
      client.send({ type: PacketType.SUBSCRIBE, packetId: 1, subscriptions: [{ topicFilter: 'x', qos: 1 }] });
      const suback = await client.expectPacket(PacketType.SUBACK);
      expect(suback.reasonCodes).toEqual([ReasonCode.NotAuthorized]);
      expect(suback.properties?.reasonString).toBeUndefined();
      expect(suback.properties?.userProperties).toBeUndefined();
      client.send({
        type: PacketType.PUBLISH,
        topic: 'x',
        payload: Buffer.from('x'),
        qos: 1,
        retain: false,
        dup: false,
        packetId: 2,
      });
      const puback = await client.expectPacket(PacketType.PUBACK);
      expect(puback.reasonCode).toBe(ReasonCode.NoMatchingSubscribers);
      expect(puback.properties).toBeUndefined();
      client.send({ type: PacketType.UNSUBSCRIBE, packetId: 3, topicFilters: ['x'] });
      expect((await client.expectPacket(PacketType.UNSUBACK)).properties).toBeUndefined();
    });
  });
});
