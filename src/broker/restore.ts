/**
 * Startup: read the store once and rebuild memory (sessions with subscriptions, queued and inflight messages,
 * incoming QoS 2 ids; retained messages; delayed wills). Expired sessions and messages are dropped; the bounds of a
 * running broker apply (maxQueuedMessages per session, maxRetainedMessages), and what is over them is deleted from
 * the store too.
 */
import type { BrokerCore } from './core.js';
import { installSession, toMessage } from './handoff.js';
import { SESSION_NEVER_EXPIRES } from './session/session.js';

/** What a startup restore found and kept (logged by the CLI, exposed as Broker.restored). */
export interface RestoreSummary {
  /** Sessions restored (still within their expiry). */
  sessions: number;
  /** Sessions whose expiry passed while the broker was down: deleted. */
  expiredSessions: number;
  subscriptions: number;
  /** QoS 1/2 messages waiting in session queues. */
  queued: number;
  /** Messages sent but not acknowledged: resent with DUP=1 when their client returns [MQTT-4.4.0-1]. */
  inflight: number;
  /** Incoming QoS 2 packet ids awaiting PUBREL. */
  incoming: number;
  /** Queued messages over maxQueuedMessages: dropped and deleted from the store. */
  droppedMessages: number;
  retained: number;
  /** Retained messages expired (Message Expiry) or over maxRetainedMessages: dropped and deleted. */
  droppedRetained: number;
  wills: number;
  /** Milliseconds from opening the store to the rebuilt memory state. */
  durationMs: number;
}

export async function restoreState(broker: BrokerCore): Promise<RestoreSummary | undefined> {
  const store = broker.options.store;
  if (store === undefined) return undefined;
  const started = performance.now();
  await store.open();
  const state = await store.restore();
  const writer = broker.storeWriter;
  const summary: RestoreSummary = {
    sessions: 0,
    expiredSessions: 0,
    subscriptions: 0,
    queued: 0,
    inflight: 0,
    incoming: 0,
    droppedMessages: 0,
    retained: 0,
    droppedRetained: 0,
    wills: 0,
    durationMs: 0,
  };
  const now = Date.now();
  for (const record of state.sessions) {
    // A session without disconnectedAt was connected when the broker stopped (or crashed): it went offline now.
    const disconnectedAt = record.disconnectedAt ?? now;
    const never = record.expiryInterval === SESSION_NEVER_EXPIRES;
    const expiresAt = disconnectedAt + record.expiryInterval * 1000;
    if (!never && expiresAt <= now) {
      writer?.push({ op: 'deleteSession', clientId: record.clientId });
      summary.expiredSessions++;
      continue;
    }
    if (record.disconnectedAt === undefined) {
      // Remember when it went offline, so that another restart does not extend its life again.
      writer?.push({
        op: 'putSession',
        session: {
          clientId: record.clientId,
          protocolVersion: record.protocolVersion,
          expiryInterval: record.expiryInterval,
          disconnectedAt,
        },
      });
    }
    summary.sessions++;
    const { counts } = installSession(broker, record, disconnectedAt, now);
    summary.subscriptions += counts.subscriptions;
    summary.queued += counts.queued;
    summary.inflight += counts.inflight;
    summary.incoming += counts.incoming;
    summary.droppedMessages += counts.dropped;
  }
  const retainedLimit = broker.options.maxRetainedMessages;
  for (const record of state.retained) {
    const expired = record.expiresAt !== undefined && record.expiresAt <= now;
    if (expired || (retainedLimit > 0 && broker.retained.size >= retainedLimit)) {
      writer?.push({ op: 'deleteRetained', topic: record.topic });
      summary.droppedRetained++;
      continue;
    }
    broker.retained.set(record.topic, toMessage(record));
    summary.retained++;
  }
  for (const will of state.wills) {
    broker.wills.schedule(will.clientId, toMessage(will.message), will.publishAt);
    summary.wills++;
  }
  summary.durationMs = Math.round(performance.now() - started);
  return summary;
}
