import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createStore } from '../../../src/broker/store/index.js';
import { REDIS_SCHEMA_VERSION, RedisStore } from '../../../src/broker/store/redis.js';
import type { StoreOperation } from '../../../src/broker/store/store.js';
import { type RedisServer, startRedisServer } from '../../support/redis-server.js';
import { FULL_MESSAGE, runStoreSuite } from './store-suite.js';

let server: RedisServer;
let admin: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  admin = new Redis(server.url);
});

afterAll(async () => {
  await admin?.quit();
  await server?.stop();
});

async function deleteKeys(prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length > 0) await admin.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
}

async function keysOf(prefix: string): Promise<string[]> {
  return (await admin.keys(`${prefix}*`)).sort();
}

const session = (clientId: string): StoreOperation => ({
  op: 'putSession',
  session: { clientId, protocolVersion: 5, expiryInterval: 60 },
});

runStoreSuite('redis', async () => {
  const prefix = `suite:${randomUUID()}:`;
  const opened: RedisStore[] = [];
  const open = async () => {
    const store = new RedisStore({ url: server.url, prefix });
    await store.open();
    opened.push(store);
    return store;
  };
  return {
    store: await open(),
    reopen: open,
    cleanup: async () => {
      for (const store of opened) await store.close();
      await deleteKeys(prefix);
    },
  };
});

