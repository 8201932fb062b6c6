/** Public entry point of the `midge` package. */
export { Broker, createBroker, type PublishOptions } from './broker/broker.js';
export type { AuthenticateContext, BrokerEventMap, BrokerHooks, ClientInfo } from './broker/hooks.js';
export type { Message } from './broker/message.js';
export type { BrokerOptions } from './broker/options.js';
export { DEFAULT_OPTIONS } from './broker/options.js';
export type { BrokerStats } from './broker/stats.js';
export { MemoryStore } from './broker/store/memory.js';
export type * from './broker/store/store.js';
export * from './codec/index.js';
