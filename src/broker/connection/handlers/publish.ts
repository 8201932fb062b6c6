/**
 * PUBLISH from a client (§3.3): resolve the topic alias, check limits, authorize (hook), route, acknowledge.
 * QoS 2 uses method B of §4.3.3: the packet id is stored and the message routed on the first PUBLISH; a resend
 * before PUBREL is acknowledged again but not routed again (5.0 [MQTT-4.3.3-10], 3.1.1 [MQTT-4.3.3-2]).
 * With a durable store every PUBACK / PUBREC waits for the commit of the batch holding the message's effects, in
 * order (store/durable-acks.ts); otherwise it is written at once.
 */
import { isValidTopicName, PacketType, type PublishPacket, ReasonCode } from '../../../codec/index.js';
import { ProtocolViolation, protocolViolation } from '../../errors.js';
import type { AuthorizePublishResult } from '../../hooks.js';
import { createMessage } from '../../message.js';
import { sendAck } from '../../store/durable-acks.js';
import { topicWithinLimits } from '../../topic-limits.js';
import type { Connection } from '../connection.js';

export function handlePublish(connection: Connection, packet: PublishPacket): void | Promise<void> {
  const { broker } = connection;
  broker.stats.messagesReceived++;
  const topic = resolveTopic(connection, packet);
  const responseTopic = packet.properties?.responseTopic;
  if (responseTopic !== undefined && !isValidTopicName(responseTopic)) {
    // [MQTT-3.3.2-14] a Response Topic with wildcards would be forwarded unchanged [MQTT-3.3.2-15]: refuse it.
    throw protocolViolation('the Response Topic must be a Topic Name without wildcards');
  }
  if (packet.retain && !broker.options.retainAvailable) {
    // 5.0 §3.3.1.3: RETAIN=1 when Retain Available is 0 → DISCONNECT 0x9A.
    throw new ProtocolViolation(ReasonCode.RetainNotSupported, 'retain not supported');
  }
  if (packet.qos > broker.options.maximumQoS) {
    // 5.0 §3.2.2.3.4: a PUBLISH above the Maximum QoS we announced → DISCONNECT 0x9B QoS not supported.
    throw new ProtocolViolation(ReasonCode.QoSNotSupported, `QoS ${packet.qos} not supported`);
  }
  if (packet.qos === 2 && connection.protocolVersion === 5) {
    const session = connection.session!;
    const id = packet.packetId!;
    // 3.1/3.1.1 have no Receive Maximum: their incoming QoS 2 ids are bounded only by the packet id space.
    if (!session.incoming.has(id) && session.incoming.size >= broker.options.maxInflight) {
      // More unacknowledged QoS 2 PUBLISH than the Receive Maximum we announced: DISCONNECT 0x93 (5.0 §3.3.4).
      throw new ProtocolViolation(ReasonCode.ReceiveMaximumExceeded, 'receive maximum exceeded');
    }
  }
  const { options } = broker;
  const limiter = connection.publishLimiter;
  if (limiter !== undefined && !limiter.allow(packet.payload.length + topic.length, Date.now())) {
    // publishRate / publishByteRate: 5.0 DISCONNECT 0x96 (or, with publishRateAction 'reject', the message is
    // refused with 0x97 Quota exceeded); 3.1/3.1.1 cannot be told: the connection is closed.
    broker.stats.publishesLimited++;
    if (connection.protocolVersion !== 5 || options.publishRateAction === 'disconnect') {
      throw new ProtocolViolation(ReasonCode.MessageRateTooHigh, 'message rate too high');
    }
    refuse(connection, packet, ReasonCode.QuotaExceeded);
    return;
  }
  if (!topicWithinLimits(topic, options.maxTopicLength, options.maxTopicLevels)) {
    broker.stats.publishesLimited++;
    refuse(connection, packet, ReasonCode.TopicNameInvalid);
    return;
  }
  const authorize = options.hooks?.authorizePublish;
  if (authorize === undefined) {
    complete(connection, packet, topic, true);
    return;
  }
  const result = authorize(connection.info!, topic === packet.topic ? packet : { ...packet, topic });
  if (result instanceof Promise) return result.then((answer) => complete(connection, packet, topic, answer));
  complete(connection, packet, topic, result);
}

/** 5.0 Topic Alias (§3.3.2.3.4): 0 or above our Topic Alias Maximum → 0x94; an unknown alias → Protocol Error. */
function resolveTopic(connection: Connection, packet: PublishPacket): string {
  const alias = packet.properties?.topicAlias;
  if (alias === undefined) return packet.topic;
  if (alias === 0 || alias > connection.broker.options.topicAliasMaximum) {
    throw new ProtocolViolation(ReasonCode.TopicAliasInvalid, `topic alias ${alias} out of range`);
  }
  if (packet.topic.length > 0) {
    connection.topicAliases.set(alias, packet.topic);
    return packet.topic;
  }
  const topic = connection.topicAliases.get(alias);
  if (topic === undefined) throw protocolViolation(`unknown topic alias ${alias}`);
  return topic;
}

/**
 * A refused PUBLISH is not routed. QoS 0: dropped. QoS 1/2: 5.0 acknowledged with the reason code; 3.1.1 cannot
 * refuse a PUBLISH: it is acknowledged normally and dropped (as Mosquitto does).
 */
function refuse(connection: Connection, packet: PublishPacket, reasonCode: number): void {
  const v5 = connection.protocolVersion === 5;
  if (packet.qos === 1) {
    sendAck(connection, {
      type: PacketType.PUBACK,
      packetId: packet.packetId!,
      reasonCode: v5 ? reasonCode : undefined,
    });
  }
  if (packet.qos === 2) {
    sendAck(connection, {
      type: PacketType.PUBREC,
      packetId: packet.packetId!,
      reasonCode: v5 ? reasonCode : undefined,
    });
  }
}

function complete(connection: Connection, packet: PublishPacket, topic: string, verdict: AuthorizePublishResult): void {
  const { broker } = connection;
  const refused =
    verdict === false ? ReasonCode.NotAuthorized : typeof verdict === 'number' && verdict >= 0x80 ? verdict : 0;
  const v5 = connection.protocolVersion === 5;
  if (refused !== 0) {
    broker.stats.publishUnauthorized++;
    refuse(connection, packet, refused);
    return;
  }
  const now = Date.now();
  if (packet.qos === 0) {
    broker.publish(createMessage(topic, packet.payload, 0, packet.retain, packet.properties, connection.clientId, now));
    return;
  }
  const packetId = packet.packetId!;
  if (packet.qos === 1) {
    const matched = broker.publish(
      createMessage(topic, packet.payload, 1, packet.retain, packet.properties, connection.clientId, now),
    );
    const reasonCode = v5 && matched === 0 ? ReasonCode.NoMatchingSubscribers : undefined;
    // [MQTT-4.3.2-2] PUBACK after taking ownership of the message (with a durable store: once it is committed).
    sendAck(connection, { type: PacketType.PUBACK, packetId, reasonCode });
    return;
  }
  let reasonCode: number | undefined;
  if (connection.session!.incoming.publish(packetId)) {
    const matched = broker.publish(
      createMessage(topic, packet.payload, 2, packet.retain, packet.properties, connection.clientId, now),
    );
    if (v5 && matched === 0) reasonCode = ReasonCode.NoMatchingSubscribers;
    broker.storeWriter?.push({ op: 'putIncoming', clientId: connection.clientId, packetId });
  }
  // [MQTT-4.3.3-8] PUBREC for the first and for any resent PUBLISH with this id.
  sendAck(connection, { type: PacketType.PUBREC, packetId, reasonCode });
}
