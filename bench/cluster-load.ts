/**
 * Load generator of `npm run bench:cluster` (bench/cluster.ts): raw MQTT 3.1.1 clients over `net` sockets, on the
 * project's codec, and one scenario runner (publishers, subscribers, latency, lost and duplicated messages).
 *
 * Every payload is 64 bytes: publisher id (u32 LE), sequence number (u32 LE; 0xFFFFFFFF marks a probe), send time
 * (performance.now(), f64 LE), padding. Publishers and subscribers live in this process, so the send time and the
 * receive time come from one clock.
 */
import net from 'node:net';
import { encode, type Packet, PacketDecoder, PacketType, type PublishPacket } from '../src/codec/index.js';

const V311 = 4;
const PAYLOAD_SIZE = 64;
const PROBE_SEQ = 0xffffffff;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A minimal MQTT 3.1.1 client: CONNECT, SUBSCRIBE, PUBLISH QoS 0/1, PUBACK. Writes of one tick go out as one. */
export class RawClient {
  onPublish: (packet: PublishPacket) => void = () => {};
  onPuback: (packetId: number) => void = () => {};
  closed = false;
  error: Error | undefined;

  private readonly socket: net.Socket;
  private readonly decoder = new PacketDecoder({ protocolVersion: V311 });
  private out: Uint8Array[] = [];
  private outBytes = 0;
  private flushScheduled = false;
  private nextPacketId = 1;
  private connack: ((code: number) => void) | undefined;
  private readonly subacks = new Map<number, (codes: number[]) => void>();
  private readonly closeWaiters: (() => void)[] = [];

  private constructor(
    readonly name: string,
    port: number,
  ) {
    this.socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
    this.socket.on('data', (chunk: Buffer) => {
      try {
        this.decoder.decode(chunk, this.onPacket);
      } catch (err) {
        this.error = err instanceof Error ? err : new Error(String(err));
        this.socket.destroy();
      }
    });
    this.socket.on('error', (err) => {
      this.error ??= err;
    });
    this.socket.on('close', () => {
      this.closed = true;
      for (const w of this.closeWaiters.splice(0)) w();
    });
  }

  /** Connects with a clean session and keep alive 0; rejects after `timeoutMs`. */
  static async connect(name: string, port: number, timeoutMs = 5000): Promise<RawClient> {
    const client = new RawClient(name, port);
    const code = await withTimeout(
      new Promise<number>((resolve, reject) => {
        client.connack = resolve;
        client.socket.once('close', () => reject(client.error ?? new Error(`${name}: connection closed`)));
        client.send({
          type: PacketType.CONNECT,
          protocolName: 'MQTT',
          protocolVersion: V311,
          clean: true,
          keepAlive: 0,
          clientId: name,
        });
      }),
      timeoutMs,
      `${name}: no CONNACK from port ${port}`,
    );
    if (code !== 0) throw new Error(`${name}: CONNACK return code ${code}`);
    return client;
  }

  async subscribe(filter: string, qos: 0 | 1, timeoutMs = 5000): Promise<void> {
    const packetId = this.allocPacketId();
    const codes = await withTimeout(
      new Promise<number[]>((resolve) => {
        this.subacks.set(packetId, resolve);
        this.send({ type: PacketType.SUBSCRIBE, packetId, subscriptions: [{ topicFilter: filter, qos }] });
      }),
      timeoutMs,
      `${this.name}: no SUBACK for ${filter}`,
    );
    if (codes[0] !== qos) throw new Error(`${this.name}: SUBACK ${codes[0]} for ${filter} (wanted QoS ${qos})`);
  }

  /** Sends a PUBLISH (`payload` is copied by the encoder, so it may be reused); returns its packet id (0 at QoS 0). */
  publish(topic: string, payload: Uint8Array, qos: 0 | 1): number {
    if (qos === 0) {
      this.send({ type: PacketType.PUBLISH, topic, payload, qos, retain: false, dup: false });
      return 0;
    }
    const packetId = this.allocPacketId();
    this.send({ type: PacketType.PUBLISH, topic, payload, qos, retain: false, dup: false, packetId });
    return packetId;
  }

  /** Sends DISCONNECT and waits (bounded) for the socket to close. */
  async close(timeoutMs = 2000): Promise<void> {
    if (this.closed) return;
    const done = new Promise<void>((resolve) => this.closeWaiters.push(resolve));
    if (!this.socket.destroyed) {
      this.send({ type: PacketType.DISCONNECT });
      this.flush();
      this.socket.end();
    }
    await Promise.race([done, sleep(timeoutMs)]);
    this.socket.destroy();
  }

