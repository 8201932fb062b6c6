/** PUBLISH (§3.3) and its acknowledgements PUBACK, PUBREC, PUBREL, PUBCOMP (§3.4-§3.7), which share one shape. */
import { PacketType, type ProtocolVersion, type QoS, ReasonCode } from '../constants.js';
import { malformed, PacketError, protocolError } from '../errors.js';
import type { PubAckLikePacket, PublishPacket } from '../packet.js';
import { propertiesLength, propertyBlockSize, readProperties, writeProperties } from '../properties.js';
import type { DecodeContext, Reader } from '../reader.js';
import { checkReasonCode } from '../reason-codes.js';
import { NATIVE_STRING_MIN, utf8ByteLength } from '../runtime.js';
import { asciiString, isValidUtf8, readUtf8 } from '../utf8.js';
import { checkPacketId, stringSize, writeString, writeU16 } from '../writer.js';

/** Bytes that stop the ASCII fast path of a Topic Name: NUL, '#', '+' and every non-ASCII byte. */
const TOPIC_STOP = new Uint8Array(256);
TOPIC_STOP[0] = 1;
TOPIC_STOP[0x23] = 1;
TOPIC_STOP[0x2b] = 1;
TOPIC_STOP.fill(1, 0x80);

const wildcardError = (): PacketError =>
  new PacketError(ReasonCode.TopicNameInvalid, 'the Topic Name in a PUBLISH must not contain wildcards [MQTT-3.3.2-2]');

/** Reads the Topic Name bytes [start, end): one pass for ASCII that also spots the wildcards. */
function readTopicName(buf: Uint8Array, start: number, end: number): string {
  let i = start;
  while (i < end && TOPIC_STOP[buf[i]!] === 0) i++;
  if (i === end) return asciiString(buf, start, end);
  const topic = readUtf8(buf, start, end); // validates UTF-8 and U+0000
  // '#' and '+' bytes never occur inside a multi-byte UTF-8 sequence, so a byte scan finds them.
  for (; i < end; i++) if (buf[i] === 0x23 || buf[i] === 0x2b) throw wildcardError();
  return topic;
}

export function decodePublish(r: Reader, b0: number, ctx: DecodeContext): PublishPacket {
  // QoS 3 and DUP with QoS 0 were refused with the fixed header.
  const qos = ((b0 >> 1) & 3) as QoS;
  const buf = r.buf;
  const end = r.end;
  let pos = r.pos;
  if (pos + 2 > end) throw malformed('a field runs past the end of the packet');
  const topicEnd = pos + 2 + ((buf[pos]! << 8) | buf[pos + 1]!);
  if (topicEnd > end) throw malformed('the Topic Name runs past the end of the packet');
  const topic = readTopicName(buf, pos + 2, topicEnd);
  pos = topicEnd;
  let packetId = 0;
  if (qos !== 0) {
    if (pos + 2 > end) throw malformed('the Packet Identifier runs past the end of the packet');
    packetId = (buf[pos]! << 8) | buf[pos + 1]!;
    if (packetId === 0) throw malformed('a PUBLISH with QoS > 0 needs a non-zero Packet Identifier [MQTT-2.2.1-3]');
    pos += 2;
  }
  const packet: PublishPacket =
    qos === 0
      ? { type: 3, topic, payload: buf, qos, retain: (b0 & 1) !== 0, dup: (b0 & 8) !== 0 }
      : { type: 3, topic, payload: buf, qos, retain: (b0 & 1) !== 0, dup: (b0 & 8) !== 0, packetId };
  if (r.v5) {
    r.pos = pos;
    const properties = readProperties(r, PacketType.PUBLISH);
    pos = r.pos;
    if (properties !== undefined) packet.properties = properties;
    if (topic.length === 0 && properties?.topicAlias === undefined) {
      throw protocolError('It is a Protocol Error if the Topic Name is zero length and there is no Topic Alias');
    }
  } else if (topic.length === 0) {
    throw malformed('a Topic Name must be at least one character long [MQTT-4.7.3-1]');
  }
  packet.payload = buf.subarray(pos, end);
  if (packet.properties?.payloadFormatIndicator === 1 && ctx.validatePayloadFormat && !isValidUtf8(packet.payload)) {
    // The receiver MAY check the format (§3.3.2.3.2); this decoder does unless told not to.
    throw new PacketError(
      ReasonCode.PayloadFormatInvalid,
      'the Payload Format Indicator is 1 but the payload is not UTF-8',
    );
  }
  return packet;
}

