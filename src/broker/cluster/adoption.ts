/**
 * A dead node (its alive key expired, docs/cluster.md "A dead node"): one node takes the lock `P adopt:<id>` and, if
 * the dead node kept its state in a Redis store on the cluster's Redis (`P info` says `redis <prefix>`), adopts its
 * sessions from that store (as offline sessions, whose clients then take them over from the adopter wherever they
 * reconnect), delivers to them what was still in the dead node's stream, publishes its clients' wills, and deletes its
 * keys. A node whose state is in memory leaves nothing to adopt; one with a local SQLite file keeps its stream for when
 * it comes back.
 */
import type { BrokerCore } from '../core.js';
import { installSession, persistSession, toMessage } from '../handoff.js';
import { toOutgoing } from '../publish.js';
import { SubscriptionTrie } from '../routing/index.js';
import { SESSION_NEVER_EXPIRES } from '../session/session.js';
import { RedisStore } from '../store/redis.js';
import type { RestoredSession } from '../store/store.js';
import type { Cluster } from './cluster.js';
import { decodeFrame } from './codec.js';
import { RELEASE, SWAP, sleep } from './owners.js';
import { nextStreamId, parseEntry, type StreamEntry } from './streams.js';

/** How long the adoption lock of a dead node lasts (another node may try again after it). */
const ADOPT_LOCK_MS = 120_000;

export class NodeAdoption {
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
}
