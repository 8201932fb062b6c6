/**
 * Cluster (issue 8): a real redis-server and three Midge nodes in this process, MQTT.js clients spread over them.
 * Cross-node routing at QoS 0/1/2 (exactly once each), forwarding only to nodes with a matching filter, share groups
 * across nodes, cluster-wide retained messages, sessions resumed / taken over / restarted clean on another node, wills
 * once, adoption of a dead node's sessions and stream, acks after XADD, metrics, membership expiry, CLI and config file.
 * Faults with real processes (SIGKILL, Redis restart) are in cluster-faults.test.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createBrokerMetrics } from '../../src/admin/metrics.js';
import { createBroker } from '../../src/broker/broker.js';
import { startCluster } from '../../src/broker/cluster/index.js';
import { ForwardingSession } from '../../src/broker/cluster/moves.js';
import { SqliteStore } from '../../src/broker/store/sqlite.js';
import { type ClusterNode, startClusterNode, waitFor } from '../support/cluster.js';
import { type RedisServer, startRedisServer } from '../support/redis-server.js';
import { type CliBroker, killAllCliBrokers, startCliBroker } from './cli-broker.js';

const HEARTBEAT_MS = 200;
const TTL_MS = 800;

type Node = ClusterNode;

let redis: RedisServer;
const nodes: Node[] = [];
const clients: MqttClient[] = [];

async function startNode(id: string, prefix = 'test:cluster:', durable = false): Promise<Node> {
  const node = await startClusterNode(redis.url, id, { prefix, heartbeatMs: HEARTBEAT_MS, ttlMs: TTL_MS, durable });
  nodes.push(node);
  return node;
}

async function open(node: Node, options: mqtt.IClientOptions = {}): Promise<MqttClient> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${node.port}`, {
    protocolVersion: 5,
    reconnectPeriod: 0,
    connectTimeout: 2000,
    ...options,
  });
  clients.push(client);
  return client;
}

/** Collects "topic payload qos" of every message the client receives. */
function collect(client: MqttClient): string[] {
  const got: string[] = [];
  client.on('message', (topic, payload, packet) => got.push(`${topic} ${payload.toString()} ${packet.qos}`));
  return got;
}

/** true once `node` knows that `peer` subscribes to a filter matching `topic`. */
function routesTo(node: Node, peer: Node, topic: string): boolean {
  return node.cluster.remote.match(topic).some((delivery) => delivery.clientId === peer.id);
}

let a: Node;
let b: Node;
let c: Node;

beforeAll(async () => {
  redis = await startRedisServer();
  a = await startNode('node-a');
  b = await startNode('node-b');
  c = await startNode('node-c');
  await waitFor(() => nodes.every((node) => node.cluster.peers.size === 2), 'three members');
}, 30_000);

afterEach(async () => {
  for (const client of clients.splice(0)) await client.endAsync(true).catch(() => {});
  await killAllCliBrokers();
});

afterAll(async () => {
  for (const client of clients.splice(0)) await client.endAsync(true).catch(() => {});
  for (const node of nodes.splice(0)) await node.broker.close().catch(() => {});
  await redis?.stop();
}, 30_000);

