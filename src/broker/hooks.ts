/**
 * The typed extension points of the broker: decisions (authenticate, authorize) are optional functions in
 * BrokerOptions.hooks; happenings (client connected, message published, ...) are events on
 * {@link BrokerEvents}. A decision hook may return its answer or a Promise of it; while a Promise is
 * pending the connection stops reading, so packet order is kept.
 */
import type { PeerCertificate } from 'node:tls';
import type { ConnectPacket, ProtocolVersion, PublishPacket, QoS, Subscription } from '../codec/index.js';
import type { Message } from './message.js';
import type { DropReason } from './session/session.js';

type MaybePromise<T> = T | Promise<T>;

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
  /** The client's TLS certificate, verified against the listener's CA (mutual TLS); undefined otherwise. */
  readonly certificate: PeerCertificate | undefined;
  /**
   * Set when the listener uses the certificate's Common Name as user name (Mosquitto's use_identity_as_username):
   * `username` is then that CN, whatever the CONNECT said, and the certificate is the credential.
   */
  readonly certificateIdentity: string | undefined;
}

/** One step of an enhanced authentication exchange (MQTT 5.0 §4.12). */
export type EnhancedAuthStep =
  /** Send AUTH 0x18 Continue authentication with this data and wait for the client's AUTH. */
  | { result: 'continue'; data?: Uint8Array }
  /** Accept: CONNACK 0x00 (or AUTH 0x00 on re-authentication) with this data; `username` replaces the CONNECT's. */
  | { result: 'success'; data?: Uint8Array; username?: string }
  /** Refuse: CONNACK (or DISCONNECT on re-authentication) with this reason code, default 0x87 Not authorized. */
  | { result: 'failure'; reasonCode?: number; reason?: string };

/** A running exchange: `step` gets the Authentication Data of the CONNECT, then of each AUTH from the client. */
export interface EnhancedAuthExchange {
  step(data: Uint8Array | undefined): MaybePromise<EnhancedAuthStep>;
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

export interface BrokerHooks {
  authenticate?(context: AuthenticateContext): MaybePromise<AuthenticateResult>;
  authorizePublish?(client: ClientInfo, packet: PublishPacket): MaybePromise<AuthorizePublishResult>;
  authorizeSubscribe?(client: ClientInfo, subscription: Subscription): MaybePromise<AuthorizeSubscribeResult>;
  /**
   * May the client receive a message on `topic`? Asked for every message about to be written to the client (live,
   * queued or retained), so it must be synchronous and fast (cache per client). false = the message is dropped for
   * this client (messageDropped reason 'not-authorized').
   */
  authorizeRead?(client: ClientInfo, topic: string): boolean;
  /**
   * MQTT 5.0 enhanced authentication: a CONNECT (or AUTH 0x19 Re-authenticate) with Authentication Method `method`.
   * Return an exchange, or undefined when the method is not supported (CONNACK 0x8C Bad authentication method).
   * When an exchange succeeds, `authenticate` is not called.
   */
  enhancedAuth?(method: string, context: AuthenticateContext): EnhancedAuthExchange | undefined;
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
