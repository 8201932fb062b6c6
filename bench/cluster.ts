/**
 * Cluster benchmark: `npm run bench:cluster [-- -d SECONDS -n 1,2,3 -s fanin_q1,pairs_q1 --cap N --no-build --no-pin]`.
 *
 * Starts its own redis-server (temporary folder, no persistence) and, for each node count, that many Midge nodes
 * (`node bin/midge.js broker --cluster ...`, child processes, a fresh --cluster-prefix per cluster), waits until
 * every node forwards to every other, and runs the scenarios with publishers and subscribers on different nodes
 * (same node when there is one). The load generator is in this process (bench/cluster-load.ts: raw MQTT 3.1.1
 * sockets on the project's codec). Prints progress to stderr and a Markdown table to stdout:
 *
 * - msg/s: unique deliveries per second, from the first publish to the last delivery; p50/p99 end-to-end latency.
 * - lost: deliveries expected (every message sent to a subscriber's filter) but not received after the drain;
 *   dups: deliveries received twice.
 * - broker µs/msg: CPU time (utime+stime from /proc/<pid>/stat) of all the Midge node processes over the
 *   measurement window, divided by the deliveries; Δ and × compare with the 1-node row of the same scenario.
 * - redis µs/msg: the same for redis-server; CPU0 %: brokers + redis busy time over the window (100 % = the core
 *   they are pinned to is saturated); gen %: this process's CPU.
 *
 * Scenarios (N nodes): fanin_q1 — 10 publishers on nodes 2..N, 16 QoS 1 publishes awaiting PUBACK each (and at
 * most --cap, default 1000, sent and not yet received), topics bench/<i>, 1 subscriber on node 1 to bench/# QoS 1. fanin_q0 — the same at QoS 0 with at most 100 messages per
 * publisher sent and not yet received. pairs_q1 — 20 publisher/subscriber pairs at 20 msg/s, QoS 1, the subscriber
 * of pair i on node (i+1) mod N, its publisher on node i mod N. fanout_q1 — 1 publisher on node 1 (16 awaiting PUBACK,
 * --cap), 20 subscribers on nodes 2..N. For 1 node everything is on node 1.
 *
 * With `taskset` and 2+ CPUs: the brokers and redis are pinned to CPU 0, the generator to CPU 1 (--no-pin to not).
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  type LoadMode,
  runScenario,
  type ScenarioResult,
  type ScenarioSpec,
  waitClusterFormed,
} from './cluster-load.js';

const HERE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The Midge checkout whose bin/midge.js runs the nodes (--root; default: this one). */
let ROOT = HERE;
const SCENARIOS = ['fanin_q1', 'fanin_q0', 'pairs_q1', 'fanout_q1'] as const;
type ScenarioName = (typeof SCENARIOS)[number];

const USAGE = `usage: npm run bench:cluster -- [options]
  -d, --duration SECONDS   publishing time per scenario (default 5)
  -n, --nodes LIST         node counts, comma-separated (default 1,2,3)
  -s, --scenarios LIST     ${SCENARIOS.join(',')} (default: all)
      --cap N              QoS 1 max-rate scenarios: also at most N messages per publisher sent and not yet
                           received (default 1000; 0 = only the 16 awaiting PUBACK, queues then grow unbounded)
      --no-build           do not run "npm run -s build" first (dist/ must exist)
      --root DIR           run the brokers of another Midge checkout (built there), e.g. an export of HEAD
      --no-pin             do not pin brokers+redis to CPU 0 and the generator to CPU 1
  -h, --help`;

const log = (message: string) => process.stderr.write(`${message}\n`);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const CLK_TCK = clockTicks();

// ---------------------------------------------------------------------------------------------------- processes

interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  exit: string | undefined;
  tail: string[];
}

const procs = new Set<Proc>();
let pin = false;

function startProcess(name: string, command: string, args: string[], cpu: number): Proc {
  const argv = pin ? ['-c', String(cpu), command, ...args] : args;
  const child = spawn(pin ? 'taskset' : command, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  const proc: Proc = { name, child, pid: child.pid, exit: undefined, tail: [] };
  const onOutput = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) {
      if (line.trim() === '') continue;
      proc.tail.push(line);
      if (proc.tail.length > 20) proc.tail.shift();
      if (name !== 'redis') log(`  [${name}] ${line.slice(0, 300)}`);
    }
  };
  child.stdout?.on('data', onOutput);
  child.stderr?.on('data', onOutput);
  child.on('exit', (code, signal) => {
    proc.exit = signal ? `signal ${signal}` : `code ${code}`;
  });
  child.on('error', (err) => {
    proc.exit = `error ${err.message}`;
  });
  procs.add(proc);
  return proc;
}

