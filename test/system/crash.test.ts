/**
 * Crash tests (issue "Durable persistence"): the real `midge broker` process is SIGKILLed in the middle of a flood
 * of QoS 1 and QoS 2 messages and restarted on the same store. Everything the broker acknowledged (PUBACK, PUBREC:
 * stricter than PUBCOMP) must reach the persistent subscriber after the restart — QoS 1 at least once, QoS 2 exactly
 * once — retained messages must all be there and the session must keep its subscription (Session Present = 1).
 *
 * Two variants per durable store: the subscriber offline during the flood (messages queued), and the subscriber
 * online but not acknowledging (messages in flight at the kill: resent with DUP=1 and the same packet id).
 * SQLite: a file in a temporary folder. Redis: a real redis-server with appendonly + appendfsync always, so that
 * what Redis acknowledged survives the broker's SIGKILL.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Packet, PacketType } from '../../src/codec/index.js';
import { publish, RawClient, subscribe, text } from '../helpers/raw-client.js';
import { type RedisServer, startRedisServer } from '../support/redis-server.js';
import { type CliBroker, killAllCliBrokers, startCliBroker } from './cli-broker.js';

/** Messages per publisher (QoS 1 and QoS 2): below the offline queue limit (1000) together. */
const N = 300;
/** Unacknowledged PUBLISH a publisher keeps outstanding. */
const WINDOW = 20;
const RETAINED = 25;
const SUBSCRIBER = 'crash-sub';

interface Flood {
  /** Payloads acknowledged by the broker (PUBACK for QoS 1, PUBREC for QoS 2). */
  acked: Set<string>;
  sent: number;
  done: Promise<void>;
}

/** Sends N messages at `qos` as fast as a window of WINDOW allows; stops when the connection goes away. */
function flood(client: RawClient, qos: 1 | 2, onAck: () => void): Flood {
  const acked = new Set<string>();
  const state: Flood = { acked, sent: 0, done: Promise.resolve() };
  const payload = (id: number) => `q${qos}-${id}`;
  const sendNext = () => {
    if (state.sent >= N || client.closed) return;
    const id = ++state.sent;
    client.send({
      type: PacketType.PUBLISH,
      topic: `crash/q${qos}`,
      payload: Buffer.from(payload(id)),
      qos,
      retain: false,
      dup: false,
      packetId: id,
    });
  };
  state.done = (async () => {
    for (let i = 0; i < WINDOW; i++) sendNext();
    while (acked.size < N) {
      const packet = await client.nextPacket(5000);
      if (packet === undefined) return; // killed
      if (packet.type === PacketType.PUBACK || packet.type === PacketType.PUBREC) {
        acked.add(payload(packet.packetId));
        onAck();
        if (packet.type === PacketType.PUBREC) client.send({ type: PacketType.PUBREL, packetId: packet.packetId });
        else sendNext();
      } else if (packet.type === PacketType.PUBCOMP) {
        sendNext();
      }
    }
  })();
  return state;
}

/** Reads PUBLISH packets until none comes for quietMs, acknowledging them (QoS 2: PUBREC, then PUBCOMP on PUBREL). */
async function drain(client: RawClient, quietMs: number, ack = true): Promise<Packet[]> {
  const received: Packet[] = [];
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const packet = await client.nextPacket(quietMs);
    if (packet === undefined) break;
    if (packet.type === PacketType.PUBLISH) {
      received.push(packet);
      if (!ack) continue;
      if (packet.qos === 1) client.send({ type: PacketType.PUBACK, packetId: packet.packetId! });
      if (packet.qos === 2) client.send({ type: PacketType.PUBREC, packetId: packet.packetId! });
    } else if (packet.type === PacketType.PUBREL) {
      client.send({ type: PacketType.PUBCOMP, packetId: packet.packetId });
    }
  }
  return received;
}

type Publish = Extract<Packet, { type: typeof PacketType.PUBLISH }>;

interface StoreUnderTest {
  name: string;
  setup(): Promise<{ args: string[]; cleanup(): Promise<void> }>;
}

const STORES: StoreUnderTest[] = [
  {
    name: 'sqlite',
    async setup() {
      const dir = mkdtempSync(join(tmpdir(), 'midge-crash-'));
      return { args: ['--store', 'sqlite', '--data-dir', dir], cleanup: async () => rmSync(dir, { recursive: true }) };
    },
  },
  {
    name: 'redis',
    async setup() {
      const redis: RedisServer = await startRedisServer({ persistence: true });
      return { args: ['--store', 'redis', '--redis', redis.url], cleanup: () => redis.stop() };
    },
  },
];

