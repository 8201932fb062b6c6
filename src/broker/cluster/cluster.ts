/**
 * Cluster phase 1 (issue 8): several Midge nodes share one Redis. See docs/cluster.md.
 *
 * - Membership: each node keeps `P alive:<id>` (PX ttl, refreshed every heartbeat) and is listed in the set
 *   `P nodes`; every heartbeat a node lists the members, expires those whose alive key is gone, and logs changes.
 * - Routing: each node keeps the set of filters its clients subscribe to in `P filters:<id>` and announces every
 *   change on the channel `P filters`; every node mirrors the other nodes' filters in one SubscriptionTrie whose
 *   "clients" are node ids. A message published on a node is sent (Redis PUBLISH, binary frame) on `P node:<id>`
 *   of each node with a matching filter only; the receiving node routes it locally and never forwards it again.
 * - Retained: a retained publish (or removal) is written to the hash `P retained` and broadcast on `P all`, so
 *   every node keeps the same full retained set in memory; a joining node loads the hash.
 *
 * Redis pub/sub is at most once: a node that is down or disconnected from Redis misses what is sent meanwhile.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { BrokerCore } from '../core.js';
import { isExpired, type Message } from '../message.js';
import { routeMessage, storeRetained } from '../publish.js';
import {
  parseSharedFilter,
  type SubscriptionChangeObserver,
  type SubscriptionOptions,
  SubscriptionTrie,
} from '../routing/index.js';
import { decodeFrame, encodeFrame } from './codec.js';
import type { ClusterHook } from './hook.js';

export interface ClusterOptions {
  /** redis:// or rediss:// URL of the Redis the nodes share. */
  url: string;
  /** This node's name (letters, digits, `.`, `_`, `-`); default `<hostname>-<pid>-<random>`. Unique among live nodes. */
  nodeId?: string;
  /** Prefix of every key and channel; nodes with the same prefix form one cluster. Default `midge:cluster:`. */
  prefix?: string;
  /** Milliseconds between heartbeats (default 1000). */
  heartbeatMs?: number;
  /** Milliseconds a node stays a member without a heartbeat (default 3000). */
  ttlMs?: number;
  /** Default: the broker's logger. */
  logger?: Logger;
}

export interface ClusterStats {
  /** Local messages sent to at least one other node. */
  forwardedMessages: number;
  /** Frames sent to other nodes (a message sent to two nodes counts 2; a retained broadcast counts 1). */
  forwardedFrames: number;
  /** Frames received from other nodes and routed locally. */
  receivedMessages: number;
  /** Retained messages (and removals) written to the shared hash and broadcast. */
  retainedBroadcasts: number;
  /** Filter additions/removals this node announced. */
  filterUpdatesSent: number;
  /** Filter additions/removals/resets received from other nodes. */
  filterUpdatesReceived: number;
  /** Frames that could not be decoded. */
  badFrames: number;
  /** Redis commands that failed (Redis unreachable: messages to other nodes are lost, local traffic goes on). */
  redisErrors: number;
}

export const DEFAULT_CLUSTER_PREFIX = 'midge:cluster:';
const NODE_ID = /^[A-Za-z0-9._-]{1,128}$/;
/** What a remote node's filter stands for in the remote trie: the QoS is the message's own, applied by the receiver. */
const REMOTE: SubscriptionOptions = { qos: 2, noLocal: false, retainAsPublished: false, retainHandling: 0 };

