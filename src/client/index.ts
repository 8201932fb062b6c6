/**
 * `midge/client` (Node): `connect(url | options, options?)` resolves with a connected MqttClient once the broker
 * accepted the connection, and rejects with a typed error (ConnectionRefusedError { reasonCode }, TimeoutError,
 * TransportError) when it did not. TCP, TLS and WebSocket transports are chosen by URL scheme.
 */
import { MqttClient } from './client.js';
import { type ClientOptions, resolveOptions } from './options.js';
import { tcpTransport } from './transport/tcp.js';
import { tlsTransport } from './transport/tls.js';
import type { TransportFactory } from './transport/transport.js';
import { nodeWebSocketTransport } from './transport/ws-node.js';

const transports: Record<string, TransportFactory> = {
  mqtt: tcpTransport,
  mqtts: tlsTransport,
  ws: nodeWebSocketTransport,
  wss: nodeWebSocketTransport,
};

/** Connects; resolves once CONNACK accepted the connection. */
export async function connect(urlOrOptions: string | ClientOptions, options?: ClientOptions): Promise<MqttClient> {
  const client = createClient(urlOrOptions, options);
  await client.start();
  return client;
}

/** Creates a client without connecting (call `start()`), for those who register listeners first. */
export function createClient(urlOrOptions: string | ClientOptions, options?: ClientOptions): MqttClient {
  const resolved = resolveOptions(urlOrOptions, options);
  const transport = transports[resolved.protocol];
  if (transport === undefined) throw new TypeError(`no transport for '${resolved.protocol}'`);
  return new MqttClient(resolved, transport);
}

export {
  type ClientEvents,
  MqttClient,
  type PublishOptions,
  type PublishResult,
  type SubscribeOptions,
  type SubscriptionGrant,
  type UnsubscribeResult,
} from './client.js';
export * from './errors.js';
export type { Message, MessageStream } from './messages.js';
export type { ClientOptions, Protocol, WillOptions } from './options.js';
export type { Properties, UserProperties } from './properties.js';
export type { RequestOptions } from './request.js';
export { FileInflightStore, type FileInflightStoreOptions } from './store/file.js';
export { type InflightStore, MemoryInflightStore } from './store/store.js';
export type { Transport, TransportFactory, TransportHandlers } from './transport/transport.js';
