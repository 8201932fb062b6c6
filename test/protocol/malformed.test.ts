/**
 * Data representation, fixed-header flags, Topic Names and Topic Filters, and the server's reaction to packets that
 * break them (MQTT 5.0 and 3.1.1 §1.5, §2, §3.3, §3.8, §4.7, §4.8, §4.13), on the wire.
 */
import { describe, expect, it } from 'vitest';
import { encode, PacketType, ReasonCode } from '../../src/codec/index.js';
import { useLiveBroker } from '../helpers/live-broker.js';
import {
  connectPacket,
  publish,
  type RawClient,
  rawPacket,
  rawString,
  receive,
  subscribe,
  text,
} from '../helpers/raw-client.js';

const live = useLiveBroker();
const { connect, pair } = live;

/**
 * Sends bytes on a fresh connection and expects the broker to close it: 3.1.1 without a packet, 5.0 after a
 * DISCONNECT with the given reason code.
 */
async function expectRefused(version: 4 | 5, bytes: number[], reasonCode: number = ReasonCode.MalformedPacket) {
  const client = await connect({ protocolVersion: version });
  client.sendRaw(bytes);
  if (version === 5) expect((await client.expectPacket(PacketType.DISCONNECT)).reasonCode).toBe(reasonCode);
  await client.expectClose();
  expect(client.packets).toEqual([]);
}

/** Splits received bytes into packets (every packet here has a one-byte Remaining Length). */
function rawPackets(client: RawClient): Buffer[] {
  const bytes = Buffer.concat(client.chunks);
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; ) {
    const length = bytes[i + 1]!;
    expect(length).toBeLessThan(128);
    out.push(bytes.subarray(i, i + 2 + length));
    i += 2 + length;
  }
  return out;
}

/** A QoS 0 PUBLISH with a raw topic; 5.0 gets an empty property block, or `properties`. */
const rawPublish = (version: 4 | 5, topic: number[], properties: number[] = []) =>
  rawPacket(0x30, [...rawString(topic), ...(version === 5 ? [properties.length, ...properties] : []), 0x78]);

const rawSubscribe = (version: 4 | 5, filter: string | number[], options = 0, packetId = 1, firstByte = 0x82) =>
  rawPacket(firstByte, [packetId >> 8, packetId & 0xff, ...(version === 5 ? [0] : []), ...rawString(filter), options]);

describe('fixed header flags', () => {
  it.each([
    ['[3.1.1 MQTT-2.2.2-1] [3.1.1 MQTT-2.2.2-2] PINGREQ 0xC1', 4, [0xc1, 0]],
    ['[MQTT-2.1.3-1] [MQTT-4.13.1-1] PINGREQ 0xC1', 5, [0xc1, 0]],
    ['[3.1.1 MQTT-3.14.1-1] DISCONNECT 0xE1', 4, [0xe1, 0]],
    ['[MQTT-3.14.1-1] DISCONNECT 0xE1', 5, [0xe1, 0]],
    ['[3.1.1 MQTT-3.6.1-1] PUBREL 0x60', 4, [0x60, 2, 0, 1]],
    ['[MQTT-3.6.1-1] PUBREL 0x60', 5, [0x60, 2, 0, 1]],
    ['[3.1.1 MQTT-3.8.1-1] SUBSCRIBE 0x80', 4, [0x80, 6, 0, 1, 0, 1, 0x61, 0]],
    ['[MQTT-3.8.1-1] SUBSCRIBE 0x80', 5, [0x80, 7, 0, 1, 0, 0, 1, 0x61, 0]],
    ['[3.1.1 MQTT-3.10.1-1] UNSUBSCRIBE 0xA0', 4, [0xa0, 5, 0, 1, 0, 1, 0x61]],
    ['[MQTT-3.10.1-1] UNSUBSCRIBE 0xA0', 5, [0xa0, 6, 0, 1, 0, 0, 1, 0x61]],
    ['[MQTT-3.15.1-1] AUTH 0xF1', 5, [0xf1, 0]],
  ] as const)('%s level %d: invalid reserved flags close the connection', async (_tags, version, bytes) => {
    await expectRefused(version, [...bytes]);
  });

  it.each([
    ['[3.1.1 MQTT-3.3.1-4]', 4],
    ['[MQTT-3.3.1-4]', 5],
  ] as const)('%s level %d: a PUBLISH with both QoS bits set closes the connection', async (_tag, version) => {
    const publish = rawPublish(version, [0x61]);
    publish[0] = 0x36;
    await expectRefused(version, publish);
  });
});

