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
  for (let i = 0; i < deliveries.length; i++) {
    const delivery = deliveries[i]!;
    const session = sessions.get(delivery.clientId);
    if (session !== undefined) session.deliver(toOutgoing(message, delivery));
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

function toOutgoing(message: Message, delivery: Delivery): Outgoing {
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
 * Sends the retained messages matching a new subscription, with RETAIN=1 (3.1.1 [MQTT-3.3.1-8]) (wildcards at the first
 * level do not match `$` topics [MQTT-4.7.2-1], which the retained store applies).
 */
export function sendRetained(
  broker: BrokerCore,
  session: Session,
  filter: string,
  grantedQoS: QoS,
  subscriptionIdentifier: number | undefined,
  now: number,
): void {
  const ids = subscriptionIdentifier !== undefined ? [subscriptionIdentifier] : undefined;
  const expired: string[] = [];
  broker.retained.forEachMatch(filter, (topic, message) => {
    if (isExpired(message, now)) {
      // [MQTT-3.3.2-5] an expired retained message is no longer sent; it is removed from the store here.
      expired.push(topic);
      return;
    }
    session.deliver({
      message,
      qos: Math.min(message.qos, grantedQoS) as QoS,
      retain: true,
      subscriptionIdentifiers: ids,
    });
  });
  for (const topic of expired) {
    broker.retained.delete(topic);
    broker.storeWriter?.push({ op: 'deleteRetained', topic });
  }
}
