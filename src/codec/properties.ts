/**
 * MQTT 5.0 Properties (§2.2.2): decoding into the camelCase `Properties` object and encoding back.
 *
 * Error mapping (each cited where enforced):
 * - unknown identifier, or an identifier not valid for the packet (or the Will): Malformed Packet 0x81 — §2.2.2.2
 *   "A Control Packet which contains an Identifier which is not valid for its packet type, or contains a value not
 *   of the specified data type, is a Malformed Packet";
 * - a property that may appear once appearing twice: Protocol Error 0x82 (stated for each property, e.g. §3.1.2.11.2);
 * - values the spec forbids (Receive Maximum 0, Maximum Packet Size 0, Subscription Identifier 0, a 0/1 byte
 *   property with another value, ...): Protocol Error 0x82 as each property's section says; Topic Alias 0: Topic
 *   Alias invalid 0x94 [MQTT-3.3.2-8].
 *
 * A "kind" is the packet type whose properties are read, or WILL (0) for the Will Properties of CONNECT.
 */
import { PacketType, ReasonCode } from './constants.js';
import { malformed, PacketError, protocolError } from './errors.js';
import type { Properties, UserProperty } from './packet.js';
import type { Reader } from './reader.js';
import { varintSize, writeVarint } from './varint.js';
import { binarySize, isU16, isU32, stringSize, writeBinary, writeString, writeU16, writeU32 } from './writer.js';

/** The kind for Will Properties (no packet type is 0). */
export const WILL = 0;

const KIND_NAMES = [
  'Will Properties',
  'CONNECT',
  'CONNACK',
  'PUBLISH',
  'PUBACK',
  'PUBREC',
  'PUBREL',
  'PUBCOMP',
  'SUBSCRIBE',
  'SUBACK',
  'UNSUBSCRIBE',
  'UNSUBACK',
  'PINGREQ',
  'PINGRESP',
  'DISCONNECT',
  'AUTH',
];

const { CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK } =
  PacketType;
const { DISCONNECT, AUTH } = PacketType;

const mask = (...kinds: number[]): number => kinds.reduce((m, k) => m | (1 << k), 0);

interface Def {
  name: string;
  key: keyof Properties;
  /** Bit k set: the property is valid in kind k (MQTT 5.0 Table 2-4 and each packet's property list). */
  allowed: number;
}

/** Every kind that has properties: all but PINGREQ and PINGRESP. */
const ALL_WITH_PROPERTIES =
  mask(WILL, CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, SUBACK) |
  mask(UNSUBSCRIBE, UNSUBACK, DISCONNECT, AUTH);

