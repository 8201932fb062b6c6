/**
 * The stores: the in-memory reference, SQLite (one file) and Redis, and a factory that picks one by name.
 */
import { MemoryStore } from './memory.js';
import { RedisStore, type RedisStoreOptions } from './redis.js';
import { SqliteStore, type SqliteStoreOptions } from './sqlite.js';
import type { Store } from './store.js';

export { MemoryStore } from './memory.js';
export { REDIS_SCHEMA_VERSION, RedisStore, type RedisStoreOptions } from './redis.js';
export { SQLITE_APPLICATION_ID, SQLITE_SCHEMA_VERSION, SqliteStore, type SqliteStoreOptions } from './sqlite.js';
export type * from './store.js';
export { StoreWriter } from './store.js';

export type StoreKind = 'memory' | 'sqlite' | 'redis';

export interface StoreOptionsByKind {
  memory: Record<string, never> | undefined;
  sqlite: SqliteStoreOptions;
  redis: RedisStoreOptions;
}

/** A store of the given kind; open() it (the broker does, at startup) before use. */
export function createStore<K extends StoreKind>(kind: K, options: StoreOptionsByKind[K]): Store;
export function createStore(kind: 'memory'): Store;
export function createStore(kind: StoreKind, options?: unknown): Store {
  switch (kind) {
    case 'memory':
      return new MemoryStore();
    case 'sqlite':
      return new SqliteStore(options as SqliteStoreOptions);
    case 'redis':
      return new RedisStore(options as RedisStoreOptions);
    default:
      throw new TypeError(`unknown store kind '${String(kind)}' (expected memory, sqlite or redis)`);
  }
}
