/**
 * MQTT.js (3.1.1 and 5.0) against a three-node cluster (in this process, memory store, one real redis-server):
 * cross-node wildcard routing at QoS 0/1/2 (exactly once each), cluster-wide retained messages, a persistent session
 * that leaves node A and comes back on node C with what was published meanwhile on node B, and (5.0) a shared
 * subscription whose members are on two nodes, every message delivered once in total.
 */
import { randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ForwardingSession } from '../../src/broker/cluster/moves.js';
import { type ClusterNode, sleep, startClusterNode, waitFor } from '../support/cluster.js';
import { type RedisServer, startRedisServer } from '../support/redis-server.js';

const HEARTBEAT_MS = 200;
const TTL_MS = 800;
const PREFIX = `interop:cluster:${randomBytes(4).toString('hex')}:`;

type Node = ClusterNode;

let redis: RedisServer;
const nodes: Node[] = [];
const clients: MqttClient[] = [];
let a: Node;
let b: Node;
let c: Node;

async function startNode(id: string): Promise<Node> {
  const node = await startClusterNode(redis.url, id, { prefix: PREFIX, heartbeatMs: HEARTBEAT_MS, ttlMs: TTL_MS });
  nodes.push(node);
  return node;
}

/** true once `node` has `peer`'s filter (exactly as subscribed, `$share/...` included) in its routing. */
function knows(node: Node, peer: Node, filter: string): boolean {
  return node.cluster.remote.subscriptionsOf(peer.id)?.has(filter) === true;
}

beforeAll(async () => {
  redis = await startRedisServer();
  a = await startNode('interop-a');
  b = await startNode('interop-b');
  c = await startNode('interop-c');
  await waitFor(() => nodes.every((node) => node.cluster.peers.size === 2), 'three members');
}, 30_000);

afterEach(async () => {
  for (const client of clients.splice(0)) await client.endAsync(true).catch(() => {});
});

afterAll(async () => {
  for (const client of clients.splice(0)) await client.endAsync(true).catch(() => {});
  for (const node of nodes.splice(0)) await node.broker.close().catch(() => {});
  await redis?.stop();
}, 30_000);