let publishPropsLength = 0;

/**
 * The last non-empty Topic Name that passed topicFieldSize, its field size, and (from its second use on) its
 * encoded bytes. A broker encodes the same PUBLISH for every matching subscriber, and a client often publishes to
 * one topic again and again: remembering the last topic skips re-validating it (a string compare, usually a pointer
 * compare, instead of a scan) and turns writing it into a byte copy. Validity of a non-empty Topic Name does not
 * depend on the protocol version or on anything else in the packet. A miss costs two assignments.
 */
let lastTopic = '';
let lastTopicFieldSize = 0;
/** Set by topicFieldSize for the packet being encoded: its topic is lastTopic, seen before. */
let topicSeen = false;
/** UTF-8 of lastTopic (a view of topicScratch), once it was used twice; null until then. */
let lastTopicBytes: Uint8Array | null = null;
let topicScratch: Uint8Array | null = null;
/** Topics this long or longer are copied as bytes; shorter ones are written by the charCodeAt loop as fast. */
const COPY_MIN = 12;
const COPY_MAX = 1024;

/** Size of the Topic Name field; checks it is a Topic Name (or empty with a Topic Alias in 5.0). */
function topicFieldSize(p: PublishPacket, version: ProtocolVersion): number {
  const topic = p.topic;
  if (topic === lastTopic && topic.length > 0) {
    topicSeen = true;
    return lastTopicFieldSize;
  }
  topicSeen = false;
  if (typeof topic !== 'string') throw malformed('the Topic Name must be a string');
  const size = validTopicFieldSize(p, topic, version);
  if (topic.length > 0) {
    lastTopic = topic;
    lastTopicFieldSize = size;
    lastTopicBytes = null;
  }
  return size;
}

/** Writes the Topic Name field sized by the topicFieldSize call just made for this packet. */
function writeTopic(buf: Uint8Array, pos: number, topic: string): number {
  if (!topicSeen) return writeString(buf, pos, topic);
  const bytes = lastTopicBytes;
  if (bytes !== null) {
    const n = bytes.length;
    buf[pos] = n >> 8;
    buf[pos + 1] = n & 0xff;
    buf.set(bytes, pos + 2);
    return pos + 2 + n;
  }
  const end = writeString(buf, pos, topic);
  const n = end - pos - 2;
  if (n >= COPY_MIN && n <= COPY_MAX) {
    if (topicScratch === null) topicScratch = new Uint8Array(COPY_MAX);
    for (let i = 0; i < n; i++) topicScratch[i] = buf[pos + 2 + i]!;
    lastTopicBytes = topicScratch.subarray(0, n);
  }
  return end;
}

function validTopicFieldSize(p: PublishPacket, topic: string, version: ProtocolVersion): number {
  const n = topic.length;
  if (n === 0) {
    if (version !== 5) throw malformed('a Topic Name must be at least one character long [MQTT-4.7.3-1]');
    if (p.properties?.topicAlias === undefined) {
      throw protocolError('a zero-length Topic Name needs a Topic Alias (§3.3.2.1)');
    }
    return 2;
  }
  if (n >= NATIVE_STRING_MIN && utf8ByteLength !== undefined) {
    // Native byte count and searches beat a charCodeAt loop on long topics; byteLength === length means ASCII.
    if (topic.indexOf('#') !== -1 || topic.indexOf('+') !== -1) throw wildcardError();
    if (utf8ByteLength(topic) === n && n <= 0xffff && topic.indexOf('\0') === -1) return 2 + n;
    return stringSize(topic, 'the Topic Name');
  }
  let ascii = true;
  for (let i = 0; i < n; i++) {
    const c = topic.charCodeAt(i);
    if (c === 0x23 || c === 0x2b) throw wildcardError();
    if (c >= 0x80 || c === 0) ascii = false;
  }
  if (ascii) return 2 + n;
  return stringSize(topic, 'the Topic Name');
}

