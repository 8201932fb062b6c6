/**
 * MQTT.js with a persistent session (3.1.1 clean=false; 5.0 Session Expiry Interval) receives the messages published
 * while it was offline across a broker restart, with the SQLite store (a file in a temporary folder).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/broker/store/sqlite.js';
import { type StartedBroker, startBroker } from '../helpers/broker.js';

const clients: MqttClient[] = [];
const brokers: StartedBroker[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) await client.endAsync(true).catch(() => {});
  for (const broker of brokers.splice(0)) await broker.close().catch(() => {});
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function start(path: string): Promise<StartedBroker> {
  const broker = await startBroker({ store: new SqliteStore({ path }) });
  brokers.push(broker);
  return broker;
}

function collect(client: MqttClient, count: number, timeoutMs = 5000) {
  return new Promise<{ topic: string; payload: string; qos: number }[]>((resolve, reject) => {
    const received: { topic: string; payload: string; qos: number }[] = [];
    const timer = setTimeout(() => reject(new Error(`got ${received.length} of ${count} messages`)), timeoutMs);
    client.on('message', (topic, payload, packet) => {
      received.push({ topic, payload: payload.toString(), qos: packet.qos });
      if (received.length === count) {
        clearTimeout(timer);
        resolve(received);
      }
    });
  });
}

for (const protocolVersion of [4, 5] as const) {
  describe(`MQTT.js ${protocolVersion === 5 ? '5.0' : '3.1.1'} persistent session across a restart (SQLite)`, () => {
    it('receives its offline QoS 1 and QoS 2 messages after the broker restarted', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'midge-mqttjs-'));
      dirs.push(dir);
      const path = join(dir, 'midge.db');
      const sessionOptions: mqtt.IClientOptions =
        protocolVersion === 5 ? { clean: false, properties: { sessionExpiryInterval: 3600 } } : { clean: false };
      const open = async (port: number, options: mqtt.IClientOptions) => {
        const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
          protocolVersion,
          reconnectPeriod: 0,
          connectTimeout: 2000,
          ...options,
        });
        clients.push(client);
        return client;
      };

      const first = await start(path);
      const subscriber = await open(first.port, { clientId: `mqttjs-durable-${protocolVersion}`, ...sessionOptions });
      await subscriber.subscribeAsync('offline/#', { qos: 2 });
      await subscriber.endAsync();
      const publisher = await open(first.port, { clientId: `mqttjs-pub-${protocolVersion}` });
      for (let i = 1; i <= 5; i++) await publisher.publishAsync(`offline/${i}`, `message ${i}`, { qos: i % 2 ? 1 : 2 });
      await publisher.endAsync();
      await first.close();
      brokers.splice(brokers.indexOf(first), 1);

      const second = await start(path);
      const again = mqtt.connect(`mqtt://127.0.0.1:${second.port}`, {
        protocolVersion,
        reconnectPeriod: 0,
        connectTimeout: 2000,
        clientId: `mqttjs-durable-${protocolVersion}`,
        manualConnect: true,
        ...sessionOptions,
      });
      clients.push(again);
      const received = collect(again, 5);
      const connack = new Promise<boolean>((resolve) =>
        again.once('connect', (packet) => resolve(packet.sessionPresent)),
      );
      again.connect();
      expect(await connack).toBe(true);
      // MQTT.js emits a QoS 2 message on PUBREL, so QoS 1 and QoS 2 interleave differently: compare as a set.
      expect((await received).sort((a, b) => a.topic.localeCompare(b.topic))).toEqual(
        Array.from({ length: 5 }, (_, i) => ({
          topic: `offline/${i + 1}`,
          payload: `message ${i + 1}`,
          qos: (i + 1) % 2 ? 1 : 2,
        })),
      );
    });
  });
}
