/**
 * `midge bench MODE`: a load generator in the manner of emqtt-bench, built on the Midge client.
 *
 * - `conn`: N clients connect (at --connect-rate) and hold the connection for the duration.
 * - `pub`: N publishers, each at -r msgs/s (0: as fast as the in-flight window allows), on the topic pattern (%i =
 *   client index); QoS 1/2 acknowledgement latency.
 * - `sub`: N subscribers on a filter (%i allowed); counts messages, and measures latency from the timestamp a
 *   `midge bench pub` payload carries (wall clock, so across processes on one machine).
 * - `pubsub`: publishers and subscribers in one process (by default subscriber i on publisher i's topic: pairs);
 *   end-to-end latency percentiles from the send time embedded in each payload.
 *
 * Payload (≥ 24 bytes): "MDGB", publisher index (u32 LE), sequence (f64 LE), send time (f64 LE, epoch ms with
 * sub-millisecond precision), then filler. Bounded by -d (plus a drain of at most --drain seconds); every client is
 * closed at the end. A progress line once a second on a terminal; a summary table, or JSON with --json.
 */
import { Argument, type Command, InvalidArgumentError } from 'commander';
import { type ClientOptions, connect, type MqttClient } from '../../client/index.js';
import { topicMatches } from '../../client/topic.js';
import type { QoS } from '../../codec/index.js';
import {
  describeFailure,
  EXIT,
  exitWith,
  integer,
  parseUrlOption,
  positiveNumber,
  protocolVersion,
  qos,
} from '../mqtt-options.js';

type Mode = 'conn' | 'pub' | 'sub' | 'pubsub';

interface BenchFlags {
  clients: number;
  subscribers?: number;
  rate: number;
  qos: QoS;
  size: number;
  topic?: string;
  subTopic?: string;
  duration: number;
  host: string;
  port: number;
  url?: ReturnType<typeof parseUrlOption>;
  protocolVersion: 3 | 4 | 5;
  username?: string;
  pw?: string;
  keepalive: number;
  connectRate: number;
  concurrency: number;
  inflight: number;
  drain: number;
  e2eWindow: number;
  prefix: string;
  json?: boolean;
}

const MAGIC = 0x4247444d; // "MDGB" little-endian
const HEADER = 24;
const now = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function rateValue(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number >= 0');
  return n;
}

/** Percentiles of a list of samples (sorted in place). */
function percentiles(
  samples: number[],
): { count: number; p50: number; p90: number; p99: number; max: number; mean: number } | null {
  if (samples.length === 0) return null;
  samples.sort((a, b) => a - b);
  const at = (p: number) => samples[Math.min(samples.length - 1, Math.ceil((p / 100) * samples.length) - 1)]!;
  const round = (n: number) => Math.round(n * 1000) / 1000;
  let sum = 0;
  for (const s of samples) sum += s;
  return {
    count: samples.length,
    p50: round(at(50)),
    p90: round(at(90)),
    p99: round(at(99)),
    max: round(samples[samples.length - 1]!),
    mean: round(sum / samples.length),
  };
}

class Stats {
  connected = 0;
  connectErrors = 0;
  connectMs: number[] = [];
  sent = 0;
  /** Messages received from each publisher (pubsub: for the end-to-end window). */
  receivedFrom: number[] = [];
  onReceive: ((publisher: number) => void) | undefined;
  /** Messages sent by each publisher. */
  sentBy: number[] = [];
  publishErrors = 0;
  ackMs: number[] = [];
  received = 0;
  latencyMs: number[] = [];
  drops = 0;
  firstError: string | undefined;
  firstSend: number | undefined;
  lastReceive: number | undefined;

  error(message: string): void {
    this.firstError ??= message;
  }
  get errors(): number {
    return this.connectErrors + this.publishErrors + this.drops;
  }
}

/** The topic pattern with %i replaced by the client index. */
const expand = (pattern: string, index: number): string => pattern.replaceAll('%i', String(index));