describe.each(STORES)('crash with the $name store', (storeUnderTest) => {
  const cleanups: (() => Promise<void>)[] = [];
  const clients: RawClient[] = [];

  afterEach(async () => {
    for (const client of clients.splice(0)) client.socket.destroy();
    await killAllCliBrokers();
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  async function connect(port: number, clientId: string, clean = true) {
    const { client, connack } = await RawClient.connect(port, { clientId, clean });
    clients.push(client);
    return { client, connack };
  }

  /** Starts the broker, retains RETAINED messages, registers the subscriber, floods and SIGKILLs mid-flood. */
  async function floodAndKill(online: boolean) {
    const { args, cleanup } = await storeUnderTest.setup();
    cleanups.push(cleanup);
    const first: CliBroker = await startCliBroker(args);

    const { client: retainer } = await connect(first.port, 'crash-retainer');
    for (let i = 1; i <= RETAINED; i++) {
      await publish(retainer, `keep/${i}`, `retained-${i}`, { qos: 1, retain: true, packetId: i });
    }
    await retainer.disconnect();

    const { client: sub } = await connect(first.port, SUBSCRIBER, false);
    await subscribe(sub, [{ topicFilter: 'crash/#', qos: 2 }]);
    if (!online) await sub.disconnect();
    // Online: the subscriber reads but never acknowledges, so its window (20) stays full of in-flight messages.
    const seenBeforeKill = online ? drain(sub, 60_000, false) : Promise.resolve([]);

    const { client: pub1 } = await connect(first.port, 'crash-pub-1');
    const { client: pub2 } = await connect(first.port, 'crash-pub-2');
    let acks = 0;
    let killed: Promise<void> | undefined;
    const onAck = () => {
      if (++acks >= N && killed === undefined) killed = first.kill();
    };
    const q1 = flood(pub1, 1, onAck);
    const q2 = flood(pub2, 2, onAck);
    await Promise.all([q1.done, q2.done]);
    await (killed ?? first.kill());
    const before = (await seenBeforeKill) as Publish[];
    return { args, q1, q2, before };
  }

  async function restartAndCheck(
    args: string[],
    q1: Flood,
    q2: Flood,
  ): Promise<{ received: Publish[]; second: CliBroker }> {
    const second = await startCliBroker(args);
    expect(second.output()).toMatch(/restored 1 sessions/);
    const { client: sub, connack } = await connect(second.port, SUBSCRIBER, false);
    expect(connack.sessionPresent).toBe(true);
    const received = (await drain(sub, 1500)) as Publish[];
    const counts = new Map<string, number>();
    for (const packet of received) counts.set(text(packet.payload), (counts.get(text(packet.payload)) ?? 0) + 1);
    // QoS 1: every acknowledged message at least once.
    const missing1 = [...q1.acked].filter((p) => !counts.has(p));
    expect(missing1, `QoS 1 acknowledged but lost (of ${q1.acked.size})`).toEqual([]);
    // QoS 2: every acknowledged message exactly once, and no QoS 2 message twice.
    const missing2 = [...q2.acked].filter((p) => !counts.has(p));
    expect(missing2, `QoS 2 acknowledged but lost (of ${q2.acked.size})`).toEqual([]);
    const twice = [...counts].filter(([p, n]) => p.startsWith('q2-') && n > 1);
    expect(twice, 'QoS 2 delivered more than once').toEqual([]);

    // The session kept its subscription: a new message still reaches it.
    const { client: pub } = await connect(second.port, 'crash-after');
    await publish(pub, 'crash/after', 'after-restart', { qos: 1 });
    const after = (await drain(sub, 500)) as Publish[];
    expect(after.map((p) => text(p.payload))).toEqual(['after-restart']);

    // Every retained message published before the kill is there.
    const { client: late } = await connect(second.port, 'crash-late');
    await subscribe(late, [{ topicFilter: 'keep/#', qos: 1 }]);
    const retained = (await drain(late, 500)) as Publish[];
    expect(retained.map((p) => text(p.payload)).sort()).toEqual(
      Array.from({ length: RETAINED }, (_, i) => `retained-${i + 1}`).sort(),
    );
    expect(retained.every((p) => p.retain)).toBe(true);
    return { received, second };
  }

  it('subscriber offline: every acknowledged message is delivered after a SIGKILL mid-flood', async () => {
    const { args, q1, q2 } = await floodAndKill(false);
    expect(q1.acked.size + q2.acked.size).toBeGreaterThanOrEqual(N);
    const { received, second } = await restartAndCheck(args, q1, q2);
    expect(received.length).toBeLessThanOrEqual(q1.sent + q2.sent);
    expect(await second.stop()).toBe(0);
  }, 90_000);

  it('subscriber online with messages in flight: they are resent with DUP=1 and their packet id', async () => {
    const { args, q1, q2, before } = await floodAndKill(true);
    expect(before.length).toBeGreaterThan(0);
    const { received, second } = await restartAndCheck(args, q1, q2);
    // What the subscriber had received (never acknowledged) and the broker had committed comes back first, as DUP.
    const acked = new Set([...q1.acked, ...q2.acked]);
    const inflightAcked = before.filter((p) => acked.has(text(p.payload)));
    expect(inflightAcked.length).toBeGreaterThan(0);
    const resent = new Map(received.filter((p) => p.dup).map((p) => [text(p.payload), p.packetId]));
    for (const packet of inflightAcked) {
      expect(resent.get(text(packet.payload)), `${text(packet.payload)} resent with DUP and its packet id`).toBe(
        packet.packetId,
      );
    }
    expect(received.slice(0, resent.size).every((p) => p.dup)).toBe(true);
    expect(await second.stop()).toBe(0);
  }, 90_000);
});