describe('data representation', () => {
  it.each([
    ['[3.1.1 MQTT-1.5.3-1]', 4],
    ['[MQTT-1.5.4-1]', 5],
  ] as const)(
    '%s level %d: ill-formed UTF-8 or an encoded surrogate in a topic closes the connection',
    async (_tag, version) => {
      await expectRefused(version, rawPublish(version, [0x61, 0xc3, 0x28]));
      await expectRefused(version, rawPublish(version, [0x61, 0xed, 0xa0, 0x80]));
    },
  );

  it.each([
    ['[3.1.1 MQTT-1.5.3-2] [3.1.1 MQTT-4.7.3-2]', 4],
    ['[MQTT-1.5.4-2] [MQTT-4.7.3-2]', 5],
  ] as const)('%s level %d: U+0000 in a topic or a filter closes the connection', async (_tags, version) => {
    await expectRefused(version, rawPublish(version, [0x61, 0x00, 0x62]));
    await expectRefused(version, rawSubscribe(version, [0x61, 0x00]));
  });

  it.each([
    ['[3.1.1 MQTT-1.5.3-3]', 4],
    ['[MQTT-1.5.4-3]', 5],
  ] as const)(
    '%s level %d: a leading BOM (EF BB BF) is kept: it is part of the topic',
    async (_tag, protocolVersion) => {
      const { sub, pub } = await pair(['\ufeffbom/x', 'bom/x'], { protocolVersion });
      await publish(pub, '\ufeffbom/x', 'with', { qos: 1 });
      const received = await receive(sub);
      expect(received.topic).toBe('\ufeffbom/x');
      expect(text(received.payload)).toBe('with');
      await sub.expectNoPacket(200);
    },
  );

  it('[MQTT-1.5.5-1] level 5: a Remaining Length not in its shortest form is malformed: DISCONNECT 0x81', async () => {
    await expectRefused(5, [0xc0, 0x80, 0x00]);
  });

  it('[MQTT-1.5.7-1] level 5: a User Property whose name is not UTF-8 is malformed: DISCONNECT 0x81', async () => {
    await expectRefused(5, rawPublish(5, [0x61], [0x26, ...rawString([0xc3, 0x28]), ...rawString('v')]));
  });

  it('[MQTT-2.2.2-1] level 5: a SUBACK without properties carries a Property Length of 0', async () => {
    const client = await connect({ protocolVersion: 5 });
    expect(await subscribe(client, [{ topicFilter: 'plen', qos: 1 }], { packetId: 7 })).toEqual([1]);
    expect([...rawPackets(client).at(-1)!]).toEqual([0x90, 4, 0, 7, 0x00, 0x01]);
  });

  it.each([
    ['[3.1.1 MQTT-2.3.1-5] [3.1.1 MQTT-3.3.1-2] [3.1.1 MQTT-4.3.1-1]', 4],
    ['[MQTT-2.2.1-2] [MQTT-3.3.1-2] [MQTT-4.3.1-1]', 5],
  ] as const)(
    '%s level %d: a QoS 0 PUBLISH to a subscriber has DUP 0 and no packet id',
    async (_tags, protocolVersion) => {
      const { sub, pub } = await pair([{ topicFilter: 'q0', qos: 2 }], { protocolVersion });
      await publish(pub, 'q0', 'x', { qos: 0 });
      const received = await receive(sub);
      expect([received.qos, received.dup, received.packetId]).toEqual([0, false, undefined]);
      const props = protocolVersion === 5 ? [0] : [];
      expect([...rawPackets(sub).at(-1)!]).toEqual([0x30, 5 + props.length, 0, 2, 0x71, 0x30, ...props, 0x78]);
    },
  );

  it('[MQTT-3.1.2-2] a CONNECT with protocol level 6 is refused: at most a refusing CONNACK, then close', async () => {
    const client = await live.open(4);
    client.sendRaw(rawPacket(0x10, [...rawString('MQTT'), 6, 0x02, 0, 0, 0, ...rawString('six')]));
    await client.expectClose();
    expect(client.packets.map((p) => [p.type, 'reasonCode' in p ? p.reasonCode : undefined])).toEqual([
      [PacketType.CONNACK, 0x01],
    ]);
  });

  it('[3.1.1 MQTT-2.3.1-1] level 4: a SUBSCRIBE with packet id 0 closes the connection', async () => {
    await expectRefused(4, rawSubscribe(4, 'a', 0, 0));
  });
});

