/** SUBSCRIBE (§3.8), SUBACK (§3.9), UNSUBSCRIBE (§3.10), UNSUBACK (§3.11). */
import { PacketType, type ProtocolVersion, type QoS, ReasonCode } from '../constants.js';
import { malformed, PacketError, protocolError } from '../errors.js';
import type { SubackPacket, SubscribePacket, Subscription, UnsubackPacket, UnsubscribePacket } from '../packet.js';
import { propertiesLength, propertyBlockSize, readProperties, writeProperties } from '../properties.js';
import type { Reader } from '../reader.js';
import { checkReasonCode } from '../reason-codes.js';
import { isSharedSubscription, isValidTopicFilter, parseSharedSubscription } from '../topic.js';
import { checkPacketId, stringSize, writeString, writeU16 } from '../writer.js';

/**
 * A Topic Filter must follow §4.7 [MQTT-4.7.1-1..3][MQTT-4.7.3-1]; in MQTT 5.0 a `$share/` filter must also be a
 * valid Shared Subscription [MQTT-4.8.2-1][MQTT-4.8.2-2]. Either failure: Topic Filter invalid 0x8F.
 * Returns whether the filter is a Shared Subscription.
 */
function checkFilter(filter: string, v5: boolean): boolean {
  if (v5 && isSharedSubscription(filter)) {
    if (parseSharedSubscription(filter) === undefined) {
      throw new PacketError(ReasonCode.TopicFilterInvalid, `invalid Shared Subscription '${filter}' [MQTT-4.8.2-2]`);
    }
    return true;
  }
  if (!isValidTopicFilter(filter)) {
    throw new PacketError(ReasonCode.TopicFilterInvalid, `invalid Topic Filter '${filter}' [MQTT-4.7.1-1]`);
  }
  return false;
}

function readSubscription(r: Reader, v5: boolean): Subscription {
  const topicFilter = r.utf8();
  const shared = checkFilter(topicFilter, v5);
  const options = r.u8();
  const qos = options & 3;
  if (!v5) {
    // 3.1.1: "The Server MUST treat a SUBSCRIBE packet as malformed ... if any of Reserved bits in the payload are
    // non-zero, or QoS is not 0,1 or 2 [MQTT-3-8.3-4]".
    if (options & 0xfc) throw malformed('the upper 6 bits of the Requested QoS byte are reserved [MQTT-3-8.3-4]');
    if (qos === 3) throw malformed('the Requested QoS must be 0, 1 or 2 [MQTT-3-8.3-4]');
    return { topicFilter, qos: qos as QoS };
  }
  if (options & 0xc0) throw malformed('Subscription Options bits 6 and 7 are reserved [MQTT-3.8.3-5]');
  if (qos === 3) throw protocolError('It is a Protocol Error if the Maximum QoS field has the value 3 (§3.8.3.1)');
  const retainHandling = (options >> 4) & 3;
  if (retainHandling === 3) throw protocolError('It is a Protocol Error to send a Retain Handling value of 3');
  const noLocal = (options & 4) !== 0;
  if (noLocal && shared) {
    throw protocolError('It is a Protocol Error to set the No Local bit on a Shared Subscription [MQTT-3.8.3-4]');
  }
  return {
    topicFilter,
    qos: qos as QoS,
    noLocal,
    retainAsPublished: (options & 8) !== 0,
    retainHandling: retainHandling as 0 | 1 | 2,
  };
}

function readPacketId(r: Reader, what: string): number {
  const packetId = r.u16();
  if (packetId === 0) throw malformed(`a ${what} needs a non-zero Packet Identifier [MQTT-2.2.1-3]`);
  return packetId;
}

