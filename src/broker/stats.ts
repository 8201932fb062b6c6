/** Counters the broker keeps (plain fields, incremented on the hot path). */
export interface BrokerStats {
  /** Clients connected now. */
  connections: number;
  /** Connections accepted since start. */
  connectionsTotal: number;
  /** PUBLISH packets received from clients. */
  messagesReceived: number;
  /** PUBLISH packets sent to clients. */
  messagesSent: number;
  /** Messages not delivered to a subscriber (queue full, expired, too large, offline QoS 0, session ended). */
  messagesDropped: number;
  /** Retained messages for a new topic not kept because the retained store was full (maxRetainedMessages). */
  retainedDropped: number;
  bytesReceived: number;
  bytesSent: number;
}

export function createStats(): BrokerStats {
  return {
    connections: 0,
    connectionsTotal: 0,
    messagesReceived: 0,
    messagesSent: 0,
    messagesDropped: 0,
    retainedDropped: 0,
    bytesReceived: 0,
    bytesSent: 0,
  };
}
