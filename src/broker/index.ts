/** `midge/broker` subpath entry. */

export { AclFile, parseAclFile } from './auth/acl-file.js';
export { createFileSecurity, FileSecurity, type FileSecurityOptions } from './auth/file-security.js';
export { hashPassword, type PasswordHash, parseHash, verifyPassword } from './auth/hash.js';
export { ConfigFileError, loadPasswordFile, parsePasswordFile } from './auth/password-file.js';
export { SCRAM_SHA_256, ScramServer } from './auth/scram.js';
export { Broker, createBroker, type PublishOptions } from './broker.js';
export type { PeerIdentity } from './connection/connection.js';
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
