/** `midge bench` against a Midge broker: plausible figures, bounded by its duration. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedBroker, startBroker } from '../helpers/broker.js';
import { run } from './run.js';

let broker: StartedBroker;
beforeAll(async () => {
  broker = await startBroker();
});
afterAll(() => broker.close());

interface Percentiles {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

// Each test spawns several `node --import tsx` processes (about 1.5 s each, more on a loaded machine).
describe('midge bench', { timeout: 60_000 }, () => {
  it('pubsub -c 4 -r 100 -d 2 --json: throughput ≈ c × r, no errors, latency percentiles', async () => {
    const r = await run(
      ['bench', 'pubsub', '-p', String(broker.port), '-c', '4', '-r', '100', '-d', '2', '-q', '1', '--json'],
      {
        killAfterMs: 40_000,
      },
    );
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as Record<string, unknown> & { latency_ms: Percentiles };
    expect(result.mode).toBe('pubsub');
    expect(result.publishers).toBe(4);
    expect(result.subscribers).toBe(4);
    expect(result.connected).toBe(8);
    expect(result.errors).toBe(0);
    expect(result.lost).toBe(0);
    expect(result.received).toBe(result.expected);
    // 4 publishers × 100 msg/s: allow for a loaded machine.
    expect(result.sent_per_s as number).toBeGreaterThan(300);
    expect(result.sent_per_s as number).toBeLessThan(500);
    expect(result.received_per_s as number).toBeGreaterThan(250);
    expect(result.latency_ms.count).toBe(result.received);
    expect(result.latency_ms.p50).toBeGreaterThan(0);
    expect(result.latency_ms.p50).toBeLessThanOrEqual(result.latency_ms.p90);
    expect(result.latency_ms.p90).toBeLessThanOrEqual(result.latency_ms.p99);
    expect(result.latency_ms.p99).toBeLessThanOrEqual(result.latency_ms.max);
  });

  it('conn -c 20 connects the clients, holds them, prints the summary table', async () => {
    const r = await run(['bench', 'conn', '-p', String(broker.port), '-c', '20', '-d', '1', '--connect-rate', '100']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^connected\s+20 \(0 failed\)/m);
    expect(r.stdout).toMatch(/^connect \(ms\)\s+p50 [\d.]+\s+p90/m);
    expect(r.stdout).toMatch(/^errors\s+0$/m);
    // Every connection was closed at the end.
    const deadline = Date.now() + 3000;
    while (broker.broker.snapshot.connections > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(broker.broker.snapshot.connections).toBe(0);
    expect(broker.broker.snapshot.connectionsTotal).toBeGreaterThanOrEqual(20);
  });

  it('cannot connect: a message and exit 1', async () => {
    const r = await run(['bench', 'conn', '-p', '1', '-c', '2', '-d', '1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no client could connect: .*connection refused/);
  });
});
