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
  /**
   * True if a resolved write() means the batch is committed to storage that outlives the process (SQLite, Redis).
   * The broker then acknowledges a QoS 1/2 PUBLISH (PUBACK / PUBREC) only after the batch holding its effects is
   * written (see {@link StoreWriter.barrier}); with a non-durable store (memory) it acknowledges at once.
   */
  readonly durable: boolean;
  /** Opens connections / files. Called once before restore(). */
  open(): Promise<void>;
  /** Reads the whole persisted state, once, at startup. */
  restore(): Promise<RestoredState>;
  /** Applies a batch of operations in order; a durable store should apply a batch atomically. */
  write(batch: readonly StoreOperation[]): Promise<void>;
  /** Flushes and closes. No write() follows. */
  close(): Promise<void>;
}

const ignore = (): void => {};

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A barrier nobody waits for must not become an unhandled rejection.
  promise.catch(ignore);
  return { promise, resolve, reject };
}

/**
 * Collects operations and hands them to the store once per event-loop turn. write() errors are reported,
 * never thrown into the broker.
 *
 * Batches are handed over without waiting for the previous write (a store applies them in order: SQLite is
 * synchronous, Redis pipelines one connection), but their completions are chained: the completion of batch n
 * settles only after that of batch n-1 has settled, so {@link barrier} promises settle in the order they were
 * taken. One barrier promise per batch (shared by every caller in that turn), none when nobody asks.
 */
export class StoreWriter {
  private batch: StoreOperation[] = [];
  private scheduled = false;
  /** Settles (never rejects) after every batch handed over so far has been written or has failed. */
  private tail: Promise<void> = Promise.resolve();
  /** The barrier of the batch being collected, created on the first barrier() call of the turn. */
  private next: Deferred | undefined;

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

  /**
   * Resolves once the batch being collected now (hence every operation pushed so far, and every earlier batch)
   * has been written; rejects if that batch's write failed. With nothing collected it waits for the writes in
   * flight (settling, never rejecting: their failures are not the caller's).
   */
  barrier(): Promise<void> {
    if (this.batch.length === 0) return this.tail;
    if (this.next === undefined) this.next = deferred();
    return this.next.promise;
  }

  /** Writes what is collected now and waits for every write in flight. */
  async flush(): Promise<void> {
    this.flushNow();
    await this.tail;
  }

  private flushNow(): void {
    this.scheduled = false;
    const next = this.next;
    this.next = undefined;
    if (this.batch.length === 0) {
      next?.resolve();
      return;
    }
    const batch = this.batch;
    this.batch = [];
    let failure: Error | undefined;
    const written = this.store.write(batch).catch((error: unknown) => {
      failure = error instanceof Error ? error : new Error(String(error));
      this.onError(failure);
    });
    const previous = this.tail;
    const completion = Promise.all([previous, written]);
    this.tail = completion.then(ignore);
    if (next !== undefined) {
      completion.then(() => (failure === undefined ? next.resolve() : next.reject(failure)));
    }
  }
}
