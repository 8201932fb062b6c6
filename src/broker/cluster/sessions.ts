/**
 * Cluster-wide sessions (docs/cluster.md, "Sessions"):
 *
 * - Ownership: the hash `P owners` maps a client id to the node that has its session. A client connecting to a node
 *   makes that node the owner ({@link ClusterSessions.claim}); if another live node has the session, it is asked on
 *   its control channel `P ctl:<id>` to take the session back: it disconnects the old connection (MQTT 5: DISCONNECT
 *   0x8E Session taken over), and, when the client resumes the session (no Clean Start), writes the session's record
 *   (subscriptions, queued and in-flight messages, incoming QoS 2 ids: ../handoff.ts) to `P handoff:<request>` and
 *   forgets it; the new node installs and persists it, then answers CONNACK with Session Present = 1.
 * - Wills: the will of every connected client is kept in `P wills:<node>` while it is connected, so that it is
 *   published (once: by the node that adopts the dead node, under a lock) if its node dies.
 * - A dead node (alive key expired): one node takes the lock `P adopt:<id>` and, if the dead node kept its state in a
 *   Redis store on the cluster's Redis (`P info` says `redis <prefix>`), adopts its sessions from that store (as
 *   offline sessions, whose clients then take them over from the adopter wherever they reconnect), delivers to them
 *   what was still in the dead node's stream, publishes its clients' wills, and deletes its keys. A node whose state
 *   is in memory leaves nothing to adopt; one with a local SQLite file keeps its stream for when it comes back.
 */
import { randomBytes } from 'node:crypto';
import { ReasonCode, type Will } from '../../codec/index.js';
import type { BrokerCore } from '../core.js';
import { installSession, persistSession, receiveSession, snapshotSession, toMessage } from '../handoff.js';
import { createMessage } from '../message.js';
import { toOutgoing } from '../publish.js';
import { SubscriptionTrie } from '../routing/index.js';
import { SESSION_NEVER_EXPIRES } from '../session/session.js';
import { RedisStore } from '../store/redis.js';
import type { RestoredSession } from '../store/store.js';
import type { Cluster } from './cluster.js';
import { decodeFrame, decodeHandoff, encodeFrame, encodeHandoff } from './codec.js';
import { ForwardingSession } from './moves.js';
import { nextStreamId, parseEntry, type StreamEntry } from './streams.js';

/** HGET the owner; take the session if it has none (or is this node already). Returns the other owner, or null. */
const CLAIM = `
local o = redis.call('HGET', KEYS[1], ARGV[1])
if (not o) or o == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  return false
end
return o`;

/** Sets the owner to ARGV[3] if it is ARGV[2] (or none). */
const SWAP = `
local o = redis.call('HGET', KEYS[1], ARGV[1])
if (not o) or o == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  return 1
end
return 0`;

/** Deletes the owner if it is ARGV[2]. */
const RELEASE = `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0`;

const TIMEOUT = Symbol('timeout');
/** How long a node waits for the owner of a session to hand it over. */
const TAKEOVER_TIMEOUT_MS = 3000;
/** How long a handoff record stays in Redis for its new node to fetch. */
const HANDOFF_TTL_MS = 60_000;
/** How long the adoption lock of a dead node lasts (another node may try again after it). */
const ADOPT_LOCK_MS = 120_000;

/** What `P info` says of a node's store: whether another node can adopt its sessions. */
export function describeStore(broker: BrokerCore, clusterUrl: string): string {
  const store = broker.options.store;
  if (store === undefined || !store.durable) return 'memory';
  if (store instanceof RedisStore && store.url === clusterUrl) return `redis ${store.prefix}`;
  return 'local';
}

