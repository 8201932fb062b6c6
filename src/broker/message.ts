import type { Properties, QoS } from '../codec/index.js';

/**
 * A message as the broker routes it: what a publisher sent, with the topic alias already resolved.
 * One Message object is shared by every subscriber it is routed to; per-subscriber differences
 * (granted QoS, retain flag, subscription identifiers, packet id) live in an {@link Outgoing}.
 */
export interface Message {
  topic: string;
  payload: Uint8Array;
  /** The QoS the publisher used. */
  qos: QoS;
  /** The RETAIN flag the publisher set. */
  retain: boolean;
  /**
   * MQTT 5.0 properties to forward: everything the publisher sent except Topic Alias and Subscription
   * Identifiers (both are per-hop). User Properties are kept unaltered [MQTT-3.3.2-17] and in order [MQTT-3.3.2-18].
   */
  properties: Properties | undefined;
  /** Client id of the publisher; undefined for messages the broker makes itself ($SYS). */
  publisherId: string | undefined;
  /** Absolute deadline (ms since the epoch) from the Message Expiry Interval, or undefined if none. */
  expiresAt: number | undefined;
  /**
   * Encoded QoS 0 PUBLISH bytes shared by every subscriber that gets the identical packet (index =
   * protocol family * 2 + retain flag); filled lazily by the first connection that encodes it.
   */
  encoded?: (Uint8Array | undefined)[];
}

/** One message on its way to one subscriber. */
export interface Outgoing {
  message: Message;
  /** min(publisher QoS, granted QoS) [MQTT-3.8.4-8]. */
  qos: QoS;
  /** RETAIN flag to send: the publisher's if Retain As Published, else 0 on live forwarding [MQTT-3.3.1-12/13]. */
  retain: boolean;
  /** Identifiers of the matching subscriptions that had one [MQTT-3.3.4-3]. */
  subscriptionIdentifiers: number[] | undefined;
  /** Per-session sequence number, set when the session persists this message to a store. */
  seq?: number;
}

/** Builds a Message; strips the per-hop properties and turns Message Expiry Interval into a deadline. */
export function createMessage(
  topic: string,
  payload: Uint8Array,
  qos: QoS,
  retain: boolean,
  properties: Properties | undefined,
  publisherId: string | undefined,
  now: number,
): Message {
  let props = properties;
  let expiresAt: number | undefined;
  if (props !== undefined) {
    if (props.topicAlias !== undefined || props.subscriptionIdentifiers !== undefined) {
      props = { ...props };
      delete props.topicAlias;
      delete props.subscriptionIdentifiers;
    }
    if (props.messageExpiryInterval !== undefined) expiresAt = now + props.messageExpiryInterval * 1000;
    if (Object.keys(props).length === 0) props = undefined;
  }
  return { topic, payload, qos, retain, properties: props, publisherId, expiresAt };
}

/** True if the message's Message Expiry Interval has passed [MQTT-3.3.2-5]. */
export function isExpired(message: Message, now: number): boolean {
  return message.expiresAt !== undefined && message.expiresAt <= now;
}

/**
 * The properties to send for a message now: Message Expiry Interval is replaced by the time left
 * [MQTT-3.3.2-6]; Subscription Identifiers are added per subscriber.
 */
export function outgoingProperties(out: Outgoing, now: number): Properties | undefined {
  const { message } = out;
  const base = message.properties;
  if (message.expiresAt === undefined && out.subscriptionIdentifiers === undefined) return base;
  const props: Properties = { ...base };
  if (message.expiresAt !== undefined) {
    props.messageExpiryInterval = Math.max(0, Math.ceil((message.expiresAt - now) / 1000));
  }
  if (out.subscriptionIdentifiers !== undefined) props.subscriptionIdentifiers = out.subscriptionIdentifiers;
  return props;
}

/**
 * A decoded payload is a view into the socket chunk it arrived in, and an encoded PUBLISH a view into the encoder's
 * shared slab: keeping either for long keeps the whole underlying buffer alive. Messages that outlive the current
 * turn (retained, queued for an offline session) get a payload of their own and drop the encode cache.
 */
export function detachMessage(message: Message): void {
  const payload = message.payload;
  if (payload.byteLength !== payload.buffer.byteLength) message.payload = new Uint8Array(payload);
  message.encoded = undefined;
}
