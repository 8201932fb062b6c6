/**
 * The client against real brokers: Midge (in process) and Mosquitto (spawned), at MQTT 3.1.1 and 5.0. Every wait
 * is bounded by its own timer.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createBroker } from '../../src/broker/index.js';
import {
  type ClientOptions,
  ConnectionRefusedError,
  connect,
  type Message,
  type MqttClient,
} from '../../src/client/index.js';
import { startMosquitto } from '../support/mosquitto.js';
import { startProxy, type TcpProxy } from './helpers/proxy.js';

interface Target {
  port: number;
  stop(): Promise<void>;
}

const brokers: [string, () => Promise<Target>][] = [
  [
    'Midge',
    async () => {
      const broker = createBroker({ sysInterval: 0 });
      const { port } = await broker.listen({ host: '127.0.0.1', port: 0 });
      return { port, stop: () => broker.close() };
    },
  ],
  ['Mosquitto', startMosquitto],
];

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let unique = 0;
const id = (name: string) => `${name}-${process.pid}-${Date.now() % 100000}-${unique++}`;

/** Resolves with the next `count` messages (rejects after `timeoutMs`). */
function collect(client: MqttClient, count: number, timeoutMs = 3000): Promise<Message[]> {
  return new Promise((resolve, reject) => {
    const got: Message[] = [];
    const timer = setTimeout(() => {
      client.off('message', onMessage);
      reject(new Error(`received ${got.length} of ${count} messages`));
    }, timeoutMs);
    const onMessage = (_topic: string, _payload: Uint8Array, message: Message) => {
      got.push(message);
      if (got.length === count) {
        clearTimeout(timer);
        client.off('message', onMessage);
        resolve(got);
      }
    };
    client.on('message', onMessage);
  });
}

function once(client: MqttClient, event: 'connect' | 'offline' | 'reconnect', timeoutMs: number): Promise<number> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${event}' within ${timeoutMs} ms`)), timeoutMs);
    client.once(event, () => {
      clearTimeout(timer);
      resolve(Date.now() - start);
    });
  });
}

