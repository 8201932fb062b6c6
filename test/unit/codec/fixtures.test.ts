/**
 * Byte fixtures: for each row, decoding the bytes gives the packet, encoding the packet gives the bytes, and feeding
 * the bytes one at a time gives the packet too. Bytes are spelled with tiny helpers (u16, str, props...) that mirror
 * the spec's field types, so each row reads like the spec's figures.
 */
import { describe, expect, it } from 'vitest';
import {
  encode,
  encodedLength,
  encodeInto,
  type Packet,
  PacketDecoder,
  type ProtocolVersion,
} from '../../../src/codec/index.js';

type Bytes = number[];
const u16 = (n: number): Bytes => [n >> 8, n & 0xff];
const u32 = (n: number): Bytes => [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
function vbi(n: number): Bytes {
  const out: Bytes = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}
const utf8 = (s: string): Bytes => [...new TextEncoder().encode(s)];
const str = (s: string): Bytes => [...u16(utf8(s).length), ...utf8(s)];
const bin = (b: Bytes): Bytes => [...u16(b.length), ...b];
/** A whole packet: first byte, Remaining Length, body. */
const pkt = (b0: number, ...body: Bytes[]): Bytes => {
  const flat = body.flat();
  return [b0, ...vbi(flat.length), ...flat];
};
/** A property block: Property Length, properties. */
const props = (...items: Bytes[]): Bytes => {
  const flat = items.flat();
  return [...vbi(flat.length), ...flat];
};
const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);
const fill = (n: number, v = 0x61): Bytes => new Array<number>(n).fill(v);

interface Fixture {
  name: string;
  version: ProtocolVersion;
  packet: Packet;
  bytes: Bytes;
}

