/**
 * Part 2 of `npm run bench:store`: QoS 1 fan-in to a PERSISTENT subscriber, per store. Every message is written to
 * the store (the subscriber's session outlives its connection) and deleted when the subscriber acknowledges it, and
 * each PUBACK to a publisher waits for the commit (docs/persistence.md). The broker is the real command line
 * (`node bin/midge.js broker --store …`, built by bench/store.sh) pinned to CPU 0; this driver runs on CPU 1.
 *
 *   node --import tsx bench/store-durable.ts [--redis URL] [--dir DIR] [--seconds 5] [--publishers 10] [--window 16]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PacketType } from '../src/codec/index.js';
import { RawClient } from '../test/helpers/raw-client.js';

const { values } = parseArgs({
  options: {
    redis: { type: 'string', default: 'redis://127.0.0.1:6379' },
    dir: { type: 'string', default: '/tmp/midge-bench-durable' },
    seconds: { type: 'string', default: '5' },
    publishers: { type: 'string', default: '10' },
    window: { type: 'string', default: '16' },
    stores: { type: 'string', default: 'memory,sqlite,redis' },
  },
});
const SECONDS = Number(values.seconds);
const PUBLISHERS = Number(values.publishers);
const WINDOW = Number(values.window);

async function startBroker(args: string[]): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn('taskset', ['-c', '0', process.execPath, 'bin/midge.js', 'broker', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`broker did not start:\n${output}`)), 15_000);
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on [^:]+:(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    child.once('exit', (code) => reject(new Error(`broker exited with ${code}:\n${output}`)));
  });
  return { child, port };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

async function run(store: string): Promise<{ rate: number; p50: number; p99: number; received: number }> {
  const args = ['--log-level', 'info', '--sys-interval', '0', '--store', store, '--max-queued-messages', '1000000'];
  if (store === 'sqlite') {
    const dir = join(values.dir!, `sqlite-${Date.now()}`);
    mkdirSync(dir, { recursive: true });
    args.push('--data-dir', dir);
  }
  if (store === 'redis') args.push('--redis', values.redis!);
  const { child, port } = await startBroker(args);
  try {
    const { client: sub } = await RawClient.connect(port, { clientId: 'bench-durable-sub', clean: false });
    sub.send({ type: PacketType.SUBSCRIBE, packetId: 1, subscriptions: [{ topicFilter: 'durable/#', qos: 1 }] });
    await sub.expectPacket(PacketType.SUBACK);
    let received = 0;
    let subscriberRunning = true;
    const subscriber = (async () => {
      while (subscriberRunning) {
        const packet = await sub.nextPacket(200);
        if (packet?.type !== PacketType.PUBLISH) continue;
        received++;
        sub.send({ type: PacketType.PUBACK, packetId: packet.packetId! });
      }
    })();
    const latencies: number[] = [];
    const deadline = performance.now() + SECONDS * 1000;
    const payload = Buffer.alloc(64, 120);
    const publishers = Array.from({ length: PUBLISHERS }, async (_, index) => {
      const { client } = await RawClient.connect(port, { clientId: `bench-durable-pub-${index}` });
      const sentAt = new Map<number, number>();
      let nextId = 1;
      const send = () => {
        const packetId = nextId;
        nextId = (nextId % 60_000) + 1;
        sentAt.set(packetId, performance.now());
        client.send({
          type: PacketType.PUBLISH,
          topic: `durable/${index}`,
          payload,
          qos: 1,
          retain: false,
          dup: false,
          packetId,
        });
      };
      for (let i = 0; i < WINDOW; i++) send();
      while (sentAt.size > 0) {
        const packet = await client.nextPacket(5000);
        if (packet === undefined) break;
        if (packet.type !== PacketType.PUBACK) continue;
        const started = sentAt.get(packet.packetId);
        sentAt.delete(packet.packetId);
        if (started !== undefined) latencies.push(performance.now() - started);
        if (performance.now() < deadline) send();
      }
      client.socket.destroy();
    });
    const started = performance.now();
    await Promise.all(publishers);
    const elapsed = (performance.now() - started) / 1000;
    // Let the subscriber catch up (bounded).
    const until = performance.now() + 10_000;
    while (received < latencies.length && performance.now() < until) await new Promise((r) => setTimeout(r, 50));
    subscriberRunning = false;
    await subscriber;
    sub.socket.destroy();
    latencies.sort((a, b) => a - b);
    return {
      rate: latencies.length / elapsed,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      received,
    };
  } finally {
    child.kill('SIGKILL');
  }
}

const rows: string[] = [];
for (const store of values.stores!.split(',')) {
  const result = await run(store);
  rows.push(
    `| midge-${store} | ${Math.round(result.rate).toLocaleString('en-US')} msg/s | ${result.p50.toFixed(2)} ms | ` +
      `${result.p99.toFixed(2)} ms | ${result.received.toLocaleString('en-US')} |`,
  );
}
console.log(`QoS 1, ${PUBLISHERS} publishers × window ${WINDOW} → 1 persistent subscriber, ${SECONDS} s`);
console.log('| broker | PUBACK rate | PUBACK p50 | PUBACK p99 | delivered |');
console.log('|---|---|---|---|---|');
for (const row of rows) console.log(row);
