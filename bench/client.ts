/**
 * Client benchmark: the Midge client against MQTT.js, both against the same Midge broker (a child process, so the
 * broker does not share the clients' event loop), in one run (`npm run bench:client`).
 *
 * - Publish throughput, QoS 0 and QoS 1: messages/s one client completes (QoS 0: handed to the socket; QoS 1:
 *   PUBACK received), with up to WINDOW publishes outstanding; 64-byte payloads, MQTT 3.1.1.
 * - Round-trip latency: a client subscribed to its own topic publishes QoS 1 and waits for the message to come back,
 *   one at a time; p50 and p99.
 * The libraries alternate runs; each figure is the best of ROUNDS. BENCH_SCALE=2 doubles the message counts.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import mqtt from 'mqtt';
import { connect } from '../src/client/index.js';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const COUNT = { 0: 200_000 * SCALE, 1: 50_000 * SCALE } as const;
const WINDOW = 1000;
const RTT_COUNT = 2000 * SCALE;
const ROUNDS = 3;
const PAYLOAD = Buffer.alloc(64, 0x61);
const TOPIC = 'bench/client/throughput';

interface Driver {
  name: string;
  /** Publishes `count` messages with at most WINDOW outstanding; resolves when all completed. */
  publish(count: number, qos: 0 | 1): Promise<void>;
  /** One round trip: publish QoS 1 to a subscribed topic, resolve when it arrives. */
  roundTrip(): Promise<void>;
  close(): Promise<void>;
}

/** Runs `send` `count` times with at most WINDOW of its promises outstanding; resolves when all have settled. */
async function windowed(count: number, send: () => Promise<unknown>): Promise<void> {
  const pending = new Set<Promise<unknown>>();
  for (let i = 0; i < count; i++) {
    const p = send();
    pending.add(p);
    void p.finally(() => pending.delete(p));
    if (pending.size >= WINDOW) await Promise.race(pending);
  }
  await Promise.all(pending);
}

async function midgeDriver(port: number): Promise<Driver> {
  const client = await connect({ host: '127.0.0.1', port, reconnectPeriod: 0, keepalive: 0 });
  const rttTopic = `bench/rtt/midge/${process.pid}`;
  await client.subscribe(rttTopic, { qos: 1 });
  let arrived: (() => void) | undefined;
  client.on('message', () => arrived?.());
  return {
    name: 'Midge client',
    publish: (count, qos) => windowed(count, () => client.publish(TOPIC, PAYLOAD, { qos })),
    roundTrip() {
      return new Promise<void>((resolve) => {
        arrived = resolve;
        void client.publish(rttTopic, PAYLOAD, { qos: 1 });
      });
    },
    close: () => client.end(),
  };
}

async function mqttjsDriver(port: number): Promise<Driver> {
  const client = await mqtt.connectAsync({ host: '127.0.0.1', port, reconnectPeriod: 0, keepalive: 0 });
  // MQTT.js leaves Nagle's algorithm on; that alone adds ~40 ms per round trip (delayed ACKs). Turn it off so the
  // comparison is about the clients, not a socket option.
  (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
  const rttTopic = `bench/rtt/mqttjs/${process.pid}`;
  await client.subscribeAsync(rttTopic, { qos: 1 });
  let arrived: (() => void) | undefined;
  client.on('message', () => arrived?.());
  return {
    name: 'MQTT.js',
    publish: (count, qos) => windowed(count, () => client.publishAsync(TOPIC, PAYLOAD, { qos })),
    roundTrip() {
      return new Promise<void>((resolve) => {
        arrived = resolve;
        client.publish(rttTopic, PAYLOAD, { qos: 1 });
      });
    },
    close: () => client.endAsync(),
  };
}

function startBrokerProcess(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [...process.execArgv, new URL(import.meta.url).pathname], {
    env: { ...process.env, MIDGE_BENCH_ROLE: 'broker' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the broker did not start within 10 s')), 10_000);
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /PORT (\d+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve({ child, port: Number(match[1]) });
      }
    });
    child.once('exit', (code) => reject(new Error(`the broker exited with ${code}`)));
  });
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;

async function main(): Promise<void> {
  const { child, port } = await startBrokerProcess();
  try {
    const drivers = [await midgeDriver(port), await mqttjsDriver(port)];
    const best = new Map<string, { q0: number; q1: number; p50: number; p99: number }>();
    for (const d of drivers) best.set(d.name, { q0: 0, q1: 0, p50: Infinity, p99: Infinity });
    for (const d of drivers) await d.publish(5000, 1); // warm-up
    for (let round = 0; round < ROUNDS; round++) {
      for (const d of round % 2 === 0 ? drivers : [...drivers].reverse()) {
        const b = best.get(d.name)!;
        for (const qos of [0, 1] as const) {
          const start = process.hrtime.bigint();
          await d.publish(COUNT[qos], qos);
          const seconds = Number(process.hrtime.bigint() - start) / 1e9;
          const rate = COUNT[qos] / seconds;
          if (qos === 0) b.q0 = Math.max(b.q0, rate);
          else b.q1 = Math.max(b.q1, rate);
        }
        const times: number[] = [];
        for (let i = 0; i < RTT_COUNT; i++) {
          const start = process.hrtime.bigint();
          await d.roundTrip();
          times.push(Number(process.hrtime.bigint() - start) / 1e3);
        }
        times.sort((x, y) => x - y);
        b.p50 = Math.min(b.p50, percentile(times, 0.5));
        b.p99 = Math.min(b.p99, percentile(times, 0.99));
      }
    }
    for (const d of drivers) await d.close();
    const m = best.get('Midge client')!;
    const j = best.get('MQTT.js')!;
    const k = (n: number) => `${Math.round(n / 1000)}k/s`;
    console.log('| client | QoS 0 publish | QoS 1 publish | round trip p50 | round trip p99 |');
    console.log('|---|---:|---:|---:|---:|');
    for (const [name, r] of best) {
      console.log(`| ${name} | ${k(r.q0)} | ${k(r.q1)} | ${r.p50.toFixed(0)} µs | ${r.p99.toFixed(0)} µs |`);
    }
    console.log(
      `| Midge / MQTT.js | ${(m.q0 / j.q0).toFixed(2)}x | ${(m.q1 / j.q1).toFixed(2)}x | ${(j.p50 / m.p50).toFixed(2)}x | ${(j.p99 / m.p99).toFixed(2)}x |`,
    );
    console.log(
      `(${COUNT[0]} QoS 0 and ${COUNT[1]} QoS 1 messages of ${PAYLOAD.length} B, window ${WINDOW}; best of ${ROUNDS})`,
    );
  } finally {
    child.kill('SIGTERM');
  }
}

if (process.env.MIDGE_BENCH_ROLE === 'broker') {
  const { createBroker } = await import('../src/broker/index.js');
  const broker = createBroker({ sysInterval: 0 });
  const address = await broker.listen({ host: '127.0.0.1', port: 0 });
  process.stdout.write(`PORT ${address.port}\n`);
  process.on('SIGTERM', () => void broker.close().then(() => process.exit(0)));
} else {
  await main();
}
