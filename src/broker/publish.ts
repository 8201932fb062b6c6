/**
 * The publish path, as named steps:
 *   storeRetained → match (trie: wildcards, $-rule, No Local, shared groups) → per delivery:
 *   downgrade QoS to the granted one, set the RETAIN flag per Retain As Published, attach subscription
 *   identifiers → session.deliver (send now, or queue, or drop; the connection applies Message Expiry and the
 *   client's Maximum Packet Size when it writes).
 * No I/O waits, no store reads, no per-message closures.
 */
import type { QoS } from '../codec/index.js';
import type { BrokerCore } from './core.js';
import { detachMessage, isExpired, type Message, type Outgoing } from './message.js';
import type { Delivery } from './routing/index.js';
import type { Session } from './session/session.js';
import { toRecord } from './will.js';

/** Routes a message to every matching subscriber; returns the number of deliveries (0 = no matching subscribers). */
export function routeMessage(broker: BrokerCore, message: Message): number {
  if (message.retain) storeRetained(broker, message);
  const deliveries = broker.trie.match(message.topic, message.publisherId, broker.isAvailable);
  const sessions = broker.sessions;
  // Cluster: set only for a few seconds after a session moved here (a message may reach it twice then).
  const accept = broker.deliveryFilter;
  for (let i = 0; i < deliveries.length; i++) {
    const delivery = deliveries[i]!;
    const session = sessions.get(delivery.clientId);
    if (session === undefined) continue;
    if (accept !== undefined && !accept(delivery.clientId, message)) continue;
    session.deliver(toOutgoing(message, delivery));
  }
  if (broker.listenerCount('messagePublished') > 0) broker.emit('messagePublished', message, deliveries.length);
  return deliveries.length;
}

/**
 * [MQTT-3.3.1-5] a PUBLISH with RETAIN=1 replaces the retained message of its topic; an empty payload removes it
 * and is itself not stored (3.1.1 [MQTT-3.3.1-10/11]; 5.0 [MQTT-3.3.1-6/7]).
 */
export function storeRetained(broker: BrokerCore, message: Message): void {
  const { topic } = message;
  if (message.payload.length === 0) {
    if (broker.retained.delete(topic)) broker.storeWriter?.push({ op: 'deleteRetained', topic });
    return;
  }
  const limit = broker.options.maxRetainedMessages;
  if (limit > 0 && broker.retained.size >= limit && broker.retained.get(topic) === undefined) {
    // The retained store is full: a new topic is not retained (the message is still routed), see options.ts.
    broker.stats.retainedDropped++;
    return;
  }
  // A copy of its own: the live message's encode cache and socket-chunk payload are not kept for the long term.
  const kept: Message = { ...message };
  detachMessage(kept);
  broker.retained.set(topic, kept);
  broker.storeWriter?.push({ op: 'putRetained', message: toRecord(message) });
}

export function toOutgoing(message: Message, delivery: Delivery): Outgoing {
  return {
    message,
    // 3.1.1 [MQTT-3.8.4-6] / 5.0 [MQTT-3.8.4-8]: delivered at the lower of the publish QoS and the granted QoS.
    qos: Math.min(message.qos, delivery.qos) as QoS,
    // RETAIN cleared on live forwarding (3.1.1 [MQTT-3.3.1-9]; 5.0 [MQTT-3.3.1-12]) unless Retain As Published
    // [MQTT-3.3.1-13].
    retain: delivery.retainAsPublished && message.retain,
    subscriptionIdentifiers: delivery.subscriptionIdentifiers,
  };
}

/**
 * Retained messages handed to a session per turn once its first in-flight window is out (see sendRetained): small
 * enough that the acknowledgements arriving meanwhile are read between two chunks, large enough that a big fetch
 * takes few turns.
 */
export const RETAINED_CHUNK = 1024;

/** The retained messages of one subscription still to hand to the session, in the store's order. */
interface RetainedBatch {
  readonly messages: (Message | undefined)[];
  next: number;
  readonly qos: QoS;
  readonly ids: number[] | undefined;
}

/** A session's retained messages not handed to it yet: the batches of its subscriptions, in SUBSCRIBE order. */
interface RetainedFetch {
  readonly broker: BrokerCore;
  readonly session: Session;
  readonly batches: RetainedBatch[];
}

/** At most one fetch per session; it ends (and is removed) once its last batch is handed over or abandoned. */
const fetches = new WeakMap<Session, RetainedFetch>();

