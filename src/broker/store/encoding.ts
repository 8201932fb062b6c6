/**
 * Compact binary encoding of store records, shared by the durable stores (SQLite keeps most fields in columns
 * and uses the property and number-list encodings; Redis stores whole records as binary values).
 *
 * Not the MQTT wire encoding: the codec checks which property a packet kind may carry and the ranges the
 * specification allows, while a store must round-trip whatever record the broker hands it (a PUBLISH message
 * with Subscription Identifiers, a will with a Will Delay Interval, ...) exactly.
 *
 * Primitives:
 * - varint: unsigned LEB128 of a safe integer (arithmetic, not 32-bit bit operations);
 * - number: varint(2n) for an integer 0 <= n <= 2^52, else varint(1) followed by a float64 (LE), so every JS
 *   number (negative, fractional, huge) survives and the common small values take one or two bytes;
 * - string: varint byte length + UTF-8; bytes: varint length + bytes.
 *
 * Properties: varint count of entries, then per entry the MQTT property identifier (a stable tag) and its value:
 * a number, a string, bytes, a number list (Subscription Identifiers: count + numbers) or a pair list (User
 * Properties: count + name/value strings, order kept). An unknown property name is an error, never dropped
 * silently.
 *
 * Binary fields come back as Buffer copies (a Buffer is a Uint8Array), never as views into a reply or row buffer,
 * so a restored record does not keep a larger buffer alive for the broker's lifetime.
 */
import type { Properties, ProtocolVersion, QoS, UserProperty } from '../../codec/index.js';
import type { SubscriptionOptions } from '../routing/index.js';
import type { MessageRecord, OutgoingRecord, OutgoingStatus, SessionRecord, WillRecord } from './store.js';

type Kind = 'number' | 'string' | 'bytes' | 'numbers' | 'pairs';

/** Property name → [MQTT identifier used as the tag, value kind]. */
const PROPERTIES: Record<keyof Properties, readonly [number, Kind]> = {
  payloadFormatIndicator: [0x01, 'number'],
  messageExpiryInterval: [0x02, 'number'],
  contentType: [0x03, 'string'],
  responseTopic: [0x08, 'string'],
  correlationData: [0x09, 'bytes'],
  subscriptionIdentifiers: [0x0b, 'numbers'],
  sessionExpiryInterval: [0x11, 'number'],
  assignedClientIdentifier: [0x12, 'string'],
  serverKeepAlive: [0x13, 'number'],
  authenticationMethod: [0x15, 'string'],
  authenticationData: [0x16, 'bytes'],
  requestProblemInformation: [0x17, 'number'],
  willDelayInterval: [0x18, 'number'],
  requestResponseInformation: [0x19, 'number'],
  responseInformation: [0x1a, 'string'],
  serverReference: [0x1c, 'string'],
  reasonString: [0x1f, 'string'],
  receiveMaximum: [0x21, 'number'],
  topicAliasMaximum: [0x22, 'number'],
  topicAlias: [0x23, 'number'],
  maximumQoS: [0x24, 'number'],
  retainAvailable: [0x25, 'number'],
  userProperties: [0x26, 'pairs'],
  maximumPacketSize: [0x27, 'number'],
  wildcardSubscriptionAvailable: [0x28, 'number'],
  subscriptionIdentifierAvailable: [0x29, 'number'],
  sharedSubscriptionAvailable: [0x2a, 'number'],
};

const BY_TAG = new Map<number, readonly [keyof Properties, Kind]>(
  Object.entries(PROPERTIES).map(([key, [tag, kind]]) => [tag, [key as keyof Properties, kind]]),
);

const TWO_POW_52 = 2 ** 52;

