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
import type { MessageSource, Session } from './session/session.js';
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
 * Sends the retained messages matching a new subscription, with RETAIN=1 (3.1.1 [MQTT-3.3.1-8]) (wildcards at the first
 * level do not match `$` topics [MQTT-4.7.2-1], which the retained store applies), in the store's order, after
 * everything already sent to the session (the SUBACK included).
 *
 * The matching messages are collected now (expired ones are removed from the store) and delivered one by one while
 * the session sends them at once. From the first one it has to queue (in-flight window full), `flush` writes what was
 * gathered out right away, and the rest goes to the session as a {@link MessageSource}: made and sent as the client
 * acknowledges, counted against the queue's limit meanwhile (Session.addSource; a session without the room for them
 * all, or whose queue a store keeps, queues them at once, under the queue's limit and drop policy). A live message
 * published meanwhile may thus arrive before later retained ones.
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
  // The messages for the source; undefined while they are delivered one by one (not after something waits already).
  let later: Message[] | undefined = session.queuedCount > 0 ? [] : undefined;
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
    if (session.queuedCount > 0 || session.inflight.full) {
      // In-flight window (or socket) full: what was gathered goes out now, the rest as the client acknowledges.
      later = [];
      flush?.();
    }
  });
  for (const topic of expired) {
    broker.retained.delete(topic);
    broker.storeWriter?.push({ op: 'deleteRetained', topic });
  }
  if (later !== undefined && later.length > 0) session.addSource(new RetainedSource(later, grantedQoS, ids), now);
}

function retainedOutgoing(message: Message, grantedQoS: QoS, ids: number[] | undefined): Outgoing {
  return {
    message,
    // 3.1.1 [MQTT-3.8.4-6] / 5.0 [MQTT-3.8.4-8]: at the lower of the retained message's QoS and the granted QoS.
    qos: Math.min(message.qos, grantedQoS) as QoS,
    retain: true,
    subscriptionIdentifiers: ids,
  };
}

/** The retained messages of one subscription still to send, each made into an Outgoing when its turn comes. */
class RetainedSource implements MessageSource {
  private index = 0;
  private head: Outgoing | undefined;

  constructor(
    private readonly messages: (Message | undefined)[],
    private readonly grantedQoS: QoS,
    private readonly ids: number[] | undefined,
  ) {}

  get size(): number {
    return this.messages.length - this.index + (this.head === undefined ? 0 : 1);
  }

  peek(): Outgoing | undefined {
    if (this.head === undefined && this.index < this.messages.length) {
      const message = this.messages[this.index]!;
      this.messages[this.index++] = undefined; // not kept alive by the source once sent
      this.head = retainedOutgoing(message, this.grantedQoS, this.ids);
    }
    return this.head;
  }

  shift(): void {
    this.head = undefined;
  }
}