describe('Topic Names and Topic Filters', () => {
  it.each([
    ['[3.1.1 MQTT-3.3.2-2] [3.1.1 MQTT-4.7.1-1]', 4],
    ['[MQTT-3.3.2-2] [MQTT-4.7.0-1]', 5],
  ] as const)('%s level %d: a wildcard in a Topic Name closes the connection', async (_tags, version) => {
    await expectRefused(version, rawPublish(version, [...Buffer.from('a/+')]), ReasonCode.TopicNameInvalid);
    await expectRefused(version, rawPublish(version, [...Buffer.from('a/#')]), ReasonCode.TopicNameInvalid);
  });

  it('[3.1.1 MQTT-4.7.3-1] level 4: a zero-length Topic Name or Topic Filter closes the connection', async () => {
    await expectRefused(4, rawPublish(4, []));
    await expectRefused(4, rawSubscribe(4, ''));
  });

  it('[MQTT-4.7.3-1] level 5: a zero-length Topic Filter gets DISCONNECT 0x8F, a zero-length Topic Name without alias 0x82', async () => {
    await expectRefused(5, rawSubscribe(5, ''), ReasonCode.TopicFilterInvalid);
    await expectRefused(5, rawPublish(5, []), ReasonCode.ProtocolError);
  });

  it.each([
    ['[3.1.1 MQTT-4.7.1-2]', 4],
    ['[MQTT-4.7.1-1]', 5],
  ] as const)(
    '%s level %d: "#" is accepted alone or last after "/", anywhere else the connection is closed',
    async (_tag, version) => {
      const client = await connect({ protocolVersion: version });
      expect(await subscribe(client, ['#', 'a/#', '/#'])).toEqual([2, 2, 2]);
      for (const filter of ['a/#/b', 'a#', '#/']) {
        await expectRefused(version, rawSubscribe(version, filter), ReasonCode.TopicFilterInvalid);
      }
    },
  );

  it.each([
    ['[3.1.1 MQTT-4.7.1-3]', 4],
    ['[MQTT-4.7.1-2]', 5],
  ] as const)(
    '%s level %d: "+" is accepted as a whole level, anywhere else the connection is closed',
    async (_tag, version) => {
      const client = await connect({ protocolVersion: version });
      expect(await subscribe(client, ['+', '+/+', 'a/+/c', '/+'])).toEqual([2, 2, 2, 2]);
      for (const filter of ['a/b+', '+a', 'a/+b/c']) {
        await expectRefused(version, rawSubscribe(version, filter), ReasonCode.TopicFilterInvalid);
      }
    },
  );

  it.each([
    ['[3.1.1 MQTT-4.7.3-4]', 4],
    ['[MQTT-4.7.3-4]', 5],
  ] as const)('%s level %d: topics and filters are matched without normalisation', async (_tag, protocolVersion) => {
    const { sub, pub } = await pair(['a/b', 'caf\u00e9/x'], { protocolVersion });
    for (const topic of ['a//b', 'A/b', 'a/b/', ' a/b', 'cafe\u0301/x', 'a/b ']) await publish(pub, topic, topic);
    await publish(pub, 'a/b', 'exact');
    await publish(pub, 'caf\u00e9/x', 'exact too');
    expect(text((await receive(sub)).payload)).toBe('exact');
    expect(text((await receive(sub)).payload)).toBe('exact too');
    await sub.expectNoPacket(200);
  });

  it.each([
    ['[3.1.1 MQTT-3.3.2-1] [3.1.1 MQTT-3.3.2-3]', 4],
    ['[MQTT-3.3.2-1] [MQTT-3.3.2-3]', 5],
  ] as const)(
    '%s level %d: the Topic Name sent to a subscriber is the published one, matching its filter',
    async (_tags, protocolVersion) => {
      const { sub, pub } = await pair(['m/+/c'], { protocolVersion });
      await publish(pub, 'm/b/d', 'no');
      await publish(pub, 'm/b/c', 'yes');
      const received = await receive(sub);
      expect([received.topic, text(received.payload)]).toEqual(['m/b/c', 'yes']);
      expect([...rawPackets(sub).at(-1)!.subarray(2, 9)]).toEqual([0, 5, ...Buffer.from('m/b/c')]);
    },
  );
});