async function stopProcess(proc: Proc, timeoutMs = 5000): Promise<void> {
  if (proc.exit === undefined) {
    const exited = new Promise<void>((resolve) => proc.child.once('exit', () => resolve()));
    proc.child.kill('SIGTERM');
    await Promise.race([exited, sleep(timeoutMs)]);
    if (proc.exit === undefined) {
      log(`  ${proc.name} did not stop within ${timeoutMs} ms: SIGKILL`);
      proc.child.kill('SIGKILL');
      await Promise.race([exited, sleep(2000)]);
    }
  }
  procs.delete(proc);
}

function killAllSync(): void {
  for (const proc of procs) if (proc.exit === undefined) proc.child.kill('SIGKILL');
}

/** CPU seconds (utime + stime) of a process, from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function waitListening(proc: Proc, port: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (proc.exit !== undefined) {
      throw new Error(`${proc.name} exited (${proc.exit}) before listening:\n${proc.tail.join('\n')}`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    if (performance.now() > deadline) throw new Error(`${proc.name} not listening on ${port} after ${timeoutMs} ms`);
    await sleep(50);
  }
}

// ---------------------------------------------------------------------------------------------------- cluster

interface Cluster {
  prefix: string;
  nodes: Proc[];
  ports: number[];
}

async function startCluster(count: number, redisPort: number): Promise<Cluster> {
  const run = Math.random().toString(36).slice(2, 8);
  const prefix = `midge:bench:${run}:`;
  const ports: number[] = [];
  for (let i = 0; i < count; i++) ports.push(await freePort());
  const nodes = ports.map((port, i) =>
    startProcess(
      `node${i + 1}`,
      process.execPath,
      [
        'bin/midge.js',
        'broker',
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--log-level',
        'warn',
        '--log-format',
        'json',
        '--store',
        'memory',
        '--max-queued-messages',
        '1000000',
        '--sys-interval',
        '0',
        '--cluster',
        `redis://127.0.0.1:${redisPort}`,
        '--node-id',
        `bench-${run}-${i + 1}`,
        '--cluster-prefix',
        prefix,
      ],
      0,
    ),
  );
  const cluster = { prefix, nodes, ports };
  try {
    await Promise.all(nodes.map((node, i) => waitListening(node, ports[i]!, 20_000)));
    const ms = await waitClusterFormed(ports, 20_000);
    log(
      `cluster of ${count} (prefix ${prefix}) ready${count > 1 ? `: every node forwards to every other after ${ms.toFixed(0)} ms` : ''}`,
    );
  } catch (err) {
    await stopCluster(cluster);
    throw err;
  }
  return cluster;
}

async function stopCluster(cluster: Cluster): Promise<void> {
  await Promise.all(cluster.nodes.map((node) => stopProcess(node)));
}

// ---------------------------------------------------------------------------------------------------- scenarios

/** Nodes other than `node`, or `node` itself in a 1-node cluster. */
function others(nodes: number, node: number): number[] {
  const list = Array.from({ length: nodes }, (_, i) => i).filter((i) => i !== node);
  return list.length > 0 ? list : [node];
}

