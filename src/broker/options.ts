/**
 * Broker options. Every field is optional; {@link resolveOptions} fills in the defaults documented here.
 */
import type { Logger } from 'pino';
import type { BrokerHooks } from './hooks.js';
import type { Store } from './store/store.js';

export interface BrokerOptions {
  /** Seconds a new connection has to send CONNECT before it is closed. Default 10. */
  connectTimeout?: number;
  /**
   * Largest packet accepted from a client, in bytes (whole packet). Announced to MQTT 5.0 clients as
   * Maximum Packet Size; larger packets end the connection (DISCONNECT 0x95 in 5.0). Default 268,435,460
   * (the protocol maximum, i.e. no limit beyond the wire format).
   */
  maxPacketSize?: number;
  /**
   * Outgoing QoS 1/2 messages a session may have unacknowledged at once (further ones are queued), and the
   * Receive Maximum announced to MQTT 5.0 clients for incoming QoS 2 (exceeding it: DISCONNECT 0x93).
   * The outgoing window is min(this, the client's Receive Maximum). Default 20 (as Mosquitto's
   * max_inflight_messages).
   */
  maxInflight?: number;
  /**
   * Messages queued per session (offline, window full, or socket back-pressured). Default 1000 (as
   * Mosquitto's max_queued_messages). When full: an arriving QoS 0 message is dropped; an arriving QoS 1/2
   * message evicts the oldest queued QoS 0 message, else it is dropped. Drops are counted in stats and
   * reported by the messageDropped event.
   */
  maxQueuedMessages?: number;
  /** Also queue QoS 0 messages for offline persistent sessions. Default false (as Mosquitto). */
  queueQos0Offline?: boolean;
  /**
   * Bytes buffered in a socket beyond which messages for that client are queued in its session instead
   * of written (back-pressure from a subscriber that does not read). Default 1 MiB.
   */
  maxWriteBuffer?: number;
  /** Simultaneous connections; further CONNECTs get CONNACK 0x89 (5.0) / 0x03 (3.1.1). Default 0 = no limit. */
  maxConnections?: number;
  /**
   * Largest Keep Alive, in seconds. An MQTT 5.0 client asking for more (or for 0) is told this value in
   * Server Keep Alive and held to it; MQTT 3.1/3.1.1 clients cannot be told, so their value is used as is.
   * Default 0 = no limit.
   */
  maxKeepAlive?: number;
  /** Topic Alias Maximum announced to MQTT 5.0 clients (aliases from client to broker). Default 10. 0 disables. */
  topicAliasMaximum?: number;
  /**
   * Highest QoS the broker accepts and grants (Maximum QoS). Default 2. Below 2: MQTT 5.0 clients are told in
   * CONNACK and a PUBLISH above it gets DISCONNECT 0x9B; subscriptions are granted at most this QoS (all versions);
   * a 3.1/3.1.1 PUBLISH above it closes the connection.
   */
  maximumQoS?: 0 | 1 | 2;
  /** Whether retained messages are supported (Retain Available). Default true. */
  retainAvailable?: boolean;
  /**
   * Most retained messages kept (distinct topics). When full, a retained PUBLISH for a topic that has none is still
   * delivered to the current subscribers but not retained (nor stored), and counted in stats.retainedDropped
   * ($SYS/broker/retained messages/dropped); replacing or deleting an existing retained message always works. The
   * limit applies at startup restore too. Default 1,000,000. 0 = no limit.
   */
  maxRetainedMessages?: number;
  /**
   * Largest Session Expiry Interval granted, in seconds (a longer request is reduced and announced in
   * CONNACK). Default 0xFFFFFFFF (no limit).
   */
  maxSessionExpiryInterval?: number;
  /** Seconds between $SYS/broker/... updates. Default 10. 0 disables $SYS. */
  sysInterval?: number;
  /** Prefix of generated client ids (empty CONNECT client id). Default 'midge-'. */
  clientIdPrefix?: string;
  // ─── abuse limits (docs/security.md) ───────────────────────────────────────────────────────────────────────────
  /** Open sockets per remote address (CONNECT sent or not); further sockets are closed at once. Default 0 = no limit. */
  maxConnectionsPerIp?: number;
  /**
   * CONNECTs per second per remote address (token bucket, burst = one second's worth, at least 1); beyond it CONNACK
   * 0x9F Connection rate exceeded (3.1.1: 0x03). Default 0 = no limit.
   */
  connectRatePerIp?: number;
  /** PUBLISH packets per second per client (token bucket, burst = one second's worth). Default 0 = no limit. */
  publishRate?: number;
  /** PUBLISH payload+topic bytes per second per client (token bucket, burst ≥ 64 KiB). Default 0 = no limit. */
  publishByteRate?: number;
  /**
   * What exceeding publishRate/publishByteRate does to an MQTT 5.0 client: 'disconnect' = DISCONNECT 0x96 Message rate
   * too high; 'reject' = the message is dropped, QoS 1/2 acknowledged with 0x97 Quota exceeded (0x96 is not a PUBACK
   * reason code). MQTT 3.1/3.1.1 clients are always disconnected. Default 'disconnect'.
   */
  publishRateAction?: 'disconnect' | 'reject';
  /** Subscriptions per client; further filters get SUBACK 0x97 Quota exceeded (3.1.1: 0x80). Default 0 = no limit. */
  maxSubscriptionsPerClient?: number;
  /**
   * Longest topic name / filter in UTF-8 bytes, and most levels; beyond them a PUBLISH is refused like an unauthorized
   * one (5.0 reason 0x90 Topic Name invalid), a filter gets SUBACK 0x8F (3.1.1: 0x80), a will CONNACK 0x90 (3.1.1: the
   * connection is closed). Default 0 = no limit (65,535 bytes, the protocol's).
   */
  maxTopicLength?: number;
  maxTopicLevels?: number;
  /**
   * Back-off against password guessing: after this many refused authentications from one address within
   * authFailureWindow seconds, the address is refused (CONNACK 0x9F / 3.1.1 0x03, credentials not checked) for
   * authBackoffBase seconds, doubled by each further failure up to authBackoffMax. Defaults 5, 60 s, 1 s, 60 s; a
   * threshold of 0 disables the back-off.
   */
  authFailureThreshold?: number;
  authFailureWindow?: number;
  authBackoffBase?: number;
  authBackoffMax?: number;
  hooks?: BrokerHooks;
  /** Persistence; default none (state is kept in memory only). */
  store?: Store;
  logger?: Logger;
}

