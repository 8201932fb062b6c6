import { describe, expect, it } from 'vitest';
import { PacketType, ReasonCode } from '../../src/codec/index.js';
import { withBroker } from '../helpers/broker.js';
import { useLiveBroker } from '../helpers/live-broker.js';
import { delay, publish, RawClient, receive, subscribe, text } from '../helpers/raw-client.js';

const live = useLiveBroker({}, { protocolVersion: 5 });
const { connect, pair } = live;

/** User Properties, a name repeated, arrive unaltered and in order. */
async function userPropertiesForwarded() {
  const { sub, pub } = await pair(['uprops']);
  const userProperties: [string, string][] = [
    ['b', '1'],
    ['a', '2'],
    ['b', '3'],
  ];
  await publish(pub, 'uprops', 'x', { qos: 1, properties: { userProperties } });
  expect((await receive(sub)).properties?.userProperties).toEqual(userProperties);
}

describe('MQTT 5.0 features', () => {
  it('[MQTT-3.3.2-12] Topic Alias: a topic set with an alias is used for later PUBLISH with an empty topic', async () => {
    const { sub, pub } = await pair(['alias/topic']);
    await publish(pub, 'alias/topic', 'one', { qos: 1, properties: { topicAlias: 3 } });
    await publish(pub, '', 'two', { qos: 1, packetId: 2, properties: { topicAlias: 3 } });
    const first = await receive(sub);
    const second = await receive(sub);
    expect([first.topic, second.topic]).toEqual(['alias/topic', 'alias/topic']);
    expect(second.properties?.topicAlias).toBeUndefined();
    expect(text(second.payload)).toBe('two');
  });

  it('Topic Alias above the Topic Alias Maximum gets DISCONNECT 0x94 Topic Alias invalid', async () => {
    const pub = await connect();
    pub.send({
      type: PacketType.PUBLISH,
      topic: 'x',
      payload: Buffer.from('x'),
      qos: 0,
      retain: false,
      dup: false,
      properties: { topicAlias: 11 },
    });
    expect((await pub.expectPacket(PacketType.DISCONNECT)).reasonCode).toBe(ReasonCode.TopicAliasInvalid);
    await pub.expectClose();
  });

  it('an unknown Topic Alias with an empty topic is a protocol error: DISCONNECT 0x82', async () => {
    const pub = await connect();
    pub.send({
      type: PacketType.PUBLISH,
      topic: '',
      payload: Buffer.from('x'),
      qos: 0,
      retain: false,
      dup: false,
      properties: { topicAlias: 2 },
    });
    expect((await pub.expectPacket(PacketType.DISCONNECT)).reasonCode).toBe(ReasonCode.ProtocolError);
    await pub.expectClose();
  });

  it('[MQTT-3.3.2-6] the forwarded Message Expiry Interval is reduced by the time the message waited', async () => {
    const sub = await connect({ clientId: 'expiry-sub', clean: false, properties: { sessionExpiryInterval: 60 } });
    await subscribe(sub, [{ topicFilter: 'exp', qos: 1 }]);
    await sub.disconnect();
    const pub = await connect();
    await publish(pub, 'exp', 'x', { qos: 1, properties: { messageExpiryInterval: 10 } });
    await delay(1100);
    const again = await connect({ clientId: 'expiry-sub', clean: false, properties: { sessionExpiryInterval: 60 } });
    const received = await receive(again);
    expect(received.properties?.messageExpiryInterval).toBeLessThanOrEqual(9);
    expect(received.properties?.messageExpiryInterval).toBeGreaterThanOrEqual(8);
  });

  it('[MQTT-3.3.2-5] a queued message whose Message Expiry Interval passed is not delivered', async () => {
    const props = { sessionExpiryInterval: 60 };
    const sub = await connect({ clientId: 'expiry-sub2', clean: false, properties: props });
    await subscribe(sub, [{ topicFilter: 'exp2', qos: 1 }]);
    await sub.disconnect();
    const pub = await connect();
    await publish(pub, 'exp2', 'old', { qos: 1, properties: { messageExpiryInterval: 1 } });
    await publish(pub, 'exp2', 'fresh', { qos: 1, packetId: 2 });
    await delay(1100);
    const again = await connect({ clientId: 'expiry-sub2', clean: false, properties: props });
    expect(text((await receive(again)).payload)).toBe('fresh');
    await again.expectNoPacket(200);
  });

  it('[MQTT-3.3.2-5] a retained message whose Message Expiry Interval passed is not sent to new subscribers', async () => {
    const pub = await connect();
    await publish(pub, 'exp/retained', 'short-lived', {
      qos: 1,
      retain: true,
      properties: { messageExpiryInterval: 1 },
    });
    await delay(1100);
    const sub = await connect();
    await subscribe(sub, ['exp/retained']);
    await sub.expectNoPacket(200);
    expect(live.broker.retained.get('exp/retained')).toBeUndefined();
  });

  it('[MQTT-3.3.4-3] [MQTT-3.3.4-4] the Subscription Identifiers of the overlapping subscriptions are sent with the single message', async () => {
    const sub = await connect();
    await subscribe(sub, ['sid/+'], { subscriptionIdentifier: 7 });
    await subscribe(sub, ['sid/#'], { subscriptionIdentifier: 9, packetId: 2 });
    const pub = await connect();
    await publish(pub, 'sid/a', 'x', { qos: 1 });
    const received = await receive(sub);
    expect([...(received.properties?.subscriptionIdentifiers ?? [])].sort()).toEqual([7, 9]);
  });

  it('[MQTT-3.8.3-3] No Local: a client does not receive its own messages on a No Local subscription', async () => {
    const client = await connect();
    await subscribe(client, [{ topicFilter: 'nolocal', qos: 1, noLocal: true }]);
    await publish(client, 'nolocal', 'mine', { qos: 1 });
    await client.expectNoPacket(200);
    const other = await connect();
    await publish(other, 'nolocal', 'theirs', { qos: 1 });
    expect(text((await receive(client)).payload)).toBe('theirs');
  });

  it('[MQTT-3.3.2-17] User Properties are forwarded unaltered', userPropertiesForwarded);

  it('[MQTT-3.3.2-18] User Properties keep their order, repeated names included', userPropertiesForwarded);

  it('[MQTT-3.3.2-4] [MQTT-3.3.2-15] [MQTT-3.3.2-16] [MQTT-3.3.2-20] Response Topic, Correlation Data, Content Type and Payload Format Indicator are forwarded unchanged', async () => {
    const { sub, pub } = await pair(['req']);
    const properties = {
      responseTopic: 'resp/1',
      correlationData: Buffer.from([1, 2, 3]),
      contentType: 'text/plain',
      payloadFormatIndicator: 1,
    };
    await publish(pub, 'req', 'x', { qos: 1, properties });
    const received = await receive(sub);
    expect(received.properties?.responseTopic).toBe('resp/1');
    expect(Buffer.from(received.properties!.correlationData!)).toEqual(Buffer.from([1, 2, 3]));
    expect(received.properties?.contentType).toBe('text/plain');
    expect(received.properties?.payloadFormatIndicator).toBe(1);
  });

  it('[MQTT-3.1.2-24] [MQTT-3.1.2-25] a message larger than the client Maximum Packet Size is dropped, later ones still arrive', async () => {
    const sub = await connect({ properties: { maximumPacketSize: 100 } });
    await subscribe(sub, [{ topicFilter: 'big', qos: 1 }]);
    const pub = await connect();
    const dropped = live.broker.stats.messagesDropped;
    await publish(pub, 'big', 'x'.repeat(200), { qos: 1 });
    await publish(pub, 'big', 'small', { qos: 1, packetId: 2 });
    expect(text((await receive(sub)).payload)).toBe('small');
    expect(live.broker.stats.messagesDropped).toBe(dropped + 1);
  });

  it('shared subscriptions: each message goes to one member of the group', async () => {
    const a = await connect();
    const b = await connect();
    await subscribe(a, [{ topicFilter: '$share/group/jobs', qos: 1 }]);
    await subscribe(b, [{ topicFilter: '$share/group/jobs', qos: 1 }]);
    const pub = await connect();
    for (let i = 0; i < 10; i++) await publish(pub, 'jobs', String(i), { qos: 1, packetId: i + 1 });
    const got: string[] = [];
    for (const client of [a, b]) {
      for (;;) {
        const packet = await client.nextPacket(200);
        if (packet === undefined) break;
        if (packet.type === PacketType.PUBLISH) {
          got.push(text(packet.payload));
          client.send({ type: PacketType.PUBACK, packetId: packet.packetId! });
        }
      }
    }
    expect(got.sort((x, y) => Number(x) - Number(y))).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  });

  it('shared subscriptions: an offline member is skipped for an online one', async () => {
    const online = await connect();
    await subscribe(online, [{ topicFilter: '$share/g2/work', qos: 1 }]);
    const offline = await connect({
      clientId: 'share-offline',
      clean: false,
      properties: { sessionExpiryInterval: 60 },
    });
    await subscribe(offline, [{ topicFilter: '$share/g2/work', qos: 1 }]);
    await offline.disconnect();
    const pub = await connect();
    for (let i = 0; i < 4; i++) await publish(pub, 'work', String(i), { qos: 1, packetId: i + 1 });
    for (let i = 0; i < 4; i++) expect(text((await receive(online)).payload)).toBe(String(i));
  });

  it('Request Problem Information=0: the CONNACK of a refused connection has no Reason String', async () => {
    await withBroker({ maxConnections: 1 }, async (own) => {
      const first = await RawClient.connect(own.port);
      const { connack, client } = await RawClient.connect(own.port, {
        protocolVersion: 5,
        properties: { requestProblemInformation: 0 },
      });
      expect(connack.reasonCode).toBe(ReasonCode.ServerBusy);
      expect(connack.properties?.reasonString).toBeUndefined();
      await client.expectClose();
      await first.client.end();
    });
  });

  it('an AUTH packet without an authentication method is a protocol error: DISCONNECT 0x82', async () => {
    const client = await connect();
    client.send({ type: PacketType.AUTH, reasonCode: 0x19 });
    expect((await client.expectPacket(PacketType.DISCONNECT)).reasonCode).toBe(ReasonCode.ProtocolError);
    await client.expectClose();
  });

  it('[MQTT-3.2.2-9] [MQTT-3.2.2-10] Maximum QoS below 2: announced in CONNACK, subscriptions granted at most it, a higher PUBLISH gets DISCONNECT 0x9B', async () => {
    await withBroker({ maximumQoS: 1 }, async (own) => {
      const { client, connack } = await RawClient.connect(own.port, { protocolVersion: 5 });
      expect(connack.properties?.maximumQoS).toBe(1);
      expect(await subscribe(client, [{ topicFilter: 'mq', qos: 2 }])).toEqual([1]);
      client.send({
        type: PacketType.PUBLISH,
        topic: 'mq',
        payload: Buffer.from('x'),
        qos: 2,
        retain: false,
        dup: false,
        packetId: 1,
      });
      expect((await client.expectPacket(PacketType.DISCONNECT)).reasonCode).toBe(ReasonCode.QoSNotSupported);
      await client.expectClose();
    });
  });

  it('Maximum Packet Size: announced in CONNACK, a larger packet gets DISCONNECT 0x95 Packet too large', async () => {
    await withBroker({ maxPacketSize: 100 }, async (own) => {
      const { client, connack } = await RawClient.connect(own.port, { protocolVersion: 5 });
      expect(connack.properties?.maximumPacketSize).toBe(100);
      client.send({
        type: PacketType.PUBLISH,
        topic: 'x',
        payload: Buffer.alloc(200),
        qos: 0,
        retain: false,
        dup: false,
      });
      expect((await client.expectPacket(PacketType.DISCONNECT)).reasonCode).toBe(ReasonCode.PacketTooLarge);
      await client.expectClose();
    });
  });

  it('[MQTT-3.3.2-7] topic aliases are not carried from one connection to the next', async () => {
    const first = await connect({ clientId: 'alias-conn' });
    await publish(first, 'alias/a', 'x', { qos: 1, properties: { topicAlias: 1 } });
    await first.disconnect();
    const second = await connect({ clientId: 'alias-conn' });
    second.send({
      type: PacketType.PUBLISH,
      topic: '',
      payload: Buffer.from('x'),
      qos: 0,
      retain: false,
      dup: false,
      properties: { topicAlias: 1 },
    });
    expect((await second.expectPacket(PacketType.DISCONNECT)).reasonCode).toBe(ReasonCode.ProtocolError);
  });
});