const fixtures: Fixture[] = [
  // ---- MQTT 3.1.1 -------------------------------------------------------------------------------------------------
  {
    name: 'CONNECT minimal, clean session',
    version: 4,
    packet: { type: 1, protocolName: 'MQTT', protocolVersion: 4, clean: true, keepAlive: 60, clientId: 'c1' },
    bytes: pkt(0x10, str('MQTT'), [4, 0x02], u16(60), str('c1')),
  },
  {
    name: 'CONNECT with will (QoS 1, retain), user name and password, empty client id',
    version: 4,
    packet: {
      type: 1,
      protocolName: 'MQTT',
      protocolVersion: 4,
      clean: false,
      keepAlive: 0,
      clientId: '',
      username: 'user',
      password: bytes(1, 2, 3),
      will: { topic: 'last/will', payload: bytes(0x62, 0x79, 0x65), qos: 1, retain: true },
    },
    bytes: pkt(
      0x10,
      str('MQTT'),
      [4, 0xec],
      u16(0),
      str(''),
      str('last/will'),
      bin([0x62, 0x79, 0x65]),
      str('user'),
      bin([1, 2, 3]),
    ),
  },
  {
    name: 'CONNECT with user name only and will QoS 2',
    version: 4,
    packet: {
      type: 1,
      protocolName: 'MQTT',
      protocolVersion: 4,
      clean: true,
      keepAlive: 65535,
      clientId: 'id',
      username: 'ü',
      will: { topic: 'w', payload: bytes(), qos: 2, retain: false },
    },
    bytes: pkt(0x10, str('MQTT'), [4, 0x96], u16(65535), str('id'), str('w'), bin([]), str('ü')),
  },
  {
    name: 'CONNACK session present, accepted',
    version: 4,
    packet: { type: 2, sessionPresent: true, reasonCode: 0 },
    bytes: [0x20, 2, 1, 0],
  },
  {
    name: 'CONNACK return code 5 (not authorized)',
    version: 4,
    packet: { type: 2, sessionPresent: false, reasonCode: 5 },
    bytes: [0x20, 2, 0, 5],
  },
  {
    name: 'PUBLISH QoS 0',
    version: 4,
    packet: { type: 3, topic: 'a/b', payload: bytes(1, 2, 3), qos: 0, retain: false, dup: false },
    bytes: pkt(0x30, str('a/b'), [1, 2, 3]),
  },
  {
    name: 'PUBLISH QoS 1, DUP, RETAIN',
    version: 4,
    packet: {
      type: 3,
      topic: 'sensors/building-1/floor-3/temp',
      payload: bytes(9),
      qos: 1,
      retain: true,
      dup: true,
      packetId: 1,
    },
    bytes: pkt(0x3b, str('sensors/building-1/floor-3/temp'), u16(1), [9]),
  },
  {
    name: 'PUBLISH QoS 2, non-ASCII topic (2-, 3- and 4-byte UTF-8), empty payload',
    version: 4,
    packet: { type: 3, topic: 'sensör/温度/😀', payload: bytes(), qos: 2, retain: false, dup: false, packetId: 65535 },
    bytes: pkt(0x34, str('sensör/温度/😀'), u16(65535)),
  },
  {
    name: 'PUBLISH with a 200-byte payload (2-byte Remaining Length)',
    version: 4,
    packet: { type: 3, topic: 't', payload: new Uint8Array(fill(200)), qos: 0, retain: false, dup: false },
    bytes: [0x30, ...vbi(203), ...str('t'), ...fill(200)],
  },
  {
    name: 'PUBLISH with a 20,000-byte payload (3-byte Remaining Length), long ASCII topic',
    version: 4,
    packet: {
      type: 3,
      topic: 'x'.repeat(300),
      payload: new Uint8Array(fill(20_000, 7)),
      qos: 0,
      retain: false,
      dup: false,
    },
    bytes: [0x30, ...vbi(20_302), ...str('x'.repeat(300)), ...fill(20_000, 7)],
  },
  { name: 'PUBACK', version: 4, packet: { type: 4, packetId: 1 }, bytes: [0x40, 2, 0, 1] },
  { name: 'PUBREC', version: 4, packet: { type: 5, packetId: 258 }, bytes: [0x50, 2, 1, 2] },
  { name: 'PUBREL (flags 0010)', version: 4, packet: { type: 6, packetId: 3 }, bytes: [0x62, 2, 0, 3] },
  { name: 'PUBCOMP', version: 4, packet: { type: 7, packetId: 65535 }, bytes: [0x70, 2, 0xff, 0xff] },
  {
    name: 'SUBSCRIBE two filters (flags 0010)',
    version: 4,
    packet: {
      type: 8,
      packetId: 10,
      subscriptions: [
        { topicFilter: 'a/+/c', qos: 1 },
        { topicFilter: '#', qos: 2 },
      ],
    },
    bytes: pkt(0x82, u16(10), str('a/+/c'), [1], str('#'), [2]),
  },
  {
    name: 'SUBSCRIBE a $share/ filter (an ordinary filter before 5.0)',
    version: 4,
    packet: { type: 8, packetId: 1, subscriptions: [{ topicFilter: '$share/g/x', qos: 0 }] },
    bytes: pkt(0x82, u16(1), str('$share/g/x'), [0]),
  },
  {
    name: 'SUBACK with each return code',
    version: 4,
    packet: { type: 9, packetId: 10, reasonCodes: [0, 1, 2, 0x80] },
    bytes: pkt(0x90, u16(10), [0, 1, 2, 0x80]),
  },
  {
    name: 'UNSUBSCRIBE two filters (flags 0010)',
    version: 4,
    packet: { type: 10, packetId: 11, topicFilters: ['a/b', 'c/#'] },
    bytes: pkt(0xa2, u16(11), str('a/b'), str('c/#')),
  },
  {
    name: 'UNSUBACK (no reason codes before 5.0)',
    version: 4,
    packet: { type: 11, packetId: 11 },
    bytes: [0xb0, 2, 0, 11],
  },
  { name: 'PINGREQ', version: 4, packet: { type: 12 }, bytes: [0xc0, 0] },
  { name: 'PINGRESP', version: 4, packet: { type: 13 }, bytes: [0xd0, 0] },
  { name: 'DISCONNECT', version: 4, packet: { type: 14 }, bytes: [0xe0, 0] },

  // ---- MQTT 3.1 ---------------------------------------------------------------------------------------------------
  {
    name: 'CONNECT "MQIsdp" level 3 with user name and password',
    version: 3,
    packet: {
      type: 1,
      protocolName: 'MQIsdp',
      protocolVersion: 3,
      clean: true,
      keepAlive: 10,
      clientId: 'old-client',
      username: 'u',
      password: bytes(0x70),
    },
    bytes: pkt(0x10, str('MQIsdp'), [3, 0xc2], u16(10), str('old-client'), str('u'), bin([0x70])),
  },
  {
    name: 'PUBLISH QoS 1',
    version: 3,
    packet: { type: 3, topic: 'x', payload: bytes(1), qos: 1, retain: false, dup: false, packetId: 2 },
    bytes: pkt(0x32, str('x'), u16(2), [1]),
  },
  { name: 'CONNACK', version: 3, packet: { type: 2, sessionPresent: false, reasonCode: 2 }, bytes: [0x20, 2, 0, 2] },
  {
    name: 'SUBACK',
    version: 3,
    packet: { type: 9, packetId: 4, reasonCodes: [0x80] },
    bytes: pkt(0x90, u16(4), [0x80]),
  },

  // ---- MQTT 5.0 ---------------------------------------------------------------------------------------------------
  {
    name: 'CONNECT minimal (Property Length 0)',
    version: 5,
    packet: { type: 1, protocolName: 'MQTT', protocolVersion: 5, clean: true, keepAlive: 30, clientId: 'c5' },
    bytes: pkt(0x10, str('MQTT'), [5, 0x02], u16(30), props(), str('c5')),
  },
  {
    name: 'CONNECT with every CONNECT and Will property, password without user name',
    version: 5,
    packet: {
      type: 1,
      protocolName: 'MQTT',
      protocolVersion: 5,
      clean: false,
      keepAlive: 120,
      clientId: 'full',
      password: bytes(0xaa, 0xbb),
      will: {
        topic: 'clients/full/status',
        payload: utf8Bytes('gone'),
        qos: 2,
        retain: false,
        properties: {
          willDelayInterval: 30,
          payloadFormatIndicator: 1,
          messageExpiryInterval: 3600,
          contentType: 'text/plain',
          responseTopic: 'replies/full',
          correlationData: bytes(1, 2),
          userProperties: [['k', 'v']],
        },
      },
      properties: {
        sessionExpiryInterval: 0xffffffff,
        receiveMaximum: 100,
        maximumPacketSize: 1_048_576,
        topicAliasMaximum: 10,
        requestResponseInformation: 1,
        requestProblemInformation: 0,
        userProperties: [
          ['region', 'eu'],
          ['region', 'us'],
          ['a', ''],
        ],
        authenticationMethod: 'SCRAM-SHA-1',
        authenticationData: bytes(0xde, 0xad),
      },
    },
    bytes: pkt(
      0x10,
      str('MQTT'),
      [5, 0x54],
      u16(120),
      props(
        [0x11, ...u32(0xffffffff)],
        [0x21, ...u16(100)],
        [0x27, ...u32(1_048_576)],
        [0x22, ...u16(10)],
        [0x19, 1],
        [0x17, 0],
        [0x26, ...str('region'), ...str('eu'), 0x26, ...str('region'), ...str('us'), 0x26, ...str('a'), ...str('')],
        [0x15, ...str('SCRAM-SHA-1')],
        [0x16, ...bin([0xde, 0xad])],
      ),
      str('full'),
      props(
        [0x18, ...u32(30)],
        [0x01, 1],
        [0x02, ...u32(3600)],
        [0x03, ...str('text/plain')],
        [0x08, ...str('replies/full')],
        [0x09, ...bin([1, 2])],
        [0x26, ...str('k'), ...str('v')],
      ),
      str('clients/full/status'),
      bin(utf8('gone')),
      bin([0xaa, 0xbb]),
    ),
  },
  {
    name: 'CONNACK with every CONNACK property',
    version: 5,
    packet: {
      type: 2,
      sessionPresent: false,
      reasonCode: 0,
      properties: {
        sessionExpiryInterval: 60,
        receiveMaximum: 20,
        maximumQoS: 1,
        retainAvailable: 0,
        maximumPacketSize: 65_536,
        assignedClientIdentifier: 'auto-1',
        topicAliasMaximum: 5,
        reasonString: 'welcome',
        userProperties: [['x', 'y']],
        wildcardSubscriptionAvailable: 1,
        subscriptionIdentifierAvailable: 0,
        sharedSubscriptionAvailable: 1,
        serverKeepAlive: 45,
        responseInformation: 'resp/',
        serverReference: 'other:1883',
        authenticationMethod: 'm',
        authenticationData: bytes(7),
      },
    },
    bytes: pkt(
      0x20,
      [0, 0],
      props(
        [0x11, ...u32(60)],
        [0x21, ...u16(20)],
        [0x24, 1],
        [0x25, 0],
        [0x27, ...u32(65_536)],
        [0x12, ...str('auto-1')],
        [0x22, ...u16(5)],
        [0x1f, ...str('welcome')],
        [0x26, ...str('x'), ...str('y')],
        [0x28, 1],
        [0x29, 0],
        [0x2a, 1],
        [0x13, ...u16(45)],
        [0x1a, ...str('resp/')],
        [0x1c, ...str('other:1883')],
        [0x15, ...str('m')],
        [0x16, ...bin([7])],
      ),
    ),
  },
  {
    name: 'CONNACK refused (0x87 Not authorized), no properties',
    version: 5,
    packet: { type: 2, sessionPresent: false, reasonCode: 0x87 },
    bytes: [0x20, 3, 0, 0x87, 0],
  },
  {
    name: 'PUBLISH QoS 0 without properties',
    version: 5,
    packet: { type: 3, topic: 'a/b', payload: bytes(1, 2), qos: 0, retain: false, dup: false },
    bytes: pkt(0x30, str('a/b'), props(), [1, 2]),
  },
  {
    name: 'PUBLISH with every PUBLISH property, several Subscription Identifiers, repeated User Properties',
    version: 5,
    packet: {
      type: 3,
      topic: 'req/1',
      payload: utf8Bytes('héllo'),
      qos: 1,
      retain: true,
      dup: false,
      packetId: 77,
      properties: {
        payloadFormatIndicator: 1,
        messageExpiryInterval: 10,
        topicAlias: 3,
        responseTopic: 'resp/1',
        correlationData: bytes(0xc0, 0xff, 0xee),
        userProperties: [
          ['b', '2'],
          ['a', '1'],
          ['b', '3'],
        ],
        subscriptionIdentifiers: [1, 128, 268_435_455],
        contentType: 'text/plain; charset=utf-8',
      },
    },
    bytes: pkt(
      0x33,
      str('req/1'),
      u16(77),
      props(
        [0x01, 1],
        [0x02, ...u32(10)],
        [0x23, ...u16(3)],
        [0x08, ...str('resp/1')],
        [0x09, ...bin([0xc0, 0xff, 0xee])],
        [0x26, ...str('b'), ...str('2'), 0x26, ...str('a'), ...str('1'), 0x26, ...str('b'), ...str('3')],
        [0x0b, 1, 0x0b, 0x80, 0x01, 0x0b, 0xff, 0xff, 0xff, 0x7f],
        [0x03, ...str('text/plain; charset=utf-8')],
      ),
      utf8('héllo'),
    ),
  },
  {
    name: 'PUBLISH with an empty Topic Name and a Topic Alias',
    version: 5,
    packet: { type: 3, topic: '', payload: bytes(5), qos: 0, retain: false, dup: false, properties: { topicAlias: 1 } },
    bytes: pkt(0x30, str(''), props([0x23, ...u16(1)]), [5]),
  },
  {
    name: 'PUBACK short form: Success, no properties (Remaining Length 2)',
    version: 5,
    packet: { type: 4, packetId: 5 },
    bytes: [0x40, 2, 0, 5],
  },
  {
    name: 'PUBACK with a Reason Code and no Property Length (Remaining Length 3)',
    version: 5,
    packet: { type: 4, packetId: 5, reasonCode: 0x10 },
    bytes: [0x40, 3, 0, 5, 0x10],
  },
  {
    name: 'PUBREC with Reason Code, Reason String and User Property',
    version: 5,
    packet: {
      type: 5,
      packetId: 6,
      reasonCode: 0x80,
      properties: { reasonString: 'no', userProperties: [['why', 'because']] },
    },
    bytes: pkt(0x50, u16(6), [0x80], props([0x1f, ...str('no')], [0x26, ...str('why'), ...str('because')])),
  },
  {
    name: 'PUBREC with Success and properties (Reason Code 0 written)',
    version: 5,
    packet: { type: 5, packetId: 6, reasonCode: 0, properties: { reasonString: 'ok' } },
    bytes: pkt(0x50, u16(6), [0], props([0x1f, ...str('ok')])),
  },
  {
    name: 'PUBREL 0x92 Packet Identifier not found',
    version: 5,
    packet: { type: 6, packetId: 7, reasonCode: 0x92 },
    bytes: [0x62, 3, 0, 7, 0x92],
  },
  { name: 'PUBCOMP short form', version: 5, packet: { type: 7, packetId: 8 }, bytes: [0x70, 2, 0, 8] },
  {
    name: 'SUBSCRIBE with Subscription Identifier, User Property, all options, a Shared Subscription',
    version: 5,
    packet: {
      type: 8,
      packetId: 12,
      subscriptions: [
        { topicFilter: 'a/#', qos: 2, noLocal: true, retainAsPublished: true, retainHandling: 2 },
        { topicFilter: '$share/group/b/+', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 1 },
        { topicFilter: 'c', qos: 0, noLocal: false, retainAsPublished: true, retainHandling: 0 },
      ],
      properties: { subscriptionIdentifiers: [16_384], userProperties: [['u', 'v']] },
    },
    bytes: pkt(
      0x82,
      u16(12),
      props([0x0b, 0x80, 0x80, 0x01], [0x26, ...str('u'), ...str('v')]),
      str('a/#'),
      [0x2e],
      str('$share/group/b/+'),
      [0x11],
      str('c'),
      [0x08],
    ),
  },
  {
    name: 'SUBACK with Reason String',
    version: 5,
    packet: { type: 9, packetId: 12, reasonCodes: [2, 1, 0x8f, 0xa2], properties: { reasonString: 'partly' } },
    bytes: pkt(0x90, u16(12), props([0x1f, ...str('partly')]), [2, 1, 0x8f, 0xa2]),
  },
  {
    name: 'UNSUBSCRIBE with User Property',
    version: 5,
    packet: {
      type: 10,
      packetId: 13,
      topicFilters: ['a/#', '$share/g/x'],
      properties: { userProperties: [['k', 'v']] },
    },
    bytes: pkt(0xa2, u16(13), props([0x26, ...str('k'), ...str('v')]), str('a/#'), str('$share/g/x')),
  },
  {
    name: 'UNSUBACK with Reason Codes',
    version: 5,
    packet: { type: 11, packetId: 13, reasonCodes: [0x00, 0x11] },
    bytes: pkt(0xb0, u16(13), props(), [0x00, 0x11]),
  },
  { name: 'PINGREQ', version: 5, packet: { type: 12 }, bytes: [0xc0, 0] },
  { name: 'PINGRESP', version: 5, packet: { type: 13 }, bytes: [0xd0, 0] },
  { name: 'DISCONNECT short form (Remaining Length 0)', version: 5, packet: { type: 14 }, bytes: [0xe0, 0] },
  {
    name: 'DISCONNECT with Will Message, no properties (Remaining Length 1)',
    version: 5,
    packet: { type: 14, reasonCode: 0x04 },
    bytes: [0xe0, 1, 0x04],
  },
  {
    name: 'DISCONNECT with every DISCONNECT property',
    version: 5,
    packet: {
      type: 14,
      reasonCode: 0x9c,
      properties: {
        sessionExpiryInterval: 0,
        reasonString: 'moving',
        serverReference: 'b.example:1883',
        userProperties: [['n', 'm']],
      },
    },
    bytes: pkt(
      0xe0,
      [0x9c],
      props(
        [0x11, ...u32(0)],
        [0x1f, ...str('moving')],
        [0x1c, ...str('b.example:1883')],
        [0x26, ...str('n'), ...str('m')],
      ),
    ),
  },
  { name: 'AUTH short form (Remaining Length 0)', version: 5, packet: { type: 15 }, bytes: [0xf0, 0] },
  {
    name: 'AUTH continue with method, data, reason string',
    version: 5,
    packet: {
      type: 15,
      reasonCode: 0x18,
      properties: { authenticationMethod: 'SCRAM-SHA-1', authenticationData: bytes(1, 2, 3), reasonString: 'step 2' },
    },
    bytes: pkt(0xf0, [0x18], props([0x15, ...str('SCRAM-SHA-1')], [0x16, ...bin([1, 2, 3])], [0x1f, ...str('step 2')])),
  },
];