describe('cluster over Redis', () => {
  it('lists the three members on every node', () => {
    for (const node of nodes) expect(node.cluster.members()).toEqual(['node-a', 'node-b', 'node-c']);
  });

  it('delivers QoS 0/1/2 published on B and C to a wildcard subscriber on A, exactly once each', async () => {
    const sub = await open(a, { clientId: 'sub-a' });
    const got = collect(sub);
    await sub.subscribeAsync('x/+/data', { qos: 2 });
    await waitFor(() => routesTo(b, a, 'x/1/data') && routesTo(c, a, 'x/1/data'), 'A filter known on B and C');
    const cReceivedBefore = c.cluster.stats.receivedMessages;

    const pubB = await open(b, { clientId: 'pub-b' });
    const pubC = await open(c, { clientId: 'pub-c' });
    const expected: string[] = [];
    for (const qos of [0, 1, 2] as const) {
      await pubB.publishAsync(`x/b/data`, `b${qos}`, { qos });
      await pubC.publishAsync(`x/c/data`, `c${qos}`, { qos });
      expected.push(`x/b/data b${qos} ${qos}`, `x/c/data c${qos} ${qos}`);
    }
    await pubB.publishAsync('x/b/other', 'not matching', { qos: 1 });
    await waitFor(() => got.length >= expected.length, 'six messages on A');
    // Give a duplicate time to show up.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect([...got].sort()).toEqual([...expected].sort());
    // C has no matching subscription: nothing was forwarded to it.
    expect(c.cluster.stats.receivedMessages).toBe(cReceivedBefore);
  });

  it('forwards only to nodes with a matching filter, and stops after unsubscribe', async () => {
    const subA = await open(a, { clientId: 'only-a' });
    const gotA = collect(subA);
    await subA.subscribeAsync('only/#', { qos: 1 });
    await waitFor(() => routesTo(c, a, 'only/x'), 'A filter known on C');
    const before = { a: a.cluster.stats.receivedMessages, b: b.cluster.stats.receivedMessages };

    const pub = await open(c, { clientId: 'pub-only' });
    await pub.publishAsync('only/x', 'one', { qos: 1 });
    await waitFor(() => gotA.length === 1, 'message on A');
    expect(a.cluster.stats.receivedMessages).toBe(before.a + 1);
    expect(b.cluster.stats.receivedMessages).toBe(before.b);

    await subA.unsubscribeAsync('only/#');
    await waitFor(() => !routesTo(c, a, 'only/x'), 'A filter removed on C');
    const forwardedBefore = c.cluster.stats.forwardedFrames;
    await pub.publishAsync('only/x', 'two', { qos: 1 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(c.cluster.stats.forwardedFrames).toBe(forwardedBefore);
    expect(a.cluster.stats.receivedMessages).toBe(before.a + 1);
    expect(gotA).toEqual(['only/x one 1']);
  });

  it('keeps a filter announced while another local subscriber still has it', async () => {
    const one = await open(a, { clientId: 'dup-1' });
    const two = await open(a, { clientId: 'dup-2' });
    const got = collect(two);
    await one.subscribeAsync('dup/t', { qos: 1 });
    await two.subscribeAsync('dup/t', { qos: 1 });
    await waitFor(() => routesTo(b, a, 'dup/t'), 'filter known on B');
    await one.unsubscribeAsync('dup/t');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(routesTo(b, a, 'dup/t')).toBe(true);
    const pub = await open(b, { clientId: 'dup-pub' });
    await pub.publishAsync('dup/t', 'still', { qos: 1 });
    await waitFor(() => got.length === 1, 'message on A');
    expect(got).toEqual(['dup/t still 1']);
  });

  it('makes retained messages cluster-wide, removals included', async () => {
    const pub = await open(b, { clientId: 'ret-pub' });
    await pub.publishAsync('ret/1', 'kept', { qos: 1, retain: true });
    await waitFor(
      () => nodes.every((node) => node.broker.retained.get('ret/1') !== undefined),
      'retained on every node',
    );
    const sub = await open(c, { clientId: 'ret-sub' });
    const got = collect(sub);
    await sub.subscribeAsync('ret/#', { qos: 1 });
    await waitFor(() => got.length === 1, 'retained message on C');
    expect(got).toEqual(['ret/1 kept 1']);

    // A node joining later loads the shared retained set.
    const d = await startNode('node-d');
    const kept = d.broker.retained.get('ret/1');
    expect(kept && Buffer.from(kept.payload).toString()).toBe('kept');

    await pub.publishAsync('ret/1', '', { qos: 1, retain: true });
    await waitFor(
      () => nodes.every((node) => node.broker.retained.get('ret/1') === undefined),
      'retained removed on every node',
    );
    await d.broker.close();
    nodes.splice(nodes.indexOf(d), 1);
    await waitFor(() => a.cluster.peers.size === 2, 'D gone from A');
  });

  it('expires a node that dies without leaving within the ttl', async () => {
    const e = await startNode('node-e');
    await waitFor(() => a.cluster.peers.has('node-e') && b.cluster.peers.has('node-e'), 'E known');
    const sub = await open(e, { clientId: 'sub-e' });
    await sub.subscribeAsync('e/#', { qos: 1 });
    await waitFor(() => routesTo(a, e, 'e/1'), 'E filter known on A');
    await sub.endAsync(true);
    const diedAt = Date.now();
    e.cluster.crash();
    await waitFor(() => !a.cluster.peers.has('node-e') && !b.cluster.peers.has('node-e'), 'E expired', TTL_MS * 4);
    expect(Date.now() - diedAt).toBeLessThan(TTL_MS + 3 * HEARTBEAT_MS + 500);
    expect(routesTo(a, e, 'e/1')).toBe(false);
    await e.broker.close();
    nodes.splice(nodes.indexOf(e), 1);
  });

  it('delivers each message to exactly one member of a share group spread over the nodes, publisher node included', async () => {
    const members = [await open(a, { clientId: 'share-a' }), await open(b, { clientId: 'share-b' })];
    members.push(await open(c, { clientId: 'share-c' }));
    const got = members.map(collect);
    for (const member of members) await member.subscribeAsync('$share/workers/jobs/#', { qos: 1 });
    const plain = await open(b, { clientId: 'share-plain' });
    const plainGot = collect(plain);
    await plain.subscribeAsync('jobs/#', { qos: 1 });
    await waitFor(
      () => routesTo(c, a, 'jobs/1') && routesTo(c, b, 'jobs/1') && a.cluster.remote.match('jobs/1').length > 0,
      'group members known on C',
    );
    const pub = await open(c, { clientId: 'share-pub' });
    const total = 60;
    for (let i = 0; i < total; i++) await pub.publishAsync(`jobs/${i}`, `${i}`, { qos: 1 });
    await waitFor(() => got.reduce((n, list) => n + list.length, 0) >= total && plainGot.length >= total, 'all jobs');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const all = got.flat().map((line) => line.split(' ')[1]);
    expect(all.length).toBe(total);
    expect(new Set(all).size).toBe(total);
    // The choice rotates over the nodes: every node's member got some.
    for (const list of got) expect(list.length).toBeGreaterThan(0);
    // A plain subscription to the same topics still gets every message.
    expect(plainGot.length).toBe(total);
  });

  it('resumes a persistent session on another node: subscriptions and queued messages move, Session Present = 1', async () => {
    const first = await open(a, { clientId: 'roam', clean: false, properties: { sessionExpiryInterval: 300 } });
    await first.subscribeAsync('roam/#', { qos: 1 });
    await waitFor(() => routesTo(b, a, 'roam/x'), 'roam filter known on B');
    await first.endAsync();
    const pub = await open(b, { clientId: 'roam-pub' });
    for (let i = 0; i < 5; i++) await pub.publishAsync('roam/x', `q${i}`, { qos: 1 });
    await waitFor(() => (a.broker.sessions.get('roam')?.queuedCount ?? 0) === 5, 'five queued on A');

    const second = mqtt.connect(`mqtt://127.0.0.1:${c.port}`, {
      protocolVersion: 5,
      clientId: 'roam',
      clean: false,
      properties: { sessionExpiryInterval: 300 },
      reconnectPeriod: 0,
    });
    clients.push(second);
    const got = collect(second);
    const connack = await new Promise<mqtt.IConnackPacket>((resolve) => second.once('connect', resolve));
    expect(connack.sessionPresent).toBe(true);
    await waitFor(() => got.length === 5, 'queued messages on C');
    expect(got).toEqual(['q0', 'q1', 'q2', 'q3', 'q4'].map((p) => `roam/x ${p} 1`));
    // A keeps only a forwarding stub for a moment (cluster/moves.ts), then nothing.
    expect(a.broker.sessions.get('roam')).toBeInstanceOf(ForwardingSession);
    expect(c.cluster.stats.sessionsTakenOver).toBeGreaterThan(0);
    // The subscription moved with it: a new message published on B now goes to C (once).
    await waitFor(() => routesTo(b, c, 'roam/x') && !routesTo(b, a, 'roam/x'), 'roam filter moved to C');
    await pub.publishAsync('roam/x', 'live', { qos: 1 });
    await waitFor(() => got.length === 6, 'live message on C');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(got.at(-1)).toBe('roam/x live 1');
    expect(got.length).toBe(6);
  });

  it('takes a connected client over from another node: DISCONNECT 0x8E there, session present here [MQTT-3.1.4-3]', async () => {
    const first = await open(a, { clientId: 'twin', clean: false, properties: { sessionExpiryInterval: 300 } });
    await first.subscribeAsync('twin/t', { qos: 1 });
    const reason = new Promise<number | undefined>((resolve) => first.once('disconnect', (p) => resolve(p.reasonCode)));
    const second = mqtt.connect(`mqtt://127.0.0.1:${b.port}`, {
      protocolVersion: 5,
      clientId: 'twin',
      clean: false,
      properties: { sessionExpiryInterval: 300 },
      reconnectPeriod: 0,
    });
    clients.push(second);
    const connack = await new Promise<mqtt.IConnackPacket>((resolve) => second.once('connect', resolve));
    expect(await reason).toBe(0x8e);
    expect(connack.sessionPresent).toBe(true);
    expect(a.broker.clients.has('twin')).toBe(false);
    expect(b.broker.trie.subscriptionsOf('twin')?.has('twin/t')).toBe(true);
  });

  it('starts a new session when a client with Clean Start moves to another node, and the old one ends there', async () => {
    const first = await open(a, { clientId: 'fresh', clean: false, properties: { sessionExpiryInterval: 300 } });
    await first.subscribeAsync('fresh/t', { qos: 1 });
    await first.endAsync();
    expect(a.broker.sessions.has('fresh')).toBe(true);
    const second = await open(b, { clientId: 'fresh', clean: true });
    expect(a.broker.sessions.has('fresh')).toBe(false);
    expect(b.broker.trie.subscriptionsOf('fresh')).toBeUndefined();
    await second.endAsync();
  });

  it('publishes the will of a client whose connection broke once, on every node that subscribes', async () => {
    const watchers = [await open(b, { clientId: 'will-watch-b' }), await open(c, { clientId: 'will-watch-c' })];
    const got = watchers.map(collect);
    for (const watcher of watchers) await watcher.subscribeAsync('will/#', { qos: 1 });
    await waitFor(() => routesTo(a, b, 'will/x') && routesTo(a, c, 'will/x'), 'will filters known on A');
    const dying = await open(a, {
      clientId: 'dying',
      will: { topic: 'will/dying', payload: Buffer.from('gone'), qos: 1 },
    });
    (dying as unknown as { stream: { destroy(): void } }).stream.destroy();
    await waitFor(() => got.every((list) => list.length === 1), 'will on B and C');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(got).toEqual([['will/dying gone 1'], ['will/dying gone 1']]);
  });

  it('adopts the sessions of a dead node with a Redis store: queued and stream messages reach the client on another node', async () => {
    const h = await startNode('node-h', 'test:cluster:', true);
    await waitFor(() => nodes.every((node) => node === h || node.cluster.peers.has('node-h')), 'H known');
    const sub = await open(h, { clientId: 'adoptee', clean: false, properties: { sessionExpiryInterval: 300 } });
    await sub.subscribeAsync('adopt/#', { qos: 1 });
    await waitFor(() => routesTo(a, h, 'adopt/x'), 'H filter known on A');
    await sub.endAsync();
    const pub = await open(a, { clientId: 'adopt-pub' });
    await pub.publishAsync('adopt/x', 'before', { qos: 1 });
    await waitFor(() => (h.broker.sessions.get('adoptee')?.queuedCount ?? 0) === 1, 'queued on H');
    await h.broker.storeWriter?.flush();
    // H has trimmed what it routed (else the adopter delivers it again: at least once).
    for (let i = 0; i < 100 && (await a.cluster.cmd.xlen(a.cluster.keys.stream('node-h'))) > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // H dies: its cluster connections drop, then it stops serving (its store keeps the session).
    h.cluster.crash();
    await h.broker.close();
    nodes.splice(nodes.indexOf(h), 1);
    // Published after H died and before it expired: these wait in H's stream (acknowledged after XADD).
    for (let i = 0; i < 3; i++) await pub.publishAsync('adopt/x', `after${i}`, { qos: 1 });
    await waitFor(
      () => nodes.some((node) => node.broker.sessions.has('adoptee')),
      'session adopted by a live node',
      TTL_MS * 10,
    );
    const adopter = nodes.find((node) => node.broker.sessions.has('adoptee'))!;
    const target = nodes.find((node) => node !== adopter)!;
    const again = mqtt.connect(`mqtt://127.0.0.1:${target.port}`, {
      protocolVersion: 5,
      clientId: 'adoptee',
      clean: false,
      properties: { sessionExpiryInterval: 300 },
      reconnectPeriod: 0,
    });
    clients.push(again);
    const got = collect(again);
    const connack = await new Promise<mqtt.IConnackPacket>((resolve) => again.once('connect', resolve));
    expect(connack.sessionPresent).toBe(true);
    await waitFor(() => got.length >= 4, 'four messages after the move');
    expect(got).toEqual(['before', 'after0', 'after1', 'after2'].map((p) => `adopt/x ${p} 1`));
  }, 30_000);

  it('keeps the stream of a dead node with a local (SQLite) store: restarted with its id, it delivers what was sent meanwhile', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'midge-cluster-sqlite-'));
    const start = async () => {
      const broker = createBroker({ sysInterval: 0, store: new SqliteStore({ path: join(dir, 'midge.db') }) });
      const cluster = await startCluster(broker, {
        url: redis.url,
        nodeId: 'node-s',
        prefix: 'test:cluster:',
        heartbeatMs: HEARTBEAT_MS,
        ttlMs: TTL_MS,
      });
      const { port } = await broker.listen({ host: '127.0.0.1', port: 0 });
      const node: Node = { id: 'node-s', broker, cluster, port };
      nodes.push(node);
      return node;
    };
    try {
      let s = await start();
      const sub = await open(s, { clientId: 'local-sub', clean: false, properties: { sessionExpiryInterval: 300 } });
      await sub.subscribeAsync('local/#', { qos: 1 });
      await waitFor(() => routesTo(a, s, 'local/x'), 'S filter known on A');
      await sub.endAsync();
      await s.broker.storeWriter?.flush();
      s.cluster.crash();
      await s.broker.close();
      nodes.splice(nodes.indexOf(s), 1);
      const pub = await open(a, { clientId: 'local-pub' });
      for (let i = 0; i < 3; i++) await pub.publishAsync('local/x', `m${i}`, { qos: 1 });
      // S expires; nobody can adopt a SQLite file, so its stream is kept for its return.
      await waitFor(() => !a.cluster.peers.has('node-s'), 'S expired', TTL_MS * 10);
      expect(await a.cluster.cmd.xlen(a.cluster.keys.stream('node-s'))).toBeGreaterThan(0);
      s = await start();
      const again = mqtt.connect(`mqtt://127.0.0.1:${s.port}`, {
        protocolVersion: 5,
        clientId: 'local-sub',
        clean: false,
        properties: { sessionExpiryInterval: 300 },
        reconnectPeriod: 0,
      });
      clients.push(again);
      const got = collect(again);
      const connack = await new Promise<mqtt.IConnackPacket>((resolve) => again.once('connect', resolve));
      expect(connack.sessionPresent).toBe(true);
      await waitFor(() => got.length >= 3, 'the three messages sent while S was away');
      expect(got).toEqual(['m0', 'm1', 'm2'].map((p) => `local/x ${p} 1`));
      await s.broker.close();
      nodes.splice(nodes.indexOf(s), 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('a node taken for dead after a pause longer than the ttl gives up the sessions another node adopted', async () => {
    const p = await startNode('node-p', 'test:cluster:', true);
    await waitFor(() => a.cluster.peers.has('node-p'), 'P known on A');
    const sub = await open(p, { clientId: 'paused-sub', clean: false, properties: { sessionExpiryInterval: 300 } });
    await sub.subscribeAsync('paused/#', { qos: 1 });
    await sub.endAsync();
    await p.broker.storeWriter?.flush();
    // P stops heartbeating (as in a long GC pause or a frozen VM) but keeps running.
    clearInterval((p.cluster as unknown as { timer: NodeJS.Timeout }).timer);
    await waitFor(
      () => nodes.some((node) => node !== p && node.broker.sessions.has('paused-sub')),
      'P taken for dead and its session adopted',
      TTL_MS * 10,
    );
    expect(p.broker.sessions.has('paused-sub')).toBe(true);
    // P's next heartbeat finds it was adopted: it drops the session rather than keep a second copy.
    await p.cluster.tick();
    expect(p.broker.sessions.has('paused-sub')).toBe(false);
    expect(p.cluster.members()).toContain('node-a');
    await p.broker.close();
    nodes.splice(nodes.indexOf(p), 1);
  }, 30_000);

  it("acknowledges a QoS 1 publish for another node only once the message is in that node's stream", async () => {
    const sub = await open(b, { clientId: 'ack-sub' });
    await sub.subscribeAsync('ack/#', { qos: 1 });
    await waitFor(() => routesTo(a, b, 'ack/x'), 'filter known on A');
    const pub = await open(a, { clientId: 'ack-pub' });
    const before = a.cluster.stats.forwardedFrames;
    await pub.publishAsync('ack/x', 'one', { qos: 1 });
    // The PUBACK came back: the XADD had completed (the frame was counted when it was sent).
    expect(a.cluster.stats.forwardedFrames).toBe(before + 1);
    expect(a.cluster.barrier()).toBeUndefined();
  });

  it('exposes the cluster in the Prometheus metrics (members, Redis reachable, forwarded messages)', async () => {
    const metrics = createBrokerMetrics(a.broker, { defaultMetrics: false });
    try {
      const text = await metrics.registry.metrics();
      expect(text).toMatch(/^midge_cluster_nodes 3$/m);
      expect(text).toMatch(/^midge_cluster_redis_reachable 1$/m);
      const forwarded = Number(/^midge_cluster_forwarded_messages_total (\d+)$/m.exec(text)?.[1]);
      expect(forwarded).toBe(a.cluster.stats.forwardedMessages);
    } finally {
      metrics.close();
    }
  });

  it('joins through the CLI with --cluster and --node-id', async () => {
    let cli: CliBroker | undefined;
    try {
      cli = await startCliBroker([
        '--store',
        'memory',
        '--cluster',
        redis.url,
        '--node-id',
        'node-cli',
        '--cluster-prefix',
        'test:cluster:',
      ]);
      await waitFor(() => a.cluster.peers.has('node-cli'), 'CLI node known on A', 10_000);
      const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${cli.port}`, { reconnectPeriod: 0, clientId: 'cli-sub' });
      clients.push(sub);
      const got = collect(sub);
      await sub.subscribeAsync('cli/#', { qos: 1 });
      await waitFor(() => routesTo(a, { id: 'node-cli' } as Node, 'cli/x'), 'CLI filter known on A');
      const pub = await open(a, { clientId: 'cli-pub' });
      await pub.publishAsync('cli/x', 'via redis', { qos: 1 });
      await waitFor(() => got.length === 1, 'message on the CLI node');
      expect(got).toEqual(['cli/x via redis 1']);
      expect(await cli.stop()).toBe(0);
      await waitFor(() => !a.cluster.peers.has('node-cli'), 'CLI node left');
    } finally {
      await cli?.kill().catch(() => {});
    }
  }, 30_000);

  it('joins from a configuration file (cluster, nodeId, clusterPrefix keys)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'midge-cluster-config-'));
    const file = join(dir, 'midge.json');
    writeFileSync(
      file,
      JSON.stringify({ store: 'memory', cluster: redis.url, nodeId: 'node-cfg', clusterPrefix: 'test:cluster:' }),
    );
    let cli: CliBroker | undefined;
    try {
      cli = await startCliBroker(['--config', file]);
      await waitFor(() => a.cluster.peers.has('node-cfg'), 'config-file node known on A', 10_000);
      expect(await cli.stop()).toBe(0);
      await waitFor(() => !a.cluster.peers.has('node-cfg'), 'config-file node left');
    } finally {
      await cli?.kill().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