describe('PUBLISH properties', () => {
  it('[MQTT-3.3.2-8] level 5: a Topic Alias of 0 gets DISCONNECT 0x94 Topic Alias invalid', async () => {
    await expectRefused(5, rawPublish(5, [0x61], [0x23, 0, 0]), ReasonCode.TopicAliasInvalid);
  });

  it('[MQTT-3.3.2-13] [MQTT-3.3.2-19] level 5: a Response Topic or Content Type that is not UTF-8 is malformed: DISCONNECT 0x81', async () => {
    await expectRefused(5, rawPublish(5, [0x61], [0x08, ...rawString([0xc3, 0x28])]));
    await expectRefused(5, rawPublish(5, [0x61], [0x03, ...rawString([0xc3, 0x28])]));
  });

  it('[MQTT-3.3.2-14] level 5: a Response Topic with a wildcard is a protocol error: DISCONNECT 0x82, nothing forwarded', async () => {
    const sub = await connect({ protocolVersion: 5 });
    await subscribe(sub, ['req/wild']);
    for (const responseTopic of ['resp/#', 'resp/+/x']) {
      const pub = await connect({ protocolVersion: 5 });
      pub.send({
        type: PacketType.PUBLISH,
        topic: 'req/wild',
        payload: Buffer.from('x'),
        qos: 0,
        retain: false,
        dup: false,
        properties: { responseTopic },
      });
      expect((await pub.expectPacket(PacketType.DISCONNECT)).reasonCode).toBe(ReasonCode.ProtocolError);
      await pub.expectClose();
    }
    await sub.expectNoPacket(200);
  });
});

describe('SUBSCRIBE payload', () => {
  it('[3.1.1 MQTT-3.8.3-4] level 4: reserved bits or QoS 3 in a subscription close the connection', async () => {
    await expectRefused(4, rawSubscribe(4, 'a', 0x04));
    await expectRefused(4, rawSubscribe(4, 'a', 0x03));
  });

  it('[MQTT-3.8.3-5] level 5: reserved Subscription Options bits are malformed: DISCONNECT 0x81', async () => {
    await expectRefused(5, rawSubscribe(5, 'a', 0x40));
    await expectRefused(5, rawSubscribe(5, 'a', 0x80));
  });
});