  private allocPacketId(): number {
    const id = this.nextPacketId;
    this.nextPacketId = id === 0xffff ? 1 : id + 1;
    return id;
  }

  private send(packet: Packet): void {
    if (this.socket.destroyed) return;
    const bytes = encode(packet, V311);
    this.out.push(bytes);
    this.outBytes += bytes.length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.out.length === 0 || this.socket.destroyed) return;
    const data = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out, this.outBytes);
    this.out = [];
    this.outBytes = 0;
    this.socket.write(data);
  };

  private readonly onPacket = (packet: Packet): void => {
    switch (packet.type) {
      case PacketType.PUBLISH:
        if (packet.qos === 1) this.send({ type: PacketType.PUBACK, packetId: packet.packetId! });
        this.onPublish(packet);
        break;
      case PacketType.PUBACK:
        this.onPuback(packet.packetId);
        break;
      case PacketType.CONNACK:
        this.connack?.(packet.reasonCode);
        break;
      case PacketType.SUBACK: {
        const waiter = this.subacks.get(packet.packetId);
        this.subacks.delete(packet.packetId);
        waiter?.(packet.reasonCodes);
        break;
      }
      default:
        break;
    }
  };
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(message)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Which sequence numbers of one publisher a subscriber has seen. */
class SeqTracker {
  bits = new Uint8Array(8192);
  unique = 0;
  dups = 0;
  probeSeen = false;

  /** Records `seq`; false if it was seen before. */
  mark(seq: number): boolean {
    const byte = seq >>> 3;
    if (byte >= this.bits.length) {
      const grown = new Uint8Array(Math.max(byte + 1, this.bits.length * 2));
      grown.set(this.bits);
      this.bits = grown;
    }
    const mask = 1 << (seq & 7);
    if (this.bits[byte]! & mask) {
      this.dups++;
      return false;
    }
    this.bits[byte]! |= mask;
    this.unique++;
    return true;
  }
}

/** A growable array of latencies (ms). */
class Samples {
  data = new Float64Array(1 << 16);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const grown = new Float64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = v;
  }
  percentile(p: number): number {
    if (this.length === 0) return Number.NaN;
    const sorted = this.data.slice(0, this.length).sort();
    return sorted[Math.min(this.length - 1, Math.floor((p / 100) * this.length))]!;
  }
}

export interface PublisherSpec {
  /** Index of the node (0-based) the publisher connects to. */
  node: number;
  topic: string;
}

export interface SubscriberSpec {
  node: number;
  filter: string;
  /** Indices of the publishers whose messages this subscriber receives (and must receive all of). */
  from: number[];
}

export type LoadMode =
  /**
   * Max rate, at most `window` QoS 1 publishes awaiting PUBACK per publisher and, if `cap` > 0, at most `cap`
   * messages per publisher sent and not yet received (so that the queues of a broker that acknowledges faster than it
   * delivers stay bounded, and the latency does not grow with the duration).
   */
  | { kind: 'inflight'; window: number; cap: number }
  /** Max rate, at most `window` messages per publisher sent and not yet received by its subscribers. */
  | { kind: 'e2e'; window: number }
  /** A fixed rate per publisher, staggered. */
  | { kind: 'rate'; perSecond: number };

export interface ScenarioSpec {
  label: string;
  qos: 0 | 1;
  publishers: PublisherSpec[];
  subscribers: SubscriberSpec[];
  mode: LoadMode;
  durationMs: number;
  /** Longest wait for the last messages after publishing stopped. */
  drainMs: number;
  /** Drain ends early when nothing arrived for this long. */
  stallMs: number;
}

export interface ScenarioHooks {
  /** Called right before the first measured publish. */
  start(): void;
  /** Called when the drain is over (all received, stalled, or timed out). */
  end(): void;
  log(message: string): void;
}

export interface ScenarioResult {
  sent: number;
  /** Deliveries expected: for each subscriber, the messages its publishers sent. */
  expected: number;
  /** Unique deliveries. */
  delivered: number;
  dups: number;
  lost: number;
  /** From the first publish to the last delivery. */
  activeMs: number;
  /** From the first publish to the end of the drain (the CPU window). */
  windowMs: number;
  p50: number;
  p99: number;
  drain: 'complete' | 'stalled' | 'timeout';
  /** CPU time of this process over the window, % of one core. */
  generatorCpuPct: number;
}

let nextPublisherId = 1;

