/**
 * Malformed and illegal packets: one row per rule, named with the statement of the spec it enforces where there is
 * one. Each row is decoded whole and byte by byte; both must throw PacketError with the exact Reason Code.
 * (3.1.1 statement ids are marked "3.1.1"; others are MQTT 5.0's.)
 */
import { describe, expect, it } from 'vitest';
import {
  encode,
  type Packet,
  PacketDecoder,
  PacketError,
  type ProtocolVersion,
  ReasonCode,
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
const str = (s: string): Bytes => {
  const b = [...new TextEncoder().encode(s)];
  return [...u16(b.length), ...b];
};
/** A string field with raw (possibly invalid) UTF-8 bytes. */
const raw = (...b: number[]): Bytes => [...u16(b.length), ...b];
const pkt = (b0: number, ...body: Bytes[]): Bytes => {
  const flat = body.flat();
  return [b0, ...vbi(flat.length), ...flat];
};
const props = (...items: Bytes[]): Bytes => {
  const flat = items.flat();
  return [...vbi(flat.length), ...flat];
};
/** CONNECT 3.1.1 / 5.0 with the given flags byte and payload. */
const connect4 = (flags: number, ...payload: Bytes[]) => pkt(0x10, str('MQTT'), [4, flags], u16(60), ...payload);
const connect5 = (flags: number, properties: Bytes, ...payload: Bytes[]) =>
  pkt(0x10, str('MQTT'), [5, flags], u16(60), properties, ...payload);
const publish5 = (properties: Bytes, payload: Bytes = [1]) => pkt(0x30, str('t'), properties, payload);
const puback5 = (properties: Bytes) => pkt(0x40, u16(1), [0], properties);

const { MalformedPacket, ProtocolError, UnsupportedProtocolVersion, TopicFilterInvalid, TopicNameInvalid } = ReasonCode;
const { TopicAliasInvalid, PacketTooLarge, PayloadFormatInvalid } = ReasonCode;

interface Row {
  name: string;
  version: ProtocolVersion;
  bytes: Bytes;
  code: ReasonCode;
}

const rows: Row[] = [
  // ---- Fixed header and Remaining Length -------------------------------------------------------------------------
  {
    name: '§1.5.5 Remaining Length of 5 bytes',
    version: 4,
    bytes: [0x30, 0xff, 0xff, 0xff, 0xff, 0x01],
    code: MalformedPacket,
  },
  {
    name: '§1.5.5 Remaining Length of 5 bytes (v5)',
    version: 5,
    bytes: [0x30, 0x80, 0x80, 0x80, 0x80, 0x01],
    code: MalformedPacket,
  },
  {
    name: '[MQTT-1.5.5-1] v5 Remaining Length not in its shortest form (0x80 0x00)',
    version: 5,
    bytes: [0xc0, 0x80, 0x00],
    code: MalformedPacket,
  },
  { name: '[MQTT-2.2.2-2] packet type 0 is reserved', version: 4, bytes: [0x00, 0x00], code: MalformedPacket },
  {
    name: '[MQTT-2.2.2-2] packet type 15 (AUTH) is reserved in v3.1.1',
    version: 4,
    bytes: [0xf0, 0x00],
    code: MalformedPacket,
  },
  {
    name: '[MQTT-2.2.2-2] packet type 15 (AUTH) is reserved in v3.1',
    version: 3,
    bytes: [0xf0, 0x00],
    code: MalformedPacket,
  },
  { name: '[MQTT-2.2.2-2] CONNECT with flags 0001', version: 4, bytes: [0x11, 0x00], code: MalformedPacket },
  { name: '[MQTT-2.2.2-2] CONNACK with flags 1000', version: 4, bytes: [0x28, 2, 0, 0], code: MalformedPacket },
  { name: '[MQTT-2.2.2-2] PUBACK with flags 0010', version: 4, bytes: [0x42, 2, 0, 1], code: MalformedPacket },
  {
    name: '[MQTT-2.2.2-2][MQTT-3.6.1-1] PUBREL with flags 0000',
    version: 4,
    bytes: [0x60, 2, 0, 1],
    code: MalformedPacket,
  },
  {
    name: '[MQTT-2.1.3-1][MQTT-3.6.1-1] PUBREL with flags 0011',
    version: 5,
    bytes: [0x63, 2, 0, 1],
    code: MalformedPacket,
  },
  {
    name: '[MQTT-2.2.2-2][MQTT-3.8.1-1] SUBSCRIBE with flags 0000',
    version: 4,
    bytes: pkt(0x80, u16(1), str('a'), [0]),
    code: MalformedPacket,
  },
  {
    name: '[MQTT-2.2.2-2][MQTT-3.10.1-1] UNSUBSCRIBE with flags 0000',
    version: 4,
    bytes: pkt(0xa0, u16(1), str('a')),
    code: MalformedPacket,
  },
  { name: '[MQTT-2.2.2-2] PINGREQ with flags 1000', version: 4, bytes: [0xc8, 0], code: MalformedPacket },
  { name: '[MQTT-2.1.3-1][MQTT-3.15.1-1] AUTH with flags 0001', version: 5, bytes: [0xf1, 0], code: MalformedPacket },
  {
    name: '[MQTT-2.1.3-1][MQTT-3.14.1-1] DISCONNECT with flags 0001',
    version: 5,
    bytes: [0xe1, 0],
    code: MalformedPacket,
  },
  { name: '[MQTT-3.3.1-4] PUBLISH with QoS 3', version: 4, bytes: pkt(0x36, str('t'), u16(1)), code: MalformedPacket },
  { name: '[MQTT-3.3.1-2] PUBLISH QoS 0 with DUP set', version: 4, bytes: pkt(0x38, str('t')), code: MalformedPacket },

  // ---- UTF-8 Encoded Strings -------------------------------------------------------------------------------------
  {
    name: '[MQTT-1.5.4-1] overlong 2-byte form (C0 AF) in a topic',
    version: 4,
    bytes: pkt(0x30, raw(0x61, 0xc0, 0xaf)),
    code: MalformedPacket,
  },
  {
    name: '[MQTT-1.5.4-1] overlong 2-byte form (C1 BF)',
    version: 4,
    bytes: pkt(0x30, raw(0xc1, 0xbf)),
    code: MalformedPacket,
  },
  {
    name: '[MQTT-1.5.4-1] overlong 3-byte form (E0 80 AF)',
    version: 4,
    bytes: pkt(0x30, raw(0xe0, 0x80, 0xaf)),
    code: MalformedPacket,
  },
  {
    name: '[MQTT-1.5.4-1] overlong 4-byte form (F0 80 80 AF)',
    version: 4,
    bytes: pkt(0x30, raw(0xf0, 0x80, 0x80, 0xaf)),
    code: MalformedPacket,
  },
  {
    name: '[MQTT-1.5.4-1] surrogate U+D800 (ED A0 80)',
    version: 4,
    bytes: pkt(0x30, raw(0x61, 0xed, 0xa0, 0x80)),
    code: MalformedPacket,
  },
  {
    name: '[MQTT-1.5.4-1] surrogate U+DFFF (ED BF BF)',
    version: 4,
    bytes: pkt(0x30, raw(0xed, 0xbf, 0xbf)),
    code: MalformedPacket,
  },
  {
    name: '[MQTT-1.5.4-1] code point above U+10FFFF (F4 90 80 80)',
    version: 4,
    bytes: pkt(0x30, raw(0xf4, 0x90, 0x80, 0x80)),
    code: MalformedPacket,
  },
  {
    name: '[MQTT-1.5.4-1] byte F5 never occurs in UTF-8',
    version: 4,
    bytes: pkt(0x30, raw(0xf5, 0x80, 0x80, 0x80)),
    code: MalformedPacket,
  },
  {
    name: '[MQTT-1.5.4-1] byte FF never occurs in UTF-8',
    version: 4,
    bytes: pkt(0x30, raw(0x61, 0xff)),
    code: MalformedPacket,
  },
  {
    name: '[MQTT-1.5.4-1] lone continuation byte',
    version: 4,
    bytes: pkt(0x30, raw(0x61, 0x80, 0x62)),
    code: MalformedPacket,
  },
  {
    name: '[MQTT-1.5.4-1] 3-byte sequence truncated by the string end (E2 82)',
    version: 4,
    bytes: pkt(0x30, raw(0x61, 0xe2, 0x82), [0xac]),
    code: MalformedPacket,
  },
  {
    name: '[MQTT-1.5.4-1] 2-byte sequence truncated by the string end (C3)',
    version: 4,
    bytes: pkt(0x30, raw(0xc3), [0xa9]),
    code: MalformedPacket,
  },
  {
    name: '[MQTT-1.5.4-1] bad continuation byte (C3 41)',
    version: 4,
    bytes: pkt(0x30, raw(0xc3, 0x41)),
    code: MalformedPacket,
  },
  {
    name: '[MQTT-1.5.4-2] U+0000 in a topic',
    version: 4,
    bytes: pkt(0x30, raw(0x61, 0x00, 0x62)),
    code: MalformedPacket,
  },
  {
    name: '[MQTT-1.5.4-2] U+0000 after non-ASCII in a topic',
    version: 4,
    bytes: pkt(0x30, raw(0xc3, 0xa9, 0x00)),
    code: MalformedPacket,
  },
  {
    name: '[MQTT-1.5.4-1] U+0000 as overlong C0 80',
    version: 4,
    bytes: pkt(0x30, raw(0xc0, 0x80)),
    code: MalformedPacket,
  },
  {
    name: '[MQTT-1.5.4-2] U+0000 in the Client Identifier',
    version: 4,
    bytes: connect4(0x02, raw(0x63, 0x00)),
    code: MalformedPacket,
  },
  {
    name: '[MQTT-1.5.4-1] invalid UTF-8 in a Topic Filter',
    version: 4,
    bytes: pkt(0x82, u16(1), raw(0xed, 0xa0, 0x80), [0]),
    code: MalformedPacket,
  },
  {
    name: '[MQTT-1.5.4-1] invalid UTF-8 in a User Property value',
    version: 5,
    bytes: puback5(props([0x26, ...str('k'), ...raw(0xff)])),
    code: MalformedPacket,
  },
  {
    name: '[MQTT-1.5.7-1] U+0000 in a User Property name',
    version: 5,
    bytes: puback5(props([0x26, ...raw(0), ...str('v')])),
    code: MalformedPacket,
  },
  {
    name: '[MQTT-1.5.4-1] invalid UTF-8 in the Protocol Name',
    version: 4,
    bytes: pkt(0x10, raw(0x4d, 0xff), [4, 2], u16(0), str('c')),
    code: MalformedPacket,
  },

  // ---- Lengths past the end, bytes left over --------------------------------------------------------------------
  {
    name: 'a string length running past the end of the packet',
    version: 4,
    bytes: [0x30, 4, 0, 10, 0x61, 0x62],
    code: MalformedPacket,
  },
  {
    name: 'a Packet Identifier cut by the end of the packet',
    version: 4,
    bytes: [0x32, 4, 0, 1, 0x74, 0],
    code: MalformedPacket,
  },
  {
    name: 'a Packet Identifier cut by the end of the packet (PUBACK)',
    version: 4,
    bytes: [0x40, 1, 0],
    code: MalformedPacket,
  },
  {
    name: 'PUBACK v3.1.1 with a byte after the Packet Identifier',
    version: 4,
    bytes: [0x40, 3, 0, 1, 0],
    code: MalformedPacket,
  },
  {
    name: 'PUBREC v5 with a byte after the properties',
    version: 5,
    bytes: [0x50, 5, 0, 1, 0, 0, 9],
    code: MalformedPacket,
  },
  { name: 'PINGREQ with a Remaining Length of 1', version: 4, bytes: [0xc0, 1, 0], code: MalformedPacket },
  { name: 'PINGRESP with a Remaining Length of 1', version: 5, bytes: [0xd0, 1, 0], code: MalformedPacket },
  { name: 'DISCONNECT v3.1.1 with a Remaining Length of 1', version: 4, bytes: [0xe0, 1, 0], code: MalformedPacket },
  { name: 'CONNACK v3.1.1 with 3 bytes', version: 4, bytes: [0x20, 3, 0, 0, 0], code: MalformedPacket },
  { name: 'CONNACK v3.1.1 with 1 byte', version: 4, bytes: [0x20, 1, 0], code: MalformedPacket },
  { name: 'CONNACK v5 without its Property Length', version: 5, bytes: [0x20, 2, 0, 0], code: MalformedPacket },
  { name: 'UNSUBACK v3.1.1 with a reason code', version: 4, bytes: [0xb0, 3, 0, 1, 0], code: MalformedPacket },
  {
    name: 'CONNECT with a byte after the last field',
    version: 4,
    bytes: connect4(0x02, str('c'), [0]),
    code: MalformedPacket,
  },
  {
    name: 'CONNECT with the User Name flag but no User Name',
    version: 4,
    bytes: connect4(0x82, str('c')),
    code: MalformedPacket,
  },
  {
    name: 'SUBSCRIBE with a Topic Filter but no Subscription Options',
    version: 4,
    bytes: pkt(0x82, u16(1), str('a')),
    code: MalformedPacket,
  },
  {
    name: 'a Property Length running past the end of the packet',
    version: 5,
    bytes: [0x30, 5, 0, 1, 0x74, 9, 1],
    code: MalformedPacket,
  },
  {
    name: 'a Four Byte Integer property cut by the end of the properties',
    version: 5,
    bytes: publish5([3, 0x02, 0, 0]),
    code: MalformedPacket,
  },
  {
    name: 'a string property cut by the end of the properties',
    version: 5,
    bytes: publish5([3, 0x03, 0, 5]),
    code: MalformedPacket,
  },
  {
    name: 'a Property Length longer than 4 bytes',
    version: 5,
    bytes: publish5([0x80, 0x80, 0x80, 0x80, 0x01]),
    code: MalformedPacket,
  },
  {
    name: '[MQTT-1.5.5-1] a Subscription Identifier not in its shortest form',
    version: 5,
    bytes: publish5(props([0x0b, 0x81, 0x00])),
    code: MalformedPacket,
  },

  // ---- CONNECT ---------------------------------------------------------------------------------------------------
  {
    name: '[MQTT-3.1.2-1] unknown Protocol Name "MQTX"',
    version: 4,
    bytes: pkt(0x10, str('MQTX'), [4, 2], u16(0), str('c')),
    code: MalformedPacket,
  },
  {
    name: '[MQTT-3.1.2-1] Protocol Name "mqtt" (case matters)',
    version: 4,
    bytes: pkt(0x10, str('mqtt'), [4, 2], u16(0), str('c')),
    code: MalformedPacket,
  },
  {
    name: '[MQTT-3.1.2-2] "MQTT" with Protocol Level 3 → Unsupported Protocol Version',
    version: 4,
    bytes: pkt(0x10, str('MQTT'), [3, 2], u16(0), str('c')),
    code: UnsupportedProtocolVersion,
  },
  {
    name: '[MQTT-3.1.2-2] "MQTT" with Protocol Level 6 → Unsupported Protocol Version',
    version: 4,
    bytes: pkt(0x10, str('MQTT'), [6, 2], u16(0), str('c')),
    code: UnsupportedProtocolVersion,
  },
  {
    name: '[MQTT-3.1.2-2] "MQIsdp" with Protocol Level 4 → Unsupported Protocol Version',
    version: 4,
    bytes: pkt(0x10, str('MQIsdp'), [4, 2], u16(0), str('c')),
    code: UnsupportedProtocolVersion,
  },
  {
    name: '[MQTT-3.1.2-3] the reserved Connect Flag set',
    version: 4,
    bytes: connect4(0x03, str('c')),
    code: MalformedPacket,
  },
  {
    name: '[MQTT-3.1.2-3] the reserved Connect Flag set (v5)',
    version: 5,
    bytes: connect5(0x03, props(), str('c')),
    code: MalformedPacket,
  },
  {
    name: '[MQTT-3.1.2-11] Will QoS 1 without the Will Flag',
    version: 5,
    bytes: connect5(0x0a, props(), str('c')),
    code: MalformedPacket,
  },
  {
    name: '3.1.1 [MQTT-3.1.2-13] Will QoS 2 without the Will Flag',
    version: 4,
    bytes: connect4(0x12, str('c')),
    code: MalformedPacket,
  },
  {
    name: '[MQTT-3.1.2-13] Will Retain without the Will Flag (3.1.1 [MQTT-3.1.2-15])',
    version: 4,
    bytes: connect4(0x22, str('c')),
    code: MalformedPacket,
  },
  {
    name: '[MQTT-3.1.2-12] Will QoS 3 (3.1.1 [MQTT-3.1.2-14])',
    version: 4,
    bytes: connect4(0x1e, str('c'), str('w'), raw()),
    code: MalformedPacket,
  },
  {
    name: '3.1.1 [MQTT-3.1.2-22] Password without User Name',
    version: 4,
    bytes: connect4(0x42, str('c'), raw(1)),
    code: MalformedPacket,
  },
  {
    name: '3.1.1 [MQTT-3.1.2-22] Password without User Name (3.1)',
    version: 3,
    bytes: pkt(0x10, str('MQIsdp'), [3, 0x42], u16(0), str('c'), raw(1)),
    code: MalformedPacket,
  },
  {
    name: '[MQTT-3.1.3-11] Will Topic with a wildcard',
    version: 4,
    bytes: connect4(0x06, str('c'), str('w/#'), raw()),
    code: TopicNameInvalid,
  },
  {
    name: '[MQTT-4.7.3-1] empty Will Topic',
    version: 5,
    bytes: connect5(0x06, props(), str('c'), props(), str(''), raw()),
    code: TopicNameInvalid,
  },
  {
    name: '§3.1.2.11.10 Authentication Data without Authentication Method',
    version: 5,
    bytes: connect5(0x02, props([0x16, ...raw(1)]), str('c')),
    code: ProtocolError,
  },
  {
    name: '§3.1.3.2.3 Will Payload Format Indicator 1 with a non-UTF-8 Will Payload',
    version: 5,
    bytes: connect5(0x06, props(), str('c'), props([0x01, 1]), str('w'), raw(0xff)),
    code: PayloadFormatInvalid,
  },
  {
    name: '§2.2.2.2 a CONNECT property in the Will Properties (Session Expiry Interval)',
    version: 5,
    bytes: connect5(0x06, props(), str('c'), props([0x11, ...u32(1)]), str('w'), raw()),
    code: MalformedPacket,
  },
  {
    name: '§2.2.2.2 a Will property in the CONNECT properties (Will Delay Interval)',
    version: 5,
    bytes: connect5(0x02, props([0x18, ...u32(1)]), str('c')),
    code: MalformedPacket,
  },

  // ---- Packet Identifiers ([MQTT-2.2.1-3]; 3.1.1 [MQTT-2.3.1-1]) ------------------------------------------------
  {
    name: '[MQTT-2.2.1-3] PUBLISH QoS 1 with Packet Identifier 0',
    version: 4,
    bytes: pkt(0x32, str('t'), u16(0)),
    code: MalformedPacket,
  },
  {
    name: '[MQTT-2.2.1-3] PUBLISH QoS 2 with Packet Identifier 0 (v5)',
    version: 5,
    bytes: pkt(0x34, str('t'), u16(0), props()),
    code: MalformedPacket,
  },
  { name: '[MQTT-2.2.1-3] PUBACK with Packet Identifier 0', version: 4, bytes: [0x40, 2, 0, 0], code: MalformedPacket },
  { name: '[MQTT-2.2.1-3] PUBREC with Packet Identifier 0', version: 5, bytes: [0x50, 2, 0, 0], code: MalformedPacket },
  { name: '[MQTT-2.2.1-3] PUBREL with Packet Identifier 0', version: 4, bytes: [0x62, 2, 0, 0], code: MalformedPacket },
  {
    name: '[MQTT-2.2.1-3] PUBCOMP with Packet Identifier 0',
    version: 4,
    bytes: [0x70, 2, 0, 0],
    code: MalformedPacket,
  },
  {
    name: '[MQTT-2.2.1-3] SUBSCRIBE with Packet Identifier 0',
    version: 4,
    bytes: pkt(0x82, u16(0), str('a'), [0]),
    code: MalformedPacket,
  },
  {
    name: '[MQTT-2.2.1-3] UNSUBSCRIBE with Packet Identifier 0',
    version: 4,
    bytes: pkt(0xa2, u16(0), str('a')),
    code: MalformedPacket,
  },
  {
    name: '[MQTT-2.2.1-3] SUBACK with Packet Identifier 0',
    version: 4,
    bytes: pkt(0x90, u16(0), [0]),
    code: MalformedPacket,
  },
  {
    name: '[MQTT-2.2.1-3] UNSUBACK with Packet Identifier 0',
    version: 4,
    bytes: [0xb0, 2, 0, 0],
    code: MalformedPacket,
  },

  // ---- PUBLISH ---------------------------------------------------------------------------------------------------
  { name: '[MQTT-3.3.2-2] Topic Name with "+"', version: 4, bytes: pkt(0x30, str('a/+/c')), code: TopicNameInvalid },
  {
    name: '[MQTT-3.3.2-2] Topic Name with "#"',
    version: 5,
    bytes: pkt(0x30, str('a/#'), props()),
    code: TopicNameInvalid,
  },
  {
    name: '[MQTT-3.3.2-2] non-ASCII Topic Name with "#"',
    version: 4,
    bytes: pkt(0x30, str('é/#')),
    code: TopicNameInvalid,
  },
  {
    name: '§3.3.2.1 v5 empty Topic Name without a Topic Alias',
    version: 5,
    bytes: pkt(0x30, str(''), props(), [1]),
    code: ProtocolError,
  },
  { name: '[MQTT-4.7.3-1] v3.1.1 empty Topic Name', version: 4, bytes: pkt(0x30, str(''), [1]), code: MalformedPacket },
  {
    name: '[MQTT-3.3.2-8] Topic Alias 0',
    version: 5,
    bytes: publish5(props([0x23, ...u16(0)])),
    code: TopicAliasInvalid,
  },
  {
    name: '§3.3.2.3.2 Payload Format Indicator 1 with a non-UTF-8 payload',
    version: 5,
    bytes: publish5(props([0x01, 1]), [0x61, 0xc3]),
    code: PayloadFormatInvalid,
  },

  // ---- SUBSCRIBE / UNSUBSCRIBE -----------------------------------------------------------------------------------
  {
    name: '[MQTT-3.8.3-2] SUBSCRIBE without a Topic Filter',
    version: 4,
    bytes: pkt(0x82, u16(1)),
    code: ProtocolError,
  },
  {
    name: '[MQTT-3.8.3-2] SUBSCRIBE without a Topic Filter (v5)',
    version: 5,
    bytes: pkt(0x82, u16(1), props()),
    code: ProtocolError,
  },
  {
    name: '[MQTT-4.7.1-1] Topic Filter "a/#/b"',
    version: 4,
    bytes: pkt(0x82, u16(1), str('a/#/b'), [0]),
    code: TopicFilterInvalid,
  },
  {
    name: '[MQTT-4.7.1-1] Topic Filter "a/b#"',
    version: 4,
    bytes: pkt(0x82, u16(1), str('a/b#'), [0]),
    code: TopicFilterInvalid,
  },
  {
    name: '[MQTT-4.7.1-2] Topic Filter "a+"',
    version: 4,
    bytes: pkt(0x82, u16(1), str('a+'), [0]),
    code: TopicFilterInvalid,
  },
  {
    name: '[MQTT-4.7.1-2] Topic Filter "+a"',
    version: 5,
    bytes: pkt(0x82, u16(1), props(), str('+a'), [0]),
    code: TopicFilterInvalid,
  },
  {
    name: '[MQTT-4.7.1-2] Topic Filter "a/+b/c"',
    version: 4,
    bytes: pkt(0x82, u16(1), str('a/+b/c'), [0]),
    code: TopicFilterInvalid,
  },
  {
    name: '[MQTT-4.7.3-1] empty Topic Filter',
    version: 4,
    bytes: pkt(0x82, u16(1), str(''), [0]),
    code: TopicFilterInvalid,
  },
  {
    name: '[MQTT-4.7.3-1] empty Topic Filter after a valid one',
    version: 4,
    bytes: pkt(0x82, u16(1), str('a'), [0], str(''), [0]),
    code: TopicFilterInvalid,
  },
  {
    name: '[MQTT-3.8.3-5] Subscription Options reserved bit 6 set',
    version: 5,
    bytes: pkt(0x82, u16(1), props(), str('a'), [0x40]),
    code: MalformedPacket,
  },
  {
    name: '[MQTT-3.8.3-5] Subscription Options reserved bit 7 set',
    version: 5,
    bytes: pkt(0x82, u16(1), props(), str('a'), [0x81]),
    code: MalformedPacket,
  },
  {
    name: '§3.8.3.1 Retain Handling 3',
    version: 5,
    bytes: pkt(0x82, u16(1), props(), str('a'), [0x30]),
    code: ProtocolError,
  },
  {
    name: '§3.8.3.1 Maximum QoS 3 (v5: a Protocol Error)',
    version: 5,
    bytes: pkt(0x82, u16(1), props(), str('a'), [0x03]),
    code: ProtocolError,
  },
  {
    name: '3.1.1 [MQTT-3-8.3-4] Requested QoS 3',
    version: 4,
    bytes: pkt(0x82, u16(1), str('a'), [0x03]),
    code: MalformedPacket,
  },
  {
    name: '3.1.1 [MQTT-3-8.3-4] upper 6 bits of the Requested QoS byte set',
    version: 4,
    bytes: pkt(0x82, u16(1), str('a'), [0x04]),
    code: MalformedPacket,
  },
  {
    name: '3.1.1 [MQTT-3-8.3-4] upper bits set (3.1)',
    version: 3,
    bytes: pkt(0x82, u16(1), str('a'), [0x81]),
    code: MalformedPacket,
  },
  {
    name: '[MQTT-4.8.2-1] Shared Subscription with an empty ShareName',
    version: 5,
    bytes: pkt(0x82, u16(1), props(), str('$share//a'), [0]),
    code: TopicFilterInvalid,
  },
  {
    name: '[MQTT-4.8.2-2] ShareName with "+"',
    version: 5,
    bytes: pkt(0x82, u16(1), props(), str('$share/g+/a'), [0]),
    code: TopicFilterInvalid,
  },
  {
    name: '[MQTT-4.8.2-2] ShareName with "#"',
    version: 5,
    bytes: pkt(0x82, u16(1), props(), str('$share/#/a'), [0]),
    code: TopicFilterInvalid,
  },
  {
    name: '[MQTT-4.8.2-2] ShareName not followed by "/"',
    version: 5,
    bytes: pkt(0x82, u16(1), props(), str('$share/g'), [0]),
    code: TopicFilterInvalid,
  },
  {
    name: '[MQTT-4.8.2-2] ShareName followed by an empty Topic Filter',
    version: 5,
    bytes: pkt(0x82, u16(1), props(), str('$share/g/'), [0]),
    code: TopicFilterInvalid,
  },
  {
    name: '[MQTT-4.8.2-2] Shared Subscription with an invalid Topic Filter',
    version: 5,
    bytes: pkt(0x82, u16(1), props(), str('$share/g/a/#/b'), [0]),
    code: TopicFilterInvalid,
  },
  {
    name: '[MQTT-3.8.3-4] No Local on a Shared Subscription',
    version: 5,
    bytes: pkt(0x82, u16(1), props(), str('$share/g/a'), [0x04]),
    code: ProtocolError,
  },
  {
    name: '[MQTT-3.10.3-2] UNSUBSCRIBE without a Topic Filter',
    version: 4,
    bytes: pkt(0xa2, u16(1)),
    code: ProtocolError,
  },
  {
    name: '[MQTT-3.10.3-2] UNSUBSCRIBE without a Topic Filter (v5)',
    version: 5,
    bytes: pkt(0xa2, u16(1), props()),
    code: ProtocolError,
  },
  {
    name: '[MQTT-4.7.1-1] UNSUBSCRIBE with Topic Filter "#/a"',
    version: 4,
    bytes: pkt(0xa2, u16(1), str('#/a')),
    code: TopicFilterInvalid,
  },
  {
    name: '[MQTT-4.8.2-1] UNSUBSCRIBE with an invalid Shared Subscription',
    version: 5,
    bytes: pkt(0xa2, u16(1), props(), str('$share//a')),
    code: TopicFilterInvalid,
  },

  // ---- Properties ------------------------------------------------------------------------------------------------
  {
    name: '§2.2.2.2 Topic Alias in CONNECT (not valid for the packet type)',
    version: 5,
    bytes: connect5(0x02, props([0x23, ...u16(1)]), str('c')),
    code: MalformedPacket,
  },
  {
    name: '§2.2.2.2 Reason String in PUBLISH',
    version: 5,
    bytes: publish5(props([0x1f, ...str('x')])),
    code: MalformedPacket,
  },
  {
    name: '§2.2.2.2 Subscription Identifier in PUBACK',
    version: 5,
    bytes: puback5(props([0x0b, 1])),
    code: MalformedPacket,
  },
  {
    name: '§2.2.2.2 Session Expiry Interval in AUTH',
    version: 5,
    bytes: pkt(0xf0, [0x18], props([0x11, ...u32(1)])),
    code: MalformedPacket,
  },
  {
    name: '§2.2.2.2 unknown property identifier 0x00',
    version: 5,
    bytes: publish5(props([0x00, 1])),
    code: MalformedPacket,
  },
  {
    name: '§2.2.2.2 unknown property identifier 0x04',
    version: 5,
    bytes: publish5(props([0x04, 1])),
    code: MalformedPacket,
  },
  {
    name: '§2.2.2.2 unknown property identifier 0x7F',
    version: 5,
    bytes: puback5(props([0x7f, 1])),
    code: MalformedPacket,
  },
  {
    name: '§2.2.2.2 property identifier 0x80 (a 2-byte Variable Byte Integer: unknown)',
    version: 5,
    bytes: puback5(props([0x80, 0x01, 0])),
    code: MalformedPacket,
  },
  {
    name: '§3.3.2.3.3 Message Expiry Interval twice',
    version: 5,
    bytes: publish5(props([0x02, ...u32(1), 0x02, ...u32(2)])),
    code: ProtocolError,
  },
  {
    name: '§3.4.2.2.2 Reason String twice',
    version: 5,
    bytes: puback5(props([0x1f, ...str('a'), 0x1f, ...str('b')])),
    code: ProtocolError,
  },
  {
    name: '§3.8.2.1.2 Subscription Identifier twice in SUBSCRIBE',
    version: 5,
    bytes: pkt(0x82, u16(1), props([0x0b, 1, 0x0b, 2]), str('a'), [0]),
    code: ProtocolError,
  },
  {
    name: '§3.1.2.11.2 Session Expiry Interval twice',
    version: 5,
    bytes: connect5(0x02, props([0x11, ...u32(1), 0x11, ...u32(1)]), str('c')),
    code: ProtocolError,
  },
  {
    name: '§3.1.2.11.3 Receive Maximum 0',
    version: 5,
    bytes: connect5(0x02, props([0x21, ...u16(0)]), str('c')),
    code: ProtocolError,
  },
  {
    name: '§3.1.2.11.4 Maximum Packet Size 0',
    version: 5,
    bytes: connect5(0x02, props([0x27, ...u32(0)]), str('c')),
    code: ProtocolError,
  },
  {
    name: '§3.1.2.11.6 Request Response Information 2',
    version: 5,
    bytes: connect5(0x02, props([0x19, 2]), str('c')),
    code: ProtocolError,
  },
  {
    name: '§3.1.2.11.7 Request Problem Information 2',
    version: 5,
    bytes: connect5(0x02, props([0x17, 2]), str('c')),
    code: ProtocolError,
  },
  {
    name: '§3.3.2.3.8 Subscription Identifier 0 in PUBLISH',
    version: 5,
    bytes: publish5(props([0x0b, 0])),
    code: ProtocolError,
  },
  {
    name: '§3.8.2.1.2 Subscription Identifier 0 in SUBSCRIBE',
    version: 5,
    bytes: pkt(0x82, u16(1), props([0x0b, 0]), str('a'), [0]),
    code: ProtocolError,
  },
  { name: '§3.3.2.3.2 Payload Format Indicator 2', version: 5, bytes: publish5(props([0x01, 2])), code: ProtocolError },
  { name: '§3.2.2.3.4 Maximum QoS 2', version: 5, bytes: pkt(0x20, [0, 0], props([0x24, 2])), code: ProtocolError },
  {
    name: '§3.2.2.3.5 Retain Available 2',
    version: 5,
    bytes: pkt(0x20, [0, 0], props([0x25, 2])),
    code: ProtocolError,
  },
  {
    name: '§3.2.2.3.11 Wildcard Subscription Available 3',
    version: 5,
    bytes: pkt(0x20, [0, 0], props([0x28, 3])),
    code: ProtocolError,
  },
  {
    name: '§3.2.2.3.12 Subscription Identifiers Available 2',
    version: 5,
    bytes: pkt(0x20, [0, 0], props([0x29, 2])),
    code: ProtocolError,
  },
  {
    name: '§3.2.2.3.13 Shared Subscription Available 2',
    version: 5,
    bytes: pkt(0x20, [0, 0], props([0x2a, 2])),
    code: ProtocolError,
  },
  {
    name: '§3.2.2.3.3 Receive Maximum 0 in CONNACK',
    version: 5,
    bytes: pkt(0x20, [0, 0], props([0x21, ...u16(0)])),
    code: ProtocolError,
  },

  // ---- Reason Codes, CONNACK flags, SUBACK -----------------------------------------------------------------------
  {
    name: '[MQTT-3.2.2-1] CONNACK Acknowledge Flags bit 1 set',
    version: 4,
    bytes: [0x20, 2, 0x02, 0],
    code: MalformedPacket,
  },
  {
    name: '3.1.1 §3.2.2.3 CONNACK return code 6 (reserved)',
    version: 4,
    bytes: [0x20, 2, 0, 6],
    code: MalformedPacket,
  },
  {
    name: '[MQTT-3.2.2-8] CONNACK v5 Reason Code 0x01 (not a CONNACK code)',
    version: 5,
    bytes: [0x20, 3, 0, 0x01, 0],
    code: ProtocolError,
  },
  { name: '[MQTT-3.4.2-1] PUBACK Reason Code 0x05', version: 5, bytes: [0x40, 3, 0, 1, 0x05], code: ProtocolError },
  { name: '[MQTT-3.6.2-1] PUBREL Reason Code 0x10', version: 5, bytes: [0x62, 3, 0, 1, 0x10], code: ProtocolError },
  {
    name: '3.1.1 [MQTT-3.9.3-2] SUBACK return code 0x03',
    version: 4,
    bytes: pkt(0x90, u16(1), [0x03]),
    code: MalformedPacket,
  },
  {
    name: '[MQTT-3.9.3-2] SUBACK v5 Reason Code 0x11',
    version: 5,
    bytes: pkt(0x90, u16(1), props(), [0x11]),
    code: ProtocolError,
  },
  { name: '§3.9.3 SUBACK without a return code', version: 4, bytes: pkt(0x90, u16(1)), code: ProtocolError },
  {
    name: '§3.11.3 UNSUBACK v5 without a Reason Code',
    version: 5,
    bytes: pkt(0xb0, u16(1), props()),
    code: ProtocolError,
  },
  { name: '[MQTT-3.14.2-1] DISCONNECT Reason Code 0x05', version: 5, bytes: [0xe0, 1, 0x05], code: ProtocolError },
  { name: '[MQTT-3.15.2-1] AUTH Reason Code 0x01', version: 5, bytes: [0xf0, 2, 0x01, 0], code: ProtocolError },
];

function decodeError(chunks: Uint8Array[], version: ProtocolVersion, options = {}): PacketError {
  const decoder = new PacketDecoder({ protocolVersion: version, ...options });
  try {
    for (const chunk of chunks) decoder.decode(chunk, () => {});
  } catch (err) {
    expect(err).toBeInstanceOf(PacketError);
    return err as PacketError;
  }
  throw new Error('no PacketError was thrown');
}

const hex = (code: number): string => `0x${code.toString(16)}`;

describe('malformed and illegal packets', () => {
  for (const row of rows) {
    it(`${row.name} → ${hex(row.code)} (v${row.version})`, () => {
      const wire = new Uint8Array(row.bytes);
      expect(decodeError([wire], row.version).reasonCode).toBe(row.code);
      const oneByOne = [...wire].map((b) => new Uint8Array([b]));
      expect(decodeError(oneByOne, row.version).reasonCode).toBe(row.code);
    });
  }
});

describe('decoder limits and error state', () => {
  it('§3.1.2.11.4 refuses a packet larger than maximumPacketSize from its fixed header alone → 0x95', () => {
    const decoder = new PacketDecoder({ maximumPacketSize: 100 });
    // PUBLISH declaring 1,000,000 bytes: only the 4 bytes of its fixed header are fed.
    const header = new Uint8Array([0x30, ...vbi(1_000_000)]);
    let error: unknown;
    try {
      decoder.decode(header, () => {});
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(PacketError);
    expect((error as PacketError).reasonCode).toBe(PacketTooLarge);
    expect(decoder.buffered).toBeLessThan(5);
  });

  it('refuses a too-large packet whose fixed header arrives one byte at a time, holding at most 4 bytes', () => {
    const decoder = new PacketDecoder({ maximumPacketSize: 1000 });
    const header = [0x30, ...vbi(268_435_455)];
    let code: number | undefined;
    for (const b of header) {
      try {
        decoder.decode(new Uint8Array([b]), () => {});
        expect(decoder.buffered).toBeLessThanOrEqual(4);
      } catch (err) {
        code = (err as PacketError).reasonCode;
      }
    }
    expect(code).toBe(PacketTooLarge);
  });

  it('accepts a packet of exactly maximumPacketSize bytes and refuses one byte more', () => {
    const ok = [0x30, 8, 0, 1, 0x74, 1, 2, 3, 4, 5]; // 10 bytes
    const decoder = new PacketDecoder({ maximumPacketSize: 10 });
    const got: Packet[] = [];
    decoder.decode(new Uint8Array(ok), (p) => got.push(p));
    expect(got).toHaveLength(1);
    const tooBig = [0x30, 9, 0, 1, 0x74, 1, 2, 3, 4, 5, 6];
    expect(decodeError([new Uint8Array(tooBig)], 4, { maximumPacketSize: 10 }).reasonCode).toBe(PacketTooLarge);
  });

  it('buffers a large packet in one buffer of its size, without holding more than was fed', () => {
    const size = 1_000_000;
    const packet: Packet = {
      type: 3,
      topic: 'big',
      payload: new Uint8Array(size).fill(3),
      qos: 0,
      retain: false,
      dup: false,
    };
    const wire = encode(packet, 4);
    const decoder = new PacketDecoder();
    const got: Packet[] = [];
    const step = 4096;
    for (let i = 0; i < wire.length; i += step) {
      decoder.decode(wire.subarray(i, i + step), (p) => got.push(p));
      if (got.length === 0) expect(decoder.buffered).toBe(Math.min(i + step, wire.length));
    }
    expect(got).toHaveLength(1);
    expect((got[0] as { payload: Uint8Array }).payload.length).toBe(size);
    expect(decoder.buffered).toBe(0);
  });

  it('accepts a non-minimal Remaining Length in 3.1.1 (no such rule before 5.0)', () => {
    const decoder = new PacketDecoder({ protocolVersion: 4 });
    const got: Packet[] = [];
    decoder.decode(new Uint8Array([0xc0, 0x80, 0x00]), (p) => got.push(p));
    expect(got).toEqual([{ type: 12 }]);
  });

  it('delivers the packets before a bad one, then keeps throwing the same error until reset()', () => {
    const decoder = new PacketDecoder();
    const got: Packet[] = [];
    const stream = new Uint8Array([0xc0, 0, 0xd0, 0, 0x00, 0x00, 0xc0, 0]);
    let first: unknown;
    try {
      decoder.decode(stream, (p) => got.push(p));
    } catch (err) {
      first = err;
    }
    expect(got).toEqual([{ type: 12 }, { type: 13 }]);
    expect(first).toBeInstanceOf(PacketError);
    expect(() => decoder.decode(new Uint8Array([0xc0, 0]), () => {})).toThrow(first as Error);
    expect(decoder.buffered).toBe(0);
    decoder.reset();
    decoder.decode(new Uint8Array([0xc0, 0]), (p) => got.push(p));
    expect(got).toHaveLength(3);
  });

  it('Payload Format Indicator 1 accepts U+0000 in the payload (well-formed UTF-8; the no-U+0000 rule is for strings)', () => {
    const decoder = new PacketDecoder({ protocolVersion: 5 });
    const got: Packet[] = [];
    decoder.decode(new Uint8Array(publish5(props([0x01, 1]), [0x61, 0, 0xc3, 0xa9])), (p) => got.push(p));
    expect(got).toHaveLength(1);
  });

  it('validatePayloadFormat: false lets a non-UTF-8 payload with Payload Format Indicator 1 through', () => {
    const wire = new Uint8Array(publish5(props([0x01, 1]), [0xff]));
    const decoder = new PacketDecoder({ protocolVersion: 5, validatePayloadFormat: false });
    const got: Packet[] = [];
    decoder.decode(wire, (p) => got.push(p));
    expect(got).toHaveLength(1);
  });

  it('keeps the bytes after a packet whose callback threw, and decodes them on the next call', () => {
    const decoder = new PacketDecoder();
    const got: Packet[] = [];
    let calls = 0;
    const onPacket = (p: Packet) => {
      calls++;
      if (calls === 1) throw new Error('callback failed');
      got.push(p);
    };
    expect(() => decoder.decode(new Uint8Array([0xc0, 0, 0xd0, 0, 0xe0]), onPacket)).toThrow('callback failed');
    expect(decoder.buffered).toBe(3);
    decoder.decode(new Uint8Array([0]), onPacket);
    expect(got).toEqual([{ type: 13 }, { type: 14 }]);
    expect(decoder.buffered).toBe(0);
  });

  it('stops at once when the callback calls reset()', () => {
    const decoder = new PacketDecoder();
    const got: Packet[] = [];
    decoder.decode(new Uint8Array([0xc0, 0, 0xd0, 0, 0xe0]), (p) => {
      got.push(p);
      decoder.reset();
    });
    expect(got).toEqual([{ type: 12 }]);
    expect(decoder.buffered).toBe(0);
  });
});

describe('packets that cannot be encoded', () => {
  const publish = (extra: object): Packet =>
    ({ type: 3, topic: 't', payload: new Uint8Array(0), qos: 0, retain: false, dup: false, ...extra }) as Packet;
  const cases: [string, Packet, ProtocolVersion, ReasonCode][] = [
    ['[MQTT-2.2.1-2] PUBLISH QoS 1 without a Packet Identifier', publish({ qos: 1 }), 4, MalformedPacket],
    ['[MQTT-2.2.1-3] PUBLISH QoS 2 with Packet Identifier 0', publish({ qos: 2, packetId: 0 }), 5, MalformedPacket],
    ['PUBLISH with Packet Identifier 65536', publish({ qos: 1, packetId: 65_536 }), 4, MalformedPacket],
    ['PUBLISH with QoS 3', publish({ qos: 3, packetId: 1 }), 4, MalformedPacket],
    ['[MQTT-3.3.1-2] PUBLISH QoS 0 with DUP', publish({ dup: true }), 4, MalformedPacket],
    ['[MQTT-3.3.2-2] PUBLISH to a wildcard topic', publish({ topic: 'a/+' }), 4, TopicNameInvalid],
    [
      '[MQTT-3.3.2-2] PUBLISH to a long wildcard topic',
      publish({ topic: 'a/very/long/topic/name/#' }),
      5,
      TopicNameInvalid,
    ],
    ['[MQTT-4.7.3-1] PUBLISH to an empty topic in 3.1.1', publish({ topic: '' }), 4, MalformedPacket],
    ['§3.3.2.1 PUBLISH to an empty topic without a Topic Alias in 5.0', publish({ topic: '' }), 5, ProtocolError],
    ['[MQTT-1.5.4-2] a topic with U+0000', publish({ topic: 'a\u0000b' }), 4, MalformedPacket],
    [
      '[MQTT-1.5.4-2] a long topic with U+0000',
      publish({ topic: 'a/long/topic/name/with/\u0000' }),
      4,
      MalformedPacket,
    ],
    ['[MQTT-1.5.4-1] a topic with a lone surrogate', publish({ topic: 'a\ud800b' }), 4, MalformedPacket],
    [
      '[MQTT-1.5.4-1] a long topic with a lone low surrogate',
      publish({ topic: 'a/long/topic/name/\udc00' }),
      4,
      MalformedPacket,
    ],
    ['§1.5.4 a string of 65,536 bytes', publish({ topic: 'x'.repeat(65_536) }), 4, MalformedPacket],
    [
      '§1.5.4 a string of 65,536 bytes of 2-byte characters',
      publish({ topic: 'é'.repeat(32_768) }),
      4,
      MalformedPacket,
    ],
    ['[MQTT-3.3.2-8] Topic Alias 0', publish({ properties: { topicAlias: 0 } }), 5, TopicAliasInvalid],
    [
      '§2.2.2.2 a property not allowed on PUBLISH (Reason String)',
      publish({ properties: { reasonString: 'x' } }),
      5,
      MalformedPacket,
    ],
    ['§2.2.2.2 an unknown property name', publish({ properties: { messageExpiry: 1 } }), 5, MalformedPacket],
    [
      '§3.1.2.11.3 Receive Maximum 0',
      {
        type: 1,
        protocolName: 'MQTT',
        protocolVersion: 5,
        clean: true,
        keepAlive: 0,
        clientId: '',
        properties: { receiveMaximum: 0 },
      },
      5,
      ProtocolError,
    ],
    [
      '§2.2.2.2 Will Delay Interval on CONNECT itself',
      {
        type: 1,
        protocolName: 'MQTT',
        protocolVersion: 5,
        clean: true,
        keepAlive: 0,
        clientId: '',
        properties: { willDelayInterval: 1 },
      },
      5,
      MalformedPacket,
    ],
    [
      '[MQTT-3.1.2-22] Password without User Name in 3.1.1',
      {
        type: 1,
        protocolName: 'MQTT',
        protocolVersion: 4,
        clean: true,
        keepAlive: 0,
        clientId: '',
        password: new Uint8Array(1),
      },
      4,
      MalformedPacket,
    ],
    [
      '[MQTT-3.1.2-2] "MQTT" with Protocol Level 3',
      { type: 1, protocolName: 'MQTT', protocolVersion: 3, clean: true, keepAlive: 0, clientId: '' },
      4,
      UnsupportedProtocolVersion,
    ],
    [
      'Keep Alive 65,536',
      { type: 1, protocolName: 'MQTT', protocolVersion: 4, clean: true, keepAlive: 65_536, clientId: '' },
      4,
      MalformedPacket,
    ],
    [
      '§1.5.6 a Password of 65,536 bytes',
      {
        type: 1,
        protocolName: 'MQTT',
        protocolVersion: 5,
        clean: true,
        keepAlive: 0,
        clientId: '',
        password: new Uint8Array(65_536),
      },
      5,
      MalformedPacket,
    ],
    ['AUTH in 3.1.1', { type: 15 }, 4, MalformedPacket],
    ['[MQTT-3.8.3-2] SUBSCRIBE without subscriptions', { type: 8, packetId: 1, subscriptions: [] }, 4, ProtocolError],
    [
      '[MQTT-4.7.1-1] SUBSCRIBE to "a/#/b"',
      { type: 8, packetId: 1, subscriptions: [{ topicFilter: 'a/#/b', qos: 0 }] },
      4,
      TopicFilterInvalid,
    ],
    [
      '[MQTT-3.8.3-4] No Local on a Shared Subscription',
      { type: 8, packetId: 1, subscriptions: [{ topicFilter: '$share/g/a', qos: 0, noLocal: true }] },
      5,
      ProtocolError,
    ],
    [
      '§3.8.2.1.2 two Subscription Identifiers on SUBSCRIBE',
      {
        type: 8,
        packetId: 1,
        subscriptions: [{ topicFilter: 'a', qos: 0 }],
        properties: { subscriptionIdentifiers: [1, 2] },
      },
      5,
      ProtocolError,
    ],
    [
      '§3.8.2.1.2 Subscription Identifier 268,435,456',
      {
        type: 8,
        packetId: 1,
        subscriptions: [{ topicFilter: 'a', qos: 0 }],
        properties: { subscriptionIdentifiers: [268_435_456] },
      },
      5,
      ProtocolError,
    ],
    [
      '[MQTT-3.10.3-2] UNSUBSCRIBE without Topic Filters',
      { type: 10, packetId: 1, topicFilters: [] },
      5,
      ProtocolError,
    ],
    ['[MQTT-3.4.2-1] PUBACK with Reason Code 0x05', { type: 4, packetId: 1, reasonCode: 5 }, 5, ProtocolError],
    ['PUBACK without a Packet Identifier', { type: 4, packetId: 0 }, 4, MalformedPacket],
    ['3.1.1 CONNACK return code 6', { type: 2, sessionPresent: false, reasonCode: 6 }, 4, MalformedPacket],
    ['SUBACK without Reason Codes', { type: 9, packetId: 1, reasonCodes: [] }, 5, ProtocolError],
  ];
  for (const [name, packet, version, code] of cases) {
    it(`${name} → ${hex(code)} (v${version})`, () => {
      let error: unknown;
      try {
        encode(packet, version);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(PacketError);
      expect((error as PacketError).reasonCode).toBe(code);
    });
  }
});