export class RecordWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initialSize = 256) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(value: number): void {
    this.ensure(1);
    this.buf[this.pos++] = value;
  }

  varint(value: number): void {
    this.ensure(8);
    let v = value;
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
  }

  number(value: number): void {
    if (Number.isInteger(value) && value >= 0 && value <= TWO_POW_52 && !Object.is(value, -0)) {
      this.varint(value * 2);
      return;
    }
    this.varint(1);
    this.ensure(8);
    this.buf.writeDoubleLE(value, this.pos);
    this.pos += 8;
  }

  string(value: string): void {
    const length = Buffer.byteLength(value, 'utf8');
    this.varint(length);
    this.ensure(length);
    this.pos += this.buf.write(value, this.pos, length, 'utf8');
  }

  bytes(value: Uint8Array): void {
    this.varint(value.length);
    this.ensure(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
  }

  /** The bytes written so far, as a Buffer of their own (the writer can be reused after reset()). */
  finish(): Buffer {
    const result = Buffer.allocUnsafe(this.pos);
    this.buf.copy(result, 0, 0, this.pos);
    return result;
  }

  reset(): this {
    this.pos = 0;
    return this;
  }
}

export class RecordReader {
  private pos = 0;

  constructor(private readonly buf: Uint8Array) {}

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new RangeError('truncated store record');
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  varint(): number {
    let result = 0;
    let factor = 1;
    for (;;) {
      const byte = this.u8();
      result += (byte & 0x7f) * factor;
      if (byte < 0x80) return result;
      factor *= 0x80;
      if (factor > 2 ** 56) throw new RangeError('malformed varint in store record');
    }
  }

  number(): number {
    const v = this.varint();
    if (v % 2 === 0) return v / 2;
    this.need(8);
    const view = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8);
    this.pos += 8;
    return view.getFloat64(0, true);
  }

  string(): string {
    const length = this.varint();
    this.need(length);
    const value = Buffer.from(this.buf.buffer, this.buf.byteOffset + this.pos, length).toString('utf8');
    this.pos += length;
    return value;
  }

  /** A copy, not a view. */
  bytes(): Buffer {
    const length = this.varint();
    this.need(length);
    const value = Buffer.allocUnsafe(length);
    value.set(this.buf.subarray(this.pos, this.pos + length));
    this.pos += length;
    return value;
  }
}

