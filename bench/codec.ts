/**
 * Codec throughput: Midge vs mqtt-packet, same packets, same run (`npm run bench:codec`).
 *
 * Each case is encoded and decoded by both libraries. Both encoders must produce the same bytes (so both decoders
 * get identical input) and each side's decoded output is checked after timing, so no side benchmarks a no-op.
 * Timing: a warm-up, then the best of BATCHES batches of BATCH_SECONDS of CPU time each, the two libraries'
 * batches alternating (BENCH_SCALE=2 doubles the times).
 * The last line is the smallest decode and encode ratio over the eight PUBLISH cases (64 B / 1 KiB, QoS 0 / 1,
 * 3.1.1 / 5.0); rows marked (extra) are shown only.
 */
import mqttPacket from 'mqtt-packet';
import { encode, type Packet, PacketDecoder, type ProtocolVersion } from '../src/codec/index.js';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const WARMUP_SECONDS = 0.2 * SCALE;
const BATCH_SECONDS = 0.3 * SCALE;
const BATCHES = 5;

interface Case {
  name: string;
  version: ProtocolVersion;
  /** The packets to encode (and whose encodings to decode), used in turn; a power-of-two count. */
  midge: Packet[];
  legacy: mqttPacket.Packet[];
  /** Checks a decoded packet of each side. */
  checkMidge(p: Packet): boolean;
  checkLegacy(p: mqttPacket.Packet): boolean;
  /** 'publish': one of the PUBLISH cases of the final line; 'extra': shown only. */
  kind: 'publish' | 'extra';
}

const TOPIC = 'sensors/building-1/floor-3/temperature';

function publishCase(size: number, qos: 0 | 1, version: ProtocolVersion, topics = 1): Case {
  const payload = Buffer.alloc(size, 0x61);
  const topicOf = (i: number): string =>
    topics === 1 ? TOPIC : `sensors/building-${i >> 5}/floor-${i & 31}/temperature`;
  const name = `PUBLISH ${size >= 1024 ? `${size / 1024} KiB` : `${size} B`} QoS ${qos} v${version === 5 ? '5' : '3.1.1'}`;
  const indexes = [...Array(topics).keys()];
  return {
    name: topics === 1 ? name : `${name}, ${topics} topics in turn (extra)`,
    version,
    kind: topics === 1 ? 'publish' : 'extra',
    midge: indexes.map((i) => ({
      type: 3,
      topic: topicOf(i),
      payload,
      qos,
      retain: false,
      dup: false,
      ...(qos ? { packetId: 42 } : {}),
    })),
    legacy: indexes.map((i) => ({
      cmd: 'publish',
      topic: topicOf(i),
      payload,
      qos,
      retain: false,
      dup: false,
      ...(qos ? { messageId: 42 } : {}),
    })),
    checkMidge: (p) => p.type === 3 && p.topic === topicOf(topics - 1) && p.payload.length === size && p.qos === qos,
    checkLegacy: (p) =>
      p.cmd === 'publish' && p.topic === topicOf(topics - 1) && (p.payload as Buffer).length === size && p.qos === qos,
  };
}

function subscribeCase(version: ProtocolVersion): Case {
  const filters = ['sensors/+/temperature', 'alerts/#', 'home/kitchen/light'];
  const v5 = version === 5;
  return {
    name: `SUBSCRIBE 3 filters v${v5 ? '5' : '3.1.1'}`,
    version,
    kind: 'extra',
    midge: [
      {
        type: 8,
        packetId: 7,
        subscriptions: filters.map((topicFilter, i) => ({
          topicFilter,
          qos: (i % 3) as 0 | 1 | 2,
          ...(v5 ? { noLocal: false, retainAsPublished: false, retainHandling: 0 as const } : {}),
        })),
      },
    ],
    legacy: [
      {
        cmd: 'subscribe',
        messageId: 7,
        subscriptions: filters.map((topic, i) => ({
          topic,
          qos: (i % 3) as 0 | 1 | 2,
          ...(v5 ? { nl: false, rap: false, rh: 0 } : {}),
        })),
      },
    ],
    checkMidge: (p) => p.type === 8 && p.subscriptions.length === 3 && p.subscriptions[2]?.topicFilter === filters[2],
    checkLegacy: (p) =>
      p.cmd === 'subscribe' && p.subscriptions.length === 3 && p.subscriptions[2]?.topic === filters[2],
  };
}