describe('PUBLISH handling', () => {
  it.each([
    ['[3.1.1 MQTT-3.3.5-1]', 4],
    ['[MQTT-3.3.4-2]', 5],
  ] as const)(
    '%s level %d: overlapping subscriptions deliver one message at the highest granted QoS',
    async (_tag, protocolVersion) => {
      const sub = await connect({ protocolVersion });
      await subscribe(sub, [
        { topicFilter: 'ov/+', qos: 0 },
        { topicFilter: 'ov/#', qos: 2 },
      ]);
      const pub = await connect({ protocolVersion });
      await publish(pub, 'ov/x', 'x', { qos: 2 });
      expect((await receive(sub)).qos).toBe(2);
      await sub.expectNoPacket(200);
    },
  );

  it.each([
    ['[3.1.1 MQTT-3.3.1-3]', 4],
    ['[MQTT-3.3.1-3]', 5],
  ] as const)(
    '%s level %d: DUP of a forwarded PUBLISH does not copy the incoming DUP',
    async (_tag, protocolVersion) => {
      const { sub, pub } = await pair([{ topicFilter: 'dup/in', qos: 1 }], { protocolVersion });
      pub.send({
        type: PacketType.PUBLISH,
        topic: 'dup/in',
        payload: Buffer.from('x'),
        qos: 1,
        retain: false,
        dup: true,
        packetId: 3,
      });
      await pub.expectPacket(PacketType.PUBACK);
      expect((await receive(sub)).dup).toBe(false);
    },
  );

  it.each([
    ['[3.1.1 MQTT-3.3.4-1]', 4],
    ['[MQTT-3.3.4-1]', 5],
  ] as const)(
    '%s level %d: the server answers a PUBLISH as its QoS requires: nothing, PUBACK or PUBREC',
    async (_tag, protocolVersion) => {
      const pub = await connect({ protocolVersion });
      for (const qos of [0, 1, 2] as const) {
        pub.send({
          type: PacketType.PUBLISH,
          topic: 'ans',
          payload: Buffer.from('x'),
          qos,
          retain: false,
          dup: false,
          packetId: qos === 0 ? undefined : 10 + qos,
        });
        pub.send({ type: PacketType.PINGREQ });
      }
      const types = [];
      for (let i = 0; i < 5; i++) types.push((await pub.nextPacket())?.type);
      expect(types).toEqual([
        PacketType.PINGRESP,
        PacketType.PUBACK,
        PacketType.PINGRESP,
        PacketType.PUBREC,
        PacketType.PINGRESP,
      ]);
    },
  );

  it('[3.1.1 MQTT-3.3.5-2] level 4: an unauthorised PUBLISH is acknowledged per its QoS and not delivered', async () => {
    await live.withBroker(
      { hooks: { authorizePublish: (_client, packet) => packet.topic !== 'denied' } },
      async (own) => {
        const { sub, pub } = await pair(['denied'], {}, own.port);
        pub.send({
          type: PacketType.PUBLISH,
          topic: 'denied',
          payload: Buffer.from('x'),
          qos: 1,
          retain: false,
          dup: false,
          packetId: 4,
        });
        expect((await pub.expectPacket(PacketType.PUBACK)).packetId).toBe(4);
        pub.send({
          type: PacketType.PUBLISH,
          topic: 'denied',
          payload: Buffer.from('x'),
          qos: 2,
          retain: false,
          dup: false,
          packetId: 5,
        });
        expect((await pub.expectPacket(PacketType.PUBREC)).packetId).toBe(5);
        await sub.expectNoPacket(200);
      },
    );
  });

  it('[3.1.1 MQTT-4.8.0-2] level 4: an error while processing an inbound packet closes the connection', async () => {
    await live.withBroker(
      {
        hooks: {
          authorizePublish: () => {
            throw new Error('authorization backend down');
          },
        },
      },
      async (own) => {
        const pub = await connect({}, own.port);
        pub.send({
          type: PacketType.PUBLISH,
          topic: 't',
          payload: Buffer.from('x'),
          qos: 1,
          retain: false,
          dup: false,
          packetId: 1,
        });
        await pub.expectClose();
        expect(pub.packets).toEqual([]);
      },
    );
  });
});

describe('transport', () => {
  it.each([
    ['[3.1.1 MQTT-7.1.1-1]', 4],
    ['[MQTT-4.2.0-1]', 5],
  ] as const)('%s level %d: over TCP, packets split at every byte are read in order', async (_tag, protocolVersion) => {
    const client = await live.open(protocolVersion);
    const bytes = Buffer.concat([
      encode(connectPacket({ protocolVersion }), protocolVersion),
      encode(
        { type: PacketType.SUBSCRIBE, packetId: 9, subscriptions: [{ topicFilter: 'split', qos: 1 }] },
        protocolVersion,
      ),
      encode({ type: PacketType.PINGREQ }, protocolVersion),
    ]);
    for (const byte of bytes) {
      client.sendRaw([byte]);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect((await client.expectPacket(PacketType.CONNACK)).reasonCode).toBe(0);
    expect((await client.expectPacket(PacketType.SUBACK)).packetId).toBe(9);
    await client.expectPacket(PacketType.PINGRESP);
  });
});
