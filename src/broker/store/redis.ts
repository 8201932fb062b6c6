/**
 * A Store in Redis (ioredis). Keys, under `prefix` (default 'midge:'):
 *
 *   <prefix>meta            hash  'schema' → store schema version ('1'); refused if newer than this code reads
 *   <prefix>sessions        hash  client id → SessionRecord            (enumerates the sessions)
 *   <prefix>subs:<client>   hash  topic filter → SubscriptionOptions
 *   <prefix>out:<client>    hash  seq (decimal) → OutgoingRecord with its message (sorted by seq at restore)
 *   <prefix>in:<client>     set   incoming QoS 2 packet ids (decimal)
 *   <prefix>retained        hash  topic → MessageRecord (without the topic)
 *   <prefix>wills           hash  client id → WillRecord (publishAt + message)
 *
 * Values are the compact binary records of ./encoding.ts, written and read as Buffers (binary-safe).
 *
 * Writes: each write() batch is ONE command, an EVAL of the APPLY_BATCH script below with the batch as its
 * arguments. A script runs atomically, like MULTI … EXEC: no other client sees half a batch, and a batch that fails
 * to encode is never sent. One command instead of one per operation matters: ioredis costs ~10 µs of the broker's
 * CPU per command, Lua ~1 µs of Redis's per operation. EVAL with the script text (~1 kB), not EVALSHA: a NOSCRIPT
 * (script cache flushed, or since Redis 7.4 an EVAL-loaded script evicted) would make ioredis re-send that batch
 * after batches written later, out of order; Redis caches the compiled script by its hash anyway. As in the reference
 * MemoryStore, records under a session are written only while the session exists (the script checks the sessions
 * hash). deleteSession UNLINKs the session's keys (freed in the background). A Redis error part-way through (e.g.
 * WRONGTYPE because something else wrote a key under the prefix) leaves the operations before it applied, as
 * EXEC would.
 *
 * Restore: HSCAN the sessions hash, then per chunk of 1000 sessions one pipeline of HSCAN / HSCAN / SSCAN (a small
 * hash or set comes back whole from its first call; a big one is scanned on; the next chunk's pipeline is in flight
 * while one is decoded); meanwhile HSCAN the retained and wills hashes. A bounded number of round trips, and no
 * call blocks Redis for long.
 *
 * Not for Redis Cluster: one batch touches keys in many slots. Durability is Redis's own (AOF with
 * `appendfsync always` for a committed batch to survive power failure). Two prefixes must not be prefixes of
 * each other's keys (e.g. 'a:' and 'a:subs:').
 */

import type { ChainableCommander } from 'ioredis';
import { Redis } from 'ioredis';
import {
  decodeOutgoing,
  decodeRetained,
  decodeSession,
  decodeSubscriptionOptions,
  decodeWill,
  encodeOutgoing,
  encodeRetained,
  encodeSession,
  encodeSubscriptionOptions,
  encodeWill,
} from './encoding.js';
import type { RestoredSession, RestoredState, Store, StoreOperation } from './store.js';

export interface RedisStoreOptions {
  /** redis://[user:password@]host:port[/db] */
  url: string;
  /** Prefix of every key (default 'midge:'). */
  prefix?: string;
}

export const REDIS_SCHEMA_VERSION = 1;

/**
 * Applies one batch, atomically (a script runs alone, like MULTI … EXEC). KEYS[1..3]: sessions, retained, wills
 * hashes; KEYS[4..]: the per-client keys the batch touches. ARGV: operations, each an opcode and fixed arguments
 * (k = an index into KEYS):
 *   S id value        putSession            D id kSubs kOut kIn   deleteSession (UNLINK the three, HDEL the session)
 *   h id k field val  HSET if the session exists (subscription, outgoing)
 *   a id k member     SADD if the session exists (incoming id)
 *   H k field val     HSET                  d k field             HDEL            r k member    SREM
 * Whether a session exists is asked once per client and then followed through the batch.
 */
