/**
 * Cluster faults (phase 2, docs/cluster.md): real `midge broker` processes (`--store redis --cluster <url>
 * --node-id nX --cluster-prefix <unique per test>`) on one real redis-server (appendonly, fsync always), MQTT.js
 * clients.
 *
 * - the publisher's node SIGKILLed mid-flood: every QoS 1/2 message acknowledged to the publisher (PUBACK / PUBCOMP)
 *   reaches the subscriber on another node (QoS 2 exactly once, QoS 1 at least once);
 * - the subscriber's node SIGKILLed mid-flood: another node adopts its session; the client reconnects to a third
 *   node, resumes the session (Session Present = 1) and gets every acknowledged message, those published after the
 *   kill included;
 * - Redis stopped and started again: local traffic goes on meanwhile, cross-node messages wait in the outbox and
 *   arrive afterwards, routing of new subscriptions works again;
 * - session takeover across nodes (DISCONNECT 0x8E to the old connection, Session Present = 1, the subscription
 *   moves with the session);
 * - messages published (on the session's old node and on a third node) while a session moves are not lost;
 * - Redis down for longer than the ttl: when it returns, no node takes a live one for dead (no adoption of its
 *   sessions, no will of its connected clients, its store left alone).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sleep, waitFor as waitUntil } from '../support/cluster.js';
import { type RedisServer, startRedisServer } from '../support/redis-server.js';
import { type CliBroker, killAllCliBrokers, startCliBroker } from './cli-broker.js';

const TEST_TIMEOUT_MS = 60_000;

let redis: RedisServer;
const clients: MqttClient[] = [];
/** The nodes of the running test (their logs are printed if it fails). */
let running: { id: string; node: CliBroker }[] = [];
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  redis = await startRedisServer({ persistence: true });
}, 30_000);

afterEach(async (context) => {
  for (const client of clients.splice(0)) await client.endAsync(true).catch(() => {});
  if (context.task.result?.state === 'fail') {
    for (const { id, node } of running) {
      const lines = node
        .output()
        .split('\n')
        .filter((line) => /cluster|Redis|session|error|warn/i.test(line));
      console.log(`--- ${id} (${lines.length} cluster lines, last 60) ---\n${lines.slice(-60).join('\n')}`);
    }
  }
  running = [];
  await killAllCliBrokers();
  for (const cleanup of cleanups.splice(0)) await cleanup().catch(() => {});
});

afterAll(async () => {
  await killAllCliBrokers();
  await redis?.stop();
}, 30_000);

const waitFor = (condition: () => boolean, what: string, timeoutMs = 10_000) => waitUntil(condition, what, timeoutMs);

const uniquePrefix = (name: string) => `faults:${name}:${randomBytes(4).toString('hex')}:`;

/** Starts `ids.length` CLI nodes in parallel and waits until every one lists them all as members. */
async function startNodes(url: string, prefix: string, ids: string[], store = 'redis'): Promise<CliBroker[]> {
  const nodes = await Promise.all(
    ids.map((id) =>
      startCliBroker(['--store', store, '--cluster', url, '--node-id', id, '--cluster-prefix', prefix]).then((node) => {
        running.push({ id, node });
        return node;
      }),
    ),
  );
  const all = JSON.stringify([...ids].sort());
  await waitFor(
    () => nodes.every((node) => node.output().includes(`"members":${all}`)),
    `every node listing ${all}`,
    15_000,
  );
  return nodes;
}

/** The node's pino JSON log lines. */
function logLines(node: CliBroker): { time: number; msg: string }[] {
  return node
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => {
      try {
        return JSON.parse(line) as { time: number; msg: string };
      } catch {
        return { time: 0, msg: line };
      }
    });
}

function url(node: CliBroker): string {
  return `mqtt://127.0.0.1:${node.port}`;
}

/** Connects with MQTT.js (no automatic reconnection); listeners attached before the CONNACK. */
async function open(
  node: CliBroker,
  options: mqtt.IClientOptions,
  onMessage?: (topic: string, payload: string, packet: mqtt.IPublishPacket) => void,
): Promise<{ client: MqttClient; connack: mqtt.IConnackPacket }> {
  const client = mqtt.connect(url(node), { reconnectPeriod: 0, connectTimeout: 5000, ...options });
  clients.push(client);
  if (onMessage) client.on('message', (topic, payload, packet) => onMessage(topic, payload.toString(), packet));
  const connack = await new Promise<mqtt.IConnackPacket>((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
    client.once('close', () => reject(new Error(`connection to port ${node.port} closed before CONNACK`)));
  });
  return { client, connack };
}

