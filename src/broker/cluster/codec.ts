/**
 * The frame a node sends another over Redis pub/sub: version byte, origin node id, then the message (flags, topic,
 * payload, optional properties, publisher id and expiry deadline), with the primitives of the store encoding
 * (store/encoding.ts: varints, length-prefixed strings and bytes, tagged MQTT properties).
 */
import type { QoS } from '../../codec/index.js';
import type { Message } from '../message.js';
import {
  decodeOutgoing,
  decodeSession,
  decodeSubscriptionOptions,
  encodeOutgoing,
  encodeSession,
  encodeSubscriptionOptions,
  RecordReader,
  RecordWriter,
  readNumbers,
  readProperties,
  writeNumbers,
  writeProperties,
} from '../store/encoding.js';
import type { RestoredSession } from '../store/store.js';

/** 2 added the origin's message sequence number (a message's id in the cluster: origin + seq); 1 is still read. */
const VERSION = 2;
const QOS_MASK = 0b11;
const RETAIN = 1 << 2;
const HAS_PROPERTIES = 1 << 3;
const HAS_PUBLISHER = 1 << 4;
const HAS_EXPIRES = 1 << 5;

const writer = new RecordWriter(1024);

export interface Frame {
  origin: string;
  /** The origin node's number of the message: with the origin, its id in the cluster (0: none). */
  seq: number;
  message: Message;
}

export function encodeFrame(origin: string, seq: number, message: Message): Buffer {
  const w = writer.reset();
  w.u8(VERSION);
  w.string(origin);
  w.number(seq);
  let flags = message.qos & QOS_MASK;
  if (message.retain) flags |= RETAIN;
  if (message.properties !== undefined) flags |= HAS_PROPERTIES;
  if (message.publisherId !== undefined) flags |= HAS_PUBLISHER;
  if (message.expiresAt !== undefined) flags |= HAS_EXPIRES;
  w.u8(flags);
  w.string(message.topic);
  w.bytes(message.payload);
  if (message.properties !== undefined) writeProperties(w, message.properties);
  if (message.publisherId !== undefined) w.string(message.publisherId);
  if (message.expiresAt !== undefined) w.number(message.expiresAt);
  return w.finish();
}

/** Throws RangeError on a truncated or unknown frame. */
export function decodeFrame(buf: Uint8Array): Frame {
  const r = new RecordReader(buf);
  const version = r.u8();
  if (version !== VERSION && version !== 1) throw new RangeError(`unknown cluster frame version ${version}`);
  const origin = r.string();
  const seq = version === 1 ? 0 : r.number();
  const flags = r.u8();
  const topic = r.string();
  const payload = r.bytes();
  const properties = flags & HAS_PROPERTIES ? readProperties(r) : undefined;
  const publisherId = flags & HAS_PUBLISHER ? r.string() : undefined;
  const expiresAt = flags & HAS_EXPIRES ? r.number() : undefined;
  return {
    origin,
    seq,
    message: {
      topic,
      payload,
      qos: (flags & QOS_MASK) as QoS,
      retain: (flags & RETAIN) !== 0,
      properties,
      publisherId,
      expiresAt,
    },
  };
}

const HANDOFF_VERSION = 1;

/** A session record as one buffer (a handoff between nodes), with the store encoding's record formats. */
export function encodeHandoff(record: RestoredSession): Buffer {
  const w = new RecordWriter(1024);
  w.u8(HANDOFF_VERSION);
  w.string(record.clientId);
  w.bytes(encodeSession(record));
  w.varint(record.subscriptions.length);
  for (const subscription of record.subscriptions) {
    w.string(subscription.topicFilter);
    w.bytes(encodeSubscriptionOptions(subscription.options));
  }
  w.varint(record.outgoing.length);
  for (const outgoing of record.outgoing) {
    w.number(outgoing.seq);
    w.bytes(encodeOutgoing(outgoing));
  }
  writeNumbers(w, record.incoming);
  return w.finish();
}

/** Throws RangeError on a truncated or unknown record. */
export function decodeHandoff(buf: Uint8Array): RestoredSession {
  const r = new RecordReader(buf);
  const version = r.u8();
  if (version !== HANDOFF_VERSION) throw new RangeError(`unknown session handoff version ${version}`);
  const clientId = r.string();
  const session = decodeSession(clientId, r.bytes());
  const subscriptions: RestoredSession['subscriptions'] = [];
  for (let n = r.varint(); n > 0; n--) {
    const topicFilter = r.string();
    subscriptions.push({ topicFilter, options: decodeSubscriptionOptions(r.bytes()) });
  }
  const outgoing: RestoredSession['outgoing'] = [];
  for (let n = r.varint(); n > 0; n--) {
    const seq = r.number();
    outgoing.push(decodeOutgoing(clientId, seq, r.bytes()));
  }
  const incoming = readNumbers(r);
  return { ...session, subscriptions, outgoing, incoming };
}
