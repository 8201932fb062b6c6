/** Public entry point of the `midge` package. */
export { Broker, createBroker, type PublishOptions } from './broker/broker.js';
export type { AuthenticateContext, BrokerEventMap, BrokerHooks, ClientInfo } from './broker/hooks.js';
export type { Message } from './broker/message.js';
export type { BrokerOptions } from './broker/options.js';
export { DEFAULT_OPTIONS } from './broker/options.js';
export type { BrokerStats } from './broker/stats.js';
export { MemoryStore } from './broker/store/memory.js';
export type * from './broker/store/store.js';
export {
  ClientClosedError,
  type ClientEvents,
  type ClientOptions,
  ConnectionRefusedError,
  connect,
  createClient,
  DisconnectedError,
  type Message as ClientMessage,
  MqttClient,
  MqttClientError,
  PublishError,
  type PublishOptions as ClientPublishOptions,
  type PublishResult,
  QueueFullError,
  type RequestOptions,
  SubscribeError,
  type SubscribeOptions,
  type SubscriptionGrant,
  TimeoutError,
  TransportError,
  type UnsubscribeResult,
  type WillOptions,
} from './client/index.js';
export * from './codec/index.js';