const APPLY_BATCH = `
local sessions = KEYS[1]
local live = {}
local function alive(id)
  local v = live[id]
  if v == nil then
    v = redis.call('HEXISTS', sessions, id) == 1
    live[id] = v
  end
  return v
end
local i, n = 1, #ARGV
while i <= n do
  local op = ARGV[i]
  if op == 'h' then
    if alive(ARGV[i + 1]) then redis.call('HSET', KEYS[tonumber(ARGV[i + 2])], ARGV[i + 3], ARGV[i + 4]) end
    i = i + 5
  elseif op == 'H' then
    redis.call('HSET', KEYS[tonumber(ARGV[i + 1])], ARGV[i + 2], ARGV[i + 3])
    i = i + 4
  elseif op == 'd' then
    redis.call('HDEL', KEYS[tonumber(ARGV[i + 1])], ARGV[i + 2])
    i = i + 3
  elseif op == 'S' then
    redis.call('HSET', sessions, ARGV[i + 1], ARGV[i + 2])
    live[ARGV[i + 1]] = true
    i = i + 3
  elseif op == 'D' then
    redis.call('UNLINK', KEYS[tonumber(ARGV[i + 2])], KEYS[tonumber(ARGV[i + 3])], KEYS[tonumber(ARGV[i + 4])])
    redis.call('HDEL', sessions, ARGV[i + 1])
    live[ARGV[i + 1]] = false
    i = i + 5
  elseif op == 'a' then
    if alive(ARGV[i + 1]) then redis.call('SADD', KEYS[tonumber(ARGV[i + 2])], ARGV[i + 3]) end
    i = i + 4
  elseif op == 'r' then
    redis.call('SREM', KEYS[tonumber(ARGV[i + 1])], ARGV[i + 2])
    i = i + 3
  else
    return redis.error_reply('midge store: unknown batch opcode ' .. tostring(op))
  end
end
return n
`.replace(/^\s+/gm, '');

type Arg = string | Buffer;

/** ioredis's eval with array arguments (it flattens them): no spread of a huge batch into a call. */
type EvalBatch = (script: string, numberOfKeys: number, keys: string[], argv: Arg[]) => Promise<unknown>;

const SCAN_COUNT = 1000;
/** For the sessions, retained and wills hashes: fewer round trips, each still short (~ms). */
const BIG_SCAN_COUNT = 5000;
/** Sessions whose keys are read in one pipeline at restore. */
const RESTORE_CHUNK = 1000;

/** The URL without a password, for error messages. */
function redact(url: string): string {
  return url.replace(
    /\/\/([^@/]*)@/,
    (_, auth: string) => `//${auth.includes(':') ? `${auth.split(':')[0]}:***` : '***'}@`,
  );
}

type ScanReply = [cursor: Buffer, elements: Buffer[]];

export class RedisStore implements Store {
  /** A committed batch outlives the process (see the module comment for power loss). */
  readonly durable = true;
  readonly url: string;
  readonly prefix: string;
  private redis: Redis | undefined;
  private readonly keys: { meta: string; sessions: string; retained: string; wills: string };

  constructor(options: RedisStoreOptions) {
    if (typeof options.url !== 'string' || options.url === '') throw new TypeError('RedisStore: url is required');
    this.url = options.url;
    this.prefix = options.prefix ?? 'midge:';
    const p = this.prefix;
    this.keys = { meta: `${p}meta`, sessions: `${p}sessions`, retained: `${p}retained`, wills: `${p}wills` };
  }

  private subsKey(clientId: string): string {
    return `${this.prefix}subs:${clientId}`;
  }

  private outKey(clientId: string): string {
    return `${this.prefix}out:${clientId}`;
  }

  private inKey(clientId: string): string {
    return `${this.prefix}in:${clientId}`;
  }

  private describe(): string {
    return `Redis store ${redact(this.url)} (prefix '${this.prefix}')`;
  }

  async open(): Promise<void> {
    if (this.redis !== undefined) throw new Error(`${this.describe()} is already open`);
    const redis = new Redis(this.url, { lazyConnect: true, connectTimeout: 5000 });
    // Connection errors surface as rejected open() / write() calls; without a listener ioredis would print them.
    redis.on('error', () => {});
    try {
      await redis.connect();
    } catch (error) {
      redis.disconnect();
      throw new Error(`cannot connect to ${this.describe()}: ${(error as Error).message}`, { cause: error });
    }
    try {
      await this.checkSchema(redis);
    } catch (error) {
      redis.disconnect();
      throw error;
    }
    this.redis = redis;
  }

