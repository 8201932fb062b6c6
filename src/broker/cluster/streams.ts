/**
 * Messages between nodes travel through one Redis stream per receiving node, `P stream:<id>` (at least once):
 *
 * - the sender gathers the messages of one event-loop turn for each receiving node into one stream entry (at most
 *   BATCH_LIMIT messages; each message is a run of fields starting with `m`, the message frame, then optionally `g`
 *   the share groups assigned to the receiver joined by NUL, `s` = 1 for a retained message the receiver only stores,
 *   and `c`/`q`/`r`/`i` for a direct message to one session), XADDs it at the end of the turn, and the publishers'
 *   PUBACK / PUBREC wait for the XADD's reply ({@link StreamSender.barrier});
 * - the receiver reads its stream from the oldest entry left (`XREAD BLOCK`), routes each message locally, waits until
 *   its own store has written what that did, and only then deletes the entries it read (`XTRIM MINID`). Entries of a
 *   node that crashed are still there when it restarts (or when another node adopts its sessions), so what was
 *   acknowledged to a publisher is not lost; what was routed but not yet trimmed is delivered again (at least once).
 *
 * While Redis cannot be reached, entries wait in a bounded outbox in memory (sent in order when Redis is back) and
 * publishers are acknowledged; past the bound the newest are dropped and counted. Each stream is capped at
 * `maxLen` entries (approximate trimming by Redis): a node that stays away longer loses the oldest.
 */
import type { Redis } from 'ioredis';
import type { QoS } from '../../codec/index.js';

export interface StreamEntry {
  /** The message frame (codec.ts). */
  body: Buffer;
  /** Keys (`$share/g/f`) of the share groups whose delivery the receiver does. */
  groups: string[] | undefined;
  /** A retained message the receiver only stores (it has no matching subscriber). */
  storeOnly: boolean;
  /** A message for one session that moved to the receiver (moves.ts), as it was to be delivered to it. */
  direct?: DirectDelivery;
}

export interface DirectDelivery {
  clientId: string;
  qos: QoS;
  retain: boolean;
  subscriptionIdentifiers: number[] | undefined;
}

const GROUP_SEPARATOR = '\0'; // not allowed in a topic filter [MQTT-4.7.3-2]
/** Most messages in one stream entry. */
const BATCH_LIMIT = 256;

interface Pending {
  key: string;
  args: (string | Buffer)[];
}

export interface SenderStats {
  /** Entries waiting in the outbox (Redis unreachable). */
  outbox: number;
  /** Entries dropped because the outbox was full. */
  outboxDropped: number;
}

interface Batch {
  args: (string | Buffer)[];
  count: number;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

export class StreamSender {
  readonly stats: SenderStats = { outbox: 0, outboxDropped: 0 };
  /** The entries being gathered in this turn, by stream key. */
  private batches = new Map<string, Batch>();
  /** XADDs of this turn already sent (a batch that reached BATCH_LIMIT). */
  private turnWrites: Promise<void>[] = [];
  private flushScheduled = false;
  /** Settles once this turn's entries are in Redis (or the outbox); created by the first barrier() of the turn. */
  private turnBarrier: { promise: Promise<void>; resolve: () => void } | undefined;
  private readonly outbox: Pending[] = [];
  private draining = false;

  constructor(
    private readonly redis: Redis,
    private readonly maxLen: number,
    private readonly outboxLimit: number,
    private readonly failed: (error: Error) => void,
  ) {}

  send(key: string, entry: StreamEntry): void {
    let batch = this.batches.get(key);
    if (batch === undefined) {
      batch = { args: ['MAXLEN', '~', String(this.maxLen), '*'], count: 0 };
      this.batches.set(key, batch);
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(this.flush);
      }
    }
    const args = batch.args;
    args.push('m', entry.body);
    if (entry.groups !== undefined && entry.groups.length > 0) args.push('g', entry.groups.join(GROUP_SEPARATOR));
    if (entry.storeOnly) args.push('s', '1');
    const direct = entry.direct;
    if (direct !== undefined) {
      args.push('c', direct.clientId, 'q', String(direct.qos), 'r', direct.retain ? '1' : '0');
      if (direct.subscriptionIdentifiers !== undefined) args.push('i', direct.subscriptionIdentifiers.join(','));
    }
    if (++batch.count >= BATCH_LIMIT) {
      this.batches.delete(key);
      this.write({ key, args }, this.turnWrites);
    }
  }

  /** Settles once every entry gathered in this turn is in Redis (or in the outbox). Undefined if none was. */
  barrier(): Promise<void> | undefined {
    if (this.batches.size === 0 && this.turnWrites.length === 0 && this.turnBarrier === undefined) return undefined;
    this.turnBarrier ??= deferred();
    return this.turnBarrier.promise;
  }

  /** End of the turn: one XADD per receiving node; then the turn's barrier settles. */
  private readonly flush = (): void => {
    this.flushScheduled = false;
    const barrier = this.turnBarrier;
    this.turnBarrier = undefined;
    const written = this.turnWrites;
    this.turnWrites = [];
    for (const [key, batch] of this.batches) this.write({ key, args: batch.args }, written);
    this.batches.clear();
    if (barrier !== undefined) Promise.all(written).then(barrier.resolve);
  };

  private write(pending: Pending, written: Promise<void>[]): void {
    if (this.outbox.length > 0) {
      // Keep the order: while older entries wait, newer ones wait behind them.
      this.toOutbox(pending);
      return;
    }
    written.push(
      this.redis.xadd(pending.key, ...(pending.args as [string])).then(
        () => {},
        (error: Error) => {
          this.failed(error);
          this.toOutbox(pending);
        },
      ),
    );
  }

