/**
 * Part 3 of `npm run bench:store`: time to restore 100k retained messages and 10k sessions (2 subscriptions and
 * 5 queued QoS 1 messages each) at startup, per store. The store is filled directly through the Store API; then
 * createBroker({ store }).listen() is timed until it is ready (open + restore + rebuilding memory + listening).
 *
 *   node --import tsx bench/store-restore.ts [--redis URL] [--dir DIR] [--retained 100000] [--sessions 10000]
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createBroker } from '../src/broker/broker.js';
import { createStore, type Store, type StoreOperation } from '../src/broker/store/index.js';

const { values } = parseArgs({
  options: {
    redis: { type: 'string', default: 'redis://127.0.0.1:6379' },
    dir: { type: 'string', default: '/tmp/midge-bench-restore' },
    retained: { type: 'string', default: '100000' },
    sessions: { type: 'string', default: '10000' },
    queued: { type: 'string', default: '5' },
    stores: { type: 'string', default: 'memory,sqlite,redis' },
  },
});
const RETAINED = Number(values.retained);
const SESSIONS = Number(values.sessions);
const QUEUED = Number(values.queued);

function makeStore(kind: string): Store {
  if (kind === 'sqlite') {
    mkdirSync(values.dir!, { recursive: true });
    const path = join(values.dir!, 'restore.db');
    rmSync(path, { force: true });
    rmSync(`${path}-wal`, { force: true });
    rmSync(`${path}-shm`, { force: true });
    return createStore('sqlite', { path });
  }
  if (kind === 'redis') return createStore('redis', { url: values.redis!, prefix: `bench-restore-${Date.now()}:` });
  return createStore('memory');
}

async function fill(store: Store): Promise<number> {
  const started = performance.now();
  const payload = Buffer.alloc(64, 97);
  let batch: StoreOperation[] = [];
  const push = async (operation: StoreOperation) => {
    batch.push(operation);
    if (batch.length >= 2000) {
      await store.write(batch);
      batch = [];
    }
  };
  for (let i = 0; i < RETAINED; i++) {
    await push({ op: 'putRetained', message: { topic: `retained/${i % 100}/${i}`, payload, qos: 1, retain: true } });
  }
  const now = Date.now();
  for (let s = 0; s < SESSIONS; s++) {
    const clientId = `session-${s}`;
    await push({
      op: 'putSession',
      session: { clientId, protocolVersion: 5, expiryInterval: 86_400, disconnectedAt: now },
    });
    for (const topicFilter of [`devices/${s}/#`, `groups/${s % 100}/+`]) {
      await push({
        op: 'putSubscription',
        clientId,
        subscription: {
          topicFilter,
          options: { qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 },
        },
      });
    }
    for (let q = 1; q <= QUEUED; q++) {
      await push({
        op: 'putOutgoing',
        record: {
          clientId,
          seq: q,
          message: { topic: `devices/${s}/x`, payload, qos: 1, retain: false },
          qos: 1,
          retain: false,
          status: 'queued',
        },
      });
    }
  }
  if (batch.length > 0) await store.write(batch);
  return performance.now() - started;
}

const rows: string[] = [];
for (const kind of values.stores!.split(',')) {
  const store = makeStore(kind);
  await store.open();
  const fillMs = await fill(store);
  let restoringStore = store;
  if (kind !== 'memory') {
    // A fresh Store object on the same data, as at a real startup.
    await store.close();
    restoringStore =
      kind === 'sqlite'
        ? createStore('sqlite', { path: join(values.dir!, 'restore.db') })
        : createStore('redis', { url: values.redis!, prefix: (store as unknown as { prefix: string }).prefix });
  }
  const started = performance.now();
  const broker = createBroker({ store: restoringStore, sysInterval: 0, maxQueuedMessages: 1000 });
  await broker.listen({ host: '127.0.0.1', port: 0 });
  const restoreMs = performance.now() - started;
  const summary = broker.restoreSummary!;
  const heapMb = process.memoryUsage().heapUsed / 1024 / 1024;
  rows.push(
    `| ${kind} | ${summary.retained.toLocaleString('en-US')} | ${summary.sessions.toLocaleString('en-US')} | ` +
      `${summary.queued.toLocaleString('en-US')} | ${Math.round(restoreMs)} ms | ${Math.round(fillMs)} ms | ` +
      `${Math.round(heapMb)} MB |`,
  );
  await broker.close();
}
console.log('| store | retained | sessions | queued messages | startup restore | fill (Store API) | heap after |');
console.log('|---|---|---|---|---|---|---|');
for (const row of rows) console.log(row);