  private async checkSchema(redis: Redis): Promise<void> {
    let version: string | null;
    try {
      version = await redis.hget(this.keys.meta, 'schema');
    } catch (error) {
      throw new Error(`${this.describe()}: key ${this.keys.meta} is not a Midge store's: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (version === null) {
      await redis.hsetnx(this.keys.meta, 'schema', String(REDIS_SCHEMA_VERSION));
      return;
    }
    const n = Number(version);
    if (!Number.isInteger(n) || n < 1) {
      throw new Error(`${this.describe()}: key ${this.keys.meta} holds an invalid schema version '${version}'`);
    }
    if (n > REDIS_SCHEMA_VERSION) {
      throw new Error(
        `${this.describe()} was written by a newer version of Midge (store schema version ${n}; ` +
          `this version reads up to ${REDIS_SCHEMA_VERSION})`,
      );
    }
  }

  private client(): Redis {
    if (this.redis === undefined) throw new Error(`${this.describe()} is not open`);
    return this.redis;
  }

  async close(): Promise<void> {
    const redis = this.redis;
    this.redis = undefined;
    if (redis === undefined) return;
    try {
      await redis.quit();
    } catch {
      redis.disconnect();
    }
  }

  async write(batch: readonly StoreOperation[]): Promise<void> {
    const redis = this.client();
    if (batch.length === 0) return;
    // Built in full before anything is sent: an operation that fails to encode throws here and nothing is written.
    const keys = [this.keys.sessions, this.keys.retained, this.keys.wills];
    const keyIndex = new Map<string, string>();
    /** The 1-based KEYS index of `key`, as the script reads it. */
    const k = (key: string): string => {
      let index = keyIndex.get(key);
      if (index === undefined) {
        keys.push(key);
        index = String(keys.length);
        keyIndex.set(key, index);
      }
      return index;
    };
    const RETAINED = '2';
    const WILLS = '3';
    const argv: Arg[] = [];
    for (const operation of batch) {
      switch (operation.op) {
        case 'putSession':
          argv.push('S', operation.session.clientId, encodeSession(operation.session));
          break;
        case 'deleteSession': {
          const id = operation.clientId;
          argv.push('D', id, k(this.subsKey(id)), k(this.outKey(id)), k(this.inKey(id)));
          break;
        }
        case 'putSubscription': {
          const { clientId, subscription } = operation;
          const value = encodeSubscriptionOptions(subscription.options);
          argv.push('h', clientId, k(this.subsKey(clientId)), subscription.topicFilter, value);
          break;
        }
        case 'deleteSubscription':
          argv.push('d', k(this.subsKey(operation.clientId)), operation.topicFilter);
          break;
        case 'putOutgoing': {
          const { record } = operation;
          argv.push('h', record.clientId, k(this.outKey(record.clientId)), String(record.seq), encodeOutgoing(record));
          break;
        }
        case 'deleteOutgoing':
          argv.push('d', k(this.outKey(operation.clientId)), String(operation.seq));
          break;
        case 'putIncoming':
          argv.push('a', operation.clientId, k(this.inKey(operation.clientId)), String(operation.packetId));
          break;
        case 'deleteIncoming':
          argv.push('r', k(this.inKey(operation.clientId)), String(operation.packetId));
          break;
        case 'putRetained':
          argv.push('H', RETAINED, operation.message.topic, encodeRetained(operation.message));
          break;
        case 'deleteRetained':
          argv.push('d', RETAINED, operation.topic);
          break;
        case 'putWill':
          argv.push('H', WILLS, operation.will.clientId, encodeWill(operation.will));
          break;
        case 'deleteWill':
          argv.push('d', WILLS, operation.clientId);
          break;
        default:
          throw new TypeError(`unknown store operation '${(operation as { op: unknown }).op}'`);
      }
    }
    try {
      await (redis.eval.bind(redis) as unknown as EvalBatch)(APPLY_BATCH, keys.length, keys, argv);
    } catch (error) {
      throw new Error(`${this.describe()}: write failed: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Every field and value of a hash, by HSCAN (duplicates that SCAN may return collapse in the map). */
  private async scanHash(redis: Redis, key: string, count: number, first?: ScanReply): Promise<Map<string, Buffer>> {
    const result = new Map<string, Buffer>();
    let reply = first ?? ((await redis.hscanBuffer(key, '0', 'COUNT', count)) as ScanReply);
    for (;;) {
      const elements = reply[1];
      for (let i = 0; i + 1 < elements.length; i += 2) result.set(elements[i]!.toString('utf8'), elements[i + 1]!);
      const cursor = reply[0].toString();
      if (cursor === '0') return result;
      reply = (await redis.hscanBuffer(key, cursor, 'COUNT', count)) as ScanReply;
    }
  }

  private async scanSet(redis: Redis, key: string, first: ScanReply): Promise<Set<string>> {
    const result = new Set<string>();
    let reply = first;
    for (;;) {
      for (const member of reply[1]) result.add(member.toString('utf8'));
      const cursor = reply[0].toString();
      if (cursor === '0') return result;
      reply = (await redis.sscanBuffer(key, cursor, 'COUNT', SCAN_COUNT)) as ScanReply;
    }
  }

  async restore(): Promise<RestoredState> {
    const redis = this.client();
    // Independent: their round trips overlap with each other's decoding.
    const [sessions, retained, wills] = await Promise.all([
      this.restoreSessions(redis),
      this.scanHash(redis, this.keys.retained, BIG_SCAN_COUNT).then((values) =>
        Array.from(values, ([topic, value]) => decodeRetained(topic, value)),
      ),
      this.scanHash(redis, this.keys.wills, BIG_SCAN_COUNT).then((values) =>
        Array.from(values, ([clientId, value]) => decodeWill(clientId, value)),
      ),
    ]);
    return { sessions, retained, wills };
  }

  private async restoreSessions(redis: Redis): Promise<RestoredSession[]> {
    const sessions: RestoredSession[] = [];
    for (const [clientId, value] of await this.scanHash(redis, this.keys.sessions, BIG_SCAN_COUNT)) {
      sessions.push({ ...decodeSession(clientId, value), subscriptions: [], outgoing: [], incoming: [] });
    }
    /** One pipeline of first scans for a chunk of sessions (3 replies per session). */
    const firstScans = (start: number): Promise<unknown[]> => {
      const pipeline = redis.pipeline();
      for (const { clientId } of sessions.slice(start, start + RESTORE_CHUNK)) {
        pipeline.hscanBuffer(this.subsKey(clientId), '0', 'COUNT', SCAN_COUNT);
        pipeline.hscanBuffer(this.outKey(clientId), '0', 'COUNT', SCAN_COUNT);
        pipeline.sscanBuffer(this.inKey(clientId), '0', 'COUNT', SCAN_COUNT);
      }
      return execPipeline(pipeline);
    };
    let next = sessions.length > 0 ? firstScans(0) : undefined;
    for (let start = 0; next !== undefined; start += RESTORE_CHUNK) {
      const replies = await next;
      // The next chunk is on its way while this one is decoded.
      next = start + RESTORE_CHUNK < sessions.length ? firstScans(start + RESTORE_CHUNK) : undefined;
      next?.catch(() => {}); // awaited on the next turn; a rejection must not count as unhandled meanwhile
      for (let i = 0; i * 3 < replies.length; i++) {
        const session = sessions[start + i]!;
        const id = session.clientId;
        const subscriptions = await this.scanHash(redis, this.subsKey(id), SCAN_COUNT, replies[i * 3] as ScanReply);
        for (const [topicFilter, value] of subscriptions) {
          session.subscriptions.push({ topicFilter, options: decodeSubscriptionOptions(value) });
        }
        const outgoing = await this.scanHash(redis, this.outKey(id), SCAN_COUNT, replies[i * 3 + 1] as ScanReply);
        for (const [seq, value] of outgoing) session.outgoing.push(decodeOutgoing(id, Number(seq), value));
        session.outgoing.sort((a, b) => a.seq - b.seq);
        const incoming = await this.scanSet(redis, this.inKey(id), replies[i * 3 + 2] as ScanReply);
        for (const packetId of incoming) session.incoming.push(Number(packetId));
      }
    }
    return sessions;
  }
}

async function execPipeline(pipeline: ChainableCommander): Promise<unknown[]> {
  const results = await pipeline.exec();
  if (results === null) throw new Error('pipeline aborted');
  return results.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}
