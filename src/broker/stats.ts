import type { DropReason } from './session/session.js';

/** Per-QoS counters, indexed by QoS 0..2. */
export type ByQos = [number, number, number];

/** Counters the broker keeps (plain fields, incremented on the hot path). */
export interface BrokerStats {
  /** Clients connected now. */
  connections: number;
  /** Connections accepted since start. */
  connectionsTotal: number;
  /** CONNECTs refused (a refusing CONNACK, or a close before CONNACK), by MQTT 5.0 reason code. */
  connectionsRefused: Record<number, number>;
  /** PUBLISH packets received from clients. */
  messagesReceived: number;
  /** PUBLISH packets sent to clients. */
  messagesSent: number;
  /** PUBLISH packets received from clients, by QoS. */
  messagesReceivedByQos: ByQos;
  /** PUBLISH packets sent to clients, by (delivered) QoS. */
  messagesSentByQos: ByQos;
  /** Payload bytes of the PUBLISH packets received, by QoS. */
  payloadBytesReceivedByQos: ByQos;
  /** Payload bytes of the PUBLISH packets sent, by QoS. */
  payloadBytesSentByQos: ByQos;
  /** Messages not delivered to a subscriber (queue full, expired, too large, offline QoS 0, session ended). */
  messagesDropped: number;
  /** Messages not delivered to a subscriber, by cause (offline-qos0 included, unlike messagesDropped). */
  droppedByReason: Record<DropReason, number>;
  /** PUBLISH packets refused by the authorizePublish hook (not routed). */
  publishUnauthorized: number;
  /** Retained messages for a new topic not kept because the retained store was full (maxRetainedMessages). */
  retainedDropped: number;
  bytesReceived: number;
  bytesSent: number;
  /** CONNECTs refused by authentication (bad credentials, not authorized, failed AUTH exchange, unknown method). */
  authFailures: number;
  /** Sockets or CONNECTs refused by maxConnectionsPerIp, connectRatePerIp or the authentication back-off. */
  connectionsLimited: number;
  /** PUBLISH packets refused by publishRate / publishByteRate or maxTopicLength / maxTopicLevels. */
  publishesLimited: number;
  /** SUBSCRIBE filters refused: not authorized, topic over the limits, or maxSubscriptionsPerClient. */
  subscriptionsDenied: number;
}

export function createStats(): BrokerStats {
  return {
    connections: 0,
    connectionsTotal: 0,
    connectionsRefused: {},
    messagesReceived: 0,
    messagesSent: 0,
    messagesReceivedByQos: [0, 0, 0],
    messagesSentByQos: [0, 0, 0],
    payloadBytesReceivedByQos: [0, 0, 0],
    payloadBytesSentByQos: [0, 0, 0],
    messagesDropped: 0,
    droppedByReason: {
      'queue-full': 0,
      expired: 0,
      'packet-too-large': 0,
      'offline-qos0': 0,
      'session-ended': 0,
      'not-authorized': 0,
    },
    publishUnauthorized: 0,
    retainedDropped: 0,
    bytesReceived: 0,
    bytesSent: 0,
    authFailures: 0,
    connectionsLimited: 0,
    publishesLimited: 0,
    subscriptionsDenied: 0,
  };
}