const DEFS: (Def | undefined)[] = [];
const ID_OF: Record<string, number> = Object.create(null);
function def(id: number, name: string, key: keyof Properties, allowed: number): void {
  DEFS[id] = { name, key, allowed };
  ID_OF[key] = id;
}
def(0x01, 'Payload Format Indicator', 'payloadFormatIndicator', mask(PUBLISH, WILL));
def(0x02, 'Message Expiry Interval', 'messageExpiryInterval', mask(PUBLISH, WILL));
def(0x03, 'Content Type', 'contentType', mask(PUBLISH, WILL));
def(0x08, 'Response Topic', 'responseTopic', mask(PUBLISH, WILL));
def(0x09, 'Correlation Data', 'correlationData', mask(PUBLISH, WILL));
def(0x0b, 'Subscription Identifier', 'subscriptionIdentifiers', mask(PUBLISH, SUBSCRIBE));
def(0x11, 'Session Expiry Interval', 'sessionExpiryInterval', mask(CONNECT, CONNACK, DISCONNECT));
def(0x12, 'Assigned Client Identifier', 'assignedClientIdentifier', mask(CONNACK));
def(0x13, 'Server Keep Alive', 'serverKeepAlive', mask(CONNACK));
def(0x15, 'Authentication Method', 'authenticationMethod', mask(CONNECT, CONNACK, AUTH));
def(0x16, 'Authentication Data', 'authenticationData', mask(CONNECT, CONNACK, AUTH));
def(0x17, 'Request Problem Information', 'requestProblemInformation', mask(CONNECT));
def(0x18, 'Will Delay Interval', 'willDelayInterval', mask(WILL));
def(0x19, 'Request Response Information', 'requestResponseInformation', mask(CONNECT));
def(0x1a, 'Response Information', 'responseInformation', mask(CONNACK));
def(0x1c, 'Server Reference', 'serverReference', mask(CONNACK, DISCONNECT));
def(
  0x1f,
  'Reason String',
  'reasonString',
  mask(CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, DISCONNECT, AUTH),
);
def(0x21, 'Receive Maximum', 'receiveMaximum', mask(CONNECT, CONNACK));
def(0x22, 'Topic Alias Maximum', 'topicAliasMaximum', mask(CONNECT, CONNACK));
def(0x23, 'Topic Alias', 'topicAlias', mask(PUBLISH));
def(0x24, 'Maximum QoS', 'maximumQoS', mask(CONNACK));
def(0x25, 'Retain Available', 'retainAvailable', mask(CONNACK));
def(0x26, 'User Property', 'userProperties', ALL_WITH_PROPERTIES);
def(0x27, 'Maximum Packet Size', 'maximumPacketSize', mask(CONNECT, CONNACK));
def(0x28, 'Wildcard Subscription Available', 'wildcardSubscriptionAvailable', mask(CONNACK));
def(0x29, 'Subscription Identifier Available', 'subscriptionIdentifierAvailable', mask(CONNACK));
def(0x2a, 'Shared Subscription Available', 'sharedSubscriptionAvailable', mask(CONNACK));

const hex = (id: number): string => `0x${id.toString(16).padStart(2, '0')}`;

function definition(id: number, kind: number): Def {
  const d = DEFS[id];
  // The Identifier is a Variable Byte Integer, but every identifier defined is one byte (§2.2.2.2, non-normative
  // comment): a first byte >= 0x80 can only start an unknown identifier.
  if (d === undefined) throw malformed(`unknown property identifier ${hex(id)} in ${KIND_NAMES[kind]}`);
  if ((d.allowed & (1 << kind)) === 0) {
    throw malformed(`property ${d.name} (${hex(id)}) is not valid in ${KIND_NAMES[kind]} (§2.2.2.2)`);
  }
  return d;
}

const repeated = (d: Def): PacketError =>
  protocolError(`It is a Protocol Error to include the ${d.name} more than once`);

/** A Byte property whose only values are 0 and 1 (all eight Byte properties are). */
function readFlag(r: Reader, d: Def): number {
  const v = r.u8();
  if (v > 1) throw protocolError(`${d.name} must be 0 or 1, got ${v}`);
  return v;
}

/**
 * Reads a Property Length and the properties after it (§2.2.2). Undefined when the list is empty: decoded packets
 * never carry an empty `properties` object.
 */