describe.each(brokers)('against %s', (_name, start) => {
  let target: Target;
  const clients: MqttClient[] = [];
  const proxies: TcpProxy[] = [];

  beforeAll(async () => {
    target = await start();
  });
  afterAll(() => target.stop());
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.end(true);
    for (const proxy of proxies.splice(0)) await proxy.close();
  });

  describe.each([4, 5] as const)('MQTT protocol version %i', (protocolVersion) => {
    const open = async (options: ClientOptions = {}, port = target.port) => {
      const client = await connect(`mqtt://127.0.0.1:${port}`, {
        protocolVersion,
        reconnectPeriod: 0,
        connectTimeout: 3000,
        ...options,
      });
      clients.push(client);
      return client;
    };
    const t = (suffix: string) => `midge-client/v${protocolVersion}/${unique++}/${suffix}`;
    const persistent: ClientOptions =
      protocolVersion === 5 ? { clean: false, properties: { sessionExpiryInterval: 300 } } : { clean: false };

    it('connects with a clean session, and keeps a persistent session across connections', async () => {
      const clean = await open();
      expect(clean.connected).toBe(true);
      expect(clean.connack?.sessionPresent).toBe(false);
      const clientId = id('persist');
      const first = await open({ clientId, ...persistent });
      expect(first.connack?.sessionPresent).toBe(false);
      await first.end();
      const second = await open({ clientId, ...persistent });
      expect(second.connack?.sessionPresent).toBe(true);
    });

    it('connects with a username and password (accepted by an open broker)', async () => {
      const client = await open({ username: 'alice', password: 'secret' });
      expect(client.connected).toBe(true);
    });

    it('rejects with ConnectionRefusedError carrying the reason code when the broker refuses', async () => {
      // 3.1.1: an empty client id with Clean Session 0 is refused [MQTT-3.1.3-8]; 5.0: an unknown authentication
      // method is refused with 0x8C.
      const options: ClientOptions =
        protocolVersion === 4
          ? { clientId: '', clean: false }
          : { properties: { authenticationMethod: 'MIDGE-UNKNOWN' } };
      const error = await open(options).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConnectionRefusedError);
      const refused = error as ConnectionRefusedError;
      if (protocolVersion === 4) {
        expect(refused.returnCode).toBe(2);
        expect(refused.reasonCode).toBe(0x85);
      } else {
        expect(refused.returnCode).toBeUndefined();
        expect(refused.reasonCode).toBe(0x8c);
      }
    });

    it('subscribes with wildcards and exchanges QoS 0, 1 and 2 messages in both directions', async () => {
      const a = await open();
      const b = await open();
      const base = t('wild');
      const grants = await a.subscribe({ [`${base}/+/temp`]: { qos: 2 }, [`${base}/all/#`]: { qos: 1 } });
      expect(grants.map((g) => g.reasonCode)).toEqual([2, 1]);
      await b.subscribe(`${base}/reply`, { qos: 2 });
      for (const qos of [0, 1, 2] as const) {
        const toA = collect(a, 1);
        expect(await b.publish(`${base}/room/temp`, `q${qos}`, { qos })).toMatchObject({ reasonCode: 0 });
        const [m] = await toA;
        expect([m?.topic, text(m!.payload), m?.qos]).toEqual([`${base}/room/temp`, `q${qos}`, qos]);
        const toB = collect(b, 1);
        await a.publish(`${base}/reply`, `r${qos}`, { qos });
        const [r] = await toB;
        expect([text(r!.payload), r?.qos]).toEqual([`r${qos}`, qos]);
      }
      const deep = collect(a, 1);
      await b.publish(`${base}/all/x/y`, 'deep', { qos: 2 });
      expect((await deep)[0]?.qos).toBe(1); // granted QoS 1
      const unsub = await a.unsubscribe([`${base}/+/temp`, `${base}/all/#`]);
      expect(unsub.map((u) => u.reasonCode)).toEqual([0, 0]);
    });

    it('consumes a filter as an async iterator', async () => {
      const a = await open();
      const base = t('iter');
      await a.subscribe(`${base}/#`, { qos: 1 });
      const stream = a.messages(`${base}/+/x`);
      for (const n of [1, 2, 3]) await a.publish(`${base}/${n}/x`, String(n), { qos: 1 });
      await a.publish(`${base}/other`, 'not matched', { qos: 1 });
      const got: string[] = [];
      for await (const message of stream) {
        got.push(text(message.payload));
        if (got.length === 3) break;
      }
      expect(got).toEqual(['1', '2', '3']);
    });

    it('receives a retained message on subscribe, flagged retain', async () => {
      const pub = await open();
      const topic = t('retained');
      await pub.publish(topic, 'kept', { qos: 1, retain: true });
      const sub = await open();
      const got = collect(sub, 1);
      await sub.subscribe(topic, { qos: 1 });
      const [m] = await got;
      expect([text(m!.payload), m?.retain]).toEqual(['kept', true]);
      await pub.publish(topic, '', { qos: 1, retain: true }); // clear it
    });

    it('delivers the will when the connection dies without DISCONNECT', async () => {
      const topic = t('will');
      const watcher = await open();
      await watcher.subscribe(topic, { qos: 1 });
      const dying = await open({ will: { topic, payload: 'gone', qos: 1 } });
      const got = collect(watcher, 1);
      await dying.end(true); // the socket is destroyed, no DISCONNECT
      expect(text((await got)[0]!.payload)).toBe('gone');
    });

    it('the broker queues QoS 1 messages for a persistent session while the client is away', async () => {
      const clientId = id('offline');
      const topic = t('offline');
      const sub = await open({ clientId, ...persistent });
      await sub.subscribe(topic, { qos: 1 });
      await sub.end();
      const pub = await open();
      for (const n of [1, 2, 3]) await pub.publish(topic, `m${n}`, { qos: 1 });
      const back = await connect(`mqtt://127.0.0.1:${target.port}`, {
        protocolVersion,
        reconnectPeriod: 0,
        clientId,
        ...persistent,
      });
      clients.push(back);
      const got = await collect(back, 3);
      expect(got.map((m) => text(m.payload))).toEqual(['m1', 'm2', 'm3']);
    });

    it('detects a broker that stopped answering (keep-alive) within a bounded time and reconnects', async () => {
      const proxy = await startProxy(target.port);
      proxies.push(proxy);
      const client = await open({ keepalive: 1, reconnectPeriod: 100 }, proxy.port);
      proxy.pause();
      const offlineAfter = await once(client, 'offline', 4000);
      expect(offlineAfter).toBeLessThan(3000); // keep-alive 1 s + ping timeout 1 s
      proxy.resume();
      await once(client, 'connect', 4000);
      expect(client.connected).toBe(true);
    });

    it('re-subscribes after reconnecting when the broker did not keep the session', async () => {
      const proxy = await startProxy(target.port);
      proxies.push(proxy);
      const topic = t('resub');
      const client = await open({ reconnectPeriod: 50 }, proxy.port);
      await client.subscribe(topic, { qos: 1 });
      const reconnected = once(client, 'connect', 4000);
      proxy.cut();
      await reconnected;
      expect(client.connack?.sessionPresent).toBe(false);
      const pub = await open();
      const got = collect(client, 1);
      // the SUBSCRIBE is sent right after CONNACK; give it a moment to be processed
      await sleep(100);
      await pub.publish(topic, 'after', { qos: 1 });
      expect(text((await got)[0]!.payload)).toBe('after');
    });

    it('resends QoS 2 messages in flight after reconnecting: none lost, none duplicated', async () => {
      const proxy = await startProxy(target.port);
      proxies.push(proxy);
      const topic = t('exactly-once');
      const sub = await open();
      await sub.subscribe(topic, { qos: 2 });
      const received: string[] = [];
      sub.on('message', (_t, payload) => received.push(text(payload)));
      const pub = await open({ clientId: id('qos2'), reconnectPeriod: 50, ...persistent }, proxy.port);
      const total = 30;
      const done: Promise<unknown>[] = [];
      for (let n = 0; n < total; n++) {
        if (n % 10 === 5) {
          // messages are in flight (some PUBLISHed, some at PUBREL) when the connection is cut
          proxy.pause();
          for (let k = 0; k < 3; k++) done.push(pub.publish(topic, String(n++), { qos: 2 }));
          await sleep(30);
          const reconnected = once(pub, 'connect', 4000);
          proxy.cut();
          proxy.resume();
          await reconnected;
        }
        done.push(pub.publish(topic, String(n), { qos: 2 }));
      }
      await Promise.all(done);
      const deadline = Date.now() + 3000;
      while (received.length < total && Date.now() < deadline) await sleep(20);
      await sleep(100);
      if (received.length !== total) console.log('RECEIVED', received.join(','));
      expect(received.length).toBe(total);
      expect(new Set(received).size).toBe(total);
    });
  });

  describe('MQTT 5.0 features', () => {
    const open = async (options: ClientOptions = {}) => {
      const client = await connect(`mqtt://127.0.0.1:${target.port}`, {
        protocolVersion: 5,
        reconnectPeriod: 0,
        connectTimeout: 3000,
        ...options,
      });
      clients.push(client);
      return client;
    };
    const t = (suffix: string) => `midge-client/v5x/${unique++}/${suffix}`;

    it('carries user properties as an object both ways and surfaces subscription identifiers', async () => {
      const client = await open();
      const topic = t('props');
      await client.subscribe(topic, { qos: 1, properties: { subscriptionIdentifier: 42 } });
      const got = collect(client, 1);
      await client.publish(topic, 'p', {
        qos: 1,
        properties: { userProperties: { a: '1', b: ['2', '3'] }, contentType: 'text/plain' },
      });
      const [m] = await got;
      expect({ ...m?.properties?.userProperties }).toEqual({ a: '1', b: ['2', '3'] });
      expect(m?.properties?.contentType).toBe('text/plain');
      expect(m?.properties?.subscriptionIdentifiers).toEqual([42]);
    });

    it('assigns topic aliases automatically for repeated topics', async () => {
      const client = await open({ autoAssignTopicAlias: true });
      const topic = t('alias');
      await client.subscribe(topic, { qos: 1 });
      const sent: number[] = [];
      client.on('packetsend', (p) => {
        if (p.type === 3) sent.push(p.topic.length);
      });
      const got = collect(client, 3);
      for (const n of [1, 2, 3]) await client.publish(topic, String(n), { qos: 1 });
      expect((await got).map((m) => [m.topic, text(m.payload)])).toEqual([
        [topic, '1'],
        [topic, '2'],
        [topic, '3'],
      ]);
    });

    it('request() publishes with a response topic and correlation data and resolves with the response', async () => {
      const responder = await open();
      const topic = t('service');
      await responder.subscribe(topic, { qos: 1 });
      responder.on('message', (_topic, payload, message) => {
        const p = message.properties;
        if (p?.responseTopic === undefined) return;
        void responder
          .publish(p.responseTopic, `echo:${text(payload)}`, {
            qos: 1,
            properties: p.correlationData === undefined ? {} : { correlationData: p.correlationData },
          })
          .catch(() => {}); // the response's PUBACK may still be due when the test ends
      });
      const requester = await open();
      const [x, y] = await Promise.all([requester.request(topic, 'x'), requester.request(topic, 'y')]);
      expect([text(x.payload), text(y.payload)]).toEqual(['echo:x', 'echo:y']);
    });

    it('with manualAck, a QoS 1 message is redelivered if it was never acknowledged', async () => {
      const clientId = id('manual');
      const topic = t('manual');
      const options: ClientOptions = {
        clientId,
        clean: false,
        properties: { sessionExpiryInterval: 60 },
        manualAck: true,
      };
      const sub = await open(options);
      await sub.subscribe(topic, { qos: 1 });
      const pub = await open();
      const first = collect(sub, 1);
      await pub.publish(topic, 'unacked', { qos: 1 });
      await first;
      await sub.end(true);
      const again = await connect(`mqtt://127.0.0.1:${target.port}`, {
        protocolVersion: 5,
        reconnectPeriod: 0,
        ...options,
      });
      clients.push(again);
      const [m] = await collect(again, 1);
      expect([text(m!.payload), m?.dup]).toEqual(['unacked', true]);
      again.ack(m!);
    });
  });
});