class Publisher {
  readonly id = nextPublisherId++;
  sent = 0;
  acked = 0;
  /** Unique deliveries over all its subscribers. */
  delivered = 0;
  subscriberCount = 0;
  private readonly payload = Buffer.alloc(PAYLOAD_SIZE, 0x61);
  constructor(
    readonly client: RawClient,
    readonly topic: string,
    readonly qos: 0 | 1,
  ) {
    this.payload.writeUInt32LE(this.id, 0);
  }
  sendOne(): void {
    this.payload.writeUInt32LE(this.sent++, 4);
    this.payload.writeDoubleLE(performance.now(), 8);
    this.client.publish(this.topic, this.payload, this.qos);
  }
  probe(): void {
    this.payload.writeUInt32LE(PROBE_SEQ, 4);
    this.client.publish(this.topic, this.payload, 0);
  }
}

/**
 * Connects the clients (to `ports[spec.node]`), waits until every subscriber receives a probe from each of its
 * publishers (subscriptions propagated across the cluster), then publishes for spec.durationMs and drains.
 */
export async function runScenario(spec: ScenarioSpec, ports: number[], hooks: ScenarioHooks): Promise<ScenarioResult> {
  const tag = `${spec.label}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const clients: RawClient[] = [];
  try {
    const subClients = await Promise.all(
      spec.subscribers.map((s, i) => RawClient.connect(`bs-${tag}-${i}`, ports[s.node]!)),
    );
    clients.push(...subClients);
    const pubClients = await Promise.all(
      spec.publishers.map((p, i) => RawClient.connect(`bp-${tag}-${i}`, ports[p.node]!)),
    );
    clients.push(...pubClients);
    const pubs = spec.publishers.map((p, i) => new Publisher(pubClients[i]!, p.topic, spec.qos));

    let running = false;
    let deliveredTotal = 0;
    let dupsTotal = 0;
    let lastDeliveryAt = 0;
    const latencies = new Samples();
    const trackersBySub: Map<number, SeqTracker>[] = [];

    const fill = (pub: Publisher): void => {
      if (!running) return;
      const mode = spec.mode;
      if (mode.kind === 'inflight') {
        const cap = mode.cap > 0 ? mode.cap : Number.POSITIVE_INFINITY;
        while (pub.sent - pub.acked < mode.window && pub.sent - Math.floor(pub.delivered / pub.subscriberCount) < cap) {
          pub.sendOne();
        }
      } else if (mode.kind === 'e2e') {
        while (pub.sent - Math.floor(pub.delivered / pub.subscriberCount) < mode.window) pub.sendOne();
      }
    };

    const pubById = new Map(pubs.map((p) => [p.id, p]));
    spec.subscribers.forEach((s, i) => {
      const trackers = new Map<number, SeqTracker>();
      for (const pi of s.from) {
        trackers.set(pubs[pi]!.id, new SeqTracker());
        pubs[pi]!.subscriberCount++;
      }
      trackersBySub.push(trackers);
      subClients[i]!.onPublish = (packet) => {
        const now = performance.now();
        const p = packet.payload;
        if (p.length < 16) return;
        const view = new DataView(p.buffer, p.byteOffset, p.byteLength);
        const pubId = view.getUint32(0, true);
        const tracker = trackers.get(pubId);
        if (tracker === undefined) return; // another scenario's straggler
        const seq = view.getUint32(4, true);
        if (seq === PROBE_SEQ) {
          tracker.probeSeen = true;
          return;
        }
        if (!tracker.mark(seq)) {
          dupsTotal++;
          return;
        }
        latencies.push(now - view.getFloat64(8, true));
        deliveredTotal++;
        lastDeliveryAt = now;
        const pub = pubById.get(pubId)!;
        pub.delivered++;
        if (spec.mode.kind !== 'rate') fill(pub);
      };
    });
    for (const pub of pubs) {
      if (spec.mode.kind === 'inflight') {
        pub.client.onPuback = () => {
          pub.acked++;
          fill(pub);
        };
      } else {
        pub.client.onPuback = () => {
          pub.acked++;
        };
      }
    }

    await Promise.all(subClients.map((c, i) => c.subscribe(spec.subscribers[i]!.filter, spec.qos)));

    // Probes until every subscriber has one from each of its publishers: the subscriptions reached every node.
    const probeDeadline = performance.now() + 10_000;
    for (;;) {
      const missing = new Set<Publisher>();
      spec.subscribers.forEach((s, i) => {
        for (const pi of s.from) if (!trackersBySub[i]!.get(pubs[pi]!.id)!.probeSeen) missing.add(pubs[pi]!);
      });
      if (missing.size === 0) break;
      if (performance.now() > probeDeadline) {
        throw new Error(`subscriptions did not propagate within 10 s (${missing.size} publishers not heard)`);
      }
      for (const pub of missing) pub.probe();
      await sleep(25);
    }
    checkClients(clients);

    // Measure.
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    hooks.start();
    running = true;
    let rateTimer: NodeJS.Timeout | undefined;
    const mode = spec.mode;
    if (mode.kind === 'rate') {
      const period = 1000 / mode.perSecond;
      const offsets = pubs.map((_, i) => (i * period) / pubs.length);
      const tick = () => {
        if (!running) return;
        const elapsed = performance.now() - t0;
        pubs.forEach((pub, i) => {
          const due = Math.floor((elapsed - offsets[i]!) / period) + 1;
          while (pub.sent < due) pub.sendOne();
        });
      };
      tick();
      rateTimer = setInterval(tick, 2);
    } else {
      for (const pub of pubs) fill(pub);
    }
    const stopAt = t0 + spec.durationMs;
    let lastProgressLog = t0;
    while (performance.now() < stopAt) {
      await sleep(Math.min(50, Math.max(1, stopAt - performance.now())));
      if (performance.now() - lastProgressLog >= 1000) {
        lastProgressLog = performance.now();
        hooks.log(`  ${((lastProgressLog - t0) / 1000).toFixed(0)} s: ${deliveredTotal} delivered`);
      }
      checkClients(clients);
    }
    running = false;
    clearInterval(rateTimer);

    // Drain.
    const expectedOf = () =>
      spec.subscribers.reduce((sum, s) => sum + s.from.reduce((n, pi) => n + pubs[pi]!.sent, 0), 0);
    const expected = expectedOf();
    const drainStart = performance.now();
    let drain: ScenarioResult['drain'] = 'complete';
    let seen = deliveredTotal;
    let progressAt = drainStart;
    while (deliveredTotal < expected) {
      await sleep(10);
      const now = performance.now();
      if (deliveredTotal !== seen) {
        seen = deliveredTotal;
        progressAt = now;
      }
      if (now - progressAt > spec.stallMs) {
        drain = 'stalled';
        break;
      }
      if (now - drainStart > spec.drainMs) {
        drain = 'timeout';
        break;
      }
      checkClients(clients);
    }
    const tEnd = performance.now();
    hooks.end();
    const cpu = process.cpuUsage(cpu0);
    const windowMs = tEnd - t0;
    const sent = pubs.reduce((n, p) => n + p.sent, 0);
    return {
      sent,
      expected,
      delivered: deliveredTotal,
      dups: dupsTotal,
      lost: expected - deliveredTotal,
      activeMs: (lastDeliveryAt || tEnd) - t0,
      windowMs,
      p50: latencies.percentile(50),
      p99: latencies.percentile(99),
      drain,
      generatorCpuPct: ((cpu.user + cpu.system) / 1000 / windowMs) * 100,
    };
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

function checkClients(clients: RawClient[]): void {
  for (const c of clients) {
    if (c.closed)
      throw new Error(`${c.name}: connection closed by the broker${c.error ? ` (${c.error.message})` : ''}`);
  }
}

/**
 * Probes that each node forwards to each other node: a subscriber on every node, probes published on every node
 * to the topics of the subscribers of the other nodes, until all arrive or `timeoutMs`.
 */
export async function waitClusterFormed(ports: number[], timeoutMs: number): Promise<number> {
  if (ports.length < 2) return 0;
  const tag = `${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const clients: RawClient[] = [];
  const t0 = performance.now();
  try {
    const subs = await Promise.all(ports.map((port, j) => RawClient.connect(`probe-s-${tag}-${j}`, port)));
    clients.push(...subs);
    const pubs = await Promise.all(ports.map((port, i) => RawClient.connect(`probe-p-${tag}-${i}`, port)));
    clients.push(...pubs);
    const seen = new Set<string>();
    subs.forEach((c, j) => {
      c.onPublish = (packet) => {
        seen.add(`${Buffer.from(packet.payload).toString()}>${j}`);
      };
    });
    await Promise.all(subs.map((c, j) => c.subscribe(`probe/${tag}/${j}`, 0)));
    const payloads = ports.map((_, i) => Buffer.from(String(i)));
    for (;;) {
      let missing = 0;
      for (let i = 0; i < ports.length; i++) {
        for (let j = 0; j < ports.length; j++) {
          if (i === j || seen.has(`${i}>${j}`)) continue;
          missing++;
          pubs[i]!.publish(`probe/${tag}/${j}`, payloads[i]!, 0);
        }
      }
      if (missing === 0) return performance.now() - t0;
      if (performance.now() - t0 > timeoutMs) {
        throw new Error(`cluster not formed after ${timeoutMs} ms (${missing} node pairs do not forward)`);
      }
      checkClients(clients);
      await sleep(50);
    }
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}