function utf8Bytes(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

function decodeAll(input: Uint8Array[], version: ProtocolVersion): { packets: Packet[]; decoder: PacketDecoder } {
  const decoder = new PacketDecoder({ protocolVersion: version });
  const packets: Packet[] = [];
  for (const chunk of input) decoder.decode(chunk, (p) => packets.push(p));
  return { packets, decoder };
}

describe('codec byte fixtures', () => {
  for (const f of fixtures) {
    describe(`v${f.version === 4 ? '3.1.1' : f.version === 3 ? '3.1' : '5'} ${f.name}`, () => {
      const wire = new Uint8Array(f.bytes);

      it('decodes to the packet', () => {
        const { packets, decoder } = decodeAll([wire], f.version);
        expect(packets).toEqual([f.packet]);
        expect(decoder.buffered).toBe(0);
      });

      it('encodes to the bytes', () => {
        expect(encode(f.packet, f.version)).toEqual(wire);
        expect(encodedLength(f.packet, f.version)).toBe(wire.length);
        const target = new Uint8Array(wire.length + 3);
        expect(encodeInto(f.packet, f.version, target, 3)).toBe(target.length);
        expect(target.subarray(3)).toEqual(wire);
      });

      it('decodes when fed one byte at a time', () => {
        const chunks = [...wire].map((b) => new Uint8Array([b]));
        const { packets, decoder } = decodeAll(chunks, f.version);
        expect(packets).toEqual([f.packet]);
        expect(decoder.buffered).toBe(0);
      });
    });
  }

  it('decodes the fixtures of a version back to back in one chunk, and split in two at every offset', () => {
    for (const version of [3, 4, 5] as const) {
      // CONNECT resets the decoder's version; the two large packets would make this slow.
      const rows = fixtures.filter((f) => f.version === version && f.packet.type !== 1 && f.bytes.length < 1000);
      const stream = new Uint8Array(rows.flatMap((f) => f.bytes));
      const expected = rows.map((f) => f.packet);
      expect(decodeAll([stream], version).packets).toEqual(expected);
      for (let cut = 1; cut < stream.length; cut++) {
        const { packets, decoder } = decodeAll([stream.subarray(0, cut), stream.subarray(cut)], version);
        expect(packets).toEqual(expected);
        expect(decoder.buffered).toBe(0);
      }
    }
  });

  it('covers all 15 packet types and all 27 properties', () => {
    const types = new Set(fixtures.map((f) => f.packet.type));
    expect([...types].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    const keys = new Set<string>();
    for (const f of fixtures) {
      const p = f.packet as { properties?: object; will?: { properties?: object } };
      for (const k of Object.keys(p.properties ?? {})) keys.add(k);
      for (const k of Object.keys(p.will?.properties ?? {})) keys.add(k);
    }
    expect(keys.size).toBe(27);
  });

  it('sets protocolVersion from a decoded CONNECT', () => {
    const connect5 = fixtures.find((f) => f.version === 5 && f.packet.type === 1)!;
    const { decoder } = decodeAll([new Uint8Array(connect5.bytes)], 4);
    expect(decoder.protocolVersion).toBe(5);
    const connect3 = fixtures.find((f) => f.version === 3 && f.packet.type === 1)!;
    decoder.decode(new Uint8Array(connect3.bytes), () => {});
    expect(decoder.protocolVersion).toBe(3);
  });
});

describe('version rules of the encoder', () => {
  it('drops the 5.0-only fields for 3.1.1', () => {
    const ack: Packet = { type: 4, packetId: 9, reasonCode: 0x10, properties: { reasonString: 'x' } };
    expect(encode(ack, 4)).toEqual(bytes(0x40, 2, 0, 9));
    const publish: Packet = {
      type: 3,
      topic: 't',
      payload: bytes(1),
      qos: 0,
      retain: false,
      dup: false,
      properties: { messageExpiryInterval: 5 },
    };
    expect(encode(publish, 4)).toEqual(new Uint8Array(pkt(0x30, str('t'), [1])));
    const sub: Packet = {
      type: 8,
      packetId: 1,
      subscriptions: [{ topicFilter: 'a', qos: 1, noLocal: true, retainAsPublished: true, retainHandling: 2 }],
    };
    expect(encode(sub, 4)).toEqual(new Uint8Array(pkt(0x82, u16(1), str('a'), [1])));
    expect(encode({ type: 11, packetId: 2, reasonCodes: [0x11] }, 4)).toEqual(bytes(0xb0, 2, 0, 2));
    expect(encode({ type: 14, reasonCode: 0x04 }, 4)).toEqual(bytes(0xe0, 0));
  });

  it('writes the shortest 5.0 acknowledgement the content allows', () => {
    expect(encode({ type: 4, packetId: 1, reasonCode: 0 }, 5)).toEqual(bytes(0x40, 2, 0, 1));
    expect(encode({ type: 4, packetId: 1, properties: {} }, 5)).toEqual(bytes(0x40, 2, 0, 1));
    expect(encode({ type: 14, reasonCode: 0, properties: { userProperties: [] } }, 5)).toEqual(bytes(0xe0, 0));
    // AUTH with a Reason Code always carries its Property Length.
    expect(encode({ type: 15, reasonCode: 0x19 }, 5)).toEqual(bytes(0xf0, 2, 0x19, 0));
  });

  it('encodes a CONNECT for its own Protocol Level', () => {
    const connect: Packet = {
      type: 1,
      protocolName: 'MQTT',
      protocolVersion: 5,
      clean: true,
      keepAlive: 1,
      clientId: 'c',
    };
    expect(encode(connect, 4)).toEqual(encode(connect, 5));
  });

  it('caches nothing that leaks between topics', () => {
    const a: Packet = { type: 3, topic: 'same/long/topic/name', payload: bytes(1), qos: 0, retain: false, dup: false };
    const b: Packet = { ...a, topic: 'other/long/topic/nam' };
    for (let i = 0; i < 3; i++) {
      expect(encode(a, 4)).toEqual(new Uint8Array(pkt(0x30, str(a.topic), [1])));
      expect(encode(b, 5)).toEqual(new Uint8Array(pkt(0x30, str(b.topic), props(), [1])));
      expect(encode(a, 4)).toEqual(new Uint8Array(pkt(0x30, str(a.topic), [1])));
      expect(encode(a, 4)).toEqual(new Uint8Array(pkt(0x30, str(a.topic), [1])));
    }
  });
});
