/**
 * Seeded generators of random, legal MQTT packets for the property-based codec tests, plus the
 * `normalize()` helper that maps two packets which mean the same thing on the wire to one canonical,
 * JSON-compatible form (binary data as hex strings, so comparisons and failure diffs stay cheap).
 *
 * Reproducing a failure: every test prints its seed; run it again with `MIDGE_SEED=<seed>`.
 */
import { PacketType, type ProtocolVersion, type QoS } from '../../../../src/codec/constants.js';
import type {
  AuthPacket,
  ConnackPacket,
  ConnectPacket,
  DisconnectPacket,
  Packet,
  Properties,
  PubAckLikePacket,
  PublishPacket,
  SubackPacket,
  SubscribePacket,
  Subscription,
  UnsubackPacket,
  UnsubscribePacket,
  UserProperty,
  Will,
} from '../../../../src/codec/packet.js';

// ---------------------------------------------------------------------------------------------------------------
// PRNG and seeds
// ---------------------------------------------------------------------------------------------------------------

export interface Rng {
  readonly seed: number;
  /** Uniform 32-bit unsigned integer. */
  u32(): number;
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [min, max], both inclusive. */
  int(min: number, max: number): number;
  bool(probability?: number): boolean;
  pick<T>(items: readonly T[]): T;
  bytes(length: number): Uint8Array;
}

/** mulberry32: tiny, fast, good enough for test data, and deterministic for a given 32-bit seed. */
export function createRng(seed: number): Rng {
  let state = seed >>> 0;
  const u32 = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  const next = (): number => u32() / 0x1_0000_0000;
  return {
    seed: seed >>> 0,
    u32,
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    bool: (probability = 0.5) => next() < probability,
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new Error('pick() from an empty list');
      return items[Math.floor(next() * items.length)] as T;
    },
    bytes: (length) => {
      const out = new Uint8Array(length);
      let i = 0;
      for (; i + 4 <= length; i += 4) {
        const v = u32();
        out[i] = v & 0xff;
        out[i + 1] = (v >>> 8) & 0xff;
        out[i + 2] = (v >>> 16) & 0xff;
        out[i + 3] = v >>> 24;
      }
      for (; i < length; i++) out[i] = u32() & 0xff;
      return out;
    },
  };
}

/**
 * The base seed of a test file: `MIDGE_SEED` if set (decimal or 0x-hex), otherwise a fresh random one, so
 * every run explores new inputs and prints the seed needed to replay it.
 */
export function baseSeed(): number {
  const env = process.env.MIDGE_SEED;
  if (env !== undefined && env.trim() !== '') {
    const value = Number(env.trim());
    if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
      throw new Error(`MIDGE_SEED must be an integer in 0..2^32-1, got ${JSON.stringify(env)}`);
    }
    return value;
  }
  return Math.floor(Math.random() * 0x1_0000_0000) >>> 0;
}

