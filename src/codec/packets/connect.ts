/** CONNECT (§3.1) and CONNACK (§3.2). */
import { PacketType, type ProtocolVersion, type QoS, ReasonCode } from '../constants.js';
import { malformed, PacketError, protocolError } from '../errors.js';
import type { ConnackPacket, ConnectPacket, Properties, Will } from '../packet.js';
import { propertiesLength, propertyBlockSize, readProperties, WILL, writeProperties } from '../properties.js';
import type { DecodeContext, Reader } from '../reader.js';
import { checkReasonCode } from '../reason-codes.js';
import { isValidTopicName } from '../topic.js';
import { isValidUtf8 } from '../utf8.js';
import { binarySize, isU16, stringSize, writeBinary, writeString, writeU16 } from '../writer.js';

const CLEAN = 0x02;
const WILL_FLAG = 0x04;
const WILL_RETAIN = 0x20;
const PASSWORD = 0x40;
const USERNAME = 0x80;

/**
 * Checks a Protocol Name / Protocol Level pair: "MQTT" with 4 (3.1.1) or 5 (5.0), "MQIsdp" with 3 (3.1).
 * An unknown name is malformed [MQTT-3.1.2-1]; a known name with a level this codec does not speak gets
 * Unsupported Protocol Version 0x84 (3.1.1: CONNACK return code 0x01 [MQTT-3.1.2-2]).
 */
function checkProtocol(name: string, level: number): ProtocolVersion {
  if (name === 'MQTT') {
    if (level === 4 || level === 5) return level;
  } else if (name === 'MQIsdp') {
    if (level === 3) return level;
  } else {
    throw malformed(`unknown Protocol Name '${name}' [MQTT-3.1.2-1]`);
  }
  throw new PacketError(ReasonCode.UnsupportedProtocolVersion, `unsupported Protocol Level ${level} for '${name}'`);
}

/** Authentication Data needs an Authentication Method (§3.1.2.11.10: otherwise a Protocol Error). */
function checkAuthentication(p: Properties | undefined): void {
  if (p !== undefined && p.authenticationData !== undefined && p.authenticationMethod === undefined) {
    throw protocolError('It is a Protocol Error to include Authentication Data if there is no Authentication Method');
  }
}

function willTopicError(): PacketError {
  return new PacketError(
    ReasonCode.TopicNameInvalid,
    'the Will Topic must be a valid Topic Name (§4.7) [MQTT-3.1.3-11]',
  );
}

/**
 * Decodes CONNECT. Sets `ctx.protocolVersion` as soon as the Protocol Level is known to be supported, before the
 * rest is checked, so that a broker answering a malformed CONNECT knows which CONNACK to send.
 */
export function decodeConnect(r: Reader, ctx: DecodeContext): ConnectPacket {
  const protocolName = r.utf8();
  const protocolVersion = checkProtocol(protocolName, r.u8());
  ctx.protocolVersion = protocolVersion;
  const v5 = protocolVersion === 5;
  r.v5 = v5;
  const flags = r.u8();
  if (flags & 0x01) throw malformed('the reserved Connect Flag (bit 0) must be 0 [MQTT-3.1.2-3]');
  const willQoS = (flags >> 3) & 3;
  if (flags & WILL_FLAG) {
    if (willQoS === 3) throw malformed('the Will QoS must not be 3 [MQTT-3.1.2-12] (3.1.1: [MQTT-3.1.2-14])');
  } else if (willQoS !== 0 || flags & WILL_RETAIN) {
    // 5.0 [MQTT-3.1.2-11][MQTT-3.1.2-13]; 3.1.1 [MQTT-3.1.2-13][MQTT-3.1.2-15]
    throw malformed('the Will QoS and Will Retain must be 0 when the Will Flag is 0 [MQTT-3.1.2-11][MQTT-3.1.2-13]');
  }
  if (!v5 && flags & PASSWORD && !(flags & USERNAME)) {
    throw malformed('a Password without a User Name is not allowed before MQTT 5.0 (3.1.1 [MQTT-3.1.2-22])');
  }
  const keepAlive = r.u16();
  const properties = v5 ? readProperties(r, PacketType.CONNECT) : undefined;
  checkAuthentication(properties);
  const clientId = r.utf8();
  const packet: ConnectPacket = {
    type: PacketType.CONNECT,
    protocolName,
    protocolVersion,
    clean: (flags & CLEAN) !== 0,
    keepAlive,
    clientId,
  };
  let will: Will | undefined;
  if (flags & WILL_FLAG) {
    const willProperties = v5 ? readProperties(r, WILL) : undefined;
    const topic = r.utf8();
    if (!isValidTopicName(topic)) throw willTopicError();
    const payload = r.binary();
    if (willProperties?.payloadFormatIndicator === 1 && ctx.validatePayloadFormat && !isValidUtf8(payload)) {
      throw new PacketError(ReasonCode.PayloadFormatInvalid, 'the Will Payload is not valid UTF-8 (§3.1.3.2.3)');
    }
    will = { topic, payload, qos: willQoS as QoS, retain: (flags & WILL_RETAIN) !== 0 };
    if (willProperties !== undefined) will.properties = willProperties;
  }
  if (flags & USERNAME) packet.username = r.utf8();
  if (flags & PASSWORD) packet.password = r.binary();
  if (will !== undefined) packet.will = will;
  if (properties !== undefined) packet.properties = properties;
  r.done('CONNECT');
  return packet;
}