  private toOutbox(pending: Pending): void {
    if (this.outbox.length >= this.outboxLimit) {
      this.stats.outboxDropped++;
      return;
    }
    this.outbox.push(pending);
    this.stats.outbox = this.outbox.length;
  }

  /** Sends what waits in the outbox, in order (called when Redis answers again). */
  async drain(): Promise<void> {
    if (this.draining || this.outbox.length === 0) return;
    this.draining = true;
    try {
      while (this.outbox.length > 0) {
        const chunk = this.outbox.slice(0, 500);
        const pipeline = this.redis.pipeline();
        for (const { key, args } of chunk) pipeline.xadd(key, ...(args as [string]));
        const results = (await pipeline.exec()) ?? [];
        const failure = results.find(([error]) => error !== null);
        if (failure !== undefined) throw failure[0];
        this.outbox.splice(0, chunk.length);
        this.stats.outbox = this.outbox.length;
      }
    } catch (error) {
      this.failed(error as Error);
    } finally {
      this.draining = false;
    }
  }
}

/** The messages of one stream entry, in order (each starts at an `m` field). */
export function parseEntry(fields: Buffer[]): StreamEntry[] {
  const entries: StreamEntry[] = [];
  let current: StreamEntry | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i]!.toString();
    const value = fields[i + 1]!;
    if (name === 'm') {
      current = { body: value, groups: undefined, storeOnly: false };
      entries.push(current);
      continue;
    }
    if (current === undefined) continue;
    if (name === 'g') current.groups = value.toString().split(GROUP_SEPARATOR);
    else if (name === 's') current.storeOnly = value.toString() === '1';
    else if (name === 'c')
      current.direct = { clientId: value.toString(), qos: 0, retain: false, subscriptionIdentifiers: undefined };
    else if (current.direct !== undefined) {
      if (name === 'q') current.direct.qos = (Number(value.toString()) & 0b11) as QoS;
      else if (name === 'r') current.direct.retain = value.toString() === '1';
      else if (name === 'i') current.direct.subscriptionIdentifiers = value.toString().split(',').map(Number);
    }
  }
  return entries;
}

/** The smallest stream id after `id` ("ms-seq"). */
export function nextStreamId(id: string): string {
  const dash = id.indexOf('-');
  return `${id.slice(0, dash)}-${BigInt(id.slice(dash + 1)) + 1n}`;
}

/** Entries read before the stream is trimmed, and the longest a read entry waits for its trim. */
const TRIM_BATCH = 1024;
const TRIM_INTERVAL_MS = 200;

type XReadReply = [key: Buffer, entries: [id: Buffer, fields: Buffer[]][]][] | null;

/**
 * Reads this node's stream from the oldest entry, hands each to `handle`, then `commit()`s (the store has written
 * what they did) and trims what was read. Runs until stop(); Redis errors are reported and retried.
 */
export class StreamReader {
  /** When a read last found the stream empty behind it (fewer entries than asked): the reader was caught up. */
  caughtUpAt = 0;
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly handle: (entry: StreamEntry) => void,
    private readonly commit: () => Promise<void>,
    private readonly failed: (error: Error) => void,
    /** Trim after every read (a durable store: fewer duplicates after a crash) rather than per TRIM_BATCH / TRIM_INTERVAL_MS. */
    private readonly eager: boolean,
    private readonly batch = 512,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  private async run(): Promise<void> {
    let after = '0';
    /** Entries read (and routed) but not trimmed yet, and when the last trim was. */
    let untrimmed = 0;
    let trimmedAt = Date.now();
    while (!this.stopped) {
      let reply: XReadReply;
      try {
        reply = (await this.redis.xreadBuffer(
          'COUNT',
          this.batch,
          'BLOCK',
          TRIM_INTERVAL_MS,
          'STREAMS',
          this.key,
          after,
        )) as XReadReply;
      } catch (error) {
        if (this.stopped) return;
        this.failed(error as Error);
        await new Promise((resolve) => setTimeout(resolve, 500));
        continue;
      }
      const entries = reply?.[0]?.[1];
      if (entries === undefined || entries.length < this.batch) this.caughtUpAt = Date.now();
      if (entries !== undefined && entries.length > 0) {
        for (const [, fields] of entries) {
          for (const entry of parseEntry(fields)) this.handle(entry);
        }
        after = entries[entries.length - 1]![0].toString();
        untrimmed += entries.length;
      }
      // Trimming costs a round trip. With a durable store it follows every read, so that a crash repeats as little as
      // possible; without one (a crash loses the sessions anyway) it is done per TRIM_BATCH entries or
      // TRIM_INTERVAL_MS. What is not trimmed yet is read again only after a crash (at least once).
      if (untrimmed === 0) continue;
      if (!this.eager && untrimmed < TRIM_BATCH && Date.now() - trimmedAt < TRIM_INTERVAL_MS) continue;
      try {
        await this.commit();
        await this.redis.xtrim(this.key, 'MINID', nextStreamId(after));
        untrimmed = 0;
        trimmedAt = Date.now();
      } catch (error) {
        if (!this.stopped) this.failed(error as Error);
      }
    }
  }

  /** Stops reading; the caller disconnects the connection, which ends a blocked XREAD. */
  async stop(): Promise<void> {
    this.stopped = true;
  }
}