/** A sub-seed for one test, so that each test replays independently of which other tests ran (FNV-1a). */
export function deriveSeed(base: number, ...parts: readonly (string | number)[]): number {
  let h = 0x811c9dc5 ^ base;
  const text = parts.join('/');
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= base >>> 16;
  h = Math.imul(h, 0x01000193);
  return h >>> 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Packet types per version
// ---------------------------------------------------------------------------------------------------------------

export const PACKET_TYPE_NAMES: Record<PacketType, string> = {
  1: 'CONNECT',
  2: 'CONNACK',
  3: 'PUBLISH',
  4: 'PUBACK',
  5: 'PUBREC',
  6: 'PUBREL',
  7: 'PUBCOMP',
  8: 'SUBSCRIBE',
  9: 'SUBACK',
  10: 'UNSUBSCRIBE',
  11: 'UNSUBACK',
  12: 'PINGREQ',
  13: 'PINGRESP',
  14: 'DISCONNECT',
  15: 'AUTH',
};

export const VERSIONS: readonly ProtocolVersion[] = [3, 4, 5];

/** Every packet type that exists in a protocol version (AUTH is MQTT 5.0 only). */
export function packetTypesFor(version: ProtocolVersion): PacketType[] {
  const all = Object.values(PacketType) as PacketType[];
  return version === 5 ? all : all.filter((t) => t !== PacketType.AUTH);
}

// ---------------------------------------------------------------------------------------------------------------
// Reason codes legal per packet (MQTT 5.0 §3.x.2.1; 3.1.1 §3.2.2.3, §3.9.3)
// ---------------------------------------------------------------------------------------------------------------

export const CONNACK_V5_CODES = [
  0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x90, 0x95, 0x97, 0x99, 0x9a, 0x9b,
  0x9c, 0x9d, 0x9f,
] as const;
export const CONNACK_V4_CODES = [0, 1, 2, 3, 4, 5] as const;
export const PUBACK_PUBREC_CODES = [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99] as const;
export const PUBREL_PUBCOMP_CODES = [0x00, 0x92] as const;
export const SUBACK_V5_CODES = [0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2] as const;
/** 3.1.1 adds the 0x80 failure code; MQTT 3.1 only ever grants a QoS. */
export const SUBACK_V4_CODES = [0x00, 0x01, 0x02, 0x80] as const;
export const SUBACK_V3_CODES = [0x00, 0x01, 0x02] as const;
export const UNSUBACK_V5_CODES = [0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91] as const;
export const DISCONNECT_CODES = [
  0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x8f, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98,
  0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1, 0xa2,
] as const;
export const AUTH_CODES = [0x00, 0x18, 0x19] as const;

// ---------------------------------------------------------------------------------------------------------------
// Strings, topics, payloads
// ---------------------------------------------------------------------------------------------------------------

/** Printable ASCII without the topic separators and wildcards ('/', '+', '#'). */
const ASCII_LEVEL = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~ !"$%&\'()*,:;<=>?@[\\]^`{|}';
const ASCII_ANY = `${ASCII_LEVEL}/+#`;
/** Multi-byte UTF-8: 2-byte (Latin, Greek, Cyrillic, Arabic), 3-byte (Devanagari, CJK, Hangul, €), 4-byte (emoji). */
const MULTI_BYTE = [
  'é',
  'ß',
  'Ω',
  'Ж',
  'ق',
  'ह',
  '中',
  '文',
  '日本',
  '한',
  '€',
  '™',
  'ﬁ',
  '\u00a0',
  '😀',
  '🚀',
  '𝄞',
  '👩‍💻',
  '🇫🇷',
  // Edges of the encoding: last 2-byte, first 3-byte, BOM (must be kept [MQTT-1.5.4-3]), U+FFFD, first 4-byte.
  '\u07ff',
  '\u0800',
  '\ufeff',
  '\ufffd',
  '\u{10000}',
] as const;

/**
 * A random code point that is legal in an MQTT UTF-8 string and that no receiver may reject: never U+0000,
 * never a surrogate, and none of the control characters or non-characters [MQTT-1.5.4-2] lets a receiver
 * refuse (U+0001..U+001F, U+007F..U+009F, U+FDD0..U+FDEF, U+xFFFE, U+xFFFF).
 */
function randomCodePoint(rng: Rng): string {
  for (;;) {
    const r = rng.next();
    const cp = r < 0.7 ? rng.int(0xa0, 0xfffd) : rng.int(0x1_0000, 0x10_ffff);
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    if (cp >= 0xfdd0 && cp <= 0xfdef) continue;
    if ((cp & 0xfffe) === 0xfffe) continue;
    return String.fromCodePoint(cp);
  }
}

function randomChar(rng: Rng, ascii: string): string {
  const r = rng.next();
  if (r < 0.65) return ascii.charAt(rng.int(0, ascii.length - 1));
  if (r < 0.88) return rng.pick(MULTI_BYTE);
  return randomCodePoint(rng);
}

/** Random text of `minChars..maxChars` characters (whole code points, so never a lone surrogate). */
export function randomText(rng: Rng, minChars: number, maxChars: number, ascii: string = ASCII_ANY): string {
  // Now and then a long string, so that 2-byte string lengths above 255 are exercised.
  const n = rng.bool(0.02) ? rng.int(maxChars, maxChars + 400) : rng.int(minChars, maxChars);
  let s = '';
  for (let i = 0; i < n; i++) s += randomChar(rng, ascii);
  return s;
}

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** True when `bytes` are well-formed UTF-8 without U+0000 (what a Payload Format Indicator of 1 promises). */
export function isValidUtf8Bytes(bytes: Uint8Array): boolean {
  try {
    return !strictUtf8.decode(bytes).includes('\u0000');
  } catch {
    return false;
  }
}
export const utf8Length = (s: string): number => utf8.encode(s).length;

/** A Topic Name: at least one character, no wildcards; empty levels and a leading '$' are legal. */
export function randomTopicName(rng: Rng): string {
  for (;;) {
    const levels = rng.int(1, 5);
    const parts: string[] = [];
    for (let i = 0; i < levels; i++) parts.push(rng.bool(0.1) ? '' : randomText(rng, 1, 8, ASCII_LEVEL));
    if (rng.bool(0.05)) parts[0] = `$SYS`;
    const topic = parts.join('/');
    if (topic.length > 0 && utf8Length(topic) <= 65_535) return topic;
  }
}

/** A Topic Filter: '+' levels anywhere, '#' only as the last level; in 5.0 sometimes `$share/{group}/{filter}`. */
export function randomTopicFilter(rng: Rng, version: ProtocolVersion, shared?: boolean): string {
  const levels = rng.int(1, 5);
  const parts: string[] = [];
  for (let i = 0; i < levels; i++) {
    const r = rng.next();
    if (r < 0.2) parts.push('+');
    else if (r < 0.27) parts.push('');
    else parts.push(randomText(rng, 1, 8, ASCII_LEVEL));
  }
  if (rng.bool(0.25)) parts.push('#');
  if (rng.bool(0.04)) parts.splice(0, parts.length, '#');
  const filter = parts.join('/') || '#';
  if (version === 5 && (shared ?? rng.bool(0.15))) {
    // Share Name: at least one character, no '/', '+' or '#' [MQTT-4.8.2-1, 4.8.2-2].
    return `$share/${randomText(rng, 1, 6, ASCII_LEVEL)}/${filter}`;
  }
  return filter;
}

export const isSharedFilter = (filter: string): boolean => filter.startsWith('$share/');

export interface GeneratorOptions {
  /** Upper bound for payload sizes (PUBLISH and Will); default 70,000 (3-byte Remaining Length). */
  maxPayloadSize?: number;
  /** Upper bound for the number of subscriptions, reason codes and user properties in one packet. */
  maxListLength?: number;
}

/** Sizes biased towards the interesting ones: empty, small, Remaining Length byte boundaries, and large. */
function randomPayloadSize(rng: Rng, max: number): number {
  const r = rng.next();
  let n: number;
  if (r < 0.2) n = 0;
  else if (r < 0.55) n = rng.int(1, 64);
  else if (r < 0.75) n = rng.int(65, 600);
  else if (r < 0.85) n = rng.pick([100, 110, 120, 16_300, 16_360]) + rng.int(0, 40);
  else if (r < 0.97) n = rng.int(600, 5000);
  else n = rng.int(16_384, 70_000);
  return Math.min(n, max);
}

function randomPayload(rng: Rng, max: number, utf8Only: boolean): Uint8Array {
  const size = randomPayloadSize(rng, max);
  if (!utf8Only) return rng.bytes(size);
  const chars: string[] = [];
  for (let length = 0; length < size; ) {
    let c = randomChar(rng, ASCII_ANY);
    if (length + utf8Length(c) > size) c = 'x'; // land exactly on `size`, never above a cap
    chars.push(c);
    length += utf8Length(c);
  }
  return utf8.encode(chars.join(''));
}

function interestingInt(rng: Rng, min: number, max: number): number {
  const r = rng.next();
  if (r < 0.25) {
    const candidates = [
      min,
      min + 1,
      max,
      max - 1,
      127,
      128,
      255,
      256,
      16_383,
      16_384,
      65_535,
      65_536,
      2_097_151,
      2_097_152,
      268_435_455,
      0x7fff_ffff,
    ].filter((v) => v >= min && v <= max);
    return rng.pick(candidates);
  }
  if (r < 0.55) return rng.int(min, Math.min(max, min + 300));
  return rng.int(min, max);
}

export const randomPacketId = (rng: Rng): number => interestingInt(rng, 1, 65_535);
const randomQoS = (rng: Rng): QoS => rng.pick([0, 1, 2] as const);
const U32_MAX = 0xffff_ffff;
const VBI_MAX = 268_435_455;

// ---------------------------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------------------------

export type PropertyContext =
  | 'connect'
  | 'will'
  | 'connack'
  | 'publish'
  | 'puback'
  | 'subscribe'
  | 'suback'
  | 'unsubscribe'
  | 'unsuback'
  | 'disconnect'
  | 'auth';

type PropertyName = keyof Properties;

/** Which properties each packet may carry (MQTT 5.0 §2.2.2.2, Table 2-4). */
export const ALLOWED_PROPERTIES: Record<PropertyContext, readonly PropertyName[]> = {
  connect: [
    'sessionExpiryInterval',
    'receiveMaximum',
    'maximumPacketSize',
    'topicAliasMaximum',
    'requestResponseInformation',
    'requestProblemInformation',
    'userProperties',
    'authenticationMethod',
    'authenticationData',
  ],
  will: [
    'willDelayInterval',
    'payloadFormatIndicator',
    'messageExpiryInterval',
    'contentType',
    'responseTopic',
    'correlationData',
    'userProperties',
  ],
  connack: [
    'sessionExpiryInterval',
    'receiveMaximum',
    'maximumQoS',
    'retainAvailable',
    'maximumPacketSize',
    'assignedClientIdentifier',
    'topicAliasMaximum',
    'reasonString',
    'userProperties',
    'wildcardSubscriptionAvailable',
    'subscriptionIdentifierAvailable',
    'sharedSubscriptionAvailable',
    'serverKeepAlive',
    'responseInformation',
    'serverReference',
    'authenticationMethod',
    'authenticationData',
  ],
  publish: [
    'payloadFormatIndicator',
    'messageExpiryInterval',
    'topicAlias',
    'responseTopic',
    'correlationData',
    'userProperties',
    'subscriptionIdentifiers',
    'contentType',
  ],
  puback: ['reasonString', 'userProperties'],
  subscribe: ['subscriptionIdentifiers', 'userProperties'],
  suback: ['reasonString', 'userProperties'],
  unsubscribe: ['userProperties'],
  unsuback: ['reasonString', 'userProperties'],
  disconnect: ['sessionExpiryInterval', 'reasonString', 'userProperties', 'serverReference'],
  auth: ['authenticationMethod', 'authenticationData', 'reasonString', 'userProperties'],
};

export function randomUserProperties(rng: Rng, maxCount: number): UserProperty[] {
  const count = rng.int(1, Math.max(1, maxCount));
  const names: string[] = [];
  const out: UserProperty[] = [];
  for (let i = 0; i < count; i++) {
    // Repeated names are legal and their order must be kept [MQTT-3.3.2-18].
    const name = names.length > 0 && rng.bool(0.35) ? rng.pick(names) : randomText(rng, 0, 10);
    names.push(name);
    out.push([name, randomText(rng, 0, 16)]);
  }
  return out;
}

const bit = (rng: Rng): number => (rng.bool() ? 1 : 0);

function randomPropertyValue(rng: Rng, name: PropertyName, context: PropertyContext, maxList: number): unknown {
  switch (name) {
    case 'payloadFormatIndicator':
    case 'requestProblemInformation':
    case 'requestResponseInformation':
    case 'maximumQoS':
    case 'retainAvailable':
    case 'wildcardSubscriptionAvailable':
    case 'subscriptionIdentifierAvailable':
    case 'sharedSubscriptionAvailable':
      return bit(rng);
    case 'messageExpiryInterval':
    case 'sessionExpiryInterval':
    case 'willDelayInterval':
      return interestingInt(rng, 0, U32_MAX);
    case 'maximumPacketSize':
      return interestingInt(rng, 1, VBI_MAX);
    case 'receiveMaximum':
    case 'topicAlias':
      return interestingInt(rng, 1, 65_535);
    case 'topicAliasMaximum':
    case 'serverKeepAlive':
      return interestingInt(rng, 0, 65_535);
    case 'contentType':
    case 'assignedClientIdentifier':
    case 'authenticationMethod':
    case 'responseInformation':
    case 'serverReference':
    case 'reasonString':
      return randomText(rng, 0, 24);
    case 'responseTopic':
      return randomTopicName(rng);
    case 'correlationData':
    case 'authenticationData':
      return rng.bytes(rng.bool(0.1) ? 0 : rng.int(1, 48));
    case 'subscriptionIdentifiers': {
      // SUBSCRIBE carries exactly one; a PUBLISH to a client one per matching subscription.
      const count = context === 'subscribe' ? 1 : rng.int(1, 4);
      return Array.from({ length: count }, () => interestingInt(rng, 1, VBI_MAX));
    }
    case 'userProperties':
      return randomUserProperties(rng, Math.min(maxList, 6));
  }
}

/**
 * Random properties for a packet; `undefined` sometimes. Roughly one run in ten includes every property the
 * packet allows, the others a random subset.
 */
export function randomProperties(rng: Rng, context: PropertyContext, maxList = 6): Properties | undefined {
  if (rng.bool(0.2)) return undefined;
  const all = rng.bool(0.12);
  const props: Record<string, unknown> = {};
  for (const name of ALLOWED_PROPERTIES[context]) {
    if (all || rng.bool(0.3)) props[name] = randomPropertyValue(rng, name, context, maxList);
  }
  // Authentication Data without an Authentication Method is a Protocol Error (§3.1.2.11.10, §3.15.2.2.3).
  if (props.authenticationData !== undefined && props.authenticationMethod === undefined) {
    props.authenticationMethod = randomText(rng, 1, 12);
  }
  return props as Properties;
}

// ---------------------------------------------------------------------------------------------------------------
// Packets
// ---------------------------------------------------------------------------------------------------------------

function randomWill(rng: Rng, version: ProtocolVersion, options: Required<GeneratorOptions>): Will {
  const properties = version === 5 ? randomProperties(rng, 'will', options.maxListLength) : undefined;
  const will: Will = {
    topic: randomTopicName(rng),
    // The Will Payload has a 2-byte length.
    payload: randomPayload(rng, Math.min(options.maxPayloadSize, 65_535), properties?.payloadFormatIndicator === 1),
    qos: randomQoS(rng),
    retain: rng.bool(),
  };
  if (properties !== undefined) will.properties = properties;
  return will;
}

const CLIENT_ID_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

function randomConnect(rng: Rng, version: ProtocolVersion, options: Required<GeneratorOptions>): ConnectPacket {
  const clean = rng.bool();
  let clientId: string;
  if (version === 3) {
    // MQTT 3.1: 1 to 23 characters.
    clientId = Array.from({ length: rng.int(1, 23) }, () => CLIENT_ID_CHARS.charAt(rng.int(0, 61))).join('');
  } else if (rng.bool(version === 5 || clean ? 0.15 : 0)) {
    // 3.1.1 allows a zero-byte Client Identifier only with Clean Session [MQTT-3.1.3-7]; 5.0 always.
    clientId = '';
  } else {
    clientId = randomText(rng, 1, 23);
  }
  const packet: ConnectPacket = {
    type: PacketType.CONNECT,
    protocolName: version === 3 ? 'MQIsdp' : 'MQTT',
    protocolVersion: version,
    clean,
    keepAlive: interestingInt(rng, 0, 65_535),
    clientId,
  };
  if (rng.bool()) packet.username = randomText(rng, 0, 16);
  // 3.1 and 3.1.1 allow a Password only with a User Name [MQTT-3.1.2-22]; 5.0 allows either alone.
  if (version === 5 ? rng.bool(0.4) : packet.username !== undefined && rng.bool(0.7)) {
    packet.password = rng.bytes(rng.bool(0.1) ? 0 : rng.int(1, 40));
  }
  if (rng.bool()) packet.will = randomWill(rng, version, options);
  if (version === 5) {
    const properties = randomProperties(rng, 'connect', options.maxListLength);
    if (properties !== undefined) packet.properties = properties;
  }
  return packet;
}

function randomConnack(rng: Rng, version: ProtocolVersion, options: Required<GeneratorOptions>): ConnackPacket {
  const reasonCode = rng.bool(0.4) ? 0 : rng.pick(version === 5 ? CONNACK_V5_CODES : CONNACK_V4_CODES);
  const packet: ConnackPacket = {
    type: PacketType.CONNACK,
    // MQTT 3.1 has no Session Present flag; a refused connection never has a session [MQTT-3.2.2-4, 3.2.2-6].
    sessionPresent: version !== 3 && reasonCode === 0 && rng.bool(),
    reasonCode,
  };
  if (version === 5) {
    const properties = randomProperties(rng, 'connack', options.maxListLength);
    if (properties !== undefined) packet.properties = properties;
  }
  return packet;
}

function randomPublish(rng: Rng, version: ProtocolVersion, options: Required<GeneratorOptions>): PublishPacket {
  const qos = randomQoS(rng);
  const properties = version === 5 ? randomProperties(rng, 'publish', options.maxListLength) : undefined;
  let topic = randomTopicName(rng);
  // 5.0: an empty Topic Name stands for the name bound to the Topic Alias.
  if (properties !== undefined && rng.bool(0.15)) {
    properties.topicAlias ??= interestingInt(rng, 1, 65_535);
    topic = '';
  }
  const packet: PublishPacket = {
    type: PacketType.PUBLISH,
    topic,
    payload: randomPayload(rng, options.maxPayloadSize, properties?.payloadFormatIndicator === 1),
    qos,
    retain: rng.bool(0.3),
    // DUP must be 0 for QoS 0 [MQTT-3.3.1-2].
    dup: qos > 0 && rng.bool(0.3),
  };
  if (qos > 0) packet.packetId = randomPacketId(rng);
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

type PubAckType = 4 | 5 | 6 | 7;

function randomPubAck<T extends PubAckType>(
  rng: Rng,
  type: T,
  version: ProtocolVersion,
  options: Required<GeneratorOptions>,
): PubAckLikePacket<T> {
  const packet: PubAckLikePacket<T> = { type, packetId: randomPacketId(rng) };
  if (version === 5) {
    const codes = type === PacketType.PUBACK || type === PacketType.PUBREC ? PUBACK_PUBREC_CODES : PUBREL_PUBCOMP_CODES;
    // Absent, explicit Success, or any code; with or without properties: all four wire forms.
    if (rng.bool(0.7)) packet.reasonCode = rng.pick(codes);
    const properties = rng.bool(0.5) ? randomProperties(rng, 'puback', options.maxListLength) : undefined;
    if (properties !== undefined) packet.properties = properties;
  }
  return packet;
}

function randomSubscribe(rng: Rng, version: ProtocolVersion, options: Required<GeneratorOptions>): SubscribePacket {
  const count = rng.int(1, rng.bool(0.05) ? options.maxListLength * 4 : options.maxListLength);
  const subscriptions: Subscription[] = [];
  for (let i = 0; i < count; i++) {
    const topicFilter = randomTopicFilter(rng, version);
    const subscription: Subscription = { topicFilter, qos: randomQoS(rng) };
    if (version === 5) {
      // No Local on a Shared Subscription is a Protocol Error [MQTT-3.8.3-4].
      if (!isSharedFilter(topicFilter) && rng.bool(0.6)) subscription.noLocal = rng.bool();
      if (rng.bool(0.6)) subscription.retainAsPublished = rng.bool();
      if (rng.bool(0.6)) subscription.retainHandling = rng.pick([0, 1, 2] as const);
    }
    subscriptions.push(subscription);
  }
  const packet: SubscribePacket = { type: PacketType.SUBSCRIBE, packetId: randomPacketId(rng), subscriptions };
  if (version === 5) {
    const properties = randomProperties(rng, 'subscribe', options.maxListLength);
    if (properties !== undefined) packet.properties = properties;
  }
  return packet;
}

function randomSuback(rng: Rng, version: ProtocolVersion, options: Required<GeneratorOptions>): SubackPacket {
  const codes = version === 5 ? SUBACK_V5_CODES : version === 4 ? SUBACK_V4_CODES : SUBACK_V3_CODES;
  const count = rng.int(1, rng.bool(0.05) ? options.maxListLength * 4 : options.maxListLength);
  const packet: SubackPacket = {
    type: PacketType.SUBACK,
    packetId: randomPacketId(rng),
    reasonCodes: Array.from({ length: count }, () => rng.pick(codes)),
  };
  if (version === 5) {
    const properties = randomProperties(rng, 'suback', options.maxListLength);
    if (properties !== undefined) packet.properties = properties;
  }
  return packet;
}

function randomUnsubscribe(rng: Rng, version: ProtocolVersion, options: Required<GeneratorOptions>): UnsubscribePacket {
  const count = rng.int(1, options.maxListLength);
  const packet: UnsubscribePacket = {
    type: PacketType.UNSUBSCRIBE,
    packetId: randomPacketId(rng),
    topicFilters: Array.from({ length: count }, () => randomTopicFilter(rng, version)),
  };
  if (version === 5) {
    const properties = randomProperties(rng, 'unsubscribe', options.maxListLength);
    if (properties !== undefined) packet.properties = properties;
  }
  return packet;
}

function randomUnsuback(rng: Rng, version: ProtocolVersion, options: Required<GeneratorOptions>): UnsubackPacket {
  const packet: UnsubackPacket = { type: PacketType.UNSUBACK, packetId: randomPacketId(rng) };
  if (version === 5) {
    const count = rng.int(1, options.maxListLength);
    packet.reasonCodes = Array.from({ length: count }, () => rng.pick(UNSUBACK_V5_CODES));
    const properties = randomProperties(rng, 'unsuback', options.maxListLength);
    if (properties !== undefined) packet.properties = properties;
  }
  return packet;
}

function randomDisconnect(rng: Rng, version: ProtocolVersion, options: Required<GeneratorOptions>): DisconnectPacket {
  const packet: DisconnectPacket = { type: PacketType.DISCONNECT };
  if (version === 5) {
    if (rng.bool(0.7)) packet.reasonCode = rng.pick(DISCONNECT_CODES);
    const properties = rng.bool(0.6) ? randomProperties(rng, 'disconnect', options.maxListLength) : undefined;
    if (properties !== undefined) packet.properties = properties;
  }
  return packet;
}

function randomAuth(rng: Rng, options: Required<GeneratorOptions>): AuthPacket {
  const packet: AuthPacket = { type: PacketType.AUTH };
  if (rng.bool(0.7)) packet.reasonCode = rng.pick(AUTH_CODES);
  const properties = rng.bool(0.7) ? randomProperties(rng, 'auth', options.maxListLength) : undefined;
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

function withDefaults(options: GeneratorOptions | undefined): Required<GeneratorOptions> {
  return { maxPayloadSize: options?.maxPayloadSize ?? 70_000, maxListLength: options?.maxListLength ?? 6 };
}

/** A random legal packet of the given type for the given protocol version. */
export function randomPacketOfType(
  rng: Rng,
  type: PacketType,
  version: ProtocolVersion,
  generatorOptions?: GeneratorOptions,
): Packet {
  const options = withDefaults(generatorOptions);
  switch (type) {
    case PacketType.CONNECT:
      return randomConnect(rng, version, options);
    case PacketType.CONNACK:
      return randomConnack(rng, version, options);
    case PacketType.PUBLISH:
      return randomPublish(rng, version, options);
    case PacketType.PUBACK:
    case PacketType.PUBREC:
    case PacketType.PUBREL:
    case PacketType.PUBCOMP:
      return randomPubAck(rng, type, version, options);
    case PacketType.SUBSCRIBE:
      return randomSubscribe(rng, version, options);
    case PacketType.SUBACK:
      return randomSuback(rng, version, options);
    case PacketType.UNSUBSCRIBE:
      return randomUnsubscribe(rng, version, options);
    case PacketType.UNSUBACK:
      return randomUnsuback(rng, version, options);
    case PacketType.PINGREQ:
      return { type: PacketType.PINGREQ };
    case PacketType.PINGRESP:
      return { type: PacketType.PINGRESP };
    case PacketType.DISCONNECT:
      return randomDisconnect(rng, version, options);
    case PacketType.AUTH:
      if (version !== 5) throw new Error('AUTH exists only in MQTT 5.0');
      return randomAuth(rng, options);
  }
}

/** A random legal packet of any type that exists in `version`. */
export function randomPacket(rng: Rng, version: ProtocolVersion, options?: GeneratorOptions): Packet {
  return randomPacketOfType(rng, rng.pick(packetTypesFor(version)), version, options);
}

// ---------------------------------------------------------------------------------------------------------------
// Normalisation and printing
// ---------------------------------------------------------------------------------------------------------------

export const toHex = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

function normalizeProperties(properties: Properties | undefined, version: ProtocolVersion): Json | undefined {
  if (version !== 5 || properties === undefined) return undefined;
  const out: Record<string, Json> = {};
  for (const [name, value] of Object.entries(properties) as [string, unknown][]) {
    if (value === undefined) continue;
    if (value instanceof Uint8Array) out[name] = toHex(value);
    else if (Array.isArray(value)) {
      if (value.length === 0) continue;
      out[name] =
        name === 'userProperties' ? (value as UserProperty[]).map(([k, v]) => [k, v]) : [...(value as number[])];
    } else out[name] = value as Json;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

function put(target: Record<string, Json>, key: string, value: Json | undefined): void {
  if (value !== undefined) target[key] = value;
}

/**
 * The canonical form of a packet as it travels in `version`: fields the version cannot carry are dropped
 * (properties, ack reason codes and subscription options before 5.0), absent and default values are
 * unified (reason code 0 = absent; empty properties = absent; No Local / Retain As Published false and
 * Retain Handling 0 = absent; a Packet Identifier on a QoS 0 PUBLISH = absent), and binary data becomes hex.
 * Fields outside the packet model (and properties on PINGREQ/PINGRESP, which have none) are ignored.
 */
export function normalize(packet: Packet, version: ProtocolVersion): Json {
  const out: Record<string, Json> = { type: packet.type };
  const v5 = version === 5;
  switch (packet.type) {
    case PacketType.CONNECT: {
      out.protocolName = packet.protocolName;
      out.protocolVersion = packet.protocolVersion;
      out.clean = packet.clean;
      out.keepAlive = packet.keepAlive;
      out.clientId = packet.clientId;
      put(out, 'username', packet.username);
      put(out, 'password', packet.password === undefined ? undefined : toHex(packet.password));
      if (packet.will !== undefined) {
        const will: Record<string, Json> = {
          topic: packet.will.topic,
          payload: toHex(packet.will.payload),
          qos: packet.will.qos,
          retain: packet.will.retain,
        };
        put(will, 'properties', normalizeProperties(packet.will.properties, version));
        out.will = will;
      }
      break;
    }
    case PacketType.CONNACK:
      out.sessionPresent = packet.sessionPresent;
      out.reasonCode = packet.reasonCode;
      break;
    case PacketType.PUBLISH:
      out.topic = packet.topic;
      out.payload = toHex(packet.payload);
      out.qos = packet.qos;
      out.retain = packet.retain;
      out.dup = packet.dup;
      // The Packet Identifier exists on the wire only for QoS > 0 [MQTT-2.2.1-2].
      if (packet.qos > 0) put(out, 'packetId', packet.packetId);
      break;
    case PacketType.PUBACK:
    case PacketType.PUBREC:
    case PacketType.PUBREL:
    case PacketType.PUBCOMP:
      out.packetId = packet.packetId;
      if (v5 && packet.reasonCode !== undefined && packet.reasonCode !== 0) out.reasonCode = packet.reasonCode;
      break;
    case PacketType.SUBSCRIBE:
      out.packetId = packet.packetId;
      out.subscriptions = packet.subscriptions.map((s) => {
        const sub: Record<string, Json> = { topicFilter: s.topicFilter, qos: s.qos };
        if (v5 && s.noLocal === true) sub.noLocal = true;
        if (v5 && s.retainAsPublished === true) sub.retainAsPublished = true;
        if (v5 && s.retainHandling !== undefined && s.retainHandling !== 0) sub.retainHandling = s.retainHandling;
        return sub;
      });
      break;
    case PacketType.SUBACK:
      out.packetId = packet.packetId;
      out.reasonCodes = [...packet.reasonCodes];
      break;
    case PacketType.UNSUBSCRIBE:
      out.packetId = packet.packetId;
      out.topicFilters = [...packet.topicFilters];
      break;
    case PacketType.UNSUBACK:
      out.packetId = packet.packetId;
      if (v5 && packet.reasonCodes !== undefined) out.reasonCodes = [...packet.reasonCodes];
      break;
    case PacketType.PINGREQ:
    case PacketType.PINGRESP:
      break;
    case PacketType.DISCONNECT:
    case PacketType.AUTH:
      if (v5 && packet.reasonCode !== undefined && packet.reasonCode !== 0) out.reasonCode = packet.reasonCode;
      break;
  }
  const type: number = packet.type;
  if ('properties' in packet && type !== PacketType.PINGREQ && type !== PacketType.PINGRESP) {
    put(out, 'properties', normalizeProperties(packet.properties, version));
  }
  return out;
}

/** JSON with sorted keys: equal strings iff equal normalised packets. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}

/** A short, printable description of a packet for failure messages (binary data truncated). */
export function describePacket(packet: Packet | undefined): string {
  if (packet === undefined) return 'undefined';
  const text = JSON.stringify(packet, (_key, v: unknown) => {
    if (v instanceof Uint8Array) {
      const hex = toHex(v.subarray(0, 32));
      return `<${v.length} bytes ${hex}${v.length > 32 ? '…' : ''}>`;
    }
    if (typeof v === 'string' && v.length > 200) return `${v.slice(0, 200)}…(${v.length} chars)`;
    return v;
  });
  return text.length > 4000 ? `${text.slice(0, 4000)}…` : text;
}

/** Hex of a byte string, truncated for messages. */
export function describeBytes(bytes: Uint8Array, max = 256): string {
  return bytes.length > max ? `${toHex(bytes.subarray(0, max))}…(${bytes.length} bytes)` : toHex(bytes);
}
