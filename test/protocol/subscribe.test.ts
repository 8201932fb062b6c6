import { describe, expect, it } from 'vitest';
import { PacketType, ReasonCode } from '../../src/codec/index.js';
import { useLiveBroker } from '../helpers/live-broker.js';
import { publish, receive, subscribe, text } from '../helpers/raw-client.js';

const live = useLiveBroker();
const { connect } = live;

describe('SUBSCRIBE / UNSUBSCRIBE', () => {
  it.each([
    ['[3.1.1 MQTT-3.8.4-1] [3.1.1 MQTT-3.8.4-2] [3.1.1 MQTT-2.3.1-7]', 4],
    ['[MQTT-3.8.4-1] [MQTT-3.8.4-2] [MQTT-2.2.1-6]', 5],
  ] as const)(
    '%s level %d: SUBSCRIBE is answered with SUBACK carrying the same packet id',
    async (_tags, protocolVersion) => {
      const client = await connect({ protocolVersion });
      client.send({ type: PacketType.SUBSCRIBE, packetId: 42, subscriptions: [{ topicFilter: 'x', qos: 1 }] });
      expect((await client.expectPacket(PacketType.SUBACK)).packetId).toBe(42);
    },
  );

  it.each([
    ['[3.1.1 MQTT-3.8.4-4] [3.1.1 MQTT-3.8.4-5] [3.1.1 MQTT-3.9.3-1]', 4],
    ['[MQTT-3.8.4-5] [MQTT-3.8.4-6] [MQTT-3.8.4-7] [MQTT-3.9.3-1]', 5],
  ] as const)(
    '%s level %d: SUBACK has one return code per filter, in order, with the granted QoS',
    async (_tags, protocolVersion) => {
      const client = await connect({ protocolVersion });
      const codes = await subscribe(client, [
        { topicFilter: 'a', qos: 2 },
        { topicFilter: 'b', qos: 0 },
        { topicFilter: 'c/#', qos: 1 },
      ]);
      expect(codes).toEqual([2, 0, 1]);
    },
  );

  it.each([
    ['[3.1.1 MQTT-3.8.4-3]', 4],
    ['[MQTT-3.8.4-3] [MQTT-3.8.4-4]', 5],
  ] as const)(
    '%s level %d: a SUBSCRIBE with an existing filter replaces that subscription and re-sends the retained message',
    async (_tags, protocolVersion) => {
      const topic = `replace/${protocolVersion}`;
      const pub = await connect({ protocolVersion });
      await publish(pub, topic, 'kept', { qos: 1, retain: true });
      const sub = await connect({ protocolVersion });
      await subscribe(sub, [{ topicFilter: topic, qos: 0 }]);
      expect((await receive(sub)).retain).toBe(true);
      await subscribe(sub, [{ topicFilter: topic, qos: 2 }], { packetId: 2 });
      const resent = await receive(sub);
      expect([text(resent.payload), resent.retain, resent.qos]).toEqual(['kept', true, 1]);
      await publish(pub, topic, 'x', { qos: 2, packetId: 2 });
      const received = await receive(sub);
      expect(received.qos).toBe(2);
      await sub.expectNoPacket(200);
      await publish(pub, topic, '', { retain: true });
    },
  );

  it.each([
    ['[3.1.1 MQTT-3.10.4-4] [3.1.1 MQTT-3.10.4-5] [3.1.1 MQTT-2.3.1-7]', 4],
    ['[MQTT-3.10.4-4] [MQTT-3.10.4-5] [MQTT-2.2.1-6]', 5],
  ] as const)(
    '%s level %d: UNSUBSCRIBE of a filter never subscribed is answered with UNSUBACK carrying the same packet id',
    async (_tags, protocolVersion) => {
      const client = await connect({ protocolVersion });
      client.send({ type: PacketType.UNSUBSCRIBE, packetId: 9, topicFilters: ['nothing'] });
      expect((await client.expectPacket(PacketType.UNSUBACK)).packetId).toBe(9);
    },
  );

  it.each([
    ['[3.1.1 MQTT-3.10.4-1] [3.1.1 MQTT-3.10.4-2]', 4],
    ['[MQTT-3.10.4-1] [MQTT-3.10.4-2]', 5],
  ] as const)(
    '%s level %d: after UNSUBSCRIBE no more messages are sent for that filter',
    async (_tags, protocolVersion) => {
      const sub = await connect({ protocolVersion });
      await subscribe(sub, ['gone/+']);
      sub.send({ type: PacketType.UNSUBSCRIBE, packetId: 2, topicFilters: ['gone/+'] });
      await sub.expectPacket(PacketType.UNSUBACK);
      const pub = await connect();
      await publish(pub, 'gone/x', 'x', { qos: 1 });
      await sub.expectNoPacket(200);
    },
  );

  it('[MQTT-3.10.4-5] [MQTT-3.11.3-1] [MQTT-3.11.3-2] (5.0) UNSUBACK is sent even if no subscription existed, with reason 0x11 per such filter', async () => {
    const client = await connect({ protocolVersion: 5 });
    await subscribe(client, ['exists']);
    client.send({ type: PacketType.UNSUBSCRIBE, packetId: 3, topicFilters: ['exists', 'missing'] });
    const unsuback = await client.expectPacket(PacketType.UNSUBACK);
    expect(unsuback.reasonCodes).toEqual([0, ReasonCode.NoSubscriptionExisted]);
  });

  it('[MQTT-3.8.3-4] (5.0) No Local on a shared subscription is a protocol error: DISCONNECT 0x82', async () => {
    const client = await connect({ protocolVersion: 5 });
    // Our encoder refuses to build this packet, so it is written byte by byte: SUBSCRIBE, id 1, no properties,
    // "$share/g/x" with options No Local (0x04).
    client.sendRaw([0x82, 16, 0, 1, 0, 0, 10, ...Buffer.from('$share/g/x'), 0x04]);
    expect((await client.expectPacket(PacketType.DISCONNECT)).reasonCode).toBe(ReasonCode.ProtocolError);
    await client.expectClose();
  });

  it('[3.1.1 MQTT-3.9.3-2] [MQTT-3.9.3-2] authorizeSubscribe can lower the granted QoS or refuse a filter (0x80 in 3.1.1, the reason code in 5.0)', async () => {
    await live.withBroker(
      {
        hooks: {
          authorizeSubscribe: (_client, subscription) =>
            subscription.topicFilter.startsWith('secret')
              ? ReasonCode.NotAuthorized
              : subscription.topicFilter === 'low'
                ? 0
                : true,
        },
      },
      async (own) => {
        const v4 = await connect({}, own.port);
        expect(await subscribe(v4, ['secret/x', 'low', 'ok'])).toEqual([0x80, 0, 2]);
        const v5 = await connect({ protocolVersion: 5 }, own.port);
        expect(await subscribe(v5, ['secret/x', 'ok'])).toEqual([ReasonCode.NotAuthorized, 2]);
      },
    );
  });

  it('authorizePublish refusing a message drops it (5.0: PUBACK 0x87)', async () => {
    await live.withBroker(
      {
        hooks: { authorizePublish: async (_client, packet) => !packet.topic.startsWith('forbidden') },
      },
      async (own) => {
        const sub = await connect({}, own.port);
        await subscribe(sub, ['#']);
        const pub = await connect({ protocolVersion: 5 }, own.port);
        expect(await publish(pub, 'forbidden/x', 'x', { qos: 1 })).toBe(ReasonCode.NotAuthorized);
        await publish(pub, 'allowed/x', 'x', { qos: 1, packetId: 2 });
        expect((await receive(sub)).topic).toBe('allowed/x');
      },
    );
  });
});