export function decodeSubscribe(r: Reader, version: ProtocolVersion): SubscribePacket {
  const packetId = readPacketId(r, 'SUBSCRIBE');
  const v5 = version === 5;
  const properties = v5 ? readProperties(r, PacketType.SUBSCRIBE) : undefined;
  const subscriptions: Subscription[] = [];
  while (r.pos < r.end) subscriptions.push(readSubscription(r, v5));
  if (subscriptions.length === 0) {
    throw protocolError('a SUBSCRIBE must contain at least one Topic Filter [MQTT-3.8.3-2]');
  }
  const packet: SubscribePacket = { type: PacketType.SUBSCRIBE, packetId, subscriptions };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

let subscribePropsLength = 0;

export function subscribeLength(p: SubscribePacket, version: ProtocolVersion): number {
  checkPacketId(p.packetId, 'a SUBSCRIBE');
  const v5 = version === 5;
  let len = 2;
  if (v5) {
    subscribePropsLength = propertiesLength(p.properties, PacketType.SUBSCRIBE);
    len += propertyBlockSize(subscribePropsLength);
  }
  const subs = p.subscriptions;
  if (!Array.isArray(subs) || subs.length === 0) {
    throw protocolError('a SUBSCRIBE must contain at least one Topic Filter [MQTT-3.8.3-2]');
  }
  for (const s of subs) {
    const shared = checkFilter(s.topicFilter, v5);
    if (s.qos !== 0 && s.qos !== 1 && s.qos !== 2) throw malformed('a subscription QoS must be 0, 1 or 2');
    if (v5) {
      const rh = s.retainHandling ?? 0;
      if (rh !== 0 && rh !== 1 && rh !== 2) throw protocolError('Retain Handling must be 0, 1 or 2');
      if (s.noLocal && shared) throw protocolError('No Local cannot be set on a Shared Subscription [MQTT-3.8.3-4]');
    }
    len += stringSize(s.topicFilter, 'a Topic Filter') + 1;
  }
  return len;
}

export function writeSubscribe(buf: Uint8Array, pos: number, p: SubscribePacket, version: ProtocolVersion): number {
  pos = writeU16(buf, pos, p.packetId);
  const v5 = version === 5;
  if (v5) pos = writeProperties(buf, pos, p.properties, subscribePropsLength);
  for (const s of p.subscriptions) {
    pos = writeString(buf, pos, s.topicFilter);
    buf[pos++] = v5
      ? s.qos | (s.noLocal ? 4 : 0) | (s.retainAsPublished ? 8 : 0) | ((s.retainHandling ?? 0) << 4)
      : s.qos;
  }
  return pos;
}

export function decodeUnsubscribe(r: Reader, version: ProtocolVersion): UnsubscribePacket {
  const packetId = readPacketId(r, 'UNSUBSCRIBE');
  const v5 = version === 5;
  const properties = v5 ? readProperties(r, PacketType.UNSUBSCRIBE) : undefined;
  const topicFilters: string[] = [];
  while (r.pos < r.end) {
    const filter = r.utf8();
    checkFilter(filter, v5);
    topicFilters.push(filter);
  }
  if (topicFilters.length === 0) {
    throw protocolError('an UNSUBSCRIBE must contain at least one Topic Filter [MQTT-3.10.3-2]');
  }
  const packet: UnsubscribePacket = { type: PacketType.UNSUBSCRIBE, packetId, topicFilters };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

let unsubscribePropsLength = 0;

export function unsubscribeLength(p: UnsubscribePacket, version: ProtocolVersion): number {
  checkPacketId(p.packetId, 'an UNSUBSCRIBE');
  const v5 = version === 5;
  let len = 2;
  if (v5) {
    unsubscribePropsLength = propertiesLength(p.properties, PacketType.UNSUBSCRIBE);
    len += propertyBlockSize(unsubscribePropsLength);
  }
  const filters = p.topicFilters;
  if (!Array.isArray(filters) || filters.length === 0) {
    throw protocolError('an UNSUBSCRIBE must contain at least one Topic Filter [MQTT-3.10.3-2]');
  }
  for (const f of filters) {
    checkFilter(f, v5);
    len += stringSize(f, 'a Topic Filter');
  }
  return len;
}

export function writeUnsubscribe(buf: Uint8Array, pos: number, p: UnsubscribePacket, version: ProtocolVersion): number {
  pos = writeU16(buf, pos, p.packetId);
  if (version === 5) pos = writeProperties(buf, pos, p.properties, unsubscribePropsLength);
  for (const f of p.topicFilters) pos = writeString(buf, pos, f);
  return pos;
}

/** The Reason Codes (5.0) or return codes (3.1, 3.1.1) that fill the rest of a SUBACK or UNSUBACK. */
function readCodes(r: Reader, type: number, version: ProtocolVersion, name: string): number[] {
  const codes: number[] = [];
  while (r.pos < r.end) {
    const code = r.u8();
    checkReasonCode(type, code, version);
    codes.push(code);
  }
  // One per Topic Filter of the SUBSCRIBE/UNSUBSCRIBE, which has at least one.
  if (codes.length === 0) throw protocolError(`a ${name} must contain at least one Reason Code`);
  return codes;
}

function codesLength(codes: number[] | undefined, type: number, version: ProtocolVersion, name: string): number {
  if (!Array.isArray(codes) || codes.length === 0)
    throw protocolError(`a ${name} must contain at least one Reason Code`);
  for (const c of codes) checkReasonCode(type, c, version);
  return codes.length;
}

export function decodeSuback(r: Reader, version: ProtocolVersion): SubackPacket {
  const packetId = readPacketId(r, 'SUBACK');
  const properties = version === 5 ? readProperties(r, PacketType.SUBACK) : undefined;
  const reasonCodes = readCodes(r, PacketType.SUBACK, version, 'SUBACK');
  const packet: SubackPacket = { type: PacketType.SUBACK, packetId, reasonCodes };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

let subackPropsLength = 0;

export function subackLength(p: SubackPacket, version: ProtocolVersion): number {
  checkPacketId(p.packetId, 'a SUBACK');
  let len = 2 + codesLength(p.reasonCodes, PacketType.SUBACK, version, 'SUBACK');
  if (version === 5) {
    subackPropsLength = propertiesLength(p.properties, PacketType.SUBACK);
    len += propertyBlockSize(subackPropsLength);
  }
  return len;
}

export function writeSuback(buf: Uint8Array, pos: number, p: SubackPacket, version: ProtocolVersion): number {
  pos = writeU16(buf, pos, p.packetId);
  if (version === 5) pos = writeProperties(buf, pos, p.properties, subackPropsLength);
  for (const c of p.reasonCodes) buf[pos++] = c;
  return pos;
}

/** 3.1/3.1.1: just the Packet Identifier. 5.0: properties and one Reason Code per Topic Filter. */
export function decodeUnsuback(r: Reader, version: ProtocolVersion): UnsubackPacket {
  const packetId = readPacketId(r, 'UNSUBACK');
  if (version !== 5) {
    r.done('UNSUBACK');
    return { type: PacketType.UNSUBACK, packetId };
  }
  const properties = readProperties(r, PacketType.UNSUBACK);
  const reasonCodes = readCodes(r, PacketType.UNSUBACK, version, 'UNSUBACK');
  const packet: UnsubackPacket = { type: PacketType.UNSUBACK, packetId, reasonCodes };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

let unsubackPropsLength = 0;

export function unsubackLength(p: UnsubackPacket, version: ProtocolVersion): number {
  checkPacketId(p.packetId, 'an UNSUBACK');
  if (version !== 5) return 2;
  unsubackPropsLength = propertiesLength(p.properties, PacketType.UNSUBACK);
  return 2 + propertyBlockSize(unsubackPropsLength) + codesLength(p.reasonCodes, PacketType.UNSUBACK, 5, 'UNSUBACK');
}

export function writeUnsuback(buf: Uint8Array, pos: number, p: UnsubackPacket, version: ProtocolVersion): number {
  pos = writeU16(buf, pos, p.packetId);
  if (version !== 5) return pos;
  pos = writeProperties(buf, pos, p.properties, unsubackPropsLength);
  for (const c of p.reasonCodes!) buf[pos++] = c;
  return pos;
}
