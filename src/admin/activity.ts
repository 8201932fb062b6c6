/**
 * Live activity for the dashboard, sampled once a second so that a flood of messages costs the dashboard one update
 * per second, not one per message:
 * - {@link RateSampler}: per-second rates (messages and bytes in/out, drops) from the broker's counters, with a short
 *   history so a newly opened dashboard draws its charts at once;
 * - {@link TopicActivity}: per topic, the message count, the rate over the last second and a preview of the last
 *   payload (truncated), for at most `maxTopics` topics (least recently active evicted first).
 */
import type { BrokerCore } from '../broker/core.js';
import type { Message } from '../broker/message.js';
import type { RateSample } from './rate-sample.js';

export type { RateSample };

export class RateSampler {
  private readonly samples: RateSample[] = [];
  private last: { t: number; in: number; out: number; bytesIn: number; bytesOut: number; dropped: number };

  constructor(
    private readonly broker: BrokerCore,
    private readonly historySize = 300,
  ) {
    this.last = this.read(Date.now());
  }

  private read(t: number) {
    const { stats } = this.broker;
    return {
      t,
      in: stats.messagesReceived,
      out: stats.messagesSent,
      bytesIn: stats.bytesReceived,
      bytesOut: stats.bytesSent,
      dropped: stats.messagesDropped + stats.publishUnauthorized,
    };
  }

  /** Takes a sample (called once a second). */
  sample(now: number): RateSample {
    const { broker } = this;
    const current = this.read(now);
    const seconds = Math.max((now - this.last.t) / 1000, 0.001);
    const rate = (a: number, b: number) => Math.max(0, Math.round(((a - b) / seconds) * 10) / 10);
    const sample: RateSample = {
      t: now,
      messagesInPerSecond: rate(current.in, this.last.in),
      messagesOutPerSecond: rate(current.out, this.last.out),
      bytesInPerSecond: rate(current.bytesIn, this.last.bytesIn),
      bytesOutPerSecond: rate(current.bytesOut, this.last.bytesOut),
      droppedPerSecond: rate(current.dropped, this.last.dropped),
      connections: broker.stats.connections,
      subscriptions: broker.trie.size,
      retained: broker.retained.size,
      sessions: broker.sessions.size,
    };
    this.last = current;
    this.samples.push(sample);
    if (this.samples.length > this.historySize) this.samples.shift();
    return sample;
  }

  history(): RateSample[] {
    return [...this.samples];
  }
}

/** What the dashboard shows of one topic. */
export interface TopicSnapshot {
  topic: string;
  /** Messages seen since the admin server started (or since the topic was last evicted). */
  count: number;
  /** Messages per second over the last sampling interval. */
  rate: number;
  /** ms since the epoch of the last sampling interval that saw a message. */
  lastAt: number;
  qos: number;
  retain: boolean;
  /** Size of the last payload, bytes. */
  size: number;
  /** The last payload, truncated: UTF-8 text, or base64 when it is not valid UTF-8 (`binary`). */
  preview: string;
  binary: boolean;
  truncated: boolean;
}

interface TopicEntry {
  count: number;
  /** Messages since the last tick. */
  window: number;
  rate: number;
  lastAt: number;
  qos: number;
  retain: boolean;
  /** The last payload, kept by reference until the next tick makes its preview. */
  payload: Uint8Array | undefined;
  size: number;
  preview: string;
  binary: boolean;
  truncated: boolean;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A printable preview of at most `max` bytes of a payload. */
export function payloadPreview(
  payload: Uint8Array,
  max: number,
): { text: string; binary: boolean; truncated: boolean } {
  const truncated = payload.byteLength > max;
  const head = truncated ? payload.subarray(0, max) : payload;
  // A cut may split the last UTF-8 sequence: retry without its (at most 3) leading bytes.
  for (let cut = 0; cut <= (truncated ? 3 : 0); cut++) {
    try {
      return { text: utf8.decode(head.subarray(0, head.byteLength - cut)), binary: false, truncated };
    } catch {}
  }
  return {
    text: Buffer.from(head.buffer, head.byteOffset, head.byteLength).toString('base64'),
    binary: true,
    truncated,
  };
}

export class TopicActivity {
  /** Insertion order = least recently active first (entries active in a tick are moved to the end). */
  private readonly entries = new Map<string, TopicEntry>();
  private readonly active = new Set<string>();
  private lastTick = Date.now();

  constructor(
    readonly maxTopics = 1000,
    readonly previewBytes = 256,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** Per message: a Map lookup and a few assignments. */
  record(message: Message): void {
    const topic = message.topic;
    let entry = this.entries.get(topic);
    if (entry === undefined) {
      entry = {
        count: 0,
        window: 0,
        rate: 0,
        lastAt: 0,
        qos: 0,
        retain: false,
        payload: undefined,
        size: 0,
        preview: '',
        binary: false,
        truncated: false,
      };
      this.entries.set(topic, entry);
      if (this.entries.size > this.maxTopics) this.evictOne();
    }
    entry.count++;
    entry.window++;
    entry.qos = message.qos;
    entry.retain = message.retain;
    entry.payload = message.payload;
    this.active.add(topic);
  }

  private evictOne(): void {
    for (const topic of this.entries.keys()) {
      if (this.active.has(topic) && this.active.size < this.entries.size) continue;
      this.entries.delete(topic);
      this.active.delete(topic);
      return;
    }
  }

  /** Closes a sampling interval: the topics active in it, with their rates and previews (most active first). */
  tick(now: number, limit = 500): TopicSnapshot[] {
    const seconds = Math.max((now - this.lastTick) / 1000, 0.001);
    this.lastTick = now;
    const updates: TopicSnapshot[] = [];
    // Topics that were active before but not in this interval drop to rate 0 (sent once).
    for (const [topic, entry] of this.entries) {
      if (entry.rate > 0 && entry.window === 0) {
        entry.rate = 0;
        updates.push(snapshot(topic, entry));
      }
    }
    for (const topic of this.active) {
      const entry = this.entries.get(topic);
      if (entry === undefined) continue;
      entry.rate = Math.round((entry.window / seconds) * 10) / 10;
      entry.window = 0;
      entry.lastAt = now;
      if (entry.payload !== undefined) this.fillPreview(entry);
      // Most recently active last (LRU order).
      this.entries.delete(topic);
      this.entries.set(topic, entry);
      updates.push(snapshot(topic, entry));
    }
    this.active.clear();
    updates.sort((a, b) => b.rate - a.rate);
    return updates.length > limit ? updates.slice(0, limit) : updates;
  }

  /** Every tracked topic, including those first seen since the last tick (their rate is still 0). */
  list(now = Date.now()): TopicSnapshot[] {
    const out: TopicSnapshot[] = [];
    for (const [topic, entry] of this.entries) {
      if (entry.payload !== undefined) this.fillPreview(entry);
      if (entry.lastAt === 0) entry.lastAt = now;
      out.push(snapshot(topic, entry));
    }
    return out;
  }

  private fillPreview(entry: TopicEntry): void {
    const payload = entry.payload!;
    const preview = payloadPreview(payload, this.previewBytes);
    entry.size = payload.byteLength;
    entry.preview = preview.text;
    entry.binary = preview.binary;
    entry.truncated = preview.truncated;
    entry.payload = undefined;
  }
}

function snapshot(topic: string, e: TopicEntry): TopicSnapshot {
  return {
    topic,
    count: e.count,
    rate: e.rate,
    lastAt: e.lastAt,
    qos: e.qos,
    retain: e.retain,
    size: e.size,
    preview: e.preview,
    binary: e.binary,
    truncated: e.truncated,
  };
}
