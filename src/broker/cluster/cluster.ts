/**
 * Cluster (issue 8): several Midge nodes share one Redis and act as one broker. See docs/cluster.md.
 *
 * - Membership: each node keeps `P alive:<id>` (PX ttl, refreshed every heartbeat) and is listed in the set
 *   `P nodes`; every heartbeat a node lists the members, expires those whose alive key is gone (one node, under a
 *   lock, adopts a dead node's sessions: adoption.ts), and logs changes.
 * - Routing: each node keeps the filters its clients subscribe to in `P filters:<id>` and announces every change on
 *   the channel `P filters`; every node mirrors the other nodes' filters in one SubscriptionTrie whose "clients" are
 *   node ids (a share group's members are the nodes with members, this node included, so the trie picks the one node
 *   that delivers a message to the group). A message published on a node goes, as an entry of the receiving node's
 *   stream `P stream:<id>`, to each node with a matching filter only (streams.ts: at least once, PUBACK after XADD);
 *   the receiving node routes it locally and never forwards it again.
 * - Retained: a retained publish (or removal) is written to the hash `P retained` and sent to every node's stream
 *   (to store only, where nothing matches), so every node keeps the same full retained set; a joining node loads
 *   the hash.
 * - Sessions: the hash `P owners` says which node has each client's session; a client connecting elsewhere takes it
 *   over from that node (sessions.ts).
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Will } from '../../codec/index.js';
import type { BrokerCore } from '../core.js';
import { isExpired, type Message, type Outgoing } from '../message.js';
import { routeMessage, storeRetained } from '../publish.js';
import {
  parseSharedFilter,
  type SubscriptionChangeObserver,
  type SubscriptionOptions,
  SubscriptionTrie,
} from '../routing/index.js';
import { NodeAdoption } from './adoption.js';
import { decodeFrame, encodeFrame } from './codec.js';
import type { ClusterHook } from './hook.js';
import { ClusterKeys } from './keys.js';
import { SessionMoves } from './moves.js';
import { ClusterSessions, describeStore } from './sessions.js';
import { type StreamEntry, StreamReader, StreamSender } from './streams.js';

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
  /** Most entries kept in a node's stream (approximately; default 1,000,000): a node away longer loses the oldest. */
  streamMaxLen?: number;
  /** Most messages kept in memory for other nodes while Redis is unreachable (default 100,000; then dropped). */
  outboxLimit?: number;
  /** Default: the broker's logger. */
  logger?: Logger;
}

export interface ClusterStats {
  /** Local messages sent to at least one other node. */
  forwardedMessages: number;
  /** Stream entries sent to other nodes (a message sent to two nodes counts 2; a retained message counts every node). */
  forwardedFrames: number;
  /** Stream entries received from other nodes and routed (or, retained, stored) here. */
  receivedMessages: number;
  /** Retained messages (and removals) written to the shared hash. */
  retainedBroadcasts: number;
  /** Filter additions/removals this node announced. */
  filterUpdatesSent: number;
  /** Filter additions/removals/resets received from other nodes. */
  filterUpdatesReceived: number;
  /** Frames that could not be decoded. */
  badFrames: number;
  /** Redis commands that failed. */
  redisErrors: number;
  /** Messages waiting in memory for Redis (unreachable). */
  outbox: number;
  /** Messages for other nodes dropped because the outbox was full. */
  outboxDropped: number;
  /** Sessions taken over from another node (the client connected here). */
  sessionsTakenOver: number;
  /** Sessions handed to another node. */
  sessionsHandedOver: number;
  /** Sessions adopted from dead nodes. */
  sessionsAdopted: number;
  /** Dead nodes whose sessions this node adopted. */
  nodesAdopted: number;
}

