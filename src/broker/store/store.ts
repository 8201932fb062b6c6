/**
 * The persistence contract. Memory is authoritative while the broker runs: it never reads a store on the hot
 * path. It writes the changes of its state to the store as batches of operations (fire-and-forget,
 * collected per event-loop turn by {@link StoreWriter}) and reads the store once, at startup, with
 * {@link Store.restore}. A durable store (SQLite, Redis) implements this interface and must pass the shared
 * store suite; the in-memory one (store/memory.ts) is the reference.
 *
 * Every record models MQTT 5.0 fully (expiry, subscription options, properties), so 3.1.1 is a subset.
 */
import type { Properties, ProtocolVersion, QoS } from '../../codec/index.js';
import type { SubscriptionOptions } from '../routing/index.js';

/** A routed message (see broker/message.ts), without caches. */
export interface MessageRecord {
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
  properties?: Properties;
  publisherId?: string;
  /** Absolute deadline (ms since the epoch) from Message Expiry Interval. */
  expiresAt?: number;
}

export interface SessionRecord {
  clientId: string;
  protocolVersion: ProtocolVersion;
  /** Session Expiry Interval in seconds; 0xFFFFFFFF = never. */
  expiryInterval: number;
  /** ms since the epoch when the client disconnected; undefined while it is connected. */
  disconnectedAt?: number;
}

export interface SubscriptionRecord {
  topicFilter: string;
  options: SubscriptionOptions;
}

/** Outgoing state of a message to one subscriber: 'queued', or inflight awaiting PUBACK / PUBREC / PUBCOMP. */
export type OutgoingStatus = 'queued' | 'puback' | 'pubrec' | 'pubcomp';

export interface OutgoingRecord {
  clientId: string;
  /** Per-session sequence number: the delivery order. */
  seq: number;
  message: MessageRecord;
  qos: QoS;
  retain: boolean;
  subscriptionIdentifiers?: number[];
  status: OutgoingStatus;
  /** Set when status is not 'queued'. */
  packetId?: number;
}

export interface WillRecord {
  clientId: string;
  message: MessageRecord;
  /** Absolute ms when the will is due (Will Delay Interval elapsed or the session ended). */
  publishAt: number;
}

export type StoreOperation =
  | { op: 'putSession'; session: SessionRecord }
  /** Deletes the session and everything under it (subscriptions, outgoing, incoming ids). */
  | { op: 'deleteSession'; clientId: string }
  | { op: 'putSubscription'; clientId: string; subscription: SubscriptionRecord }
  | { op: 'deleteSubscription'; clientId: string; topicFilter: string }
  /** Insert or replace by (clientId, seq). */
  | { op: 'putOutgoing'; record: OutgoingRecord }
  | { op: 'deleteOutgoing'; clientId: string; seq: number }
  /** Incoming QoS 2 packet id awaiting PUBREL. */
  | { op: 'putIncoming'; clientId: string; packetId: number }
  | { op: 'deleteIncoming'; clientId: string; packetId: number }
  /** Insert or replace by topic. */
  | { op: 'putRetained'; message: MessageRecord }
  | { op: 'deleteRetained'; topic: string }
  /** A delayed will (Will Delay Interval); one per client id. */
  | { op: 'putWill'; will: WillRecord }
  | { op: 'deleteWill'; clientId: string };

export interface RestoredSession extends SessionRecord {
  subscriptions: SubscriptionRecord[];
  /** Ordered by seq. */
  outgoing: OutgoingRecord[];
  incoming: number[];
}

export interface RestoredState {
  sessions: RestoredSession[];
  retained: MessageRecord[];
  wills: WillRecord[];
}

export interface Store {
  /** Opens connections / files. Called once before restore(). */
  open(): Promise<void>;
  /** Reads the whole persisted state, once, at startup. */
  restore(): Promise<RestoredState>;
  /** Applies a batch of operations in order; a durable store should apply a batch atomically. */
  write(batch: readonly StoreOperation[]): Promise<void>;
  /** Flushes and closes. No write() follows. */
  close(): Promise<void>;
}

/**
 * Collects operations and hands them to the store once per event-loop turn. write() errors are reported,
 * never thrown into the broker.
 */
export class StoreWriter {
  private batch: StoreOperation[] = [];
  private scheduled = false;
  private pending = new Set<Promise<void>>();

  constructor(
    private readonly store: Store,
    private readonly onError: (error: Error) => void,
  ) {}

  push(operation: StoreOperation): void {
    this.batch.push(operation);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flushNow());
    }
  }

  /** Writes what is collected now and waits for every write in flight. */
  async flush(): Promise<void> {
    this.flushNow();
    await Promise.allSettled([...this.pending]);
  }

  private flushNow(): void {
    this.scheduled = false;
    if (this.batch.length === 0) return;
    const batch = this.batch;
    this.batch = [];
    const write = this.store
      .write(batch)
      .catch((error: unknown) => this.onError(error instanceof Error ? error : new Error(String(error))))
      .finally(() => this.pending.delete(write));
    this.pending.add(write);
  }
}
