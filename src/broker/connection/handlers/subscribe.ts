/**
 * SUBSCRIBE (§3.8): authorize each filter (hook), add it to the trie (replacing an identical filter of this
 * client [MQTT-3.8.4-3]), answer SUBACK with one code per filter, in order (3.1.1 [MQTT-3.8.4-5], 5.0 [MQTT-3.8.4-6]), then send the matching
 * retained messages per Retain Handling (5.0) — after the SUBACK, so the client knows the subscription first.
 */
import {
  PacketType,
  type QoS,
  ReasonCode,
  SubackFailure,
  type SubackPacket,
  type SubscribePacket,
  type Subscription,
} from '../../../codec/index.js';
import { protocolViolation } from '../../errors.js';
import type { AuthorizeSubscribeResult } from '../../hooks.js';
import { sendRetained } from '../../publish.js';
import { parseSharedFilter, type SubscriptionOptions } from '../../routing/index.js';
import { topicWithinLimits } from '../../topic-limits.js';
import type { Connection } from '../connection.js';

export function handleSubscribe(connection: Connection, packet: SubscribePacket): void | Promise<void> {
  for (const subscription of packet.subscriptions) {
    if (subscription.noLocal && parseSharedFilter(subscription.topicFilter) !== undefined) {
      // [MQTT-3.8.3-4] No Local on a shared subscription is a Protocol Error.
      throw protocolViolation('No Local on a shared subscription');
    }
  }
  const authorize = connection.broker.options.hooks?.authorizeSubscribe;
  if (authorize === undefined) {
    complete(connection, packet, undefined);
    return;
  }
  const verdicts = packet.subscriptions.map((s) => authorize(connection.info!, s));
  if (verdicts.some((v) => v instanceof Promise)) {
    return Promise.all(verdicts).then((answers) => complete(connection, packet, answers));
  }
  complete(connection, packet, verdicts as AuthorizeSubscribeResult[]);
}

/** Granted QoS (0..2) or a failure reason code (>= 0x80) for one filter. */
function grant(subscription: Subscription, verdict: AuthorizeSubscribeResult | undefined, maximumQoS: number): number {
  const requested = Math.min(subscription.qos, maximumQoS);
  if (verdict === undefined || verdict === true) return requested;
  if (verdict === false) return ReasonCode.NotAuthorized;
  if (verdict >= 0x80) return verdict;
  return Math.min(verdict, requested);
}

function complete(connection: Connection, packet: SubscribePacket, verdicts: AuthorizeSubscribeResult[] | undefined) {
  const { broker, clientId } = connection;
  const session = connection.session!;
  const v5 = connection.protocolVersion === 5;
  const subscriptionIdentifier = packet.properties?.subscriptionIdentifiers?.[0];
  const reasonCodes: number[] = [];
  const retainedToSend: { filter: string; qos: QoS }[] = [];
  const { maxTopicLength, maxTopicLevels, maxSubscriptionsPerClient } = broker.options;
  packet.subscriptions.forEach((subscription, index) => {
    let granted = grant(subscription, verdicts?.[index], broker.options.maximumQoS);
    const filter = subscription.topicFilter;
    if (granted < 0x80 && !topicWithinLimits(filter, maxTopicLength, maxTopicLevels)) {
      granted = ReasonCode.TopicFilterInvalid;
    }
    if (granted < 0x80 && maxSubscriptionsPerClient > 0) {
      const existing = broker.trie.subscriptionsOf(clientId);
      if ((existing?.size ?? 0) >= maxSubscriptionsPerClient && existing?.has(filter) !== true) {
        granted = ReasonCode.QuotaExceeded;
      }
    }
    if (granted >= 0x80) {
      broker.stats.subscriptionsDenied++;
      reasonCodes.push(v5 ? granted : SubackFailure);
      return;
    }
    const options: SubscriptionOptions = {
      qos: granted as QoS,
      noLocal: subscription.noLocal ?? false,
      retainAsPublished: subscription.retainAsPublished ?? false,
      retainHandling: subscription.retainHandling ?? 0,
    };
    if (subscriptionIdentifier !== undefined) options.subscriptionIdentifier = subscriptionIdentifier;
    const isNew = broker.trie.subscribe(clientId, subscription.topicFilter, options);
    broker.storeWriter?.push({
      op: 'putSubscription',
      clientId,
      subscription: { topicFilter: subscription.topicFilter, options },
    });
    reasonCodes.push(granted);
    // Retained messages on subscribe: Retain Handling 0 = always [MQTT-3.3.1-9], 1 = only if the subscription is
    // new [MQTT-3.3.1-10], 2 = never [MQTT-3.3.1-11] (5.0 numbering); none for a shared subscription (5.0 §4.8.2).
    const handling = options.retainHandling;
    if (handling === 2 || (handling === 1 && !isNew)) return;
    if (parseSharedFilter(subscription.topicFilter) !== undefined) return;
    retainedToSend.push({ filter: subscription.topicFilter, qos: granted as QoS });
  });
  const suback: SubackPacket = { type: PacketType.SUBACK, packetId: packet.packetId, reasonCodes };
  connection.send(suback);
  if (retainedToSend.length === 0) return;
  const now = Date.now();
  const flush = () => connection.flush();
  for (const { filter, qos } of retainedToSend) {
    sendRetained(broker, session, filter, qos, subscriptionIdentifier, now, flush);
  }
}