/**
 * Publishes `topic` probes (QoS 1) every 200 ms until `arrived()` (the cross-node route is known), bounded.
 * Probe payloads start with "probe-".
 */
async function probeUntil(publisher: MqttClient, topic: string, arrived: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (let i = 1; !arrived(); i++) {
    if (Date.now() > deadline) throw new Error(`no probe arrived within 15 s: ${what}`);
    await publisher.publishAsync(topic, `probe-${i}`, { qos: 1 });
    await sleep(200);
  }
}

function counts(payloads: string[]): Map<string, number> {
  const result = new Map<string, number>();
  for (const payload of payloads) result.set(payload, (result.get(payload) ?? 0) + 1);
  return result;
}

/** true if `promise` settles (resolves or rejects) within `ms`. */
function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return Promise.race([
    promise.then(
      () => true,
      () => true,
    ),
    sleep(ms).then(() => false),
  ]);
}

/** true if `promise` resolves within `ms`. */
function resolvesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return Promise.race([
    promise.then(
      () => true,
      () => false,
    ),
    sleep(ms).then(() => false),
  ]);
}

describe('cluster faults (CLI nodes, --store redis on the cluster Redis)', () => {
  it(
    'a node killed with SIGKILL mid-flood loses no acknowledged QoS 1/2 message (publisher’s node killed)',
    async () => {
      const N = 300;
      const WINDOW = 20;
      const KILL_AFTER = 150;
      const [n1, n2] = await startNodes(redis.url, uniquePrefix('pubkill'), ['n1', 'n2', 'n3']);

      const received: string[] = [];
      await open(
        n1!,
        { protocolVersion: 5, clientId: 'flood-sub', clean: false, properties: { sessionExpiryInterval: 3600 } },
        (_topic, payload) => received.push(payload),
      ).then(({ client }) => client.subscribeAsync('flood/#', { qos: 2 }));
      const { client: pub } = await open(n2!, { protocolVersion: 5, clientId: 'flood-pub', clean: true });
      await probeUntil(
        pub,
        'flood/probe',
        () => received.some((p) => p.startsWith('probe-')),
        'n1 subscription known on n2',
      );

      const acked = { 1: new Set<string>(), 2: new Set<string>() };
      const sent = { 1: 0, 2: 0 };
      let killed: Promise<void> | undefined;
      const onAck = () => {
        if (acked[1].size + acked[2].size >= KILL_AFTER && killed === undefined) killed = n2!.kill();
      };
      /** One lane: WINDOW workers publishing `q<qos>-<n>` one after the other; a worker stops on the first error. */
      const lane = (qos: 1 | 2) =>
        Promise.all(
          Array.from({ length: WINDOW }, async () => {
            while (sent[qos] < N && killed === undefined) {
              const payload = `q${qos}-${++sent[qos]}`;
              try {
                await pub.publishAsync(`flood/q${qos}`, payload, { qos });
              } catch {
                return;
              }
              acked[qos].add(payload);
              onAck();
            }
          }),
        );
      const lanes = Promise.all([lane(1), lane(2)]);
      await waitFor(() => killed !== undefined, `${KILL_AFTER} acknowledgements before the kill`, 20_000);
      await killed;
      // Fails what is still outstanding (clean session, no reconnection): only PUBACK/PUBCOMP received count.
      pub.end(true);
      expect(await settlesWithin(lanes, 5000), 'the publisher stopped after the kill').toBe(true);
      const ackedCount = acked[1].size + acked[2].size;
      expect(ackedCount).toBeGreaterThanOrEqual(KILL_AFTER);
      expect(ackedCount, 'the kill happened mid-flood').toBeLessThan(2 * N);

      const all = [...acked[1], ...acked[2]];
      await waitFor(
        () => {
          const got = new Set(received);
          return all.every((payload) => got.has(payload));
        },
        'every acknowledged message on the subscriber',
        20_000,
      ).catch(() => {});
      await sleep(1500); // time for duplicates to show up
      const got = counts(received.filter((p) => !p.startsWith('probe-')));
      const missing1 = [...acked[1]].filter((p) => !got.has(p));
      const missing2 = [...acked[2]].filter((p) => !got.has(p));
      const duplicates1 = [...got].filter(([p, n]) => p.startsWith('q1-') && n > 1);
      const duplicates2 = [...got].filter(([p, n]) => p.startsWith('q2-') && n > 1);
      console.log(
        `publisher's node killed: sent q1 ${sent[1]} / q2 ${sent[2]}, acknowledged q1 ${acked[1].size} / q2 ${acked[2].size}, ` +
          `received ${got.size} distinct, QoS 1 duplicates ${duplicates1.length}, unacknowledged delivered ` +
          `${[...got.keys()].filter((p) => !acked[1].has(p) && !acked[2].has(p)).length}`,
      );
      expect(missing1, `QoS 1 acknowledged but lost (of ${acked[1].size})`).toEqual([]);
      expect(missing2, `QoS 2 acknowledged but lost (of ${acked[2].size})`).toEqual([]);
      expect(duplicates2, 'QoS 2 delivered more than once').toEqual([]);
      // Nothing that was never published.
      for (const payload of got.keys()) {
        const [q, n] = payload.split('-');
        expect(Number(n)).toBeLessThanOrEqual(q === 'q1' ? sent[1] : sent[2]);
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a node killed with SIGKILL mid-flood (subscriber’s node killed): its client reconnects to another node and gets every acknowledged message',
    async () => {
      const N = 500;
      const INTERVAL_MS = 20;
      const WINDOW = 10;
      const KILL_AFTER = 120;
      const MORE_AFTER_RESUME_MS = 2000;
      const [n1, n2, n3] = await startNodes(redis.url, uniquePrefix('subkill'), ['n1', 'n2', 'n3']);
      const clientId = 'moving-sub';
      const subscriber = { protocolVersion: 4 as const, clientId, clean: false };

      const before: string[] = [];
      const { client: sub1 } = await open(n1!, subscriber, (_topic, payload) => before.push(payload));
      await sub1.subscribeAsync('steady/#', { qos: 1 });
      const { client: pub } = await open(n2!, { protocolVersion: 5, clientId: 'steady-pub', clean: true });
      await probeUntil(pub, 'steady/probe', () => before.some((p) => p.startsWith('probe-')), 'n1 sub on n2');

      // A steady flood: one message every INTERVAL_MS, at most WINDOW unacknowledged; it goes on until N are sent
      // and the subscriber has been back for MORE_AFTER_RESUME_MS.
      const acked = new Set<string>();
      const ackedAfterKill = new Set<string>();
      /** payload → [published, acknowledged] (Date.now()), to place a lost message against the nodes' logs. */
      const times = new Map<string, [number, number]>();
      let sent = 0;
      let outstanding = 0;
      let killedAt: number | undefined;
      let resumedAt: number | undefined;
      let publishError: Error | undefined;
      const publishing = (async () => {
        const start = Date.now();
        while (sent < 3 * N) {
          if (sent >= N && resumedAt !== undefined && Date.now() - resumedAt > MORE_AFTER_RESUME_MS) return;
          if (sent >= N && killedAt !== undefined && Date.now() - killedAt > 25_000) return; // never resumed
          const due = start + sent * INTERVAL_MS - Date.now();
          if (due > 0) await sleep(due);
          if (outstanding >= WINDOW) {
            await sleep(5);
            continue;
          }
          const payload = `m-${++sent}`;
          outstanding++;
          const afterKill = killedAt !== undefined;
          const publishedAt = Date.now();
          pub.publishAsync('steady/data', payload, { qos: 1 }).then(
            () => {
              outstanding--;
              acked.add(payload);
              times.set(payload, [publishedAt, Date.now()]);
              if (afterKill) ackedAfterKill.add(payload);
            },
            (error: Error) => {
              outstanding--;
              publishError ??= error;
            },
          );
        }
      })();

      await waitFor(() => acked.size >= KILL_AFTER, `${KILL_AFTER} acknowledged before the kill`, 20_000);
      await n1!.kill();
      killedAt = Date.now();

      // The client comes back on n3: it waits there for the adoption of n1's sessions, then takes its session over.
      const after: string[] = [];
      const { connack } = await open(n3!, { ...subscriber, connectTimeout: 20_000 }, (_topic, payload) =>
        after.push(payload),
      );
      resumedAt = Date.now();
      const resumeMs = resumedAt - killedAt;
      expect(connack.sessionPresent, 'Session Present on n3 after the adoption').toBe(true);
      expect(resumeMs, 'the session resumed on n3 within ~10 s of the kill').toBeLessThan(12_000);

      expect(await settlesWithin(publishing, 40_000), 'the flood ended').toBe(true);
      expect(publishError, 'the publisher on n2 had no error').toBeUndefined();
      await waitFor(() => outstanding === 0, 'every publish acknowledged', 10_000);
      await waitFor(
        () => {
          const got = new Set([...before, ...after]);
          return [...acked].every((payload) => got.has(payload));
        },
        'every acknowledged message on the subscriber',
        15_000,
      ).catch(() => {});
      await sleep(1500); // time for duplicates to show up

      const got = counts([...before, ...after].filter((p) => !p.startsWith('probe-')));
      const missing = [...acked].filter((p) => !got.has(p));
      const duplicates = [...got].filter(([, n]) => n > 1).length;
      const adopter = [n2!, n3!].findIndex((node) => /node n1 is gone: adopted [1-9]/.test(node.output()));
      console.log(
        `subscriber's node killed: sent ${sent}, acknowledged ${acked.size} (${ackedAfterKill.size} published after ` +
          `the kill), received before the kill ${before.length}, after ${after.length}, distinct ${got.size}, ` +
          `duplicates ${duplicates}; resumed on n3 ${resumeMs} ms after the kill; adopter ${adopter < 0 ? 'none' : `n${adopter + 2}`}`,
      );
      if (missing.length > 0) {
        // Where the lost messages fall, against the cluster events logged by the nodes (ms after the kill).
        const events = [n2!, n3!].flatMap((node, i) =>
          logLines(node)
            .filter((line) => /cluster node|is gone|handed over|took over|taken over/.test(line.msg))
            .map((line) => `n${i + 2} +${line.time - killedAt!} ${line.msg}`),
        );
        const lost = missing.map((p) => {
          const [publishedAt, ackedAt] = times.get(p)!;
          return `${p} published +${publishedAt - killedAt} acknowledged +${ackedAt - killedAt}`;
        });
        console.log(`lost:\n  ${lost.join('\n  ')}\nevents:\n  ${events.join('\n  ')}`);
      }
      expect(adopter, 'n2 or n3 logged the adoption of n1').toBeGreaterThanOrEqual(0);
      expect(ackedAfterKill.size).toBeGreaterThan(0);
      expect(
        missing.map((p) => Number(p.slice(2))).sort((x, y) => x - y),
        `acknowledged but lost (of ${acked.size}; kill after ${KILL_AFTER})`,
      ).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'Redis stopped and started again: local traffic goes on, cross-node messages wait in the outbox, routing resumes',
    async () => {
      // A Redis of its own (the shared one must stay up for the other tests), on a directory kept across restarts.
      const dir = mkdtempSync(join(tmpdir(), 'midge-faults-redis-'));
      cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
      let own = await startRedisServer({ persistence: true, dir });
      const port = own.port;
      cleanups.push(() => own.stop());
      const [n1, n2] = await startNodes(own.url, uniquePrefix('redisdown'), ['n1', 'n2']);

      const remote: string[] = [];
      const { client: remoteSub } = await open(n2!, { protocolVersion: 5, clientId: 'remote-sub' }, (t, p) =>
        remote.push(`${t} ${p}`),
      );
      await remoteSub.subscribeAsync('x/#', { qos: 1 });
      const local: string[] = [];
      const { client: localSub } = await open(n1!, { protocolVersion: 5, clientId: 'local-sub' }, (t, p) =>
        local.push(`${t} ${p}`),
      );
      await localSub.subscribeAsync('local/#', { qos: 1 });
      const { client: pub } = await open(n1!, { protocolVersion: 5, clientId: 'pub-1' });
      await probeUntil(pub, 'x/probe', () => remote.length > 0, 'n2 subscription known on n1');
      remote.length = 0;

      const stoppedAt = Date.now();
      await own.stop();
      await waitFor(
        () => n1!.output().includes('Redis unreachable') && n2!.output().includes('Redis unreachable'),
        "both nodes logged 'Redis unreachable'",
        10_000,
      );

      // Local traffic on n1 goes on (QoS 0 and 1); messages for n2 are acknowledged and wait in the outbox.
      const expectedLocal: string[] = [];
      const expectedRemote: string[] = [];
      for (let i = 1; i <= 10; i++) {
        const qos = (i % 2) as 0 | 1;
        expect(await resolvesWithin(pub.publishAsync(`local/${i}`, `l${i}`, { qos }), 5000), `local/${i} sent`).toBe(
          true,
        );
        expectedLocal.push(`local/${i} l${i}`);
        expect(await resolvesWithin(pub.publishAsync(`x/${i}`, `r${i}`, { qos: 1 }), 5000), `x/${i} acknowledged`).toBe(
          true,
        );
        expectedRemote.push(`x/${i} r${i}`);
      }
      await waitFor(() => local.length >= expectedLocal.length, 'the local messages on n1 while Redis is down', 5000);
      expect(local).toEqual(expectedLocal);
      expect(remote, 'nothing reached n2 while Redis was down').toEqual([]);

      // Redis back (same port, same data) at once: down well under the ttl (3 s), so no alive key expires meanwhile
      // (a longer outage: the last test).
      own = await startRedisServer({ persistence: true, dir, port });
      const downMs = Date.now() - stoppedAt;
      await waitFor(() => remote.length >= expectedRemote.length, 'the outbox delivered to n2', 15_000);
      await sleep(500);
      expect(remote, 'the messages published while Redis was down, once each, in order').toEqual(expectedRemote);
      await waitFor(
        () => n1!.output().includes('Redis reachable again') && n2!.output().includes('Redis reachable again'),
        "both nodes logged 'Redis reachable again'",
        10_000,
      );

      // Routing works again: a new subscription on n2 made after the restart gets messages published on n1.
      const fresh: string[] = [];
      const { client: freshSub } = await open(n2!, { protocolVersion: 4, clientId: 'fresh-sub' }, (t, p) =>
        fresh.push(`${t} ${p}`),
      );
      await freshSub.subscribeAsync('after/#', { qos: 1 });
      await probeUntil(pub, 'after/probe', () => fresh.length > 0, 'the new n2 subscription known on n1');
      fresh.length = 0;
      await pub.publishAsync('after/1', 'again', { qos: 1 });
      await waitFor(() => fresh.length >= 1, 'after/1 on n2', 5000);
      await sleep(300);
      expect(fresh).toEqual(['after/1 again']);
      // Neither node took the other for dead.
      for (const node of [n1!, n2!]) expect(node.output()).not.toMatch(/is gone: adopted|cluster node n\d expired/);
      console.log(`Redis down for ${downMs} ms`);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'session takeover across nodes: DISCONNECT 0x8E to the old connection, Session Present, the subscription moves',
    async () => {
      const [n1, n2, n3] = await startNodes(redis.url, uniquePrefix('takeover'), ['n1', 'n2', 'n3']);
      const options = {
        protocolVersion: 5 as const,
        clientId: 'client-x',
        clean: false,
        properties: { sessionExpiryInterval: 300 },
      };
      const first: string[] = [];
      const { client: x1, connack: connack1 } = await open(n1!, options, (_t, p) => first.push(p));
      expect(connack1.sessionPresent).toBe(false);
      await x1.subscribeAsync('t/x', { qos: 1 });
      const disconnect = new Promise<mqtt.IDisconnectPacket>((resolve) => x1.once('disconnect', resolve));
      const closed = new Promise<void>((resolve) => x1.once('close', () => resolve()));

      const second: string[] = [];
      const { connack: connack2 } = await open(n2!, options, (_t, p) => second.push(p));
      expect(connack2.sessionPresent, 'Session Present on n2').toBe(true);
      const packet = await Promise.race([disconnect, sleep(5000).then(() => undefined)]);
      expect(packet?.reasonCode, 'DISCONNECT 0x8E (Session taken over) to the connection on n1').toBe(0x8e);
      expect(await settlesWithin(closed, 5000), 'the connection on n1 closed').toBe(true);

      // The subscription moved with the session: a publish on n3 reaches the connection on n2.
      const { client: pub } = await open(n3!, { protocolVersion: 5, clientId: 'pub-x' });
      await probeUntil(pub, 't/x', () => second.length > 0, 'the session subscription on n2 known on n3');
      await pub.publishAsync('t/x', 'moved', { qos: 1 });
      await waitFor(() => second.includes('moved'), "'moved' on n2", 5000);
      await sleep(500);
      const got = counts(second);
      expect(got.get('moved'), "'moved' exactly once").toBe(1);
      expect(
        [...got].filter(([, n]) => n > 1),
        'nothing delivered twice',
      ).toEqual([]);
      expect(first, 'nothing for the old connection').toEqual([]);
      expect(n1!.output()).toMatch(/session handed over to node n2/);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'messages published on the old node and on a third node during a session takeover are not lost',
    async () => {
      const [n1, n2, n3] = await startNodes(redis.url, uniquePrefix('moving'), ['n1', 'n2', 'n3']);
      const options = {
        protocolVersion: 5 as const,
        clientId: 'client-y',
        clean: false,
        properties: { sessionExpiryInterval: 300 },
      };
      const received: string[] = [];
      const { client: y1 } = await open(n1!, options, (_t, p) => received.push(p));
      await y1.subscribeAsync('t/y/#', { qos: 1 });
      const { client: pubOld } = await open(n1!, { protocolVersion: 5, clientId: 'pub-old' });
      const { client: pubThird } = await open(n3!, { protocolVersion: 5, clientId: 'pub-third' });
      await probeUntil(pubThird, 't/y/probe', () => received.length > 0, 'the subscription on n1 known on n3');

      // Two floods (window 10 each) into the session, one from its node (n1), one from n3, across the takeover.
      const acked = new Set<string>();
      const times = new Map<string, [number, number]>();
      let movedAt: number | undefined;
      const flood = (client: MqttClient, name: string) =>
        Promise.all(
          Array.from({ length: 10 }, async (_, worker) => {
            for (let i = 0; i < 1000; i++) {
              if (movedAt !== undefined && Date.now() - movedAt > 1000) return;
              const payload = `${name}-${worker}-${i}`;
              const publishedAt = Date.now();
              await client.publishAsync(`t/y/${name}`, payload, { qos: 1 });
              acked.add(payload);
              times.set(payload, [publishedAt, Date.now()]);
              await sleep(2);
            }
          }),
        );
      const floods = Promise.all([flood(pubOld, 'old'), flood(pubThird, 'third')]);
      await sleep(500);
      const connectAt = Date.now();
      const { connack } = await open(n2!, options, (_t, p) => received.push(p));
      movedAt = Date.now();
      expect(connack.sessionPresent).toBe(true);
      expect(await settlesWithin(floods, 20_000), 'the floods ended').toBe(true);
      await floods;
      await waitFor(
        () => {
          const got = new Set(received);
          return [...acked].every((payload) => got.has(payload));
        },
        'every acknowledged message on client-y',
        10_000,
      ).catch(() => {});
      const got = new Set(received);
      const missing = [...acked].filter((p) => !got.has(p));
      // Where the lost messages fall (ms after the CONNECT to n2), against the handover logged by n1.
      const span = (list: string[], at: 0 | 1) => {
        const values = list.map((p) => times.get(p)![at] - connectAt);
        return values.length === 0 ? '-' : `+${Math.min(...values)}..+${Math.max(...values)}`;
      };
      const handover = logLines(n1!).find((line) => line.msg.includes('session handed over'));
      const byPublisher = (name: string) => missing.filter((p) => p.startsWith(`${name}-`));
      console.log(
        `takeover under load: acknowledged ${acked.size}, received ${received.length} (${got.size} distinct); ` +
          `CONNACK on n2 +${movedAt - connectAt}, n1 logged the handover at +${handover ? handover.time - connectAt : '?'}; ` +
          `lost from n1's publisher ${byPublisher('old').length} (published ${span(byPublisher('old'), 0)}), ` +
          `from n3's ${byPublisher('third').length} (published ${span(byPublisher('third'), 0)}, ` +
          `acknowledged ${span(byPublisher('third'), 1)})`,
      );
      expect(missing, `acknowledged to a publisher but lost during the takeover (of ${acked.size})`).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'Redis down longer than the ttl: no node takes a live node for dead (no adoption, no will of a connected client)',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'midge-faults-redis-'));
      cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
      let own = await startRedisServer({ persistence: true, dir });
      const port = own.port;
      cleanups.push(() => own.stop());
      const prefix = uniquePrefix('longdown');
      const nodes = await startNodes(own.url, prefix, ['n1', 'n2']);

      // On each node: a persistent client with a will, subscribed to its own topics, and a watcher of the wills.
      const got = [[], []] as string[][];
      const wills: string[] = [];
      const persistent: MqttClient[] = [];
      for (const [i, node] of nodes.entries()) {
        const { client } = await open(
          node,
          {
            protocolVersion: 5,
            clientId: `client-${i + 1}`,
            clean: false,
            properties: { sessionExpiryInterval: 3600 },
            will: { topic: `will/${i + 1}`, payload: Buffer.from(`client-${i + 1} is gone`), qos: 1, retain: false },
          },
          (_t, payload) => got[i]!.push(payload),
        );
        await client.subscribeAsync(`p/${i + 1}/#`, { qos: 1 });
        persistent.push(client);
        const { client: watcher } = await open(node, { protocolVersion: 5, clientId: `watcher-${i + 1}` }, (t, p) =>
          wills.push(`${t} ${p}`),
        );
        await watcher.subscribeAsync('will/#', { qos: 1 });
      }
      const publishers: MqttClient[] = [];
      for (const [i, node] of nodes.entries()) {
        publishers.push((await open(node, { protocolVersion: 5, clientId: `pub-${i + 1}` })).client);
      }
      // Cross-node routes: n2 → client-1 on n1, n1 → client-2 on n2.
      await probeUntil(publishers[1]!, 'p/1/probe', () => got[0]!.length > 0, 'client-1 subscription known on n2');
      await probeUntil(publishers[0]!, 'p/2/probe', () => got[1]!.length > 0, 'client-2 subscription known on n1');

      const stoppedAt = Date.now();
      await own.stop();
      await sleep(5000); // longer than the ttl (3 s): every alive key has expired when Redis comes back
      own = await startRedisServer({ persistence: true, dir, port });
      const downMs = Date.now() - stoppedAt;
      await waitFor(
        () => nodes.every((node) => node.output().includes('Redis reachable again')),
        "both nodes logged 'Redis reachable again'",
        15_000,
      );
      await sleep(3000); // a few heartbeats

      const events = nodes.map(
        (node, i) =>
          `n${i + 1}: ${logLines(node)
            .filter((line) => /expired|is gone|Redis|joined|left/.test(line.msg))
            .map((line) => line.msg.slice(0, 90))
            .join(' | ')}`,
      );
      // Each node's store (on the cluster's Redis) still has its client's session.
      const check = new Redis(own.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
      await check.connect();
      const stored = await Promise.all(
        nodes.map((_, i) => check.hexists(`${prefix}store:n${i + 1}:sessions`, `client-${i + 1}`)),
      );
      check.disconnect();
      console.log(
        `Redis down for ${downMs} ms; wills received: ${JSON.stringify(wills)}; sessions in the stores: ${stored}\n${events.join('\n')}`,
      );
      expect(
        persistent.map((client) => client.connected),
        'both persistent clients still connected',
      ).toEqual([true, true]);
      expect(wills, 'no will published for clients that never disconnected').toEqual([]);
      expect(stored, "each node's session still in its store").toEqual([1, 1]);
      for (const node of nodes) expect(node.output()).not.toMatch(/is gone: adopted/);

      // Each client still gets what is published for it on the other node, once.
      got[0]!.length = 0;
      got[1]!.length = 0;
      await publishers[1]!.publishAsync('p/1/x', 'after', { qos: 1 });
      await publishers[0]!.publishAsync('p/2/x', 'after', { qos: 1 });
      await waitFor(() => got.every((list) => list.includes('after')), "'after' on both clients", 10_000);
      await sleep(500);
      expect(got).toEqual([['after'], ['after']]);
    },
    TEST_TIMEOUT_MS,
  );
});