function scenarioSpec(name: ScenarioName | 'warmup', nodes: number, durationMs: number, cap: number): ScenarioSpec {
  const drain = { durationMs, drainMs: Math.max(10_000, 2 * durationMs), stallMs: 3000 };
  const pubNodes = others(nodes, 0);
  switch (name) {
    case 'fanin_q1':
    case 'fanin_q0': {
      const mode: LoadMode = name === 'fanin_q1' ? { kind: 'inflight', window: 16, cap } : { kind: 'e2e', window: 100 };
      const publishers = Array.from({ length: 10 }, (_, i) => ({
        node: pubNodes[i % pubNodes.length]!,
        topic: `bench/${i}`,
      }));
      return {
        label: name,
        qos: name === 'fanin_q1' ? 1 : 0,
        publishers,
        subscribers: [{ node: 0, filter: 'bench/#', from: publishers.map((_, i) => i) }],
        mode,
        ...drain,
      };
    }
    case 'pairs_q1':
    case 'warmup': {
      const pairs = name === 'warmup' ? 2 * nodes : 20;
      return {
        label: name,
        qos: 1,
        publishers: Array.from({ length: pairs }, (_, i) => ({ node: i % nodes, topic: `pair/${i}` })),
        subscribers: Array.from({ length: pairs }, (_, i) => ({
          node: (i + 1) % nodes,
          filter: `pair/${i}`,
          from: [i],
        })),
        mode: name === 'warmup' ? { kind: 'inflight', window: 16, cap } : { kind: 'rate', perSecond: 20 },
        ...drain,
      };
    }
    case 'fanout_q1':
      return {
        label: name,
        qos: 1,
        publishers: [{ node: 0, topic: 'fanout/x' }],
        subscribers: Array.from({ length: 20 }, (_, i) => ({
          node: pubNodes[i % pubNodes.length]!,
          filter: 'fanout/x',
          from: [0],
        })),
        mode: { kind: 'inflight', window: 16, cap },
        ...drain,
      };
  }
}

interface Row {
  scenario: ScenarioName;
  nodes: number;
  result?: ScenarioResult;
  brokerCpuS?: number;
  redisCpuS?: number;
  error?: string;
  notes: string[];
}

async function runOne(
  name: ScenarioName,
  cluster: Cluster,
  redis: Proc,
  durationMs: number,
  cap: number,
): Promise<Row> {
  const nodes = cluster.nodes.length;
  const row: Row = { scenario: name, nodes, notes: [] };
  const pids = cluster.nodes.map((n) => n.pid);
  let b0 = 0;
  let r0 = 0;
  let b1 = 0;
  let r1 = 0;
  const sumCpu = () => pids.reduce((s, pid) => s + cpuSeconds(pid), 0);
  try {
    const result = await runScenario(scenarioSpec(name, nodes, durationMs, cap), cluster.ports, {
      start() {
        b0 = sumCpu();
        r0 = cpuSeconds(redis.pid);
      },
      end() {
        b1 = sumCpu();
        r1 = cpuSeconds(redis.pid);
      },
      log,
    });
    row.result = result;
    row.brokerCpuS = b1 - b0;
    row.redisCpuS = r1 - r0;
    if (result.drain !== 'complete') row.notes.push(`drain ${result.drain}`);
    if (result.lost > 0 && name !== 'fanin_q0') row.notes.push(`**QoS 1 LOSS: ${result.lost}**`);
    if (result.dups > 0) row.notes.push(`**dups: ${result.dups}**`);
    if (result.generatorCpuPct > 80) row.notes.push('generator-bound?');
  } catch (err) {
    row.error = err instanceof Error ? err.message : String(err);
    row.notes.push(`FAILED: ${row.error.split('\n')[0]}`);
  }
  for (const node of cluster.nodes)
    if (node.exit !== undefined) row.notes.push(`**${node.name} exited (${node.exit})**`);
  if (redis.exit !== undefined) row.notes.push(`**redis exited (${redis.exit})**`);
  return row;
}

// ---------------------------------------------------------------------------------------------------- report

const fmt = (v: number | undefined, digits = 1) =>
  v === undefined || !Number.isFinite(v)
    ? '–'
    : v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