export function defaultNodeId(): string {
  const host =
    hostname()
      .replace(/[^A-Za-z0-9._-]/g, '_')
      .slice(0, 64) || 'node';
  return `${host}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** The filter a node announces for one of its subscriptions: a shared subscription's inner filter. */
function routedFilter(filter: string): string {
  return parseSharedFilter(filter)?.filter ?? filter;
}

/** $SYS topics describe one node: never forwarded, never in the shared retained set. */
function isNodeLocal(topic: string): boolean {
  return topic.startsWith('$SYS');
}

export class Cluster implements ClusterHook, SubscriptionChangeObserver {
  readonly nodeId: string;
  readonly prefix: string;
  readonly stats: ClusterStats = {
    forwardedMessages: 0,
    forwardedFrames: 0,
    receivedMessages: 0,
    retainedBroadcasts: 0,
    filterUpdatesSent: 0,
    filterUpdatesReceived: 0,
    badFrames: 0,
    redisErrors: 0,
  };
  /** Live other nodes. */
  readonly peers = new Set<string>();
  /** Filters of the other nodes, with node ids as the clients. */
  readonly remote = new SubscriptionTrie();
  /** This node's routed filters → number of local subscriptions with that filter. */
  readonly localFilters = new Map<string, number>();
  /** true while Redis is unreachable (logged once when it starts and when it ends). */
  degraded = false;

  private readonly broker: BrokerCore;
  private readonly url: string;
  private readonly heartbeatMs: number;
  private readonly ttlMs: number;
  private readonly logger: Logger | undefined;
  private readonly token = randomBytes(8).toString('hex');
  private readonly cmd: Redis;
  private readonly sub: Redis;
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private stopped = false;
  /** Pub/sub messages received while start() loads the state; undefined once running. */
  private buffered: [string, Buffer][] | undefined = [];
  private readonly keys: {
    nodes: string;
    retained: string;
    filtersChannel: string;
    membership: string;
    all: string;
    inbox: string;
  };

  constructor(broker: BrokerCore, options: ClusterOptions) {
    this.broker = broker;
    this.url = options.url;
    this.nodeId = options.nodeId ?? defaultNodeId();
    if (!NODE_ID.test(this.nodeId)) {
      throw new RangeError(`cluster node id '${this.nodeId}': use 1..128 letters, digits, '.', '_' or '-'`);
    }
    this.prefix = options.prefix ?? DEFAULT_CLUSTER_PREFIX;
    this.heartbeatMs = options.heartbeatMs ?? 1000;
    this.ttlMs = options.ttlMs ?? 3000;
    if (this.ttlMs <= this.heartbeatMs) throw new RangeError('cluster ttlMs must be larger than heartbeatMs');
    this.logger = (options.logger ?? broker.logger)?.child({ cluster: this.nodeId });
    const p = this.prefix;
    this.keys = {
      nodes: `${p}nodes`,
      retained: `${p}retained`,
      filtersChannel: `${p}filters`,
      membership: `${p}membership`,
      all: `${p}all`,
      inbox: this.inboxOf(this.nodeId),
    };
    // Commands fail at once while Redis is unreachable (no unbounded offline queue): traffic to other nodes is lost,
    // local traffic goes on. Auto-pipelining batches the PUBLISHes of one tick into one write.
    this.cmd = new Redis(this.url, {
      lazyConnect: true,
      connectTimeout: 5000,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      maxRetriesPerRequest: 1,
    });
    this.sub = new Redis(this.url, { lazyConnect: true, connectTimeout: 5000 });
    this.cmd.on('error', (error: Error) => this.redisFailed(error));
    this.sub.on('error', (error: Error) => this.redisFailed(error));
    this.sub.on('messageBuffer', (channel: Buffer, data: Buffer) => this.onChannelMessage(channel.toString(), data));
  }

  private aliveKey(id: string): string {
    return `${this.prefix}alive:${id}`;
  }

  private filtersKey(id: string): string {
    return `${this.prefix}filters:${id}`;
  }

  private inboxOf(id: string): string {
    return `${this.prefix}node:${id}`;
  }

  /** This node and the live other nodes. */
  members(): string[] {
    return [this.nodeId, ...this.peers].sort();
  }

  async start(): Promise<void> {
    await Promise.all([this.cmd.connect(), this.sub.connect()]);
    const k = this.keys;
    await this.sub.subscribe(k.filtersChannel, k.membership, k.all, k.inbox);
    await this.claimNodeId();
    await this.announceAll();
    await this.loadRetained();
    await this.tick();
    const buffered = this.buffered ?? [];
    this.buffered = undefined;
    for (const [channel, data] of buffered) this.handle(channel, data);
    this.timer = setInterval(() => void this.tick(), this.heartbeatMs);
    this.timer.unref();
    this.logger?.info({ members: this.members() }, `joined cluster '${this.prefix}' as ${this.nodeId}`);
  }

  /** SET NX of the alive key; a node id still alive (e.g. a node killed less than ttl ago) is waited for up to ttl. */
  private async claimNodeId(): Promise<void> {
    const deadline = Date.now() + this.ttlMs + this.heartbeatMs;
    for (;;) {
      const ok = await this.cmd.set(this.aliveKey(this.nodeId), this.token, 'PX', this.ttlMs, 'NX');
      if (ok !== null) return;
      if (Date.now() > deadline) throw new Error(`cluster node id '${this.nodeId}' is in use by a live node`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /**
   * Publishes this node's whole filter set (and tells the others to reload it). The set is read and the observer
   * installed in the same turn as the commands are queued, so no change is missed or sent before the reset.
   */
  private announceAll(): Promise<unknown> {
    const counts = this.localFilters;
    counts.clear();
    const trie = this.broker.trie;
    for (const clientId of this.broker.sessions.keys()) {
      const subscriptions = trie.subscriptionsOf(clientId);
      if (subscriptions === undefined) continue;
      for (const filter of subscriptions.keys()) {
        const f = routedFilter(filter);
        counts.set(f, (counts.get(f) ?? 0) + 1);
      }
    }
    trie.observer = this;
    const key = this.filtersKey(this.nodeId);
    const multi = this.cmd.multi().del(key);
    if (counts.size > 0) multi.sadd(key, ...counts.keys());
    return multi
      .sadd(this.keys.nodes, this.nodeId)
      .publish(this.keys.filtersChannel, `=${this.nodeId}\n`)
      .publish(this.keys.membership, `join ${this.nodeId}`)
      .exec();
  }

  /** The shared retained hash is the truth; a fresh cluster (empty hash) is seeded with this node's retained set. */
  private async loadRetained(): Promise<void> {
    const shared = await this.cmd.hgetallBuffer(this.keys.retained);
    const broker = this.broker;
    const topics = Object.keys(shared);
    if (topics.length === 0) {
      const seed: (string | Buffer)[] = [];
      broker.retained.forEachMatch('#', (topic, message) => {
        if (!isNodeLocal(topic)) seed.push(topic, encodeFrame(this.nodeId, message));
      });
      if (seed.length > 0) await this.cmd.hset(this.keys.retained, ...seed);
      return;
    }
    const now = Date.now();
    const keep = new Set<string>();
    for (const topic of topics) {
      try {
        const { message } = decodeFrame(shared[topic]!);
        if (isExpired(message, now)) continue;
        keep.add(topic);
        storeRetained(broker, message);
      } catch {
        this.stats.badFrames++;
      }
    }
    const stale: string[] = [];
    broker.retained.forEachMatch('#', (topic) => {
      if (!keep.has(topic) && !isNodeLocal(topic)) stale.push(topic);
    });
    for (const topic of stale) storeRetained(broker, this.removal(topic));
  }

  private removal(topic: string): Message {
    return {
      topic,
      payload: Buffer.alloc(0),
      qos: 0,
      retain: true,
      properties: undefined,
      publisherId: undefined,
      expiresAt: undefined,
    };
  }

  /** Heartbeat: refresh the alive key, then list members, expire the dead ones, pick up new ones. */
  async tick(): Promise<void> {
    if (this.ticking || this.stopped) return;
    this.ticking = true;
    try {
      const cmd = this.cmd;
      await cmd.set(this.aliveKey(this.nodeId), this.token, 'PX', this.ttlMs);
      const ids = await cmd.smembers(this.keys.nodes);
      if (!ids.includes(this.nodeId)) {
        // Redis lost our registration (restarted without persistence): register and announce again.
        await this.announceAll();
      }
      const others = ids.filter((id) => id !== this.nodeId);
      const alive = others.length > 0 ? await cmd.mget(others.map((id) => this.aliveKey(id))) : [];
      const loads: Promise<void>[] = [];
      for (let i = 0; i < others.length; i++) {
        const id = others[i]!;
        if (alive[i] === null) {
          this.removePeer(id, 'expired');
          // Any node may clean up after a dead one; doing it twice is harmless.
          await cmd.multi().srem(this.keys.nodes, id).del(this.filtersKey(id)).exec();
        } else if (!this.peers.has(id)) {
          loads.push(this.addPeer(id));
        }
      }
      for (const id of [...this.peers]) if (!others.includes(id)) this.removePeer(id, 'expired');
      await Promise.all(loads);
      if (this.degraded) {
        this.degraded = false;
        this.logger?.info('Redis reachable again: cluster routing resumed');
        await this.announceAll();
        for (const id of this.peers) await this.loadFilters(id, true);
      }
    } catch (error) {
      this.redisFailed(error as Error);
    } finally {
      this.ticking = false;
    }
  }

  private redisFailed(error: Error): void {
    this.stats.redisErrors++;
    if (this.degraded || this.stopped) return;
    this.degraded = true;
    this.logger?.warn(
      { err: error },
      'Redis unreachable: serving local traffic only, messages to other nodes are lost until it returns',
    );
  }

  private async addPeer(id: string): Promise<void> {
    if (id === this.nodeId || this.peers.has(id) || this.stopped) return;
    this.peers.add(id);
    this.logger?.info({ node: id, members: this.members() }, `cluster node ${id} joined`);
    await this.loadFilters(id, false);
  }

  /** Adds the node's stored filter set to what is known (a union: an extra filter costs a useless forward only). */
  private async loadFilters(id: string, reset: boolean): Promise<void> {
    const filters = await this.cmd.smembers(this.filtersKey(id));
    if (!this.peers.has(id)) return;
    if (reset) this.remote.unsubscribeAll(id);
    for (const filter of filters) this.remote.subscribe(id, filter, REMOTE);
  }

  private removePeer(id: string, why: 'expired' | 'left'): void {
    if (!this.peers.delete(id)) return;
    this.remote.unsubscribeAll(id);
    this.logger?.info({ node: id, members: this.members() }, `cluster node ${id} ${why}`);
  }

  private onChannelMessage(channel: string, data: Buffer): void {
    if (this.stopped) return;
    if (this.buffered !== undefined) this.buffered.push([channel, data]);
    else this.handle(channel, data);
  }

  private handle(channel: string, data: Buffer): void {
    const k = this.keys;
    if (channel === k.inbox || channel === k.all) {
      let frame: ReturnType<typeof decodeFrame>;
      try {
        frame = decodeFrame(data);
      } catch {
        this.stats.badFrames++;
        return;
      }
      if (frame.origin === this.nodeId) return; // our own broadcast
      this.stats.receivedMessages++;
      // Routed here only, never forwarded again (not broker.publish, which would call onLocalPublish).
      routeMessage(this.broker, frame.message);
    } else if (channel === k.filtersChannel) {
      const text = data.toString();
      const newline = text.indexOf('\n');
      const op = text[0];
      const id = text.slice(1, newline);
      if (newline < 0 || id === this.nodeId) return;
      const filter = text.slice(newline + 1);
      this.stats.filterUpdatesReceived++;
      if (op === '+') {
        if (!this.peers.has(id)) void this.addPeer(id).catch((error: Error) => this.redisFailed(error));
        this.remote.subscribe(id, filter, REMOTE);
      } else if (op === '-') {
        this.remote.unsubscribe(id, filter);
      } else if (op === '=') {
        this.remote.unsubscribeAll(id);
        if (this.peers.has(id)) void this.loadFilters(id, false).catch((error: Error) => this.redisFailed(error));
        else void this.addPeer(id).catch((error: Error) => this.redisFailed(error));
      }
    } else if (channel === k.membership) {
      const [what, id] = data.toString().split(' ');
      if (id === undefined || id === this.nodeId) return;
      if (what === 'join') void this.addPeer(id).catch((error: Error) => this.redisFailed(error));
      else if (what === 'leave') this.removePeer(id, 'left');
    }
  }

  // SubscriptionChangeObserver: this node's filters, announced on the first subscription and the last removal.
  subscriptionAdded(filter: string): void {
    const f = routedFilter(filter);
    const n = (this.localFilters.get(f) ?? 0) + 1;
    this.localFilters.set(f, n);
    if (n === 1) this.announce('+', f);
  }

  subscriptionRemoved(filter: string): void {
    const f = routedFilter(filter);
    const n = (this.localFilters.get(f) ?? 0) - 1;
    if (n > 0) {
      this.localFilters.set(f, n);
      return;
    }
    this.localFilters.delete(f);
    this.announce('-', f);
  }

  private announce(op: '+' | '-', filter: string): void {
    if (this.stopped) return;
    this.stats.filterUpdatesSent++;
    const key = this.filtersKey(this.nodeId);
    const multi = this.cmd.multi();
    if (op === '+') multi.sadd(key, filter);
    else multi.srem(key, filter);
    multi
      .publish(this.keys.filtersChannel, `${op}${this.nodeId}\n${filter}`)
      .exec()
      .catch((error: Error) => this.redisFailed(error));
  }

  // ClusterHook
  onLocalPublish(message: Message): number {
    if (this.stopped || isNodeLocal(message.topic)) return 0;
    const deliveries = this.remote.match(message.topic);
    if (message.retain) {
      // Every node keeps the whole retained set: written to the shared hash and broadcast to all nodes.
      const frame = encodeFrame(this.nodeId, message);
      const multi = this.cmd.multi();
      if (message.payload.length === 0) multi.hdel(this.keys.retained, message.topic);
      else multi.hset(this.keys.retained, message.topic, frame);
      multi
        .publish(this.keys.all, frame)
        .exec()
        .catch((error: Error) => this.redisFailed(error));
      this.stats.retainedBroadcasts++;
      this.stats.forwardedFrames++;
      if (deliveries.length > 0) this.stats.forwardedMessages++;
      return deliveries.length;
    }
    if (deliveries.length === 0) return 0;
    const frame = encodeFrame(this.nodeId, message);
    for (let i = 0; i < deliveries.length; i++) {
      this.cmd.publish(this.inboxOf(deliveries[i]!.clientId), frame).catch((error: Error) => this.redisFailed(error));
    }
    this.stats.forwardedMessages++;
    this.stats.forwardedFrames += deliveries.length;
    return deliveries.length;
  }

  /** Leaves the cluster: the other nodes drop this one at once (not after the ttl). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.detach();
    try {
      await this.cmd
        .multi()
        .del(this.aliveKey(this.nodeId))
        .srem(this.keys.nodes, this.nodeId)
        .del(this.filtersKey(this.nodeId))
        .publish(this.keys.membership, `leave ${this.nodeId}`)
        .exec();
    } catch {
      // Redis unreachable: the others expire this node after the ttl.
    }
    this.logger?.info(`left cluster '${this.prefix}'`);
    this.sub.disconnect();
    await this.cmd.quit().catch(() => this.cmd.disconnect());
  }

  /** Drops the Redis connections without leaving, as a crashed node would (for fault tests). */
  crash(): void {
    if (this.stopped) return;
    this.detach();
    this.sub.disconnect();
    this.cmd.disconnect();
  }

  private detach(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    if (this.broker.trie.observer === this) this.broker.trie.observer = undefined;
    if (this.broker.cluster === this) this.broker.cluster = undefined;
  }
}

/**
 * Joins `broker` to a cluster: waits for the broker's restore, connects to Redis, registers, loads the shared state,
 * then installs the hooks. Call before listen(). broker.close() leaves the cluster.
 */
export async function startCluster(
  broker: BrokerCore & { ready?: Promise<void> },
  options: ClusterOptions,
): Promise<Cluster> {
  await broker.ready;
  const cluster = new Cluster(broker, options);
  try {
    await cluster.start();
  } catch (error) {
    cluster.crash();
    throw error;
  }
  broker.cluster = cluster;
  return cluster;
}