export const DEFAULT_CLUSTER_PREFIX = 'midge:cluster:';
const NODE_ID = /^[A-Za-z0-9._-]{1,128}$/;
/** What a remote node's filter stands for in the remote trie: the QoS is the message's own, applied by the receiver. */
const REMOTE: SubscriptionOptions = { qos: 2, noLocal: false, retainAsPublished: false, retainHandling: 0 };
const NO_GROUP = (): boolean => false;

export function defaultNodeId(): string {
  const host =
    hostname()
      .replace(/[^A-Za-z0-9._-]/g, '_')
      .slice(0, 64) || 'node';
  return `${host}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** $SYS topics describe one node: never forwarded, never in the shared retained set. */
function isNodeLocal(topic: string): boolean {
  return topic.startsWith('$SYS');
}

export class Cluster implements ClusterHook, SubscriptionChangeObserver {
  readonly nodeId: string;
  readonly prefix: string;
  readonly keys: ClusterKeys;
  readonly url: string;
  readonly heartbeatMs: number;
  readonly ttlMs: number;
  readonly stats: ClusterStats = {
    forwardedMessages: 0,
    forwardedFrames: 0,
    receivedMessages: 0,
    retainedBroadcasts: 0,
    filterUpdatesSent: 0,
    filterUpdatesReceived: 0,
    badFrames: 0,
    redisErrors: 0,
    outbox: 0,
    outboxDropped: 0,
    sessionsTakenOver: 0,
    sessionsHandedOver: 0,
    sessionsAdopted: 0,
    nodesAdopted: 0,
  };
  /** Live other nodes. */
  readonly peers = new Set<string>();
  /** Filters of the other nodes, with node ids as the clients; this node too for its shared subscriptions. */
  readonly remote = new SubscriptionTrie();
  /** This node's filters (a shared subscription by its whole `$share/g/f`) → number of local subscriptions. */
  readonly localFilters = new Map<string, number>();
  /** true while Redis is unreachable (logged once when it starts and when it ends). */
  degraded = false;
  readonly broker: BrokerCore;
  readonly logger: Logger | undefined;
  /** Commands (auto-pipelined: the commands of one tick go in one write). */
  readonly cmd: Redis;
  readonly sessions: ClusterSessions;
  readonly adoption: NodeAdoption;
  readonly moves: SessionMoves;

  private readonly token = randomBytes(8).toString('hex');
  /** Pub/sub: filters, membership, this node's control channel. */
  private readonly sub: Redis;
  /** Blocking reads of this node's stream. */
  private readonly reader: Redis;
  private readonly sender: StreamSender;
  private readonly streamReader: StreamReader;
  /** Distinct shared filters of this node's clients (while 0, local routing needs no share group filter). */
  private localShared = 0;
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  /**
   * Since when Redis has answered without interruption. Nobody is expired before ttl + heartbeat after that: after an
   * outage (or this node's start) the other nodes' alive keys may have lapsed while they were alive.
   */
  private healthySince = Date.now();
  stopped = false;
  /** Pub/sub messages received while start() loads the state; undefined once running. */
  private buffered: [string, Buffer][] | undefined = [];

  constructor(broker: BrokerCore, options: ClusterOptions) {
    this.broker = broker;
    this.url = options.url;
    this.nodeId = options.nodeId ?? defaultNodeId();
    if (!NODE_ID.test(this.nodeId)) {
      throw new RangeError(`cluster node id '${this.nodeId}': use 1..128 letters, digits, '.', '_' or '-'`);
    }
    this.prefix = options.prefix ?? DEFAULT_CLUSTER_PREFIX;
    this.keys = new ClusterKeys(this.prefix);
    this.heartbeatMs = options.heartbeatMs ?? 1000;
    this.ttlMs = options.ttlMs ?? 3000;
    if (this.ttlMs <= this.heartbeatMs) throw new RangeError('cluster ttlMs must be larger than heartbeatMs');
    this.logger = (options.logger ?? broker.logger)?.child({ cluster: this.nodeId });
    // Commands fail at once while Redis is unreachable (no unbounded offline queue of ioredis): the stream sender
    // keeps what it could not send in its own bounded outbox; local traffic goes on.
    this.cmd = new Redis(this.url, {
      lazyConnect: true,
      connectTimeout: 5000,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      maxRetriesPerRequest: 1,
    });
    this.sub = new Redis(this.url, { lazyConnect: true, connectTimeout: 5000 });
    this.reader = new Redis(this.url, {
      lazyConnect: true,
      connectTimeout: 5000,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
    });
    const failed = (error: Error) => this.redisFailed(error);
    this.cmd.on('error', failed);
    this.sub.on('error', failed);
    this.reader.on('error', failed);
    this.sub.on('messageBuffer', (channel: Buffer, data: Buffer) => this.onChannelMessage(channel.toString(), data));
    this.sender = new StreamSender(this.cmd, options.streamMaxLen ?? 1_000_000, options.outboxLimit ?? 100_000, failed);
    this.streamReader = new StreamReader(
      this.reader,
      this.keys.stream(this.nodeId),
      (entry) => this.receive(entry),
      () => broker.storeWriter?.barrier() ?? Promise.resolve(),
      failed,
      broker.options.store?.durable === true,
    );
    this.sessions = new ClusterSessions(this);
    this.adoption = new NodeAdoption(this);
    this.moves = new SessionMoves(
      broker,
      this.nodeId,
      this.ttlMs + 2 * this.heartbeatMs,
      () => this.streamReader.caughtUpAt,
    );
  }

  /** True once Redis has answered for ttl + heartbeat without interruption: then a lapsed alive key means dead. */
  get settled(): boolean {
    return !this.degraded && Date.now() - this.healthySince >= this.ttlMs + this.heartbeatMs;
  }

  /** This node and the live other nodes. */
  members(): string[] {
    return [this.nodeId, ...this.peers].sort();
  }

  async start(): Promise<void> {
    await Promise.all([this.cmd.connect(), this.sub.connect(), this.reader.connect()]);
    const k = this.keys;
    await this.sub.subscribe(k.filtersChannel, k.membership, k.control(this.nodeId));
    await this.claimNodeId();
    await this.cmd.hset(k.info, this.nodeId, describeStore(this.broker, this.url));
    await this.sessions.reconcile();
    await this.announceAll();
    await this.loadRetained();
    await this.tick();
    const buffered = this.buffered ?? [];
    this.buffered = undefined;
    for (const [channel, data] of buffered) this.handle(channel, data);
    this.streamReader.start();
    this.timer = setInterval(() => void this.tick(), this.heartbeatMs);
    this.timer.unref();
    this.logger?.info({ members: this.members() }, `joined cluster '${this.prefix}' as ${this.nodeId}`);
  }

  /** SET NX of the alive key; a node id still alive (e.g. a node killed less than ttl ago) is waited for up to ttl. */
  private async claimNodeId(): Promise<void> {
    const deadline = Date.now() + this.ttlMs + this.heartbeatMs;
    for (;;) {
      const ok = await this.cmd.set(this.keys.alive(this.nodeId), this.token, 'PX', this.ttlMs, 'NX');
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
    for (const filter of counts.keys()) if (parseSharedFilter(filter)) this.remote.unsubscribe(this.nodeId, filter);
    counts.clear();
    this.localShared = 0;
    const trie = this.broker.trie;
    for (const clientId of this.broker.sessions.keys()) {
      const subscriptions = trie.subscriptionsOf(clientId);
      if (subscriptions === undefined) continue;
      for (const filter of subscriptions.keys()) this.countFilter(filter);
    }
    trie.observer = this;
    const key = this.keys.filters(this.nodeId);
    const multi = this.cmd.multi().del(key);
    if (counts.size > 0) multi.sadd(key, ...counts.keys());
    return multi
      .sadd(this.keys.nodes, this.nodeId)
      .publish(this.keys.filtersChannel, `=${this.nodeId}\n`)
      .publish(this.keys.membership, `join ${this.nodeId}`)
      .exec();
  }

  /** Counts one more local subscription with `filter`; true if it is the first. */
  private countFilter(filter: string): boolean {
    const n = (this.localFilters.get(filter) ?? 0) + 1;
    this.localFilters.set(filter, n);
    if (n > 1) return false;
    if (parseSharedFilter(filter)) {
      // This node is a member of the group too: the remote trie chooses among all nodes with members.
      this.remote.subscribe(this.nodeId, filter, REMOTE);
      this.localShared++;
    }
    return true;
  }

  /** The shared retained hash is the truth; a fresh cluster (empty hash) is seeded with this node's retained set. */
  private async loadRetained(): Promise<void> {
    const shared = await this.cmd.hgetallBuffer(this.keys.retained);
    const broker = this.broker;
    const topics = Object.keys(shared);
    if (topics.length === 0) {
      const seed: (string | Buffer)[] = [];
      broker.retained.forEachMatch('#', (topic, message) => {
        if (!isNodeLocal(topic)) seed.push(topic, encodeFrame(this.nodeId, 0, message));
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
      const k = this.keys;
      await cmd.set(k.alive(this.nodeId), this.token, 'PX', this.ttlMs);
      const ids = await cmd.smembers(k.nodes);
      if (!ids.includes(this.nodeId)) {
        // Redis lost our registration (restarted without persistence), or we were taken for dead (a pause longer
        // than the ttl) and our sessions adopted: drop those that moved, register and announce again.
        if ((await cmd.exists(k.adopted(this.nodeId))) === 1) {
          this.logger?.error('this node was taken for dead and its sessions adopted by another node');
          await this.sessions.reconcile();
          await cmd.del(k.adopted(this.nodeId));
        }
        await cmd.hset(k.info, this.nodeId, describeStore(this.broker, this.url));
        await this.announceAll();
      }
      const others = ids.filter((id) => id !== this.nodeId);
      const alive = others.length > 0 ? await cmd.mget(others.map((id) => k.alive(id))) : [];
      const loads: Promise<void>[] = [];
      for (let i = 0; i < others.length; i++) {
        const id = others[i]!;
        if (alive[i] === null) {
          // Dead (its alive key lapsed). It stays routed to (its stream keeps what it is sent) until one node, under
          // a lock, has adopted its sessions and removes it (adoption.ts), so nothing is sent nowhere meanwhile.
          void this.adoption.expireNode(id);
        } else if (!this.peers.has(id)) {
          loads.push(this.addPeer(id));
        }
      }
      for (const id of [...this.peers]) if (!others.includes(id)) this.removePeer(id, 'expired');
      await Promise.all(loads);
      if (this.degraded) {
        this.degraded = false;
        this.healthySince = Date.now();
        this.logger?.info('Redis reachable again: cluster routing resumed');
        await this.announceAll();
        for (const id of this.peers) await this.loadFilters(id, true);
      }
      await this.sender.drain();
    } catch (error) {
      this.redisFailed(error as Error);
    } finally {
      this.stats.outbox = this.sender.stats.outbox;
      this.stats.outboxDropped = this.sender.stats.outboxDropped;
      this.ticking = false;
    }
  }

  redisFailed(error: Error): void {
    this.stats.redisErrors++;
    if (this.degraded || this.stopped) return;
    this.degraded = true;
    this.logger?.warn(
      { err: error },
      'Redis unreachable: serving local traffic only; messages for other nodes wait in memory until it returns',
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
    const filters = await this.cmd.smembers(this.keys.filters(id));
    if (!this.peers.has(id)) return;
    if (reset) this.remote.unsubscribeAll(id);
    for (const filter of filters) this.remote.subscribe(id, filter, REMOTE);
  }

  removePeer(id: string, why: 'expired' | 'left'): void {
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
    if (channel === k.filtersChannel) {
      const text = data.toString();
      const newline = text.indexOf('\n');
      const op = text[0];
      const id = text.slice(1, newline);
      if (newline < 0 || id === this.nodeId) return;
      const filter = text.slice(newline + 1);
      this.stats.filterUpdatesReceived++;
      const failed = (error: Error) => this.redisFailed(error);
      if (op === '+') {
        if (!this.peers.has(id)) void this.addPeer(id).catch(failed);
        this.remote.subscribe(id, filter, REMOTE);
      } else if (op === '-') {
        this.remote.unsubscribe(id, filter);
      } else if (op === '=') {
        this.remote.unsubscribeAll(id);
        if (this.peers.has(id)) void this.loadFilters(id, false).catch(failed);
        else void this.addPeer(id).catch(failed);
      }
    } else if (channel === k.membership) {
      const [what, id] = data.toString().split(' ');
      if (id === undefined || id === this.nodeId) return;
      if (what === 'join') void this.addPeer(id).catch((error: Error) => this.redisFailed(error));
      else if (what === 'leave' || what === 'expired') this.removePeer(id, what === 'leave' ? 'left' : 'expired');
    } else if (channel === k.control(this.nodeId)) {
      this.sessions.onControl(data.toString());
    }
  }

  /** One entry of this node's stream: a message from another node, routed here only (never forwarded again). */
  private receive(entry: StreamEntry): void {
    let frame: ReturnType<typeof decodeFrame>;
    try {
      frame = decodeFrame(entry.body);
    } catch {
      this.stats.badFrames++;
      return;
    }
    this.stats.receivedMessages++;
    const broker = this.broker;
    const message = frame.message;
    const moves = this.moves;
    const direct = entry.direct;
    if (direct !== undefined) {
      const { clientId, qos, retain, subscriptionIdentifiers } = direct;
      moves.deliverDirect(clientId, { message, qos, retain, subscriptionIdentifiers }, `${frame.origin}#${frame.seq}`);
      return;
    }
    if (entry.storeOnly) {
      if (message.retain) storeRetained(broker, message);
      return;
    }
    if (moves.active) moves.remember(message, frame.origin, frame.seq);
    // Only the share groups the sender chose this node for are served here.
    const groups = entry.groups;
    broker.trie.shareFilter = groups === undefined ? NO_GROUP : (key) => groups.includes(key);
    try {
      routeMessage(broker, message);
    } finally {
      broker.trie.shareFilter = undefined;
    }
  }

  /** A ForwardingSession's message (its session moved to node `to`): sent to `to` for that client only. */
  forward(to: string, clientId: string, outgoing: Outgoing): void {
    const { message } = outgoing;
    const id = this.moves.ensureId(message);
    const body = encodeFrame(id.origin, id.seq, message);
    const { qos, retain, subscriptionIdentifiers } = outgoing;
    this.sender.send(this.keys.stream(to), {
      body,
      groups: undefined,
      storeOnly: false,
      direct: { clientId, qos, retain, subscriptionIdentifiers },
    });
    this.stats.forwardedFrames++;
  }

  // SubscriptionChangeObserver: this node's filters, announced on the first subscription and the last removal.
  subscriptionAdded(filter: string): void {
    if (this.countFilter(filter)) this.announce('+', filter);
  }

  subscriptionRemoved(filter: string): void {
    const n = (this.localFilters.get(filter) ?? 0) - 1;
    if (n > 0) {
      this.localFilters.set(filter, n);
      return;
    }
    this.localFilters.delete(filter);
    if (parseSharedFilter(filter)) {
      this.remote.unsubscribe(this.nodeId, filter);
      this.localShared--;
    }
    this.announce('-', filter);
  }

  private announce(op: '+' | '-', filter: string): void {
    if (this.stopped) return;
    this.stats.filterUpdatesSent++;
    const key = this.keys.filters(this.nodeId);
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
    // The message's id: its sequence number here (kept by message only while sessions move: moves.ts).
    const seq = this.moves.active ? this.moves.ensureId(message).seq : this.moves.nextSeq();
    const deliveries = this.remote.match(message.topic);
    /** Node → the share groups it serves for this message (null: none, only its plain subscriptions). */
    let targets: Map<string, string[] | null> | undefined;
    let mine: string[] | undefined;
    for (let i = 0; i < deliveries.length; i++) {
      const delivery = deliveries[i]!;
      const group = delivery.shareFilter;
      if (delivery.clientId === this.nodeId) {
        if (group === undefined) continue;
        if (mine === undefined) mine = [group];
        else mine.push(group);
        continue;
      }
      targets ??= new Map();
      const groups = targets.get(delivery.clientId);
      if (group === undefined) {
        if (groups === undefined) targets.set(delivery.clientId, null);
      } else if (groups) groups.push(group);
      else targets.set(delivery.clientId, [group]);
    }
    if (this.localShared > 0) {
      const groups = mine;
      this.broker.trie.shareFilter = groups === undefined ? NO_GROUP : (key) => groups.includes(key);
    }
    const k = this.keys;
    if (message.retain) {
      // Every node keeps the whole retained set: written to the shared hash, and to every node's stream.
      const body = encodeFrame(this.nodeId, seq, message);
      if (message.payload.length === 0) this.cmd.hdel(k.retained, message.topic).catch(() => {});
      else this.cmd.hset(k.retained, message.topic, body).catch(() => {});
      for (const id of this.peers) {
        const groups = targets?.get(id);
        this.sender.send(k.stream(id), {
          body,
          groups: groups ?? undefined,
          storeOnly: groups === undefined,
        });
        this.stats.forwardedFrames++;
      }
      this.stats.retainedBroadcasts++;
      if (targets !== undefined) this.stats.forwardedMessages++;
      return targets?.size ?? 0;
    }
    if (targets === undefined) return 0;
    const body = encodeFrame(this.nodeId, seq, message);
    for (const [id, groups] of targets) {
      this.sender.send(k.stream(id), { body, groups: groups ?? undefined, storeOnly: false });
    }
    this.stats.forwardedMessages++;
    this.stats.forwardedFrames += targets.size;
    return targets.size;
  }

  barrier(): Promise<void> | undefined {
    return this.sender.barrier();
  }

  claimSession(clientId: string, clean: boolean): Promise<void> {
    return this.sessions.claim(clientId, clean);
  }

  clientConnected(clientId: string, will: Will | undefined): void {
    this.sessions.clientConnected(clientId, will);
  }

  clientDisconnected(clientId: string): void {
    this.sessions.clientDisconnected(clientId);
  }

  sessionEnded(clientId: string): void {
    this.sessions.sessionEnded(clientId);
  }

  /** Leaves the cluster: the other nodes drop this one at once (not after the ttl). Its sessions stay its own. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.detach();
    try {
      await this.sender.drain();
      await this.cmd
        .multi()
        .del(this.keys.alive(this.nodeId))
        .srem(this.keys.nodes, this.nodeId)
        .del(this.keys.filters(this.nodeId))
        .publish(this.keys.membership, `leave ${this.nodeId}`)
        .exec();
    } catch {
      // Redis unreachable: the others expire this node after the ttl.
    }
    this.logger?.info(`left cluster '${this.prefix}'`);
    this.sub.disconnect();
    this.reader.disconnect();
    await this.cmd.quit().catch(() => this.cmd.disconnect());
  }

  /** Drops the Redis connections without leaving, as a crashed node would (for fault tests). */
  crash(): void {
    if (this.stopped) return;
    this.detach();
    this.sub.disconnect();
    this.reader.disconnect();
    this.cmd.disconnect();
  }

  private detach(): void {
    this.stopped = true;
    this.moves.stop();
    void this.streamReader.stop();
    this.sessions.stop();
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