describe('RedisStore', () => {
  const stores: RedisStore[] = [];
  const prefixes: string[] = [];

  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
    for (const prefix of prefixes.splice(0)) await deleteKeys(prefix);
  });

  const openStore = async (prefix?: string, url = server.url) => {
    const store = new RedisStore(prefix === undefined ? { url } : { url, prefix });
    stores.push(store);
    prefixes.push(prefix ?? 'midge:');
    await store.open();
    return store;
  };

  it('two prefixes do not see each other', async () => {
    const one = await openStore('iso-1:');
    const two = await openStore('iso-2:');
    await one.write([
      session('a'),
      {
        op: 'putSubscription',
        clientId: 'a',
        subscription: {
          topicFilter: 'one',
          options: { qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 },
        },
      },
      { op: 'putRetained', message: { ...FULL_MESSAGE, topic: 'r' } },
      { op: 'putWill', will: { clientId: 'a', message: FULL_MESSAGE, publishAt: 1 } },
    ]);
    await two.write([session('a'), session('b'), { op: 'putRetained', message: { ...FULL_MESSAGE, topic: 's' } }]);
    const first = await one.restore();
    const second = await two.restore();
    expect(first.sessions.map((s) => [s.clientId, s.subscriptions.length])).toEqual([['a', 1]]);
    expect(first.retained.map((m) => m.topic)).toEqual(['r']);
    expect(first.wills.map((w) => w.clientId)).toEqual(['a']);
    expect(second.sessions.map((s) => [s.clientId, s.subscriptions.length]).sort()).toEqual([
      ['a', 0],
      ['b', 0],
    ]);
    expect(second.retained.map((m) => m.topic)).toEqual(['s']);
    expect(second.wills).toEqual([]);
    // Deleting in one leaves the other alone.
    await two.write([
      { op: 'deleteSession', clientId: 'a' },
      { op: 'deleteRetained', topic: 'r' },
    ]);
    expect((await one.restore()).sessions.map((s) => s.subscriptions.length)).toEqual([1]);
    expect((await one.restore()).retained).toHaveLength(1);
  });

  it("uses the documented key layout, under the default prefix 'midge:'", async () => {
    const store = await openStore();
    await store.write([
      session('c:1'),
      {
        op: 'putSubscription',
        clientId: 'c:1',
        subscription: {
          topicFilter: 'f',
          options: { qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 },
        },
      },
      {
        op: 'putOutgoing',
        record: { clientId: 'c:1', seq: 7, message: FULL_MESSAGE, qos: 1, retain: false, status: 'queued' },
      },
      { op: 'putIncoming', clientId: 'c:1', packetId: 3 },
      { op: 'putRetained', message: FULL_MESSAGE },
      { op: 'putWill', will: { clientId: 'c:1', message: FULL_MESSAGE, publishAt: 1 } },
    ]);
    expect(await keysOf('midge:')).toEqual([
      'midge:in:c:1',
      'midge:meta',
      'midge:out:c:1',
      'midge:retained',
      'midge:sessions',
      'midge:subs:c:1',
      'midge:wills',
    ]);
    expect(await admin.type('midge:in:c:1')).toBe('set');
    expect(await admin.hkeys('midge:out:c:1')).toEqual(['7']);
    expect(await admin.hkeys('midge:retained')).toEqual([FULL_MESSAGE.topic]);
    expect(await admin.hget('midge:meta', 'schema')).toBe(String(REDIS_SCHEMA_VERSION));
    await store.write([{ op: 'deleteSession', clientId: 'c:1' }]);
    expect(await keysOf('midge:')).toEqual(['midge:meta', 'midge:retained', 'midge:wills']);
  });

  it('sends nothing of a batch that fails to encode', async () => {
    const store = await openStore('atomic:');
    await store.write([session('a')]);
    await expect(
      store.write([
        { op: 'deleteSession', clientId: 'a' },
        { op: 'putRetained', message: { ...FULL_MESSAGE, properties: { bogus: 1 } as never } },
      ]),
    ).rejects.toThrow(/unknown message property 'bogus'/);
    expect((await store.restore()).sessions.map((s) => s.clientId)).toEqual(['a']);
    expect(await keysOf('atomic:')).toEqual(['atomic:meta', 'atomic:sessions']);
  });

  it('keeps writing when the script cache is flushed under a live connection (NOSCRIPT applies nothing)', async () => {
    const store = await openStore('flush:');
    await store.write([session('a')]);
    await admin.script('FLUSH');
    await store.write([
      { op: 'putIncoming', clientId: 'a', packetId: 1 },
      { op: 'putRetained', message: FULL_MESSAGE },
    ]);
    const state = await store.restore();
    expect(state.sessions.map((s) => s.incoming)).toEqual([[1]]);
    expect(state.retained).toHaveLength(1);
  });

  it('applies a batch of 100,000 operations as one command', async () => {
    const store = await openStore('huge:');
    const batch: StoreOperation[] = [session('a')];
    for (let i = 1; i <= 50_000; i++) {
      batch.push({ op: 'putIncoming', clientId: 'a', packetId: i });
      batch.push({ op: 'deleteRetained', topic: `t/${i}` });
    }
    expect(batch.length).toBeGreaterThan(100_000);
    await store.write(batch);
    expect((await store.restore()).sessions[0]?.incoming).toHaveLength(50_000);
  });

  it('restores hashes and sets bigger than one SCAN reply', async () => {
    const store = await openStore('big:');
    const options = { qos: 1 as const, noLocal: false, retainAsPublished: false, retainHandling: 0 as const };
    const batch: StoreOperation[] = [session('big')];
    for (let i = 0; i < 3000; i++) {
      batch.push({ op: 'putSubscription', clientId: 'big', subscription: { topicFilter: `f/${i}`, options } });
      batch.push({
        op: 'putOutgoing',
        record: {
          clientId: 'big',
          seq: 3000 - i,
          message: { ...FULL_MESSAGE, topic: `t/${i}` },
          qos: 1,
          retain: false,
          status: 'queued',
        },
      });
      batch.push({ op: 'putIncoming', clientId: 'big', packetId: i + 1 });
    }
    for (let i = 0; i < 5000; i++) batch.push(session(`s${i}`));
    await store.write(batch);
    const state = await store.restore();
    expect(state.sessions).toHaveLength(5001);
    const big = state.sessions.find((s) => s.clientId === 'big')!;
    expect(new Set(big.subscriptions.map((s) => s.topicFilter)).size).toBe(3000);
    expect(big.outgoing.map((o) => o.seq)).toEqual(Array.from({ length: 3000 }, (_, i) => i + 1));
    expect(big.incoming.sort((a, b) => a - b)).toEqual(Array.from({ length: 3000 }, (_, i) => i + 1));
  });

  it('refuses keys written by a newer schema version', async () => {
    await admin.hset('future:meta', 'schema', String(REDIS_SCHEMA_VERSION + 1));
    prefixes.push('future:');
    const error = await new RedisStore({ url: server.url, prefix: 'future:' }).open().then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).toContain("prefix 'future:'");
    expect(error?.message).toContain(`newer version of Midge (store schema version ${REDIS_SCHEMA_VERSION + 1}`);
  });

  it('refuses a prefix whose meta key is not a Midge hash', async () => {
    await admin.set('foreign:meta', 'something else');
    prefixes.push('foreign:');
    await expect(new RedisStore({ url: server.url, prefix: 'foreign:' }).open()).rejects.toThrow(
      /key foreign:meta is not a Midge store's/,
    );
  });

  it('fails open() with a clear error when Redis cannot be reached, without the password', async () => {
    const dead = await startRedisServer();
    const url = `redis://user:secret@127.0.0.1:${dead.port}`;
    await dead.stop();
    const error = await new RedisStore({ url }).open().then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).toMatch(/^cannot connect to Redis store redis:\/\/user:\*\*\*@127\.0\.0\.1:\d+/);
    expect(error?.message).not.toContain('secret');
  });

  it('refuses writes when not open; close() twice is harmless', async () => {
    const store = new RedisStore({ url: server.url, prefix: 'closed:' });
    prefixes.push('closed:');
    await expect(store.write([{ op: 'deleteWill', clientId: 'a' }])).rejects.toThrow(/is not open/);
    await store.open();
    await store.close();
    await store.close();
    await expect(store.restore()).rejects.toThrow(/is not open/);
  });

  it('keeps what it wrote across a restart of a persistent redis-server', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'midge-redis-aof-'));
    try {
      const first = await startRedisServer({ persistence: true, dir });
      const store = new RedisStore({ url: first.url });
      await store.open();
      await store.write([session('durable'), { op: 'putRetained', message: FULL_MESSAGE }]);
      const before = await store.restore();
      await store.close();
      await first.stop();
      const second = await startRedisServer({ persistence: true, dir });
      try {
        const again = new RedisStore({ url: second.url });
        await again.open();
        expect(await again.restore()).toEqual(before);
        await again.close();
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('createStore("redis") makes a RedisStore', () => {
    const store = createStore('redis', { url: server.url, prefix: 'x:' });
    expect(store).toBeInstanceOf(RedisStore);
    expect((store as RedisStore).prefix).toBe('x:');
  });
});