export function readProperties(r: Reader, kind: number): Properties | undefined {
  const length = r.varint();
  if (length === 0) return undefined;
  const end = r.pos + length;
  if (end > r.end) throw malformed('the Property Length runs past the end of the packet');
  const outerEnd = r.end;
  r.end = end;
  const p: Properties = {};
  while (r.pos < end) {
    const id = r.u8();
    const d = definition(id, kind);
    if (id !== 0x26 && id !== 0x0b && p[d.key] !== undefined) throw repeated(d);
    switch (id) {
      case 0x01:
        p.payloadFormatIndicator = readFlag(r, d);
        break;
      case 0x02:
        p.messageExpiryInterval = r.u32();
        break;
      case 0x03:
        p.contentType = r.utf8();
        break;
      case 0x08:
        p.responseTopic = r.utf8();
        break;
      case 0x09:
        p.correlationData = r.binary();
        break;
      case 0x0b: {
        const v = r.varint();
        if (v === 0) throw protocolError('It is a Protocol Error if the Subscription Identifier has a value of 0');
        if (p.subscriptionIdentifiers === undefined) p.subscriptionIdentifiers = [v];
        // Repeatable in PUBLISH only (one per matching subscription, §3.3.2.3.8); once in SUBSCRIBE (§3.8.2.1.2).
        else if (kind === PUBLISH) p.subscriptionIdentifiers.push(v);
        else throw repeated(d);
        break;
      }
      case 0x11:
        p.sessionExpiryInterval = r.u32();
        break;
      case 0x12:
        p.assignedClientIdentifier = r.utf8();
        break;
      case 0x13:
        p.serverKeepAlive = r.u16();
        break;
      case 0x15:
        p.authenticationMethod = r.utf8();
        break;
      case 0x16:
        p.authenticationData = r.binary();
        break;
      case 0x17:
        p.requestProblemInformation = readFlag(r, d);
        break;
      case 0x18:
        p.willDelayInterval = r.u32();
        break;
      case 0x19:
        p.requestResponseInformation = readFlag(r, d);
        break;
      case 0x1a:
        p.responseInformation = r.utf8();
        break;
      case 0x1c:
        p.serverReference = r.utf8();
        break;
      case 0x1f:
        p.reasonString = r.utf8();
        break;
      case 0x21:
        p.receiveMaximum = r.u16();
        if (p.receiveMaximum === 0) throw protocolError('It is a Protocol Error for the Receive Maximum to be 0');
        break;
      case 0x22:
        p.topicAliasMaximum = r.u16();
        break;
      case 0x23:
        p.topicAlias = r.u16();
        if (p.topicAlias === 0) throw topicAliasZero();
        break;
      case 0x24:
        p.maximumQoS = readFlag(r, d);
        break;
      case 0x25:
        p.retainAvailable = readFlag(r, d);
        break;
      case 0x26: {
        // Repeatable, order kept [MQTT-3.3.2-18]: a list of pairs, not a map.
        const pair: UserProperty = [r.utf8(), r.utf8()];
        if (p.userProperties === undefined) p.userProperties = [pair];
        else p.userProperties.push(pair);
        break;
      }
      case 0x27:
        p.maximumPacketSize = r.u32();
        if (p.maximumPacketSize === 0)
          throw protocolError('It is a Protocol Error for the Maximum Packet Size to be 0');
        break;
      case 0x28:
        p.wildcardSubscriptionAvailable = readFlag(r, d);
        break;
      case 0x29:
        p.subscriptionIdentifierAvailable = readFlag(r, d);
        break;
      case 0x2a:
        p.sharedSubscriptionAvailable = readFlag(r, d);
        break;
    }
  }
  r.end = outerEnd;
  return p;
}

const topicAliasZero = (): PacketError =>
  new PacketError(ReasonCode.TopicAliasInvalid, 'A Topic Alias of 0 is not permitted [MQTT-3.3.2-8]');

function checkFlag(value: unknown, d: Def): void {
  if (value !== 0 && value !== 1) throw protocolError(`${d.name} must be 0 or 1`);
}

function checkU16(value: unknown, d: Def): asserts value is number {
  if (!isU16(value)) throw malformed(`${d.name} must be an integer in 0..65535`);
}

function checkU32(value: unknown, d: Def): asserts value is number {
  if (!isU32(value)) throw malformed(`${d.name} must be an integer in 0..4294967295`);
}

/**
 * Size of the property list of `p` for `kind`, without its Property Length prefix; validates every property as the
 * decoder would, so that whatever encodes also decodes. Keys whose value is undefined are skipped.
 */
