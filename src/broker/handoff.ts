/**
 * A session as a record and back: what a restart reads from the store (restore.ts) and what a cluster node hands
 * another when the client moves to it (cluster/sessions.ts) are the same {@link RestoredSession}.
 *
 * - {@link installSession} rebuilds a session in memory from a record (subscriptions in the trie, inflight entries
 *   with their packet ids, the queue in order, incoming QoS 2 ids, the expiry timer of an offline session);
 * - {@link snapshotSession} makes the record of a live session (the inverse), for a handoff;
 * - {@link persistSession} writes a record to this broker's store (a handed-over session must survive a crash of
 *   its new node).
 */
import type { BrokerCore } from './core.js';
import type { Message, Outgoing } from './message.js';
import { OutgoingState } from './session/inflight.js';
import { SESSION_NEVER_EXPIRES, type Session } from './session/session.js';
import { outgoingRecord } from './store/session-persistence.js';
import type { MessageRecord, OutgoingRecord, OutgoingStatus, RestoredSession } from './store/store.js';
import { setLongTimeout } from './timers.js';

export function toMessage(record: MessageRecord): Message {
  return {
    topic: record.topic,
    payload: record.payload,
    qos: record.qos,
    retain: record.retain,
    properties: record.properties,
    publisherId: record.publisherId,
    expiresAt: record.expiresAt,
  };
}

function toOutgoing(record: OutgoingRecord): Outgoing {
  return {
    message: toMessage(record.message),
    qos: record.qos,
    retain: record.retain,
    subscriptionIdentifiers: record.subscriptionIdentifiers,
    seq: record.seq,
  };
}

const STATES = {
  puback: OutgoingState.AwaitingPuback,
  pubrec: OutgoingState.AwaitingPubrec,
  pubcomp: OutgoingState.AwaitingPubcomp,
};

const STATUS: Record<OutgoingState, OutgoingStatus> = {
  [OutgoingState.AwaitingPuback]: 'puback',
  [OutgoingState.AwaitingPubrec]: 'pubrec',
  [OutgoingState.AwaitingPubcomp]: 'pubcomp',
};

export interface InstallCounts {
  subscriptions: number;
  queued: number;
  inflight: number;
  incoming: number;
  /** Queued messages over maxQueuedMessages (dropped; their store records deleted). */
  dropped: number;
}

/**
 * Rebuilds `record` as an offline session of `broker` (replacing nothing: the caller makes sure the client id is
 * free). `disconnectedAt` is when it went offline (its expiry counts from there).
 */
export function installSession(
  broker: BrokerCore,
  record: RestoredSession,
  disconnectedAt: number,
  now: number,
): { session: Session; counts: InstallCounts } {
  const writer = broker.storeWriter;
  const counts: InstallCounts = { subscriptions: 0, queued: 0, inflight: 0, incoming: 0, dropped: 0 };
  const session = broker.createSession(record.clientId);
  session.expiryInterval = record.expiryInterval;
  for (const subscription of record.subscriptions) {
    broker.trie.subscribe(record.clientId, subscription.topicFilter, subscription.options);
    counts.subscriptions++;
  }
  for (const outgoing of record.outgoing) {
    session.nextSeq = Math.max(session.nextSeq, outgoing.seq + 1);
    const restored =
      outgoing.status !== 'queued' &&
      outgoing.packetId !== undefined &&
      session.inflight.restore({
        packetId: outgoing.packetId,
        outgoing: toOutgoing(outgoing),
        state: STATES[outgoing.status],
      });
    if (restored) {
      counts.inflight++;
      continue;
    }
    // Queued (or an inflight entry that no longer fits the window: sent again as a new delivery). The
    // per-session limit applies as when the broker runs: over it, the message is dropped.
    if (session.queue.push(toOutgoing(outgoing)).queued) counts.queued++;
    else {
      writer?.push({ op: 'deleteOutgoing', clientId: record.clientId, seq: outgoing.seq });
      counts.dropped++;
    }
  }
  for (const packetId of record.incoming) {
    session.incoming.publish(packetId);
    counts.incoming++;
  }
  if (record.expiryInterval !== SESSION_NEVER_EXPIRES) {
    const expiresAt = disconnectedAt + record.expiryInterval * 1000;
    session.expiresAt = expiresAt;
    session.expiryTimer = setLongTimeout(() => broker.endSession(session), expiresAt - now);
  }
  return { session, counts };
}

/**
 * The record of a session of `broker` (connected or not): its subscriptions, inflight entries (in sending order)
 * then its queue, and incoming QoS 2 ids. Messages get sequence numbers in that order when they have none (a broker
 * without a store does not number them).
 */
export function snapshotSession(
  broker: BrokerCore,
  session: Session,
  protocolVersion: RestoredSession['protocolVersion'],
): RestoredSession {
  const { clientId } = session;
  const subscriptions: RestoredSession['subscriptions'] = [];
  for (const [topicFilter, options] of broker.trie.subscriptionsOf(clientId) ?? []) {
    subscriptions.push({ topicFilter, options: { ...options } });
  }
  const outgoing: OutgoingRecord[] = [];
  let seq = 0;
  const add = (entry: Outgoing, status: OutgoingStatus, packetId: number | undefined) => {
    seq = Math.max(seq + 1, entry.seq ?? 0);
    outgoing.push(outgoingRecord(clientId, seq, entry, status, packetId));
  };
  if (session.inflightCount > 0) {
    for (const entry of session.inflight.pending()) add(entry.outgoing, STATUS[entry.state], entry.packetId);
  }
  if (session.queuedCount > 0) for (const entry of session.queue) add(entry, 'queued', undefined);
  const incoming = [...session.incoming.values()];
  return { clientId, protocolVersion, expiryInterval: session.expiryInterval, subscriptions, outgoing, incoming };
}

/** Writes a whole session record to the broker's store (nothing without a store). */
export function persistSession(broker: BrokerCore, record: RestoredSession, disconnectedAt?: number): void {
  const writer = broker.storeWriter;
  if (writer === undefined || record.expiryInterval === 0) return;
  const { clientId } = record;
  writer.push({
    op: 'putSession',
    session: {
      clientId,
      protocolVersion: record.protocolVersion,
      expiryInterval: record.expiryInterval,
      ...(disconnectedAt !== undefined && { disconnectedAt }),
    },
  });
  for (const subscription of record.subscriptions) writer.push({ op: 'putSubscription', clientId, subscription });
  for (const outgoing of record.outgoing) writer.push({ op: 'putOutgoing', record: outgoing });
  for (const packetId of record.incoming) writer.push({ op: 'putIncoming', clientId, packetId });
}

/** Installs a session handed over by another cluster node (in place of a stale local one) and persists it here. */
export function receiveSession(broker: BrokerCore, record: RestoredSession): void {
  const now = Date.now();
  const stale = broker.sessions.get(record.clientId);
  if (stale !== undefined) broker.releaseSession(stale);
  installSession(broker, record, now, now);
  persistSession(broker, record, now);
}
