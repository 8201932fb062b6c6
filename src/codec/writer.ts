/** Field writers and sizers for the encoder (MQTT 5.0 §1.5). Sizers validate; writers trust the sizers' checks. */
import { malformed } from './errors.js';
import { utf8Length, writeUtf8 } from './utf8.js';

const MAX_FIELD = 0xffff;

/** Encoded size of a UTF-8 Encoded String field (2-byte length + bytes); throws if it cannot be sent. */
export function stringSize(str: string, what: string): number {
  if (typeof str !== 'string') throw malformed(`${what} must be a string`);
  const len = utf8Length(str);
  if (len > MAX_FIELD) throw malformed(`${what} is ${len} bytes of UTF-8; a string field holds at most 65,535`);
  return 2 + len;
}

/** Encoded size of a Binary Data field (2-byte length + bytes); throws if it cannot be sent. */
export function binarySize(data: Uint8Array, what: string): number {
  if (!(data instanceof Uint8Array)) throw malformed(`${what} must be a Uint8Array`);
  if (data.length > MAX_FIELD) throw malformed(`${what} is ${data.length} bytes; a binary field holds at most 65,535`);
  return 2 + data.length;
}

/** Writes a UTF-8 Encoded String: the bytes first at pos + 2, then their count into the 2-byte prefix. */
export function writeString(buf: Uint8Array, pos: number, str: string): number {
  const end = writeUtf8(buf, pos + 2, str);
  const len = end - pos - 2;
  buf[pos] = len >> 8;
  buf[pos + 1] = len & 0xff;
  return end;
}

export function writeBinary(buf: Uint8Array, pos: number, data: Uint8Array): number {
  const len = data.length;
  buf[pos] = len >> 8;
  buf[pos + 1] = len & 0xff;
  buf.set(data, pos + 2);
  return pos + 2 + len;
}

export function writeU16(buf: Uint8Array, pos: number, value: number): number {
  buf[pos] = value >> 8;
  buf[pos + 1] = value & 0xff;
  return pos + 2;
}

export function writeU32(buf: Uint8Array, pos: number, value: number): number {
  buf[pos] = value >>> 24;
  buf[pos + 1] = (value >>> 16) & 0xff;
  buf[pos + 2] = (value >>> 8) & 0xff;
  buf[pos + 3] = value & 0xff;
  return pos + 4;
}

export function isU16(value: unknown): value is number {
  return typeof value === 'number' && (value & 0xffff) === value;
}

export function isU32(value: unknown): value is number {
  return typeof value === 'number' && value >>> 0 === value;
}

/** A Packet Identifier: 1..65,535 (MQTT 5.0 §2.2.1, non-zero [MQTT-2.2.1-3]). */
export function checkPacketId(packetId: number | undefined, what: string): number {
  if (!isU16(packetId) || packetId === 0) throw malformed(`${what} needs a Packet Identifier in 1..65535`);
  return packetId;
}
