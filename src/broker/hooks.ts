/**
 * The typed extension points of the broker: decisions (authenticate, authorize) are optional functions in
 * BrokerOptions.hooks; happenings (client connected, message published, ...) are events on
 * {@link BrokerEvents}. A decision hook may return its answer or a Promise of it; while a Promise is
 * pending the connection stops reading, so packet order is kept.
 */
import type { ConnectPacket, ProtocolVersion, PublishPacket, QoS, Subscription } from '../codec/index.js';
import type { Message } from './message.js';
import type { DropReason } from './session/session.js';

/** What the broker knows about a connected client. */
export interface ClientInfo {
  readonly clientId: string;
  readonly username: string | undefined;
  readonly protocolVersion: ProtocolVersion;
  readonly remoteAddress: string | undefined;
}

export interface AuthenticateContext extends ClientInfo {
  readonly password: Uint8Array | undefined;
  readonly connect: ConnectPacket;
}

/**
 * true / {} = accept; false = refuse with Not authorized (0x87 / 3.1.1: 0x05);
 * `{ reasonCode }` = refuse with that MQTT 5.0 CONNACK reason code (mapped to the nearest 3.1.1 code).
 */
export type AuthenticateResult = boolean | { reasonCode?: number };

/** true = allow; false = refuse with Not authorized (0x87); a number = that reason code (>= 0x80). */
export type AuthorizePublishResult = boolean | number;

/** true = grant the requested QoS; false = refuse (0x87 / 0x80); a QoS 0..2 = grant that; >= 0x80 = refuse with it. */
export type AuthorizeSubscribeResult = boolean | number;

type MaybePromise<T> = T | Promise<T>;

export interface BrokerHooks {
  authenticate?(context: AuthenticateContext): MaybePromise<AuthenticateResult>;
  authorizePublish?(client: ClientInfo, packet: PublishPacket): MaybePromise<AuthorizePublishResult>;
  authorizeSubscribe?(client: ClientInfo, subscription: Subscription): MaybePromise<AuthorizeSubscribeResult>;
}

/** Events of a Broker (it is a typed EventEmitter). */
export interface BrokerEventMap {
  clientConnected: [client: ClientInfo, sessionPresent: boolean];
  clientDisconnected: [client: ClientInfo, reason: string];
  messagePublished: [message: Message, matched: number];
  messageDelivered: [clientId: string, message: Message, qos: QoS];
  messageDropped: [clientId: string, message: Message, reason: DropReason];
  error: [error: Error];
}