function table(rows: Row[]): string {
  const header = [
    'scenario',
    'nodes',
    'msg/s',
    'p50 ms',
    'p99 ms',
    'lost',
    'dups',
    'broker µs/msg',
    'Δ µs/msg vs 1 node',
    'msg/s vs 1 node',
    'redis µs/msg',
    'CPU0 %',
    'gen %',
    'notes',
  ];
  const lines = [
    `| ${header.join(' | ')} |`,
    `|${header.map((_h, i) => (i < 2 || i === 13 ? '---' : '---:')).join('|')}|`,
  ];
  const perMsg = (row: Row, cpu: number | undefined) =>
    row.result && cpu !== undefined && row.result.delivered > 0 ? (cpu * 1e6) / row.result.delivered : undefined;
  for (const row of rows) {
    const r = row.result;
    const base = rows.find((b) => b.scenario === row.scenario && b.nodes === 1 && b.result);
    const rate = r ? r.delivered / (r.activeMs / 1000) : undefined;
    const baseRate = base?.result ? base.result.delivered / (base.result.activeMs / 1000) : undefined;
    const cpu = perMsg(row, row.brokerCpuS);
    const baseCpu = base ? perMsg(base, base.brokerCpuS) : undefined;
    const busy =
      r && row.brokerCpuS !== undefined
        ? ((row.brokerCpuS + (row.redisCpuS ?? 0)) / (r.windowMs / 1000)) * 100
        : undefined;
    const cells = [
      row.scenario,
      String(row.nodes),
      fmt(rate, 0),
      fmt(r?.p50, 2),
      fmt(r?.p99, 2),
      r ? String(r.lost) : '–',
      r ? String(r.dups) : '–',
      fmt(cpu, 1),
      row.nodes === 1 || cpu === undefined || baseCpu === undefined
        ? '–'
        : `${cpu - baseCpu >= 0 ? '+' : ''}${fmt(cpu - baseCpu, 1)}`,
      row.nodes === 1 || rate === undefined || baseRate === undefined ? '–' : `×${fmt(rate / baseRate, 2)}`,
      fmt(perMsg(row, row.redisCpuS), 1),
      fmt(busy, 0),
      fmt(r?.generatorCpuPct, 0),
      row.notes.join('; '),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------------- main

function parseList<T extends string>(value: string, allowed: readonly T[], what: string): T[] {
  const list = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const item of list)
    if (!allowed.includes(item as T)) throw new Error(`unknown ${what} "${item}" (known: ${allowed.join(', ')})`);
  return list as T[];
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', short: 'd', default: '5' },
      nodes: { type: 'string', short: 'n', default: '1,2,3' },
      scenarios: { type: 'string', short: 's', default: SCENARIOS.join(',') },
      cap: { type: 'string', default: '1000' },
      root: { type: 'string' },
      'no-build': { type: 'boolean', default: false },
      'no-pin': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    log(USAGE);
    return 0;
  }
  const durationS = Number(values.duration);
  if (!(durationS > 0 && durationS <= 600)) throw new Error(`bad -d ${values.duration}`);
  const nodeCounts = values.nodes.split(',').map((s) => Number(s.trim()));
  for (const n of nodeCounts) if (!(Number.isInteger(n) && n >= 1 && n <= 16)) throw new Error(`bad node count ${n}`);
  const scenarios = parseList(values.scenarios, SCENARIOS, 'scenario');
  const cap = Number(values.cap);
  if (!(Number.isInteger(cap) && cap >= 0)) throw new Error(`bad --cap ${values.cap}`);

  if (spawnSync('redis-server', ['--version']).status !== 0) {
    throw new Error('redis-server not found on PATH (apt-get install -y redis-server)');
  }
  if (values.root !== undefined) ROOT = path.resolve(values.root);
  const t0 = performance.now();
  const loadBefore = os.loadavg()[0]!;
  let buildWarning = '';
  if (!values['no-build']) {
    log(`building (npm run -s build in ${ROOT}) ...`);
    const build = spawnSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    if (build.status !== 0) {
      buildWarning = `**npm run -s build failed in ${ROOT}: the nodes run whatever dist/ holds (stale or partly rebuilt).**`;
      log('WARNING: npm run -s build failed; going on with dist/ as it is');
    }
  }
  try {
    readFileSync(path.join(ROOT, 'dist/cli/main.js'));
  } catch {
    throw new Error(`${ROOT}/dist/cli/main.js missing: run npm run build`);
  }

  const cpus = os.availableParallelism();
  const hasTaskset = spawnSync('taskset', ['-V']).status === 0;
  pin = !values['no-pin'] && hasTaskset && cpus >= 2;
  if (pin) execFileSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });

  const tmp = mkdtempSync(path.join(os.tmpdir(), 'midge-bench-cluster-'));
  const redisPort = await freePort();
  const redis = startProcess(
    'redis',
    'redis-server',
    [
      '--port',
      String(redisPort),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      tmp,
      '--daemonize',
      'no',
    ],
    0,
  );
  const rows: Row[] = [];
  const redisVersion = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout.match(/v=(\S+)/)?.[1];
  let commit = '';
  try {
    commit = execFileSync('git', ['describe', '--always', '--dirty'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {}
  try {
    await waitListening(redis, redisPort, 10_000);
    log(`redis-server ${redisVersion} on 127.0.0.1:${redisPort} (pid ${redis.pid}, dir ${tmp})`);
    for (const n of nodeCounts) {
      log(`--- ${n} node${n > 1 ? 's' : ''}`);
      let cluster: Cluster | undefined;
      try {
        cluster = await startCluster(n, redisPort);
        log('warm-up (1 s, not reported)');
        await runScenario(scenarioSpec('warmup', n, 1000, cap), cluster.ports, { start() {}, end() {}, log() {} });
        for (const name of scenarios) {
          log(`${name}, ${n} node${n > 1 ? 's' : ''}, ${durationS} s`);
          const row = await runOne(name, cluster, redis, durationS * 1000, cap);
          rows.push(row);
          const r = row.result;
          log(
            r
              ? `  => ${r.delivered} delivered of ${r.expected} expected (${r.sent} sent), lost ${r.lost}, dups ${r.dups}, p99 ${r.p99.toFixed(2)} ms, drain ${r.drain}${row.notes.length ? `; ${row.notes.join('; ')}` : ''}`
              : `  => ${row.error}`,
          );
          if (redis.exit !== undefined) throw new Error(`redis-server exited (${redis.exit})`);
          if (cluster.nodes.some((node) => node.exit !== undefined)) {
            log('  a node exited: restarting the cluster');
            await stopCluster(cluster);
            cluster = await startCluster(n, redisPort);
          }
        }
      } catch (err) {
        log(`${n} nodes: ${err instanceof Error ? err.message : String(err)}`);
        for (const name of scenarios) {
          if (!rows.some((r) => r.scenario === name && r.nodes === n)) {
            rows.push({
              scenario: name,
              nodes: n,
              notes: [`FAILED: ${err instanceof Error ? err.message.split('\n')[0] : err}`],
            });
          }
        }
        if (redis.exit !== undefined) break;
      } finally {
        if (cluster) await stopCluster(cluster);
      }
    }
  } finally {
    await stopProcess(redis);
    rmSync(tmp, { recursive: true, force: true });
  }

  const elapsed = (performance.now() - t0) / 1000;
  const cpuModel = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  process.stdout.write(
    [
      `## Midge cluster benchmark (${commit || 'unknown commit'}${ROOT === HERE ? '' : ` in ${ROOT}`}, ${new Date().toISOString().slice(0, 16)}Z)`,
      '',
      ...(buildWarning ? [buildWarning, ''] : []),
      `Machine: ${cpus} CPUs (${cpuModel}), Node ${process.version}, redis-server ${redisVersion}; 1-min load average ${loadBefore.toFixed(1)} before the run, ${os.loadavg()[0]!.toFixed(1)} after (other work on the machine skews the figures). ` +
        (pin
          ? 'All broker nodes and redis-server are pinned to CPU 0, the load generator to CPU 1: the N nodes share one core, so this measures the cost of crossing nodes, not scale-out.'
          : `No CPU pinning${cpus <= 2 ? ` (only ${cpus} CPUs: nodes, redis and generator compete for them)` : ''}.`),
      `MQTT 3.1.1, 64-byte payloads, ${durationS} s per scenario; --store memory --max-queued-messages 1000000; publishers and subscribers on different nodes when N > 1. ` +
        `QoS 1 max-rate publishers: 16 awaiting PUBACK${cap > 0 ? ` and at most ${cap} sent but not yet received` : ''} each. ` +
        'µs/msg = CPU (utime+stime, 10 ms ticks) of all node processes / unique deliveries (pairs_q1 runs at 400 msg/s: coarse). Run took ' +
        `${elapsed.toFixed(0)} s.`,
      '',
      table(rows),
      '',
    ].join('\n'),
  );
  // Losses and duplicates are in the table (in bold); only a scenario that could not run fails the command.
  return rows.some((r) => r.result === undefined) ? 1 : 0;
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping the brokers and redis`);
    void Promise.all([...procs].map((p) => stopProcess(p, 2000))).finally(() => process.exit(130));
  });
}
process.on('exit', killAllSync);

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    log(`bench:cluster: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    killAllSync();
    process.exitCode = 2;
  },
);
