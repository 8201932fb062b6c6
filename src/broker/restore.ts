/**
 * Startup: read the store once and rebuild memory (sessions with subscriptions, queued and inflight messages,
 * incoming QoS 2 ids; retained messages; delayed wills). Expired sessions and messages are dropped.
 */
import type { BrokerCore } from './core.js';
import type { Message, Outgoing } from './message.js';
import { OutgoingState } from './session/inflight.js';
import { SESSION_NEVER_EXPIRES } from './session/session.js';
import type { MessageRecord, OutgoingRecord } from './store/store.js';
import { setLongTimeout } from './timers.js';

function toMessage(record: MessageRecord): Message {
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

export async function restoreState(broker: BrokerCore): Promise<void> {
  const store = broker.options.store;
  if (store === undefined) return;
  await store.open();
  const state = await store.restore();
  const now = Date.now();
  for (const record of state.sessions) {
    const disconnectedAt = record.disconnectedAt ?? now;
    const never = record.expiryInterval === SESSION_NEVER_EXPIRES;
    const expiresAt = disconnectedAt + record.expiryInterval * 1000;
    if (!never && expiresAt <= now) {
      broker.storeWriter?.push({ op: 'deleteSession', clientId: record.clientId });
      continue;
    }
    const session = broker.createSession(record.clientId);
    session.expiryInterval = record.expiryInterval;
    for (const subscription of record.subscriptions) {
      broker.trie.subscribe(record.clientId, subscription.topicFilter, subscription.options);
    }
    for (const outgoing of record.outgoing) {
      session.nextSeq = Math.max(session.nextSeq, outgoing.seq + 1);
      if (outgoing.status === 'queued' || outgoing.packetId === undefined) {
        session.queue.push(toOutgoing(outgoing));
      } else {
        session.inflight.restore({
          packetId: outgoing.packetId,
          outgoing: toOutgoing(outgoing),
          state: STATES[outgoing.status],
        });
      }
    }
    for (const packetId of record.incoming) session.incoming.publish(packetId);
    if (!never) {
      session.expiresAt = expiresAt;
      session.expiryTimer = setLongTimeout(() => broker.endSession(session), expiresAt - now);
    }
  }
  for (const record of state.retained) {
    if (record.expiresAt !== undefined && record.expiresAt <= now) continue;
    broker.retained.set(record.topic, toMessage(record));
  }
  for (const will of state.wills) broker.wills.schedule(will.clientId, toMessage(will.message), will.publishAt);
}
