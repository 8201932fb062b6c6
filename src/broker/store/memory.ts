/**
 * The reference Store: keeps the persisted state in maps so the shared store suite can run against it, and
 * so a broker can be "restarted" in tests by handing the same MemoryStore to a new broker.
 */
import type {
  MessageRecord,
  OutgoingRecord,
  RestoredSession,
  RestoredState,
  SessionRecord,
  Store,
  StoreOperation,
  SubscriptionRecord,
  WillRecord,
} from './store.js';

interface SessionState {
  session: SessionRecord;
  subscriptions: Map<string, SubscriptionRecord>;
  outgoing: Map<number, OutgoingRecord>;
  incoming: Set<number>;
}

export class MemoryStore implements Store {
  private readonly sessions = new Map<string, SessionState>();
  private readonly retained = new Map<string, MessageRecord>();
  private readonly wills = new Map<string, WillRecord>();
  /** Number of write() calls, for tests. */
  writes = 0;
  /**
   * False: nothing outlives the process. Tests may set `durable: true` (and `failWrites`) to exercise the broker's
   * ack-after-commit path without a real durable store.
   */
  readonly durable: boolean;
  /** Tests: make write() reject (after applying nothing). */
  failWrites = false;

  constructor(options: { durable?: boolean } = {}) {
    this.durable = options.durable ?? false;
  }

  async open(): Promise<void> {}

  async close(): Promise<void> {}

  async restore(): Promise<RestoredState> {
    const sessions: RestoredSession[] = [];
    for (const state of this.sessions.values()) {
      sessions.push({
        ...structuredClone(state.session),
        subscriptions: structuredClone([...state.subscriptions.values()]),
        outgoing: structuredClone([...state.outgoing.values()].sort((a, b) => a.seq - b.seq)),
        incoming: [...state.incoming],
      });
    }
    return {
      sessions,
      retained: structuredClone([...this.retained.values()]),
      wills: structuredClone([...this.wills.values()]),
    };
  }

  async write(batch: readonly StoreOperation[]): Promise<void> {
    this.writes++;
    if (this.failWrites) throw new Error('memory store: write failed (failWrites)');
    for (const operation of batch) this.apply(operation);
  }

  private apply(operation: StoreOperation): void {
    switch (operation.op) {
      case 'putSession': {
        const existing = this.sessions.get(operation.session.clientId);
        if (existing) existing.session = { ...operation.session };
        else {
          this.sessions.set(operation.session.clientId, {
            session: { ...operation.session },
            subscriptions: new Map(),
            outgoing: new Map(),
            incoming: new Set(),
          });
        }
        return;
      }
      case 'deleteSession':
        this.sessions.delete(operation.clientId);
        return;
      case 'putSubscription':
        this.sessions
          .get(operation.clientId)
          ?.subscriptions.set(operation.subscription.topicFilter, operation.subscription);
        return;
      case 'deleteSubscription':
        this.sessions.get(operation.clientId)?.subscriptions.delete(operation.topicFilter);
        return;
      case 'putOutgoing':
        this.sessions.get(operation.record.clientId)?.outgoing.set(operation.record.seq, operation.record);
        return;
      case 'deleteOutgoing':
        this.sessions.get(operation.clientId)?.outgoing.delete(operation.seq);
        return;
      case 'putIncoming':
        this.sessions.get(operation.clientId)?.incoming.add(operation.packetId);
        return;
      case 'deleteIncoming':
        this.sessions.get(operation.clientId)?.incoming.delete(operation.packetId);
        return;
      case 'putRetained':
        this.retained.set(operation.message.topic, operation.message);
        return;
      case 'deleteRetained':
        this.retained.delete(operation.topic);
        return;
      case 'putWill':
        this.wills.set(operation.will.clientId, operation.will);
        return;
      case 'deleteWill':
        this.wills.delete(operation.clientId);
        return;
    }
  }
}