export function propertiesLength(p: Properties | undefined, kind: number): number {
  if (p === undefined) return 0;
  let len = 0;
  for (const key in p) {
    const value = p[key as keyof Properties];
    if (value === undefined) continue;
    const id = ID_OF[key];
    if (id === undefined) throw malformed(`unknown property name '${key}'`);
    const d = definition(id, kind);
    switch (id) {
      case 0x01:
      case 0x17:
      case 0x19:
      case 0x24:
      case 0x25:
      case 0x28:
      case 0x29:
      case 0x2a:
        checkFlag(value, d);
        len += 2;
        break;
      case 0x13:
      case 0x22:
        checkU16(value, d);
        len += 3;
        break;
      case 0x21:
      case 0x23:
        checkU16(value, d);
        if (value === 0) throw id === 0x23 ? topicAliasZero() : protocolError('the Receive Maximum must not be 0');
        len += 3;
        break;
      case 0x02:
      case 0x11:
      case 0x18:
      case 0x27:
        checkU32(value, d);
        if (value === 0 && id === 0x27) throw protocolError('the Maximum Packet Size must not be 0');
        len += 5;
        break;
      case 0x09:
      case 0x16:
        len += 1 + binarySize(value as Uint8Array, d.name);
        break;
      case 0x0b: {
        const ids = value as number[];
        if (!Array.isArray(ids)) throw malformed('subscriptionIdentifiers must be an array');
        if (ids.length > 1 && kind !== PUBLISH) throw repeated(d);
        for (const v of ids) {
          if (!Number.isInteger(v) || v < 1 || v > 268_435_455) {
            throw protocolError('a Subscription Identifier must be in 1..268,435,455');
          }
          len += 1 + varintSize(v);
        }
        break;
      }
      case 0x26: {
        const pairs = value as UserProperty[];
        if (!Array.isArray(pairs)) throw malformed('userProperties must be an array of [name, value] pairs');
        for (const pair of pairs) len += 1 + stringSize(pair[0], 'a User Property name') + stringSize(pair[1], d.name);
        break;
      }
      default:
        len += 1 + stringSize(value as string, d.name);
    }
  }
  return len;
}

/** Writes the Property Length `length` (from propertiesLength) and then the properties of `p`. */
export function writeProperties(buf: Uint8Array, pos: number, p: Properties | undefined, length: number): number {
  pos = writeVarint(buf, pos, length);
  if (p === undefined || length === 0) return pos;
  for (const key in p) {
    const value = p[key as keyof Properties];
    if (value === undefined) continue;
    const id = ID_OF[key]!;
    switch (id) {
      case 0x01:
      case 0x17:
      case 0x19:
      case 0x24:
      case 0x25:
      case 0x28:
      case 0x29:
      case 0x2a:
        buf[pos++] = id;
        buf[pos++] = value as number;
        break;
      case 0x13:
      case 0x21:
      case 0x22:
      case 0x23:
        buf[pos++] = id;
        pos = writeU16(buf, pos, value as number);
        break;
      case 0x02:
      case 0x11:
      case 0x18:
      case 0x27:
        buf[pos++] = id;
        pos = writeU32(buf, pos, value as number);
        break;
      case 0x09:
      case 0x16:
        buf[pos++] = id;
        pos = writeBinary(buf, pos, value as Uint8Array);
        break;
      case 0x0b:
        for (const v of value as number[]) {
          buf[pos++] = id;
          pos = writeVarint(buf, pos, v);
        }
        break;
      case 0x26:
        for (const pair of value as UserProperty[]) {
          buf[pos++] = id;
          pos = writeString(buf, pos, pair[0]);
          pos = writeString(buf, pos, pair[1]);
        }
        break;
      default:
        buf[pos++] = id;
        pos = writeString(buf, pos, value as string);
    }
  }
  return pos;
}

/** Size of a property block on the wire: the Property Length Variable Byte Integer plus the properties. */
export const propertyBlockSize = (length: number): number => varintSize(length) + length;
