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
 *   published (once: by the node that adopts the dead node, under a lock: adoption.ts) if its node dies.
 * - A dead node's sessions are adopted by another node: adoption.ts.
 */
import { randomBytes } from 'node:crypto';
import { ReasonCode, type Will } from '../../codec/index.js';
import type { BrokerCore } from '../core.js';
import { receiveSession, snapshotSession } from '../handoff.js';
import { createMessage } from '../message.js';
import { RedisStore } from '../store/redis.js';
import type { RestoredSession } from '../store/store.js';
import type { Cluster } from './cluster.js';
import { decodeHandoff, encodeFrame, encodeHandoff } from './codec.js';
import { ForwardingSession } from './moves.js';
import { CLAIM, RELEASE, SWAP, sleep } from './owners.js';

const TIMEOUT = Symbol('timeout');
/** How long a node waits for the owner of a session to hand it over. */
const TAKEOVER_TIMEOUT_MS = 3000;
/** How long a handoff record stays in Redis for its new node to fetch. */
const HANDOFF_TTL_MS = 60_000;

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

export class ClusterSessions {
  private readonly pending = new Map<string, Pending>();
  /** Clients connected here with a will (in `P wills:<this node>`). */
  private readonly wills = new Set<string>();
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
    void this.cluster.adoption.expireNode(owner);
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
        this.cluster.moves.forwardTo(clientId, (outgoing) => this.cluster.forward(to, clientId, outgoing));
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

  stop(): void {
    for (const [request, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.resolve(undefined);
      this.pending.delete(request);
    }
  }
}