export interface ResolvedOptions
  extends Required<Omit<BrokerOptions, 'hooks' | 'store' | 'logger'>>,
    Pick<BrokerOptions, 'hooks' | 'store' | 'logger'> {}

export const DEFAULT_OPTIONS: Required<Omit<BrokerOptions, 'hooks' | 'store' | 'logger'>> = {
  connectTimeout: 10,
  maxPacketSize: 268_435_460,
  maxInflight: 20,
  maxQueuedMessages: 1000,
  queueQos0Offline: false,
  maxWriteBuffer: 1024 * 1024,
  maxConnections: 0,
  maxKeepAlive: 0,
  topicAliasMaximum: 10,
  maximumQoS: 2,
  retainAvailable: true,
  maxRetainedMessages: 1_000_000,
  maxSessionExpiryInterval: 0xffff_ffff,
  sysInterval: 10,
  clientIdPrefix: 'midge-',
  maxConnectionsPerIp: 0,
  connectRatePerIp: 0,
  publishRate: 0,
  publishByteRate: 0,
  publishRateAction: 'disconnect',
  maxSubscriptionsPerClient: 0,
  maxTopicLength: 0,
  maxTopicLevels: 0,
  authFailureThreshold: 5,
  authFailureWindow: 60,
  authBackoffBase: 1,
  authBackoffMax: 60,
};

export function resolveOptions(options: BrokerOptions = {}): ResolvedOptions {
  const resolved = { ...DEFAULT_OPTIONS } as ResolvedOptions;
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined) (resolved as unknown as Record<string, unknown>)[key] = value;
  }
  if (resolved.maxInflight < 1 || resolved.maxInflight > 65_535) throw new RangeError('maxInflight must be 1..65535');
  if (resolved.topicAliasMaximum < 0 || resolved.topicAliasMaximum > 65_535) {
    throw new RangeError('topicAliasMaximum must be 0..65535');
  }
  return resolved;
}