let connectPropsLength = 0;
let willPropsLength = 0;

/** Remaining Length of a CONNECT; validates it. The Protocol Level written is the packet's own. */
export function connectLength(p: ConnectPacket): number {
  const version = checkProtocol(p.protocolName, p.protocolVersion);
  const v5 = version === 5;
  let len = stringSize(p.protocolName, 'the Protocol Name') + 4; // + level, flags, keep alive
  if (!isU16(p.keepAlive)) throw malformed('the Keep Alive must be an integer in 0..65535');
  if (v5) {
    checkAuthentication(p.properties);
    connectPropsLength = propertiesLength(p.properties, PacketType.CONNECT);
    len += propertyBlockSize(connectPropsLength);
  }
  len += stringSize(p.clientId, 'the Client Identifier');
  const will = p.will;
  if (will !== undefined) {
    if (will.qos !== 0 && will.qos !== 1 && will.qos !== 2) throw malformed('the Will QoS must be 0, 1 or 2');
    if (!isValidTopicName(will.topic)) throw willTopicError();
    if (v5) {
      willPropsLength = propertiesLength(will.properties, WILL);
      len += propertyBlockSize(willPropsLength);
    }
    len += stringSize(will.topic, 'the Will Topic') + binarySize(will.payload, 'the Will Payload');
  }
  if (p.username !== undefined) len += stringSize(p.username, 'the User Name');
  if (p.password !== undefined) {
    if (!v5 && p.username === undefined)
      throw malformed('a Password needs a User Name before MQTT 5.0 (3.1.1 [MQTT-3.1.2-22])');
    len += binarySize(p.password, 'the Password');
  }
  return len;
}

export function writeConnect(buf: Uint8Array, pos: number, p: ConnectPacket): number {
  const v5 = p.protocolVersion === 5;
  pos = writeString(buf, pos, p.protocolName);
  buf[pos++] = p.protocolVersion;
  const will = p.will;
  let flags = p.clean ? CLEAN : 0;
  if (will !== undefined) flags |= WILL_FLAG | (will.qos << 3) | (will.retain ? WILL_RETAIN : 0);
  if (p.password !== undefined) flags |= PASSWORD;
  if (p.username !== undefined) flags |= USERNAME;
  buf[pos++] = flags;
  pos = writeU16(buf, pos, p.keepAlive);
  if (v5) pos = writeProperties(buf, pos, p.properties, connectPropsLength);
  pos = writeString(buf, pos, p.clientId);
  if (will !== undefined) {
    if (v5) pos = writeProperties(buf, pos, will.properties, willPropsLength);
    pos = writeString(buf, pos, will.topic);
    pos = writeBinary(buf, pos, will.payload);
  }
  if (p.username !== undefined) pos = writeString(buf, pos, p.username);
  if (p.password !== undefined) pos = writeBinary(buf, pos, p.password);
  return pos;
}

/** CONNACK: Connect Acknowledge Flags, then the return code (3.1, 3.1.1) or Reason Code and properties (5.0). */
export function decodeConnack(r: Reader, version: ProtocolVersion): ConnackPacket {
  const flags = r.u8();
  if (flags & 0xfe) throw malformed('Connect Acknowledge Flags bits 7-1 are reserved and must be 0 [MQTT-3.2.2-1]');
  const reasonCode = r.u8();
  checkReasonCode(PacketType.CONNACK, reasonCode, version);
  const packet: ConnackPacket = { type: PacketType.CONNACK, sessionPresent: flags === 1, reasonCode };
  if (version === 5) {
    const properties = readProperties(r, PacketType.CONNACK);
    if (properties !== undefined) packet.properties = properties;
  }
  r.done('CONNACK');
  return packet;
}

let connackPropsLength = 0;

export function connackLength(p: ConnackPacket, version: ProtocolVersion): number {
  checkReasonCode(PacketType.CONNACK, p.reasonCode, version);
  if (version !== 5) return 2;
  connackPropsLength = propertiesLength(p.properties, PacketType.CONNACK);
  return 2 + propertyBlockSize(connackPropsLength);
}

export function writeConnack(buf: Uint8Array, pos: number, p: ConnackPacket, version: ProtocolVersion): number {
  buf[pos++] = p.sessionPresent ? 1 : 0;
  buf[pos++] = p.reasonCode;
  if (version === 5) pos = writeProperties(buf, pos, p.properties, connackPropsLength);
  return pos;
}