function connectCase(version: ProtocolVersion): Case {
  const will = Buffer.from('client-42 went offline');
  const password = Buffer.from('s3cr3t-passw0rd');
  return {
    name: `CONNECT will+user/pass v${version === 5 ? '5' : '3.1.1'}`,
    version,
    kind: 'extra',
    midge: [
      {
        type: 1,
        protocolName: 'MQTT',
        protocolVersion: version,
        clean: true,
        keepAlive: 60,
        clientId: 'midge-bench-client-42',
        username: 'bench-user',
        password,
        will: { topic: 'clients/42/status', payload: will, qos: 1, retain: true },
      },
    ],
    legacy: [
      {
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: version,
        clean: true,
        keepalive: 60,
        clientId: 'midge-bench-client-42',
        username: 'bench-user',
        password,
        will: { topic: 'clients/42/status', payload: will, qos: 1, retain: true },
      },
    ],
    checkMidge: (p) => p.type === 1 && p.clientId === 'midge-bench-client-42' && p.will?.payload.length === will.length,
    checkLegacy: (p) =>
      p.cmd === 'connect' &&
      p.clientId === 'midge-bench-client-42' &&
      (p.will?.payload as Buffer | undefined)?.length === will.length,
  };
}

/** CPU time of this process in ms: unlike wall time, it does not count the time other processes held the CPU. */
function cpuNow(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * Ops per CPU-second of one batch of `run(n)` calls (each performs n operations) lasting about BATCH_SECONDS of CPU.
 * CPU time rather than wall time: this machine is shared, and a batch preempted by another process would otherwise
 * look slow. (GC threads count too: allocation costs each side what it really costs.)
 */
function batch(run: (n: number) => void, n: number): number {
  let ops = 0;
  const start = cpuNow();
  const end = start + BATCH_SECONDS * 1000;
  let now = start;
  while (now < end) {
    run(n);
    ops += n;
    now = cpuNow();
  }
  return (ops * 1000) / (now - start);
}

/** Ops per run(n) call so that a call takes about 1 ms. */
function warmUp(run: (n: number) => void): number {
  let n = 16;
  const deadline = performance.now() + WARMUP_SECONDS * 1000;
  while (performance.now() < deadline) {
    const t = cpuNow();
    run(n);
    if (cpuNow() - t < 1 && n < 1 << 20) n *= 2;
  }
  return n;
}

/**
 * Best ops/s of Midge and of mqtt-packet for the same operation. Their batches alternate, so a load spike on this
 * shared machine hits both sides rather than one.
 */
function measurePair(
  midge: (n: number) => void,
  legacy: (n: number) => void,
  round: (n: number) => number,
): [number, number] {
  const nm = round(warmUp(midge));
  const nl = round(warmUp(legacy));
  let bestMidge = 0;
  let bestLegacy = 0;
  for (let b = 0; b < BATCHES; b++) {
    bestMidge = Math.max(bestMidge, batch(midge, nm));
    bestLegacy = Math.max(bestLegacy, batch(legacy, nl));
  }
  return [bestMidge, bestLegacy];
}

function benchCase(c: Case) {
  const mask = c.midge.length - 1;
  const opts = { protocolVersion: c.version };
  const wire = c.midge.map((p, i) => {
    const bytes = Buffer.from(encode(p, c.version));
    const legacyBytes = mqttPacket.generate(c.legacy[i]!, opts);
    if (!bytes.equals(legacyBytes)) {
      throw new Error(
        `${c.name}: the encoders disagree\n midge ${bytes.toString('hex')}\n  mqtt ${legacyBytes.toString('hex')}`,
      );
    }
    return bytes;
  });

  // Decode. Each call is fed one whole packet in a Buffer, as a socket would deliver it.
  const decoder = new PacketDecoder({ protocolVersion: c.version });
  let midgeCount = 0;
  let midgeLast: Packet | undefined;
  const onMidge = (p: Packet) => {
    midgeCount++;
    midgeLast = p;
  };
  const parser = mqttPacket.parser({ protocolVersion: c.version });
  let legacyCount = 0;
  let legacyLast: mqttPacket.Packet | undefined;
  parser.on('packet', (p: mqttPacket.Packet) => {
    legacyCount++;
    legacyLast = p;
  });
  parser.on('error', (e: Error) => {
    throw e;
  });
  // Whole rounds over the packets, so that the last one decoded is the last of the list.
  const round = (n: number): number => Math.max(1, Math.round(n / (mask + 1))) * (mask + 1);
  const [midgeDecode, legacyDecode] = measurePair(
    (n) => {
      for (let i = 0, end = round(n); i < end; i++) decoder.decode(wire[i & mask]!, onMidge);
    },
    (n) => {
      for (let i = 0, end = round(n); i < end; i++) parser.parse(wire[i & mask]!);
    },
    round,
  );
  if (midgeCount === 0 || !midgeLast || !c.checkMidge(midgeLast)) {
    throw new Error(`${c.name}: Midge decoded nothing sane`);
  }
  if (legacyCount === 0 || !legacyLast || !c.checkLegacy(legacyLast)) {
    throw new Error(`${c.name}: mqtt-packet decoded nothing sane`);
  }
  if (decoder.buffered !== 0) throw new Error(`${c.name}: Midge left bytes buffered`);

  // Encode.
  let sink = 0;
  const midge = c.midge;
  const legacy = c.legacy;
  const [midgeEncode, legacyEncode] = measurePair(
    (n) => {
      for (let i = 0, end = round(n); i < end; i++) sink += encode(midge[i & mask]!, c.version).length;
    },
    (n) => {
      for (let i = 0, end = round(n); i < end; i++) sink += mqttPacket.generate(legacy[i & mask]!, opts).length;
    },
    round,
  );
  if (sink === 0) throw new Error('nothing encoded');
  const size = wire.reduce((sum, b) => sum + b.length, 0) / wire.length;
  return { size: Math.round(size), midgeDecode, legacyDecode, midgeEncode, legacyEncode };
}

const fmtOps = (ops: number): string =>
  ops >= 1e6 ? `${(ops / 1e6).toFixed(2)} M/s` : ops >= 1e3 ? `${(ops / 1e3).toFixed(0)} k/s` : `${ops.toFixed(0)} /s`;
const fmtMB = (ops: number, size: number): string => `${((ops * size) / 1e6).toFixed(0)} MB/s`;
const cell = (ops: number, size: number, publish: boolean): string =>
  publish ? `${fmtOps(ops)} (${fmtMB(ops, size)})` : fmtOps(ops);

const cases: Case[] = [];
for (const version of [4, 5] as const) {
  for (const size of [64, 1024]) for (const qos of [0, 1] as const) cases.push(publishCase(size, qos, version));
}
cases.push(publishCase(64, 0, 4, 1024));
for (const version of [4, 5] as const) cases.push(subscribeCase(version), connectCase(version));

console.log(
  `Node ${process.version}, ${WARMUP_SECONDS}s warm-up, best of ${BATCHES} x ${BATCH_SECONDS}s per measurement, ` +
    'Midge and mqtt-packet batches alternating; ops per second of process CPU time\n',
);
console.log(
  '| case | bytes | Midge decode | mqtt-packet decode | decode ratio | Midge encode | mqtt-packet encode | encode ratio |',
);
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
let minDecode = Number.POSITIVE_INFINITY;
let minEncode = Number.POSITIVE_INFINITY;
for (const c of cases) {
  const r = benchCase(c);
  const dr = r.midgeDecode / r.legacyDecode;
  const er = r.midgeEncode / r.legacyEncode;
  if (c.kind === 'publish') {
    minDecode = Math.min(minDecode, dr);
    minEncode = Math.min(minEncode, er);
  }
  const mb = c.name.startsWith('PUBLISH');
  console.log(
    `| ${c.name} | ${r.size} | ${cell(r.midgeDecode, r.size, mb)} | ${cell(r.legacyDecode, r.size, mb)} | ` +
      `${dr.toFixed(1)}x | ${cell(r.midgeEncode, r.size, mb)} | ${cell(r.legacyEncode, r.size, mb)} | ` +
      `${er.toFixed(1)}x |`,
  );
}
console.log(
  '\n(extra) rows are not in the final line: "1024 topics in turn" encodes a different topic each time, defeating ' +
    "the encoder's last-topic cache (which a broker's fan-out and a client publishing to one topic hit).",
);
console.log(`\ncodec speedup vs mqtt-packet: decode ${minDecode.toFixed(1)}x, encode ${minEncode.toFixed(1)}x`);