/**
 * Sends the retained messages matching a new subscription, with RETAIN=1 (3.1.1 [MQTT-3.3.1-8]) (wildcards at the first
 * level do not match `$` topics [MQTT-4.7.2-1], which the retained store applies), in the store's order, after
 * everything already sent to the session (the SUBACK included).
 *
 * The matching messages are collected now (a snapshot; expired ones are removed from the store). They go to the
 * session through session.deliver, so the in-flight window, the queue limit and its drop policy apply as to any
 * message. They are delivered at once until the session starts queueing; then `flush` writes the first window out
 * right away (SUBACK first) and, for a session without durable state, the rest is handed over RETAINED_CHUNK per turn,
 * so that a large fetch neither holds the first messages back nor stops the broker from reading the client's
 * acknowledgements. A live message published meanwhile may thus arrive before later retained ones. A session that
 * ends (or is replaced by a clean start) before the end drops the rest as 'session-ended', as it would have dropped
 * them from its queue. A durable session (store and Session Expiry > 0) gets them all queued now, as the store keeps
 * its queue.
 */
export function sendRetained(
  broker: BrokerCore,
  session: Session,
  filter: string,
  grantedQoS: QoS,
  subscriptionIdentifier: number | undefined,
  now: number,
  flush?: () => void,
): void {
  const ids = subscriptionIdentifier !== undefined ? [subscriptionIdentifier] : undefined;
  const expired: string[] = [];
  const pending = fetches.get(session);
  const deferrable = !isDurable(session) && !broker.closing;
  if (pending !== undefined && !deferrable) finishFetch(pending, Number.POSITIVE_INFINITY);
  // Messages for later turns; undefined while they are delivered now.
  let later: Message[] | undefined = pending !== undefined && deferrable ? [] : undefined;
  let flushed = flush === undefined;
  broker.retained.forEachMatch(filter, (topic, message) => {
    if (isExpired(message, now)) {
      // [MQTT-3.3.2-5] an expired retained message is no longer sent; it is removed from the store here.
      expired.push(topic);
      return;
    }
    if (later !== undefined) {
      later.push(message);
      return;
    }
    session.deliver(retainedOutgoing(message, grantedQoS, ids));
    if (session.queuedCount > 0) {
      // The window (or the socket) is full: what was gathered goes out now, the rest as the client acknowledges.
      if (!flushed) {
        flushed = true;
        flush!();
      }
      if (deferrable) later = [];
    }
  });
  for (const topic of expired) {
    broker.retained.delete(topic);
    broker.storeWriter?.push({ op: 'deleteRetained', topic });
  }
  if (later === undefined || later.length === 0) return;
  const batch: RetainedBatch = { messages: later, next: 0, qos: grantedQoS, ids };
  if (pending !== undefined) {
    pending.batches.push(batch);
    return;
  }
  const fetch: RetainedFetch = { broker, session, batches: [batch] };
  fetches.set(session, fetch);
  setImmediate(continueFetch, fetch);
}

/** A session whose queue a store keeps (its retained messages are then queued at once, and persisted with it). */
function isDurable(session: Session): boolean {
  return session.persistence !== undefined && session.expiryInterval !== 0;
}

function retainedOutgoing(message: Message, qos: QoS, ids: number[] | undefined): Outgoing {
  return { message, qos: Math.min(message.qos, qos) as QoS, retain: true, subscriptionIdentifiers: ids };
}

/** One turn of a fetch: the next RETAINED_CHUNK messages (all of them if the broker is closing). */
function continueFetch(fetch: RetainedFetch): void {
  const { broker, session } = fetch;
  if (fetches.get(session) !== fetch) return; // finished meanwhile by a SUBSCRIBE that could not wait
  if (broker.sessions.get(session.clientId) !== session) {
    abandonFetch(fetch);
    return;
  }
  const deferrable = !isDurable(session) && !broker.closing;
  if (finishFetch(fetch, deferrable ? RETAINED_CHUNK : Number.POSITIVE_INFINITY)) setImmediate(continueFetch, fetch);
}

/** Hands up to `budget` messages to the session; returns true if some remain. */
function finishFetch(fetch: RetainedFetch, budget: number): boolean {
  const { broker, session, batches } = fetch;
  const now = Date.now();
  let left = budget;
  while (batches.length > 0) {
    const batch = batches[0]!;
    const { messages, qos, ids } = batch;
    while (batch.next < messages.length) {
      if (left-- <= 0) return true;
      const message = messages[batch.next]!;
      messages[batch.next++] = undefined;
      if (isExpired(message, now)) {
        // Expired since the SUBSCRIBE: not sent, and removed from the store unless replaced meanwhile.
        if (broker.retained.get(message.topic) === message) {
          broker.retained.delete(message.topic);
          broker.storeWriter?.push({ op: 'deleteRetained', topic: message.topic });
        }
        continue;
      }
      session.deliver(retainedOutgoing(message, qos, ids));
    }
    batches.shift();
  }
  fetches.delete(session);
  return false;
}

/** The session ended before its fetch did: the rest is dropped, as its queue was. */
function abandonFetch(fetch: RetainedFetch): void {
  const { broker, session, batches } = fetch;
  fetches.delete(session);
  for (const batch of batches) {
    const { messages, qos, ids } = batch;
    for (let i = batch.next; i < messages.length; i++) {
      broker.messageDropped(session, retainedOutgoing(messages[i]!, qos, ids), 'session-ended');
    }
  }
  batches.length = 0;
}
