/** `midge/broker` subpath entry. */
export { Broker, createBroker, type PublishOptions } from './broker.js';
export { ProtocolViolation } from './errors.js';
export type * from './hooks.js';
export type { Message, Outgoing } from './message.js';
export { type BrokerOptions, DEFAULT_OPTIONS } from './options.js';
export type { RestoreSummary } from './restore.js';
export type { DropReason } from './session/session.js';
export type { BrokerStats } from './stats.js';
export {
  createStore,
  MemoryStore,
  RedisStore,
  type RedisStoreOptions,
  SqliteStore,
  type SqliteStoreOptions,
  type StoreKind,
} from './store/index.js';
export type * from './store/store.js';
export { type Store, StoreWriter } from './store/store.js';