/** A Buffer over the same memory as `value` (no copy); ioredis and better-sqlite3 want Buffers. */
export function asBuffer(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** A copy of a binary value read from a store (better-sqlite3 returns a fresh Buffer per BLOB: kept as is). */
export function ownBytes(value: Uint8Array | null | undefined): Buffer {
  if (value === null || value === undefined) return Buffer.alloc(0);
  return Buffer.isBuffer(value) ? value : Buffer.from(value);
}

// ---------------------------------------------------------------------------------------------------------------
// Properties and number lists

export function writeProperties(w: RecordWriter, properties: Properties): void {
  let count = 0;
  for (const key in properties) if (properties[key as keyof Properties] !== undefined) count++;
  w.varint(count);
  for (const key in properties) {
    const value = properties[key as keyof Properties];
    if (value === undefined) continue;
    if (!Object.hasOwn(PROPERTIES, key)) throw new TypeError(`cannot store unknown message property '${key}'`);
    const [tag, kind] = PROPERTIES[key as keyof Properties];
    w.u8(tag);
    switch (kind) {
      case 'number':
        w.number(value as number);
        break;
      case 'string':
        w.string(value as string);
        break;
      case 'bytes':
        w.bytes(value as Uint8Array);
        break;
      case 'numbers':
        writeNumbers(w, value as number[]);
        break;
      case 'pairs': {
        const pairs = value as UserProperty[];
        w.varint(pairs.length);
        for (const [name, pairValue] of pairs) {
          w.string(name);
          w.string(pairValue);
        }
        break;
      }
    }
  }
}

export function readProperties(r: RecordReader): Properties {
  const properties: Record<string, unknown> = {};
  const count = r.varint();
  for (let i = 0; i < count; i++) {
    const tag = r.u8();
    const definition = BY_TAG.get(tag);
    if (definition === undefined) throw new RangeError(`unknown property tag ${tag} in store record`);
    const [key, kind] = definition;
    switch (kind) {
      case 'number':
        properties[key] = r.number();
        break;
      case 'string':
        properties[key] = r.string();
        break;
      case 'bytes':
        properties[key] = r.bytes();
        break;
      case 'numbers':
        properties[key] = readNumbers(r);
        break;
      case 'pairs': {
        const n = r.varint();
        const pairs: UserProperty[] = [];
        for (let j = 0; j < n; j++) pairs.push([r.string(), r.string()]);
        properties[key] = pairs;
        break;
      }
    }
  }
  return properties as Properties;
}

export function writeNumbers(w: RecordWriter, values: readonly number[]): void {
  w.varint(values.length);
  for (const value of values) w.number(value);
}

export function readNumbers(r: RecordReader): number[] {
  const n = r.varint();
  const values: number[] = [];
  for (let i = 0; i < n; i++) values.push(r.number());
  return values;
}

const scratch = new RecordWriter(4096);

export function encodeProperties(properties: Properties): Buffer {
  writeProperties(scratch.reset(), properties);
  return scratch.finish();
}

export function decodeProperties(buf: Uint8Array): Properties {
  return readProperties(new RecordReader(buf));
}

export function encodeNumbers(values: readonly number[]): Buffer {
  writeNumbers(scratch.reset(), values);
  return scratch.finish();
}

export function decodeNumbers(buf: Uint8Array): number[] {
  return readNumbers(new RecordReader(buf));
}

// ---------------------------------------------------------------------------------------------------------------
// Whole records (Redis values). The key (client id, seq, topic) is not repeated in the value when the caller
// knows it from the key or field.

const QOS_MASK = 0b11;
const RETAIN = 1 << 2;
const HAS_PROPERTIES = 1 << 3;
const HAS_PUBLISHER = 1 << 4;
const HAS_EXPIRES = 1 << 5;

function writeMessage(w: RecordWriter, message: MessageRecord, withTopic: boolean): void {
  let flags = message.qos & QOS_MASK;
  if (message.retain) flags |= RETAIN;
  if (message.properties !== undefined) flags |= HAS_PROPERTIES;
  if (message.publisherId !== undefined) flags |= HAS_PUBLISHER;
  if (message.expiresAt !== undefined) flags |= HAS_EXPIRES;
  w.u8(flags);
  if (withTopic) w.string(message.topic);
  w.bytes(message.payload);
  if (message.properties !== undefined) writeProperties(w, message.properties);
  if (message.publisherId !== undefined) w.string(message.publisherId);
  if (message.expiresAt !== undefined) w.number(message.expiresAt);
}

function readMessage(r: RecordReader, topic?: string): MessageRecord {
  const flags = r.u8();
  const message: MessageRecord = {
    topic: topic ?? r.string(),
    payload: r.bytes(),
    qos: (flags & QOS_MASK) as QoS,
    retain: (flags & RETAIN) !== 0,
  };
  if (flags & HAS_PROPERTIES) message.properties = readProperties(r);
  if (flags & HAS_PUBLISHER) message.publisherId = r.string();
  if (flags & HAS_EXPIRES) message.expiresAt = r.number();
  return message;
}

/** A retained message, keyed by its topic (not repeated in the value). */
export function encodeRetained(message: MessageRecord): Buffer {
  writeMessage(scratch.reset(), message, false);
  return scratch.finish();
}

export function decodeRetained(topic: string, buf: Uint8Array): MessageRecord {
  return readMessage(new RecordReader(buf), topic);
}

export function encodeWill(will: WillRecord): Buffer {
  const w = scratch.reset();
  w.number(will.publishAt);
  writeMessage(w, will.message, true);
  return w.finish();
}

export function decodeWill(clientId: string, buf: Uint8Array): WillRecord {
  const r = new RecordReader(buf);
  const publishAt = r.number();
  return { clientId, message: readMessage(r), publishAt };
}

const STATUS_CODES: Record<OutgoingStatus, number> = { queued: 0, puback: 1, pubrec: 2, pubcomp: 3 };
const STATUSES: readonly OutgoingStatus[] = ['queued', 'puback', 'pubrec', 'pubcomp'];

export function statusCode(status: OutgoingStatus): number {
  const code = STATUS_CODES[status] as number | undefined;
  if (code === undefined) throw new TypeError(`cannot store unknown outgoing status '${status}'`);
  return code;
}

export function statusName(code: number): OutgoingStatus {
  const status = STATUSES[code];
  if (status === undefined) throw new RangeError(`unknown outgoing status ${code} in store record`);
  return status;
}

const OUT_STATUS_SHIFT = 3;
const OUT_HAS_PACKET_ID = 1 << 5;
const OUT_HAS_SUBSCRIPTION_IDS = 1 << 6;

/** An outgoing record without its client id and seq (they are the key and the field). */
export function encodeOutgoing(record: OutgoingRecord): Buffer {
  const w = scratch.reset();
  let flags = (record.qos & QOS_MASK) | (statusCode(record.status) << OUT_STATUS_SHIFT);
  if (record.retain) flags |= RETAIN;
  if (record.packetId !== undefined) flags |= OUT_HAS_PACKET_ID;
  if (record.subscriptionIdentifiers !== undefined) flags |= OUT_HAS_SUBSCRIPTION_IDS;
  w.u8(flags);
  if (record.packetId !== undefined) w.number(record.packetId);
  if (record.subscriptionIdentifiers !== undefined) writeNumbers(w, record.subscriptionIdentifiers);
  writeMessage(w, record.message, true);
  return w.finish();
}

export function decodeOutgoing(clientId: string, seq: number, buf: Uint8Array): OutgoingRecord {
  const r = new RecordReader(buf);
  const flags = r.u8();
  const packetId = flags & OUT_HAS_PACKET_ID ? r.number() : undefined;
  const subscriptionIdentifiers = flags & OUT_HAS_SUBSCRIPTION_IDS ? readNumbers(r) : undefined;
  const record: OutgoingRecord = {
    clientId,
    seq,
    message: readMessage(r),
    qos: (flags & QOS_MASK) as QoS,
    retain: (flags & RETAIN) !== 0,
    status: statusName((flags >> OUT_STATUS_SHIFT) & 0b11),
  };
  if (subscriptionIdentifiers !== undefined) record.subscriptionIdentifiers = subscriptionIdentifiers;
  if (packetId !== undefined) record.packetId = packetId;
  return record;
}

export function encodeSession(session: SessionRecord): Buffer {
  const w = scratch.reset();
  w.u8(session.protocolVersion);
  w.u8(session.disconnectedAt === undefined ? 0 : 1);
  w.number(session.expiryInterval);
  if (session.disconnectedAt !== undefined) w.number(session.disconnectedAt);
  return w.finish();
}

export function decodeSession(clientId: string, buf: Uint8Array): SessionRecord {
  const r = new RecordReader(buf);
  const protocolVersion = r.u8() as ProtocolVersion;
  const hasDisconnectedAt = r.u8() === 1;
  const session: SessionRecord = { clientId, protocolVersion, expiryInterval: r.number() };
  if (hasDisconnectedAt) session.disconnectedAt = r.number();
  return session;
}

const NO_LOCAL = 1 << 2;
const RETAIN_AS_PUBLISHED = 1 << 3;
const RETAIN_HANDLING_SHIFT = 4;
const HAS_SUBSCRIPTION_ID = 1 << 6;

export function encodeSubscriptionOptions(options: SubscriptionOptions): Buffer {
  const w = scratch.reset();
  let flags = (options.qos & QOS_MASK) | ((options.retainHandling & 0b11) << RETAIN_HANDLING_SHIFT);
  if (options.noLocal) flags |= NO_LOCAL;
  if (options.retainAsPublished) flags |= RETAIN_AS_PUBLISHED;
  if (options.subscriptionIdentifier !== undefined) flags |= HAS_SUBSCRIPTION_ID;
  w.u8(flags);
  if (options.subscriptionIdentifier !== undefined) w.number(options.subscriptionIdentifier);
  return w.finish();
}

export function decodeSubscriptionOptions(buf: Uint8Array): SubscriptionOptions {
  const r = new RecordReader(buf);
  const flags = r.u8();
  const options: SubscriptionOptions = {
    qos: (flags & QOS_MASK) as QoS,
    noLocal: (flags & NO_LOCAL) !== 0,
    retainAsPublished: (flags & RETAIN_AS_PUBLISHED) !== 0,
    retainHandling: ((flags >> RETAIN_HANDLING_SHIFT) & 0b11) as 0 | 1 | 2,
  };
  if (flags & HAS_SUBSCRIPTION_ID) options.subscriptionIdentifier = r.number();
  return options;
}
