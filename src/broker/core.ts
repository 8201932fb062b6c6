/**
 * The broker's state and the operations on it that connections and handlers call: sessions by client id,
 * the subscription trie, retained messages, wills, stats, events. The public facade is broker.ts.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { ReasonCode } from '../codec/index.js';
import type { ClusterHook } from './cluster/hook.js';
import type { Connection } from './connection/connection.js';
import type { BrokerEventMap } from './hooks.js';
import { AddressLimits, AuthBackoff } from './limits.js';
import type { Message, Outgoing } from './message.js';
import type { ResolvedOptions } from './options.js';
import { routeMessage } from './publish.js';
import { RetainedStore, SubscriptionTrie } from './routing/index.js';
import {
  type DropReason,
  SESSION_NEVER_EXPIRES,
  Session,
  type SessionObserver,
  type SessionOptions,
} from './session/session.js';
import { type BrokerStats, createStats } from './stats.js';
import { StoreSessionPersistence } from './store/session-persistence.js';
import { StoreWriter } from './store/store.js';
import { clearLongTimeout, setLongTimeout, TimerWheel } from './timers.js';
import { WillManager } from './will.js';

export class BrokerCore extends EventEmitter<BrokerEventMap> implements SessionObserver {
  readonly options: ResolvedOptions;
  readonly logger: Logger | undefined;
  readonly stats: BrokerStats = createStats();
  readonly sessions = new Map<string, Session>();
  /** Connected clients by client id. */
  readonly clients = new Map<string, Connection>();
  /** Every open connection, CONNECT received or not. */
  readonly connections = new Set<Connection>();
  readonly trie = new SubscriptionTrie();
  readonly retained = new RetainedStore<Message>();
  readonly storeWriter: StoreWriter | undefined;
  readonly wills: WillManager;
  private readonly persistence: StoreSessionPersistence | undefined;
  readonly startedAt = Date.now();
  closing = false;
  /** Set by startCluster() (src/broker/cluster/); undefined without --cluster, and then every hook is a no-op. */
  cluster: ClusterHook | undefined = undefined;
  /**
   * Cluster: while set, a delivery to a client is made only if this returns true (the cluster drops a message that
   * reaches a session which just moved here by two paths). Undefined otherwise.
   */
  deliveryFilter: ((clientId: string, message: Message) => boolean) | undefined = undefined;
  /** Open sockets and connect rate per remote address (maxConnectionsPerIp, connectRatePerIp). */
  readonly addressLimits: AddressLimits;
  /** Back-off of addresses with failed authentications. */
  readonly authBackoff: AuthBackoff;
  /** Connect timeouts, keep alives and closing lingers of every connection: one interval, no Timeout each. */
  readonly wheel = new TimerWheel();
  /** The options every session is created with (one object, not one per session). */
  readonly sessionOptions: SessionOptions;
  /** Connections with output gathered outside their own read, written at the end of the tick. */
  private flushList: Connection[] = [];
  private flushSpare: Connection[] = [];
  private flushScheduled = false;

  /** For shared subscriptions: is the member's session connected? Bound once, not per message. */
  readonly isAvailable = (clientId: string): boolean => this.sessions.get(clientId)?.link !== undefined;

  constructor(options: ResolvedOptions) {
    super();
    this.options = options;
    this.logger = options.logger;
    this.storeWriter = options.store
      ? new StoreWriter(options.store, (error) => this.logger?.error({ err: error }, 'store write failed'))
      : undefined;
    this.persistence = this.storeWriter ? new StoreSessionPersistence(this.storeWriter) : undefined;
    this.wills = new WillManager((message) => this.publish(message), this.storeWriter);
    this.on('error', () => {}); // events are informational; never crash on an 'error' without listener
    this.addressLimits = new AddressLimits(
      options.maxConnectionsPerIp,
      options.connectRatePerIp,
      Math.max(1, Math.ceil(options.connectRatePerIp)),
    );
    this.authBackoff = new AuthBackoff({
      threshold: options.authFailureThreshold,
      windowMs: options.authFailureWindow * 1000,
      baseMs: options.authBackoffBase * 1000,
      maxMs: options.authBackoffMax * 1000,
    });
    this.sessionOptions = {
      maxInflight: options.maxInflight,
      maxQueuedMessages: options.maxQueuedMessages,
      queueQos0Offline: options.queueQos0Offline,
    };
  }

  /** Writes `connection`'s gathered output at the end of this tick, together with every other connection's. */
  queueFlush(connection: Connection): void {
    this.flushList.push(connection);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(this.flushAll);
    }
  }

  private readonly flushAll = (): void => {
    this.flushScheduled = false;
    const list = this.flushList;
    this.flushList = this.flushSpare;
    for (let i = 0; i < list.length; i++) list[i]!.flush();
    list.length = 0;
    this.flushSpare = list;
  };

  /** Publishes a message into the broker (from a client, a will, $SYS or the embedding application). */
  publish(message: Message): number {
    const cluster = this.cluster;
    if (cluster === undefined) return routeMessage(this, message);
    // Cluster hook: forwards to the nodes with a matching subscription and returns how many; it may restrict the
    // share groups served here for this one message (trie.shareFilter).
    const remote = cluster.onLocalPublish(message);
    try {
      return routeMessage(this, message) + remote;
    } finally {
      this.trie.shareFilter = undefined;
    }
  }

  createSession(clientId: string): Session {
    const session = new Session(clientId, this.sessionOptions, this);
    session.persistence = this.persistence;
    this.sessions.set(clientId, session);
    return session;
  }

  /** Ends a session: subscriptions, queue and inflight go; a delayed will is published now. */
  endSession(session: Session): void {
    if (this.sessions.get(session.clientId) === session) this.sessions.delete(session.clientId);
    clearLongTimeout(session.expiryTimer);
    session.expiryTimer = undefined;
    this.trie.unsubscribeAll(session.clientId);
    session.destroy();
    this.storeWriter?.push({ op: 'deleteSession', clientId: session.clientId });
    this.wills.sessionEnded(session.clientId);
    this.cluster?.sessionEnded(session.clientId);
  }

  /**
   * Forgets a session that moved to another cluster node: nothing is dropped or published (its delayed will is
   * cancelled by the caller or goes with it), its store records are deleted.
   */
  releaseSession(session: Session, keepSubscriptions = false): void {
    if (this.sessions.get(session.clientId) === session) this.sessions.delete(session.clientId);
    clearLongTimeout(session.expiryTimer);
    session.expiryTimer = undefined;
    // Kept: the cluster forwards what they still match to the session's new node for a moment (cluster/moves.ts).
    if (!keepSubscriptions) this.trie.unsubscribeAll(session.clientId);
    session.release();
    this.storeWriter?.push({ op: 'deleteSession', clientId: session.clientId });
  }

  /** Called by a connection exactly once when it closes. */
  connectionClosed(connection: Connection, wasConnected: boolean): void {
    this.connections.delete(connection);
    if (connection.countedAddress !== undefined) this.addressLimits.closed(connection.countedAddress);
    if (!wasConnected) return;
    const { clientId, session } = connection;
    const now = Date.now();
    const current = this.clients.get(clientId) === connection;
    if (current) this.clients.delete(clientId);
    this.stats.connections--;
    if (current) this.cluster?.clientDisconnected(clientId);
    // [MQTT-3.1.2-8] the will is published unless the client sent DISCONNECT (5.0: unless reason 0x04).
    if (connection.will !== undefined) {
      this.wills.trigger(clientId, connection.will, connection.sessionExpiryInterval, now);
      connection.will = undefined;
    }
    if (session !== undefined && session.link === connection) {
      session.detach();
      this.scheduleExpiry(session, connection, now);
    }
    this.logger?.debug({ clientId, reason: connection.closeReason }, 'client disconnected');
    if (connection.identified && this.listenerCount('clientDisconnected') > 0) {
      this.emit('clientDisconnected', connection.info!, connection.closeReason);
    }
  }

  private scheduleExpiry(session: Session, connection: Connection, now: number): void {
    const expiryInterval = connection.sessionExpiryInterval;
    session.expiryInterval = expiryInterval;
    if (expiryInterval === 0) {
      this.endSession(session);
      return;
    }
    this.storeWriter?.push({
      op: 'putSession',
      session: {
        clientId: session.clientId,
        protocolVersion: connection.protocolVersion,
        expiryInterval,
        disconnectedAt: now,
      },
    });
    if (expiryInterval === SESSION_NEVER_EXPIRES) return;
    session.expiresAt = now + expiryInterval * 1000;
    session.expiryTimer = setLongTimeout(() => this.endSession(session), expiryInterval * 1000);
  }

  /** Disconnects every client (5.0: DISCONNECT 0x8B Server shutting down). */
  disconnectAll(): void {
    for (const connection of [...this.connections]) {
      connection.disconnect(ReasonCode.ServerShuttingDown, 'server shutting down');
    }
  }

  // SessionObserver
  messageDropped(session: Session, outgoing: Outgoing, reason: DropReason): void {
    this.stats.droppedByReason[reason]++;
    if (reason !== 'offline-qos0' && reason !== 'not-authorized') this.stats.messagesDropped++;
    if (this.listenerCount('messageDropped') > 0)
      this.emit('messageDropped', session.clientId, outgoing.message, reason);
  }

  messageDelivered(session: Session, outgoing: Outgoing): void {
    if (this.listenerCount('messageDelivered') > 0) {
      this.emit('messageDelivered', session.clientId, outgoing.message, outgoing.qos);
    }
  }
}
