import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createStore } from '../../../src/broker/store/index.js';
import { SQLITE_APPLICATION_ID, SQLITE_SCHEMA_VERSION, SqliteStore } from '../../../src/broker/store/sqlite.js';
import type { StoreOperation } from '../../../src/broker/store/store.js';
import { runStoreSuite } from './store-suite.js';

interface Db {
  pragma(sql: string, options?: { simple?: boolean }): unknown;
  prepare(sql: string): { get(...params: unknown[]): unknown; all(...params: unknown[]): unknown[] };
  exec(sql: string): void;
  close(): void;
}
const Database = createRequire(import.meta.url)('better-sqlite3') as new (path: string) => Db;

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'midge-sqlite-'));
}

runStoreSuite('sqlite', async () => {
  const dir = tempDir();
  // A path in directories that do not exist yet: open() creates them.
  const path = join(dir, 'nested', 'data', 'midge.db');
  const opened: SqliteStore[] = [];
  const open = async () => {
    const store = new SqliteStore({ path });
    await store.open();
    opened.push(store);
    return store;
  };
  return {
    store: await open(),
    reopen: open,
    cleanup: async () => {
      for (const store of opened) await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('SqliteStore', () => {
  let dir: string;
  const stores: SqliteStore[] = [];

  beforeEach(() => {
    dir = tempDir();
  });

  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const openStore = async (path: string, synchronous?: 'NORMAL' | 'FULL') => {
    const store = new SqliteStore(synchronous === undefined ? { path } : { path, synchronous });
    stores.push(store);
    await store.open();
    return store;
  };

  const pragmaOf = (store: SqliteStore, name: string) =>
    (store as unknown as { db: Db }).db.pragma(name, { simple: true });

  it('uses WAL mode, and synchronous NORMAL by default or FULL when asked', async () => {
    const normal = await openStore(join(dir, 'normal.db'));
    const full = await openStore(join(dir, 'full.db'), 'FULL');
    await normal.write([{ op: 'putSession', session: { clientId: 'a', protocolVersion: 5, expiryInterval: 1 } }]);
    expect(pragmaOf(normal, 'journal_mode')).toBe('wal');
    expect(pragmaOf(full, 'journal_mode')).toBe('wal');
    expect(pragmaOf(normal, 'synchronous')).toBe(1);
    expect(pragmaOf(full, 'synchronous')).toBe(2);
    expect(existsSync(join(dir, 'normal.db-wal'))).toBe(true);
    // Another connection sees WAL mode in the file itself, and the committed batch.
    const other = new Database(join(dir, 'normal.db'));
    try {
      expect(other.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(other.prepare('SELECT client_id FROM sessions').all()).toEqual([{ client_id: 'a' }]);
    } finally {
      other.close();
    }
  });

  it('marks the file as a Midge store of the current schema version', async () => {
    const path = join(dir, 'midge.db');
    const store = await openStore(path);
    await store.close();
    const db = new Database(path);
    try {
      expect(db.pragma('application_id', { simple: true })).toBe(SQLITE_APPLICATION_ID);
      expect(db.pragma('user_version', { simple: true })).toBe(SQLITE_SCHEMA_VERSION);
      const tables = (
        db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").all() as {
          name: string;
        }[]
      ).map((t) => t.name);
      expect(tables).toEqual(['incoming', 'outgoing', 'retained', 'sessions', 'subscriptions', 'wills']);
    } finally {
      db.close();
    }
  });

  it('refuses a file that is not an SQLite database, naming it, and leaves it as it was', async () => {
    const path = join(dir, 'notes.txt');
    const content = 'these are not the bytes you are looking for\n'.repeat(200);
    writeFileSync(path, content);
    const store = new SqliteStore({ path });
    await expect(store.open()).rejects.toThrow(`${path} is not a Midge store`);
    expect(readFileSync(path, 'utf8')).toBe(content);
    expect(existsSync(`${path}-wal`)).toBe(false);
  });

  it('refuses an SQLite database of another application and leaves it as it was', async () => {
    const path = join(dir, 'other.db');
    const db = new Database(path);
    db.exec('CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)');
    db.close();
    const before = readFileSync(path);
    await expect(new SqliteStore({ path }).open()).rejects.toThrow(
      `${path} is not a Midge store: it is an SQLite database of another application`,
    );
    expect(readFileSync(path).equals(before)).toBe(true);

    const tagged = join(dir, 'tagged.db');
    const db2 = new Database(tagged);
    db2.pragma('application_id = 1234');
    db2.close();
    await expect(new SqliteStore({ path: tagged }).open()).rejects.toThrow(/tagged\.db is not a Midge store.*0x4d2/);
  });

  it('refuses a Midge store written by a newer schema version, naming the file and both versions', async () => {
    const path = join(dir, 'future.db');
    await (await openStore(path)).close();
    const db = new Database(path);
    db.pragma(`user_version = ${SQLITE_SCHEMA_VERSION + 1}`);
    db.close();
    const error = await new SqliteStore({ path }).open().then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).toContain(path);
    expect(error?.message).toContain(`newer version of Midge (store schema version ${SQLITE_SCHEMA_VERSION + 1}`);
    expect(error?.message).toContain(`reads up to ${SQLITE_SCHEMA_VERSION}`);
  });

  it('reports a path it cannot open, naming it', async () => {
    const path = join(dir, 'a-directory');
    mkdirSync(path);
    await expect(new SqliteStore({ path }).open()).rejects.toThrow(path);
  });

  it('rejects bad options', () => {
    expect(() => new SqliteStore({ path: '' })).toThrow(/path is required/);
    expect(() => new SqliteStore({ path: 'x.db', synchronous: 'OFF' as 'FULL' })).toThrow(/NORMAL' or 'FULL'/);
  });

  it('applies a batch atomically: a batch that fails part-way leaves nothing behind', async () => {
    const store = await openStore(join(dir, 'atomic.db'));
    await store.write([{ op: 'putSession', session: { clientId: 'a', protocolVersion: 5, expiryInterval: 1 } }]);
    const bad: StoreOperation[] = [
      { op: 'putRetained', message: { topic: 'r', payload: new Uint8Array([1]), qos: 0, retain: true } },
      { op: 'deleteSession', clientId: 'a' },
      {
        op: 'putRetained',
        message: {
          topic: 's',
          payload: new Uint8Array([1]),
          qos: 0,
          retain: true,
          properties: { notAProperty: 1 } as never,
        },
      },
    ];
    await expect(store.write(bad)).rejects.toThrow(/unknown message property 'notAProperty'/);
    const state = await store.restore();
    expect(state.retained).toEqual([]);
    expect(state.sessions.map((s) => s.clientId)).toEqual(['a']);
    // And the store still works.
    await store.write([{ op: 'deleteSession', clientId: 'a' }]);
    expect((await store.restore()).sessions).toEqual([]);
  });

  it('refuses writes and restores when not open; close() twice is harmless', async () => {
    const store = new SqliteStore({ path: join(dir, 'closed.db') });
    await expect(store.write([{ op: 'deleteWill', clientId: 'a' }])).rejects.toThrow(/is not open/);
    await expect(store.restore()).rejects.toThrow(/is not open/);
    await store.open();
    await store.close();
    await store.close();
    await expect(store.restore()).rejects.toThrow(/is not open/);
  });

  it('createStore("sqlite") makes a SqliteStore', async () => {
    const store = createStore('sqlite', { path: join(dir, 'factory.db'), synchronous: 'FULL' });
    expect(store).toBeInstanceOf(SqliteStore);
    expect((store as SqliteStore).synchronous).toBe('FULL');
    expect(() => createStore('nope' as 'memory')).toThrow(/unknown store kind 'nope'/);
  });
});