interface Pending {
  resolve: (result: RestoredSession | undefined | typeof TIMEOUT) => void;
  timer: NodeJS.Timeout;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class ClusterSessions {
  private readonly pending = new Map<string, Pending>();
  /** Clients connected here with a will (in `P wills:<this node>`). */
  private readonly wills = new Set<string>();
  /** Dead nodes this node is expiring now. */
  private readonly expiring = new Set<string>();
  private readonly broker: BrokerCore;

  constructor(private readonly cluster: Cluster) {
    this.broker = cluster.broker;
  }

  private get me(): string {
    return this.cluster.nodeId;
  }

  private failed = (error: Error): void => this.cluster.redisFailed(error);

  /** At start: this node's sessions (restored from its store) are its own, unless they moved while it was away. */
  async reconcile(): Promise<void> {
    const { cmd, keys } = this.cluster;
    const ids = [...this.broker.sessions.keys()];
    for (let i = 0; i < ids.length; i += 1000) {
      const chunk = ids.slice(i, i + 1000);
      const pipeline = cmd.pipeline();
      for (const id of chunk) pipeline.eval(CLAIM, 1, keys.owners, id, this.me);
      const results = (await pipeline.exec()) ?? [];
      for (let j = 0; j < chunk.length; j++) {
        const [error, owner] = results[j] ?? [];
        if (error || owner === null || owner === undefined) continue;
        const session = this.broker.sessions.get(chunk[j]!);
        if (session === undefined) continue;
        this.cluster.logger?.info(
          { clientId: chunk[j], owner },
          'session moved to another node meanwhile: dropped here',
        );
        this.broker.wills.cancel(session.clientId);
        this.broker.releaseSession(session);
      }
    }
  }

  /** See ClusterHook.claimSession. Never rejects: with Redis unreachable the session is local. */
  async claim(clientId: string, clean: boolean): Promise<void> {
    const cluster = this.cluster;
    if (cluster.stopped || cluster.degraded) return;
    const { cmd, keys } = cluster;
    const deadline = Date.now() + cluster.ttlMs + cluster.heartbeatMs + 5000;
    try {
      for (;;) {
        const owner = (await cmd.eval(CLAIM, 1, keys.owners, clientId, this.me)) as string | null;
        if (owner === null) {
          // A forwarding session left by a move away from here is no session of this client's.
          const local = this.broker.sessions.get(clientId);
          if (local instanceof ForwardingSession) this.broker.releaseSession(local);
          return;
        }
        if (cluster.peers.has(owner) && (await cmd.exists(keys.alive(owner))) === 1) {
          if (!clean) cluster.moves.expectInbound(clientId);
          const result = await this.requestTakeover(owner, clientId, clean);
          if (result !== TIMEOUT) {
            if (result !== undefined) {
              this.install(result);
              cluster.stats.sessionsTakenOver++;
            }
            return;
          }
        } else if ((await this.ownerGone(owner)) === 'free') {
          await cmd.eval(SWAP, 1, keys.owners, clientId, owner, this.me);
          continue;
        }
        if (Date.now() > deadline) {
          cluster.logger?.warn(
            { clientId, owner },
            `node ${owner} did not hand the session over: a new session starts`,
          );
          await cmd.eval(SWAP, 1, keys.owners, clientId, owner, this.me);
          continue;
        }
        await sleep(100);
      }
    } catch (error) {
      this.failed(error as Error);
    }
  }

  /** Installs a session handed over here, then what was forwarded for it before it was installed. */
  private install(record: RestoredSession): void {
    receiveSession(this.broker, record);
    this.cluster.moves.installed(record.clientId);
  }

  /** The owner is not a live peer: 'wait' (alive but not known yet, or its adoption is due) or 'free'. */
  private async ownerGone(owner: string): Promise<'wait' | 'free'> {
    const { cmd, keys } = this.cluster;
    const [alive, info, adopted] = await Promise.all([
      cmd.exists(keys.alive(owner)),
      cmd.hget(keys.info, owner),
      cmd.exists(keys.adopted(owner)),
    ]);
    if (alive === 1) return 'wait';
    if (adopted === 1 || !info?.startsWith('redis ')) return 'free';
    void this.expireNode(owner);
    return 'wait';
  }

  private requestTakeover(
    owner: string,
    clientId: string,
    clean: boolean,
  ): Promise<RestoredSession | undefined | typeof TIMEOUT> {
    const request = randomBytes(8).toString('hex');
    const answer = new Promise<RestoredSession | undefined | typeof TIMEOUT>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(request);
        resolve(TIMEOUT);
      }, TAKEOVER_TIMEOUT_MS);
      this.pending.set(request, { resolve, timer });
    });
    const { cmd, keys } = this.cluster;
    cmd.publish(keys.control(owner), `T ${request} ${this.me} ${clean ? 1 : 0} ${clientId}`).catch(this.failed);
    return answer;
  }

  /** A message on this node's control channel: `T request from clean clientId` or `G request clientId`. */
  onControl(text: string): void {
    const parts = text.split(' ');
    if (parts[0] === 'T' && parts.length >= 5) {
      const clientId = parts.slice(4).join(' ');
      this.handOver(parts[1]!, parts[2]!, parts[3] === '1', clientId);
    } else if (parts[0] === 'G' && parts.length >= 3) {
      void this.received(parts[1]!, parts.slice(2).join(' '));
    }
  }

  /** Another node takes the session of `clientId` over (its client connected there). */
  private handOver(request: string, to: string, clean: boolean, clientId: string): void {
    const broker = this.broker;
    const connection = broker.clients.get(clientId);
    const protocolVersion = connection?.protocolVersion ?? 5;
    // [MQTT-3.1.4-3] the existing connection is closed (5.0: DISCONNECT 0x8E first), as on a single node.
    connection?.disconnect(ReasonCode.SessionTakenOver, 'session taken over');
    const session = broker.sessions.get(clientId);
    let record: RestoredSession | undefined;
    if (session !== undefined) {
      if (clean) {
        broker.endSession(session);
      } else {
        record = snapshotSession(broker, session, protocolVersion);
        // Resumed elsewhere: a delayed will is not sent [MQTT-3.1.3-9].
        broker.wills.cancel(clientId);
        // What still reaches this node for the session goes on to its new node for a moment (moves.ts).
        broker.releaseSession(session, true);
        this.cluster.moves.forwardTo(clientId, to, (outgoing) => this.cluster.forward(to, clientId, outgoing));
        this.cluster.stats.sessionsHandedOver++;
      }
    }
    const { cmd, keys } = this.cluster;
    cmd
      .multi()
      .set(keys.handoff(request), record === undefined ? '' : encodeHandoff(record), 'PX', HANDOFF_TTL_MS)
      .hset(keys.owners, clientId, to)
      .publish(keys.control(to), `G ${request} ${clientId}`)
      .exec()
      .catch(this.failed);
    this.cluster.logger?.info({ clientId, to, resumed: record !== undefined }, `session handed over to node ${to}`);
  }

  /** The owner answered: fetch the handed-over session. A late answer (after the timeout) is installed offline. */
  private async received(request: string, clientId: string): Promise<void> {
    const { cmd, keys } = this.cluster;
    let record: RestoredSession | undefined;
    try {
      const [[, data]] = ((await cmd.multi().getBuffer(keys.handoff(request)).del(keys.handoff(request)).exec()) ?? [
        [null, null],
      ]) as [[Error | null, Buffer | null]];
      if (data !== null && data.length > 0) record = decodeHandoff(data);
    } catch (error) {
      this.failed(error as Error);
    }
    const pending = this.pending.get(request);
    if (pending !== undefined) {
      this.pending.delete(request);
      clearTimeout(pending.timer);
      pending.resolve(record);
      return;
    }
    const local = this.broker.sessions.get(clientId);
    if (record !== undefined && (local === undefined || local instanceof ForwardingSession)) this.install(record);
  }

  clientConnected(clientId: string, will: Will | undefined): void {
    const { cmd, keys } = this.cluster;
    if (will === undefined) {
      if (this.wills.delete(clientId)) cmd.hdel(keys.wills(this.me), clientId).catch(this.failed);
      return;
    }
    this.wills.add(clientId);
    // The Will Delay Interval stays in the properties; the adopter applies it.
    const message = createMessage(
      will.topic,
      will.payload,
      will.qos,
      will.retain,
      will.properties as never,
      clientId,
      Date.now(),
    );
    if (will.properties?.willDelayInterval !== undefined) {
      message.properties = { ...message.properties, willDelayInterval: will.properties.willDelayInterval };
    }
    cmd.hset(keys.wills(this.me), clientId, encodeFrame(this.me, 0, message)).catch(this.failed);
  }

  clientDisconnected(clientId: string): void {
    if (!this.wills.delete(clientId)) return;
    const { cmd, keys } = this.cluster;
    cmd.hdel(keys.wills(this.me), clientId).catch(this.failed);
  }

  sessionEnded(clientId: string): void {
    const { cmd, keys } = this.cluster;
    if (this.cluster.stopped) return;
    cmd.eval(RELEASE, 1, keys.owners, clientId, this.me).catch(this.failed);
  }

  /**
   * A node's alive key expired: one node (the lock's holder) adopts its sessions, publishes its clients' wills,
   * delivers what waited in its stream and removes it from the cluster.
   */
  async expireNode(id: string): Promise<void> {
    const cluster = this.cluster;
    // Just after an outage (or this node's start) a live node's alive key may have lapsed: not dead yet.
    if (this.expiring.has(id) || cluster.stopped || !cluster.settled) return;
    this.expiring.add(id);
    const { cmd, keys } = cluster;
    try {
      const locked = await cmd.set(keys.adoptLock(id), this.me, 'PX', ADOPT_LOCK_MS, 'NX');
      if (locked === null) return;
      if ((await cmd.exists(keys.alive(id))) === 1) {
        await cmd.del(keys.adoptLock(id));
        return;
      }
      const info = (await cmd.hget(keys.info, id)) ?? 'memory';
      const prefix = info.startsWith('redis ') ? info.slice('redis '.length) : undefined;
      const adopted = prefix === undefined ? [] : await this.adoptSessions(id, prefix);
      const wills = await this.publishWills(id);
      await cmd
        .multi()
        .srem(keys.nodes, id)
        .del(keys.filters(id))
        .hdel(keys.info, id)
        .set(keys.adopted(id), this.me, 'EX', 3600)
        .publish(keys.membership, `expired ${id}`)
        .exec();
      cluster.removePeer(id, 'expired');
      let drained = 0;
      if (prefix !== undefined) {
        // The others stop sending to the dead node when they see it expired; what they sent until then is in its
        // stream: delivered to the adopted sessions (a copy that also came by another path is dropped: moves.ts).
        const pause = Math.min(500, cluster.heartbeatMs);
        for (let round = 0; round < 2; round++) {
          await sleep(pause);
          drained += await this.drainStream(id, adopted);
        }
      }
      await this.broker.storeWriter?.flush();
      if (prefix !== undefined) await this.deleteKeys(`${prefix}*`);
      // A node with a local store (SQLite) finds its stream when it comes back; otherwise nobody will read it.
      if (info !== 'local') await cmd.del(keys.stream(id));
      await cmd.del(keys.wills(id));
      await this.forgetOwner(id);
      cluster.stats.sessionsAdopted += adopted.length;
      if (adopted.length > 0 || wills > 0 || drained > 0) cluster.stats.nodesAdopted++;
      cluster.logger?.info(
        { node: id, sessions: adopted.length, wills, drained },
        `node ${id} is gone: adopted ${adopted.length} sessions, published ${wills} wills, delivered ${drained} messages from its stream`,
      );
    } catch (error) {
      this.failed(error as Error);
    } finally {
      this.expiring.delete(id);
    }
  }

  /** Installs the dead node's sessions (still owned by it) here as offline sessions, and persists them here. */
  private async adoptSessions(id: string, prefix: string): Promise<RestoredSession[]> {
    const { cmd, keys } = this.cluster;
    const store = new RedisStore({ url: this.cluster.url, prefix });
    await store.open();
    let state: Awaited<ReturnType<RedisStore['restore']>>;
    try {
      state = await store.restore();
    } finally {
      await store.close().catch(() => {});
    }
    const broker = this.broker;
    const now = Date.now();
    const adopted: RestoredSession[] = [];
    for (const record of state.sessions) {
      const disconnectedAt = record.disconnectedAt ?? now;
      if (record.expiryInterval !== SESSION_NEVER_EXPIRES && disconnectedAt + record.expiryInterval * 1000 <= now) {
        continue;
      }
      if (broker.sessions.has(record.clientId)) continue;
      const swapped = await cmd.eval(SWAP, 1, keys.owners, record.clientId, id, this.me);
      if (swapped !== 1) continue; // its client is on another node already
      this.cluster.moves.expectInbound(record.clientId);
      installSession(broker, record, disconnectedAt, now);
      persistSession(broker, record, disconnectedAt);
      this.cluster.moves.installed(record.clientId);
      adopted.push(record);
    }
    const ids = new Set(adopted.map((record) => record.clientId));
    for (const will of state.wills) {
      if (ids.has(will.clientId)) broker.wills.schedule(will.clientId, toMessage(will.message), will.publishAt);
    }
    return adopted;
  }

  /** Publishes the wills of the clients that were connected to the dead node (their connection ended abnormally). */
  private async publishWills(id: string): Promise<number> {
    const { cmd, keys } = this.cluster;
    const wills = await cmd.hgetallBuffer(keys.wills(id));
    let published = 0;
    const now = Date.now();
    for (const [clientId, data] of Object.entries(wills)) {
      try {
        const { message } = decodeFrame(data);
        const delay = message.properties?.willDelayInterval ?? 0;
        if (message.properties !== undefined) {
          const { willDelayInterval: _, ...rest } = message.properties;
          message.properties = Object.keys(rest).length > 0 ? rest : undefined;
        }
        if (delay > 0) this.broker.wills.schedule(clientId, message, now + delay * 1000);
        else this.broker.publish(message);
        published++;
      } catch {
        this.cluster.stats.badFrames++;
      }
    }
    return published;
  }

  /**
   * Delivers what is in the dead node's stream to the sessions adopted from it (only to them), then deletes what it
   * read. Returns the number of deliveries.
   */
  private async drainStream(id: string, adopted: RestoredSession[]): Promise<number> {
    if (adopted.length === 0) return 0;
    const { cmd, keys } = this.cluster;
    const trie = new SubscriptionTrie();
    for (const record of adopted) {
      for (const subscription of record.subscriptions) {
        trie.subscribe(record.clientId, subscription.topicFilter, subscription.options);
      }
    }
    const stream = keys.stream(id);
    let start = '-';
    let last: string | undefined;
    let delivered = 0;
    for (;;) {
      const entries = (await cmd.xrangeBuffer(stream, start, '+', 'COUNT', 500)) as [Buffer, Buffer[]][];
      if (entries.length === 0) break;
      for (const [, fields] of entries) {
        for (const entry of parseEntry(fields)) delivered += this.drainEntry(entry, trie);
      }
      last = entries[entries.length - 1]![0].toString();
      start = `(${last}`;
    }
    if (last !== undefined) {
      await this.broker.storeWriter?.barrier();
      await cmd.xtrim(stream, 'MINID', nextStreamId(last));
    }
    return delivered;
  }

  /** Removes the dead node from `P owners` (the sessions it had and nobody adopted: ended with it). */
  private async forgetOwner(id: string): Promise<void> {
    const { cmd, keys } = this.cluster;
    let cursor = '0';
    do {
      const [next, flat] = await cmd.hscan(keys.owners, cursor, 'COUNT', 1000);
      cursor = next;
      const pipeline = cmd.pipeline();
      let n = 0;
      for (let i = 0; i + 1 < flat.length; i += 2) {
        if (flat[i + 1] !== id) continue;
        pipeline.eval(RELEASE, 1, keys.owners, flat[i]!, id);
        n++;
      }
      if (n > 0) await pipeline.exec();
    } while (cursor !== '0');
  }

  /** One message of a dead node's stream, for the adopted sessions (in `trie`) only. */
  private drainEntry(entry: StreamEntry, trie: SubscriptionTrie): number {
    if (entry.storeOnly) return 0;
    let frame: ReturnType<typeof decodeFrame>;
    try {
      frame = decodeFrame(entry.body);
    } catch {
      this.cluster.stats.badFrames++;
      return 0;
    }
    const { moves } = this.cluster;
    const { message } = frame;
    const key = `${frame.origin}#${frame.seq}`;
    if (entry.direct !== undefined) {
      const { clientId, qos, retain, subscriptionIdentifiers } = entry.direct;
      moves.deliverDirect(clientId, { message, qos, retain, subscriptionIdentifiers }, key);
      return 1;
    }
    const groups = entry.groups;
    trie.shareFilter = groups === undefined ? () => false : (group) => groups.includes(group);
    const deliveries = trie.match(message.topic, message.publisherId);
    trie.shareFilter = undefined;
    for (const delivery of deliveries) moves.deliverDirect(delivery.clientId, toOutgoing(message, delivery), key);
    return deliveries.length;
  }

  private async deleteKeys(pattern: string): Promise<void> {
    const { cmd } = this.cluster;
    let cursor = '0';
    do {
      const [next, found] = await cmd.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (found.length > 0) await cmd.unlink(...found);
    } while (cursor !== '0');
  }

  stop(): void {
    for (const [request, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.resolve(undefined);
      this.pending.delete(request);
    }
  }
}
