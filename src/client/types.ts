/** The facade's public types, and the translation of subscribe() arguments into SUBSCRIBE contents. */
import type {
  ConnackPacket,
  DisconnectPacket,
  Packet,
  Properties as PacketProperties,
  QoS,
  Subscription,
} from '../codec/index.js';
import type { Message } from './messages.js';
import { type Properties, toPacketProperties } from './properties.js';

export type ClientEvents = {
  /** A connection was accepted (first connection and every reconnection). */
  connect: (connack: ConnackPacket) => void;
  message: (topic: string, payload: Uint8Array, message: Message) => void;
  /** A reconnection attempt starts. */
  reconnect: () => void;
  /** An established connection was lost. */
  offline: () => void;
  /** A transport closed (after every connection or failed attempt). */
  close: () => void;
  error: (error: Error) => void;
  /** The client is finished: end() was called, or the connection was lost with reconnection disabled. */
  end: () => void;
  /** The broker sent DISCONNECT (MQTT 5.0). */
  disconnect: (packet: DisconnectPacket) => void;
  packetsend: (packet: Packet) => void;
  packetreceive: (packet: Packet) => void;
};

export interface PublishOptions {
  qos?: QoS;
  retain?: boolean;
  dup?: boolean;
  properties?: Properties;
}

/** What a publish resolves with: the broker's PUBACK/PUBREC reason (0 for QoS 0 and under 3.1.1). */
export interface PublishResult {
  reasonCode: number;
  properties?: Properties;
}

/** Subscription options: MQTT.js's short names (nl, rap, rh) and the specification's names are both accepted. */
export interface SubscribeOptions {
  qos?: QoS;
  nl?: boolean;
  noLocal?: boolean;
  rap?: boolean;
  retainAsPublished?: boolean;
  rh?: 0 | 1 | 2;
  retainHandling?: 0 | 1 | 2;
  /** MQTT 5.0 SUBSCRIBE properties: `subscriptionIdentifier` is set as the Subscription Identifier. */
  properties?: Properties & { subscriptionIdentifier?: number };
}

/** One filter's outcome: `qos` is the granted QoS, or the failure code as MQTT.js reports it (e.g. 128). */
export interface SubscriptionGrant {
  topic: string;
  qos: number;
  /** The SUBACK reason code: 0..2 granted, ≥ 0x80 refused. */
  reasonCode: number;
}

export interface UnsubscribeResult {
  topic: string;
  /** 0x00 success, 0x11 no subscription existed, ≥ 0x80 refused (always 0 under 3.1.1). */
  reasonCode: number;
}

/** subscribe(filter | filters | { filter: options }, options) → the SUBSCRIBE's subscriptions and properties. */
export function toSubscribeRequest(
  filters: string | string[] | Record<string, SubscribeOptions>,
  options: SubscribeOptions,
  protocolVersion: 3 | 4 | 5,
): { entries: [string, SubscribeOptions][]; subscriptions: Subscription[]; properties: PacketProperties | undefined } {
  const entries: [string, SubscribeOptions][] =
    typeof filters === 'string'
      ? [[filters, options]]
      : Array.isArray(filters)
        ? filters.map((f) => [f, options])
        : Object.entries(filters).map(([f, o]) => [f, { ...options, ...o }]);
  const subscriptions: Subscription[] = entries.map(([topicFilter, o]) => {
    const s: Subscription = { topicFilter, qos: o.qos ?? 0 };
    if (protocolVersion === 5) {
      s.noLocal = o.nl ?? o.noLocal ?? false;
      s.retainAsPublished = o.rap ?? o.retainAsPublished ?? false;
      s.retainHandling = o.rh ?? o.retainHandling ?? 0;
    }
    return s;
  });
  const { subscriptionIdentifier, ...props } = options.properties ?? {};
  let properties = protocolVersion === 5 ? toPacketProperties(props) : undefined;
  if (properties !== undefined && subscriptionIdentifier !== undefined) {
    properties = { ...properties, subscriptionIdentifiers: [subscriptionIdentifier] };
  }
  if (properties !== undefined && Object.keys(properties).length === 0) properties = undefined;
  return { entries, subscriptions, properties };
}