interface Run {
  flags: BenchFlags;
  mode: Mode;
  stats: Stats;
  clients: MqttClient[];
  stopping: boolean;
  baseUrl: string;
  baseOptions: ClientOptions;
}

/** Connects `count` clients named prefix-role-i, at most `concurrency` at once and `connectRate` per second. */
async function connectAll(run: Run, role: string, count: number, onMessage?: (payload: Uint8Array) => void) {
  const { flags, stats } = run;
  const result: (MqttClient | undefined)[] = new Array(count);
  const started = now();
  let next = 0;
  const worker = async () => {
    while (next < count && !run.stopping) {
      const i = next++;
      if (flags.connectRate > 0) {
        const due = started + (i * 1000) / flags.connectRate;
        if (due > now()) await sleep(due - now());
      }
      const t0 = now();
      try {
        const client = await connect(run.baseUrl, { ...run.baseOptions, clientId: `${flags.prefix}-${role}-${i}` });
        stats.connectMs.push(now() - t0);
        stats.connected++;
        run.clients.push(client);
        result[i] = client;
        if (onMessage !== undefined) client.on('message', (_t, payload) => onMessage(payload));
        client.on('end', () => {
          stats.connected--;
          if (!run.stopping) {
            stats.drops++;
            stats.error(`${role} ${i}: connection lost: ${client.error?.message ?? 'closed'}`);
          }
        });
      } catch (error) {
        stats.connectErrors++;
        stats.error(`${role} ${i}: ${describeFailure(error, run.baseUrl).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(flags.concurrency, count) }, worker));
  return result;
}

function makePayload(size: number, publisher: number, seq: number): Uint8Array {
  const bytes = new Uint8Array(size).fill(0x78);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, publisher, true);
  view.setFloat64(8, seq, true);
  view.setFloat64(16, now(), true);
  return bytes;
}

/** The send time a bench payload carries, or undefined. */
function sentAt(payload: Uint8Array): number | undefined {
  if (payload.length < HEADER) return undefined;
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  if (view.getUint32(0, true) !== MAGIC) return undefined;
  return view.getFloat64(16, true);
}

function receiver(stats: Stats) {
  return (payload: Uint8Array) => {
    const t = now();
    stats.received++;
    stats.lastReceive = t;
    const sent = sentAt(payload);
    if (sent === undefined) return;
    stats.latencyMs.push(t - sent);
    const publisher = new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getUint32(4, true);
    stats.receivedFrom[publisher] = (stats.receivedFrom[publisher] ?? 0) + 1;
    stats.onReceive?.(publisher);
  };
}

/**
 * Publishes from every connected publisher until `run.stopping`: at -r msgs/s each, or as fast as the windows allow
 * (at most --inflight unfinished publishes per publisher; pubsub: at most --e2e-window messages per publisher not yet
 * received by every matching subscriber, so that the broker's queues do not overflow).
 */
function startPublishing(run: Run, publishers: (MqttClient | undefined)[], topics: string[], matching: number[]) {
  const { flags, stats } = run;
  const sent = new Array<number>(publishers.length).fill(0);
  const inflight = new Array<number>(publishers.length).fill(0);
  const started = now();
  stats.firstSend = started;
  const waiters: (() => void)[] = new Array(publishers.length);
  const publishOne = (i: number) => {
    const client = publishers[i];
    if (client === undefined || client.disconnected) return;
    const seq = sent[i]!;
    sent[i] = seq + 1;
    inflight[i]!++;
    const t0 = now();
    client
      .publish(topics[i]!, makePayload(flags.size, i, seq), { qos: flags.qos })
      .then(
        () => {
          stats.sent++;
          stats.sentBy[i] = (stats.sentBy[i] ?? 0) + 1;
          if (flags.qos > 0) stats.ackMs.push(now() - t0);
        },
        (error: unknown) => {
          stats.publishErrors++;
          stats.error(`publisher ${i}: ${describeFailure(error, run.baseUrl).message}`);
        },
      )
      .finally(() => {
        inflight[i]!--;
        wake(i);
      });
  };
  const wake = (i: number) => {
    const waiter = waiters[i];
    if (waiter !== undefined) {
      waiters[i] = undefined as never;
      waiter();
    }
  };
  const window = flags.e2eWindow;
  const blocked = (i: number): boolean => {
    if (inflight[i]! >= flags.inflight) return true;
    const m = matching[i] ?? 0;
    return window > 0 && m > 0 && sent[i]! * m - (stats.receivedFrom[i] ?? 0) >= window * m;
  };
  stats.onReceive = wake;
  if (flags.rate > 0) {
    const tick = () => {
      const elapsed = (now() - started) / 1000;
      for (let i = 0; i < publishers.length; i++) {
        // Publisher i is offset by i/N of a period, so that the publishers do not all send in the same tick.
        const due = Math.floor(elapsed * flags.rate + i / publishers.length) + 1 - sent[i]!;
        for (let n = 0; n < due && inflight[i]! < flags.inflight; n++) publishOne(i);
      }
    };
    tick();
    const timer = setInterval(tick, Math.max(1, Math.min(5, 1000 / flags.rate / publishers.length)));
    return { stop: () => clearInterval(timer), inflight: () => inflight.reduce((a, b) => a + b, 0) };
  }
  const loops = publishers.map(async (client, i) => {
    if (client === undefined) return;
    let batch = 0;
    while (!run.stopping && !client.disconnected) {
      if (blocked(i)) await new Promise<void>((resolve) => (waiters[i] = resolve));
      else publishOne(i);
      if (++batch % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  });
  void Promise.all(loops);
  return { stop: () => {}, inflight: () => inflight.reduce((a, b) => a + b, 0) };
}

function formatRate(n: number): string {
  return n >= 100 ? n.toFixed(0) : n.toFixed(1);
}

function progressWriter(flags: BenchFlags): NodeJS.WriteStream | undefined {
  if (flags.json) return process.stderr.isTTY ? process.stderr : undefined;
  return process.stdout.isTTY ? process.stdout : undefined;
}

export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description('load generator (like emqtt-bench): conn, pub, sub or pubsub')
    .helpOption('--help', 'display help for command')
    .addArgument(new Argument('<mode>', 'conn | pub | sub | pubsub').choices(['conn', 'pub', 'sub', 'pubsub']))
    .option(
      '-c, --clients <n>',
      'clients (conn), publishers (pub, pubsub) or subscribers (sub)',
      integer(1, 1_000_000),
      10,
    )
    .option('-S, --subscribers <n>', 'pubsub: subscribers (default: as many as publishers)', integer(1, 1_000_000))
    .option(
      '-r, --rate <n>',
      'messages per second per publisher (0: as fast as the in-flight window allows)',
      rateValue,
      10,
    )
    .option('-q, --qos <qos>', 'QoS of publishes and subscriptions', qos, 0 as QoS)
    .option(
      '-s, --size <bytes>',
      'payload size (>= 24: the header carries the send time)',
      integer(HEADER, 268_435_455),
      64,
    )
    .option(
      '-t, --topic <pattern>',
      'topic (pub, pubsub) or filter (sub); %i = client index (default bench/%i, sub: bench/#)',
    )
    .option(
      '--sub-topic <filter>',
      "pubsub: the subscribers' filter, %i = subscriber index (default: the topic pattern)",
    )
    .option('-d, --duration <seconds>', 'how long to publish (conn: hold the connections)', positiveNumber, 10)
    .option('-h, --host <host>', 'broker host', '127.0.0.1')
    .option('-p, --port <port>', 'broker port', integer(1, 65_535), 1883)
    .option('-L, --url <url>', 'broker URL instead of -h/-p (mqtt://, mqtts://, ws://, wss://)', parseUrlOption)
    .option('-V, --protocol-version <version>', 'MQTT version: 5, 311 or 31', protocolVersion, 4)
    .option('-u, --username <user>', 'user name')
    .option('-P, --pw <password>', 'password')
    .option('-k, --keepalive <seconds>', 'keep alive', integer(0, 65_535), 60)
    .option('--connect-rate <n>', 'new connections per second (0: no limit besides --concurrency)', rateValue, 0)
    .option('--concurrency <n>', 'connections being opened at once', integer(1, 100_000), 100)
    .option('--inflight <n>', 'unfinished publishes per publisher (QoS 1/2 window)', integer(1, 65_535), 64)
    .option(
      '--e2e-window <n>',
      'pubsub at -r 0: messages per publisher not yet received by its subscribers (0: no limit)',
      integer(0, 1_000_000),
      100,
    )
    .option('--drain <seconds>', 'after -d, wait at most this long for messages still on their way', positiveNumber, 5)
    .option('--prefix <id>', 'client identifier prefix', `midge-bench-${process.pid}`)
    .option('--json', 'print the results as one JSON object')
    .action(async (mode: Mode, flags: BenchFlags) => {
      const stats = new Stats();
      const baseOptions: ClientOptions = {
        protocolVersion: flags.protocolVersion,
        keepalive: flags.keepalive,
        reconnectPeriod: 0,
        connectTimeout: 30_000,
        queueLimit: Math.max(1000, flags.inflight * 2),
      };
      const u = flags.url;
      if (flags.username ?? u?.username) baseOptions.username = flags.username ?? u?.username;
      if (flags.pw ?? u?.password) baseOptions.password = flags.pw ?? u?.password;
      const host = u?.host ?? flags.host;
      const hostPart = host.includes(':') ? `[${host}]` : host;
      const protocol = u?.protocol ?? 'mqtt';
      const port = u?.port ?? (u === undefined ? flags.port : { mqtt: 1883, mqtts: 8883, ws: 80, wss: 443 }[protocol]);
      const path = protocol === 'ws' || protocol === 'wss' ? (u?.path ?? '/mqtt') : '';
      const run: Run = {
        flags,
        mode,
        stats,
        clients: [],
        stopping: false,
        baseUrl: `${protocol}://${hostPart}:${port}${path}`,
        baseOptions,
      };
      const pattern = flags.topic ?? (mode === 'sub' ? 'bench/#' : 'bench/%i');
      const publisherCount = mode === 'pub' || mode === 'pubsub' ? flags.clients : 0;
      const subscriberCount =
        mode === 'sub' ? flags.clients : mode === 'pubsub' ? (flags.subscribers ?? flags.clients) : 0;
      const subPattern = mode === 'pubsub' ? (flags.subTopic ?? pattern) : pattern;
      const total = mode === 'conn' ? flags.clients : publisherCount + subscriberCount;

      const out = progressWriter(flags);
      const t0 = now();
      let last = { t: t0, sent: 0, received: 0 };
      let phase = 'connecting';
      const progress = out
        ? setInterval(() => {
            const t = now();
            const dt = (t - last.t) / 1000;
            const line =
              `[${((t - t0) / 1000).toFixed(0).padStart(3)}s] ${phase.padEnd(10)} connected ${stats.connected}/${total}` +
              `  sent ${formatRate((stats.sent - last.sent) / dt)}/s  recv ${formatRate((stats.received - last.received) / dt)}/s` +
              `  errors ${stats.errors}`;
            out.write(`\r\x1b[K${line}`);
            last = { t, sent: stats.sent, received: stats.received };
          }, 1000)
        : undefined;
      const onSignal = () => {
        run.stopping = true;
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);

      // Subscribers first, so that they are in place before the first publish.
      const connectStart = now();
      const subscribers = subscriberCount > 0 ? await connectAll(run, 'sub', subscriberCount, receiver(stats)) : [];
      const subFilters = subscribers.map((_, i) => expand(subPattern, i));
      await Promise.all(
        subscribers.map(async (client, i) => {
          if (client === undefined) return;
          try {
            const [grant] = await client.subscribe(subFilters[i]!, { qos: flags.qos });
            if (grant !== undefined && grant.reasonCode >= 0x80) {
              stats.error(
                `subscriber ${i}: subscription to ${grant.topic} refused (0x${grant.reasonCode.toString(16)})`,
              );
              stats.drops++;
            }
          } catch (error) {
            stats.error(`subscriber ${i}: ${(error as Error).message}`);
          }
        }),
      );
      const publishers = publisherCount > 0 ? await connectAll(run, 'pub', publisherCount) : [];
      const connectSeconds = (now() - connectStart) / 1000;
      if (mode === 'conn') await connectAll(run, 'conn', flags.clients);
      const connectAllSeconds = (now() - connectStart) / 1000;
      const connectedAtStart = stats.connected;

      let measured = 0;
      if (connectedAtStart > 0 && !run.stopping) {
        phase = mode === 'conn' ? 'holding' : mode === 'sub' ? 'receiving' : 'publishing';
        const topics = publishers.map((_, i) => expand(pattern, i));
        const matching = topics.map(
          (topic) => subFilters.filter((f, s) => subscribers[s] !== undefined && topicMatches(f, topic)).length,
        );
        const publishing = publishers.length > 0 ? startPublishing(run, publishers, topics, matching) : undefined;
        const runStart = now();
        const end = runStart + flags.duration * 1000;
        while (now() < end && !run.stopping) await sleep(Math.min(100, end - now()));
        run.stopping = true;
        publishing?.stop();
        measured = (now() - runStart) / 1000;
        // Drain: publishes still in flight, then messages still on their way to subscribers.
        phase = 'draining';
        const drainEnd = now() + flags.drain * 1000;
        while (publishing !== undefined && publishing.inflight() > 0 && now() < drainEnd) await sleep(10);
        if (mode === 'pubsub') {
          const expected = () => expectedMessages(stats, topics, subFilters, subscribers);
          while (stats.received < expected() && now() < drainEnd) await sleep(20);
        }
      }
      run.stopping = true;
      phase = 'closing';
      await Promise.all(run.clients.map((c) => Promise.race([c.end(), sleep(2000)]).then(() => c.end(true))));
      if (progress !== undefined) {
        clearInterval(progress);
        out?.write('\r\x1b[K');
      }

      const expected =
        mode === 'pubsub'
          ? expectedMessages(
              stats,
              publishers.map((_, i) => expand(pattern, i)),
              subFilters,
              subscribers,
            )
          : undefined;
      const receiveSpan =
        stats.firstSend !== undefined && stats.lastReceive !== undefined
          ? Math.max(measured, (stats.lastReceive - stats.firstSend) / 1000)
          : measured;
      const result = {
        mode,
        url: run.baseUrl,
        protocol_version: flags.protocolVersion,
        clients: mode === 'conn' ? flags.clients : undefined,
        publishers: publisherCount,
        subscribers: subscriberCount,
        rate: publisherCount > 0 ? flags.rate : undefined,
        qos: flags.qos,
        size: publisherCount > 0 ? flags.size : undefined,
        topic: mode === 'sub' ? undefined : mode === 'conn' ? undefined : pattern,
        filter: subscriberCount > 0 ? subPattern : undefined,
        duration_s: round(measured),
        connected: connectedAtStart,
        connect_errors: stats.connectErrors,
        connect_per_s: round(connectedAtStart / (mode === 'conn' ? connectAllSeconds : connectSeconds || 1)),
        connect_ms: percentiles(stats.connectMs),
        sent: stats.sent,
        sent_per_s: round(measured > 0 ? stats.sent / measured : 0),
        publish_errors: stats.publishErrors,
        ack_ms: flags.qos > 0 && publisherCount > 0 ? percentiles(stats.ackMs) : undefined,
        received: stats.received,
        expected,
        lost: expected === undefined ? undefined : Math.max(0, expected - stats.received),
        received_per_s: round(receiveSpan > 0 ? stats.received / receiveSpan : 0),
        latency_ms: subscriberCount > 0 ? percentiles(stats.latencyMs) : undefined,
        connections_lost: stats.drops,
        errors: stats.errors,
        first_error: stats.firstError,
      };
      if (flags.json) process.stdout.write(`${JSON.stringify(result)}\n`);
      else process.stdout.write(summary(result));
      if (connectedAtStart === 0) {
        return exitWith(EXIT.error, `Error: no client could connect: ${stats.firstError ?? 'unknown error'}`, false);
      }
      return exitWith(EXIT.ok, undefined, false);
    });
}

const round = (n: number) => Math.round(n * 100) / 100;

/** Messages the subscribers should have received: each publisher's sent count times the subscribers matching it. */
function expectedMessages(
  stats: Stats,
  topics: string[],
  filters: string[],
  subscribers: (MqttClient | undefined)[],
): number {
  let total = 0;
  for (let p = 0; p < topics.length; p++) {
    let matching = 0;
    for (let s = 0; s < filters.length; s++)
      if (subscribers[s] !== undefined && topicMatches(filters[s]!, topics[p]!)) matching++;
    total += matching * (stats.sentBy[p] ?? 0);
  }
  return total;
}

type Result = Record<string, unknown> & {
  connect_ms: ReturnType<typeof percentiles>;
  latency_ms?: ReturnType<typeof percentiles>;
  ack_ms?: ReturnType<typeof percentiles>;
};

function summary(r: Result): string {
  const rows: [string, string][] = [];
  const pct = (p: ReturnType<typeof percentiles> | undefined) =>
    p === null || p === undefined
      ? 'n/a'
      : `p50 ${p.p50.toFixed(2)}  p90 ${p.p90.toFixed(2)}  p99 ${p.p99.toFixed(2)}  max ${p.max.toFixed(2)}  (n=${p.count})`;
  rows.push([
    'broker',
    `${r.url} (MQTT ${r.protocol_version === 5 ? '5.0' : r.protocol_version === 4 ? '3.1.1' : '3.1'})`,
  ]);
  const who = [
    r.clients !== undefined ? `${r.clients} clients` : '',
    (r.publishers as number) > 0
      ? `${r.publishers} publishers at ${r.rate === 0 ? 'max' : `${r.rate} msg/s`} on ${r.topic}`
      : '',
    (r.subscribers as number) > 0 ? `${r.subscribers} subscribers on ${r.filter}` : '',
  ].filter((s) => s !== '');
  rows.push([
    'scenario',
    `${r.mode}: ${who.join(', ')}; QoS ${r.qos}${r.size === undefined ? '' : `, ${r.size} B`}, ${r.duration_s} s`,
  ]);
  rows.push(['connected', `${r.connected} (${r.connect_errors} failed), ${r.connect_per_s} conn/s`]);
  rows.push(['connect (ms)', pct(r.connect_ms)]);
  if ((r.publishers as number) > 0) {
    rows.push(['sent', `${r.sent} (${r.sent_per_s} msg/s), ${r.publish_errors} refused`]);
    if (r.ack_ms !== undefined) rows.push(['ack (ms)', pct(r.ack_ms)]);
  }
  if ((r.subscribers as number) > 0) {
    const exp = r.expected === undefined ? '' : ` of ${r.expected} expected, ${r.lost} lost`;
    rows.push(['received', `${r.received}${exp} (${r.received_per_s} msg/s)`]);
    rows.push(['latency (ms)', pct(r.latency_ms)]);
  }
  rows.push(['errors', `${r.errors}${r.first_error === undefined ? '' : ` (first: ${r.first_error})`}`]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return `${rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')}\n`;
}