export function publishLength(p: PublishPacket, version: ProtocolVersion): number {
  const qos = p.qos;
  if (qos !== 0 && qos !== 1 && qos !== 2) throw malformed('the QoS of a PUBLISH must be 0, 1 or 2');
  if (qos === 0) {
    if (p.dup) throw malformed('the DUP flag must be 0 for a QoS 0 PUBLISH [MQTT-3.3.1-2]');
  } else {
    checkPacketId(p.packetId, 'a PUBLISH with QoS > 0');
  }
  const payload = p.payload;
  if (!(payload instanceof Uint8Array)) throw malformed('the payload must be a Uint8Array');
  let len = topicFieldSize(p, version) + (qos === 0 ? 0 : 2) + payload.length;
  if (version === 5) {
    publishPropsLength = propertiesLength(p.properties, PacketType.PUBLISH);
    len += propertyBlockSize(publishPropsLength);
  }
  return len;
}

export function publishFirstByte(p: PublishPacket): number {
  return 0x30 | (p.dup ? 8 : 0) | (p.qos << 1) | (p.retain ? 1 : 0);
}

export function writePublish(buf: Uint8Array, pos: number, p: PublishPacket, version: ProtocolVersion): number {
  pos = writeTopic(buf, pos, p.topic);
  if (p.qos !== 0) pos = writeU16(buf, pos, p.packetId!);
  if (version === 5) pos = writeProperties(buf, pos, p.properties, publishPropsLength);
  buf.set(p.payload, pos);
  return pos + p.payload.length;
}

type AckType = 4 | 5 | 6 | 7;
const ACK_NAMES = ['', '', '', '', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP'];

/**
 * PUBACK, PUBREC, PUBREL, PUBCOMP. 3.1/3.1.1: just the Packet Identifier. 5.0: the Reason Code and the Property
 * Length may be left out (Remaining Length 2: Success, no properties), or only the Property Length (Remaining
 * Length 3) (§3.4.2.1, §3.4.2.2.1). `reasonCode` is present in the result exactly when its byte was on the wire.
 */
export function decodeAck(r: Reader, type: AckType, version: ProtocolVersion): PubAckLikePacket<AckType> {
  const packetId = r.u16();
  if (packetId === 0) throw malformed(`a ${ACK_NAMES[type]} needs a non-zero Packet Identifier [MQTT-2.2.1-3]`);
  if (version !== 5 || r.pos === r.end) {
    r.done(ACK_NAMES[type]!);
    return { type, packetId };
  }
  const reasonCode = r.u8();
  checkReasonCode(type, reasonCode, version);
  if (r.pos === r.end) return { type, packetId, reasonCode };
  const properties = readProperties(r, type);
  r.done(ACK_NAMES[type]!);
  return properties === undefined ? { type, packetId, reasonCode } : { type, packetId, reasonCode, properties };
}

let ackPropsLength = 0;

/** 5.0: the shortest form the content allows (2 bytes for Success without properties, 3 without properties). */
export function ackLength(p: PubAckLikePacket<AckType>, version: ProtocolVersion): number {
  checkPacketId(p.packetId, `a ${ACK_NAMES[p.type]}`);
  if (version !== 5) return 2;
  const reasonCode = p.reasonCode ?? ReasonCode.Success;
  checkReasonCode(p.type, reasonCode, version);
  ackPropsLength = propertiesLength(p.properties, p.type);
  if (ackPropsLength === 0) return reasonCode === ReasonCode.Success ? 2 : 3;
  return 3 + propertyBlockSize(ackPropsLength);
}

export function writeAck(buf: Uint8Array, pos: number, p: PubAckLikePacket<AckType>, remainingLength: number): number {
  pos = writeU16(buf, pos, p.packetId);
  if (remainingLength > 2) {
    buf[pos++] = p.reasonCode ?? ReasonCode.Success;
    if (remainingLength > 3) pos = writeProperties(buf, pos, p.properties, ackPropsLength);
  }
  return pos;
}