for (const protocolVersion of [4, 5] as const) {
  describe(`MQTT.js ${protocolVersion === 4 ? '3.1.1' : '5.0'} over a three-node cluster`, () => {
    const v = `v${protocolVersion}`;

    /** Connects (connect listeners attached before CONNACK, so nothing sent right after it is missed). */
    async function open(node: Node, options: mqtt.IClientOptions = {}, onMessage?: (m: string) => void) {
      const client = mqtt.connect(`mqtt://127.0.0.1:${node.port}`, {
        protocolVersion,
        reconnectPeriod: 0,
        connectTimeout: 5000,
        ...options,
      });
      clients.push(client);
      if (onMessage) client.on('message', (topic, payload, packet) => onMessage(`${topic} ${payload} ${packet.qos}`));
      const connack = await new Promise<mqtt.IConnackPacket>((resolve, reject) => {
        client.once('connect', resolve);
        client.once('error', reject);
        client.once('close', () => reject(new Error(`connection to ${node.id} closed before CONNACK`)));
      });
      return { client, connack };
    }

    /** Persistent session options: 3.1.1 clean = 0; 5.0 Clean Start = 0 and a Session Expiry Interval. */
    const persistent = (clientId: string): mqtt.IClientOptions =>
      protocolVersion === 5
        ? { clientId, clean: false, properties: { sessionExpiryInterval: 300 } }
        : { clientId, clean: false };

    it('delivers QoS 0/1/2 from two nodes to a wildcard subscriber on the third, exactly once each', async () => {
      const got: string[] = [];
      const { client: sub } = await open(a, { clientId: `${v}-wild-sub` }, (m) => got.push(m));
      const filter = `${v}/w/+/data`;
      await sub.subscribeAsync(filter, { qos: 2 });
      await waitFor(() => knows(b, a, filter) && knows(c, a, filter), 'the filter known on B and C');

      const { client: pubB } = await open(b, { clientId: `${v}-wild-pub-b` });
      const { client: pubC } = await open(c, { clientId: `${v}-wild-pub-c` });
      const expected: string[] = [];
      for (const qos of [0, 1, 2] as const) {
        await pubB.publishAsync(`${v}/w/b/data`, `b${qos}`, { qos });
        await pubC.publishAsync(`${v}/w/c/data`, `c${qos}`, { qos });
        expected.push(`${v}/w/b/data b${qos} ${qos}`, `${v}/w/c/data c${qos} ${qos}`);
      }
      await pubB.publishAsync(`${v}/w/b/other`, 'not matching', { qos: 1 });
      await waitFor(() => got.length >= expected.length, 'six messages on A');
      await sleep(300); // time for a duplicate to show up
      expect([...got].sort()).toEqual([...expected].sort());
    });

    it('delivers a retained message published on one node to a subscriber on another', async () => {
      const topic = `${v}/ret/1`;
      const { client: pub } = await open(b, { clientId: `${v}-ret-pub` });
      await pub.publishAsync(topic, 'kept', { qos: 1, retain: true });
      await waitFor(() => c.broker.retained.get(topic) !== undefined, 'the retained message on C');

      const received: { topic: string; payload: string; retain: boolean }[] = [];
      const { client: sub } = await open(c, { clientId: `${v}-ret-sub` });
      sub.on('message', (t, payload, packet) =>
        received.push({ topic: t, payload: `${payload}`, retain: packet.retain }),
      );
      await sub.subscribeAsync(`${v}/ret/#`, { qos: 1 });
      await waitFor(() => received.length >= 1, 'the retained message on subscribe');
      await sleep(200);
      expect(received).toEqual([{ topic, payload: 'kept', retain: true }]);

      // Removed cluster-wide: a later subscriber on A gets nothing.
      await pub.publishAsync(topic, '', { qos: 1, retain: true });
      await waitFor(() => nodes.every((node) => node.broker.retained.get(topic) === undefined), 'removal everywhere');
      const late: string[] = [];
      const { client: sub2 } = await open(a, { clientId: `${v}-ret-late` }, (m) => late.push(m));
      await sub2.subscribeAsync(`${v}/ret/#`, { qos: 1 });
      await sleep(300);
      expect(late).toEqual([]);
    });

    it('resumes a persistent session on another node with the messages published meanwhile', async () => {
      const clientId = `${v}-persist`;
      const filter = `${v}/p/#`;
      const first = await open(a, persistent(clientId));
      expect(first.connack.sessionPresent).toBe(false);
      await first.client.subscribeAsync(filter, { qos: 1 });
      await waitFor(() => knows(b, a, filter), 'the filter known on B');
      await first.client.endAsync();

      const { client: pub } = await open(b, { clientId: `${v}-persist-pub` });
      const expected: string[] = [];
      for (let i = 1; i <= 5; i++) {
        await pub.publishAsync(`${v}/p/${i}`, `offline-${i}`, { qos: 1 });
        expected.push(`${v}/p/${i} offline-${i} 1`);
      }

      const got: string[] = [];
      const second = await open(c, persistent(clientId), (m) => got.push(m));
      expect(second.connack.sessionPresent).toBe(true);
      await waitFor(() => got.length >= expected.length, 'the queued messages on C');

      // The subscription moved to C with the session: B now routes to C.
      await waitFor(() => knows(b, c, filter), 'the filter known on B for C');
      await pub.publishAsync(`${v}/p/after`, 'online', { qos: 1 });
      expected.push(`${v}/p/after online 1`);
      await waitFor(() => got.length >= expected.length, 'the message published after the resume');
      await sleep(300);
      expect(got).toEqual(expected);
      expect(c.cluster.stats.sessionsTakenOver).toBeGreaterThanOrEqual(1);
      // A keeps only a forwarding stub for a moment (cluster/moves.ts), then nothing.
      expect(a.broker.sessions.get(clientId)).toBeInstanceOf(ForwardingSession);
    });

    if (protocolVersion === 5) {
      it('shares $share/g/jobs between members on two nodes: each message once in total, both get some', async () => {
        const filter = '$share/g/jobs';
        const gotA: string[] = [];
        const gotB: string[] = [];
        const { client: m1 } = await open(a, { clientId: `${v}-share-a` }, (m) => gotA.push(m));
        const { client: m2 } = await open(b, { clientId: `${v}-share-b` }, (m) => gotB.push(m));
        await m1.subscribeAsync(filter, { qos: 1 });
        await m2.subscribeAsync(filter, { qos: 1 });
        await waitFor(() => knows(c, a, filter) && knows(c, b, filter), 'both members known on C');

        const { client: pub } = await open(c, { clientId: `${v}-share-pub` });
        const N = 100;
        await Promise.all(Array.from({ length: N }, (_, i) => pub.publishAsync('jobs', `job-${i}`, { qos: 1 })));
        await waitFor(() => gotA.length + gotB.length >= N, `${N} jobs delivered`);
        await sleep(300);
        const all = [...gotA, ...gotB].sort();
        expect(all).toEqual(Array.from({ length: N }, (_, i) => `jobs job-${i} 1`).sort());
        expect(gotA.length).toBeGreaterThan(0);
        expect(gotB.length).toBeGreaterThan(0);
      });
    }
  });
}
