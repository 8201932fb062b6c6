/** MQTT.js (v5 API) against our broker, over MQTT 3.1.1 and 5.0. */
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type StartedBroker, startBroker } from '../helpers/broker.js';

let started: StartedBroker;
const clients: MqttClient[] = [];

beforeAll(async () => {
  started = await startBroker();
});
afterAll(() => started.close());
afterEach(async () => {
  for (const client of clients.splice(0)) await client.endAsync(true).catch(() => {});
});

function nextMessage(client: MqttClient, timeoutMs = 2000) {
  return new Promise<{ topic: string; payload: string; packet: mqtt.IPublishPacket }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no message')), timeoutMs);
    client.once('message', (topic, payload, packet) => {
      clearTimeout(timer);
      resolve({ topic, payload: payload.toString(), packet });
    });
  });
}

for (const protocolVersion of [4, 5] as const) {
  describe(`MQTT.js, protocol version ${protocolVersion}`, () => {
    const open = async (options: mqtt.IClientOptions = {}) => {
      const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${started.port}`, {
        protocolVersion,
        reconnectPeriod: 0,
        connectTimeout: 2000,
        ...options,
      });
      clients.push(client);
      return client;
    };

    it('[3.1.1 MQTT-7.0.0-2] connects, subscribes with wildcards and receives QoS 0, 1 and 2 messages', async () => {
      const sub = await open();
      await sub.subscribeAsync({
        [`js${protocolVersion}/+/temp`]: { qos: 2 },
        [`js${protocolVersion}/all/#`]: { qos: 1 },
      });
      const pub = await open();
      for (const qos of [0, 1, 2] as const) {
        const message = nextMessage(sub);
        await pub.publishAsync(`js${protocolVersion}/room/temp`, `q${qos}`, { qos });
        const received = await message;
        expect(received.payload).toBe(`q${qos}`);
        expect(received.packet.qos).toBe(qos);
      }
      const message = nextMessage(sub);
      await pub.publishAsync(`js${protocolVersion}/all/a/b`, 'deep', { qos: 2 });
      expect((await message).packet.qos).toBe(1);
    });

    it('receives a retained message on subscribe', async () => {
      const pub = await open();
      await pub.publishAsync(`js${protocolVersion}/retained`, 'kept', { qos: 1, retain: true });
      const sub = await open();
      const message = nextMessage(sub);
      await sub.subscribeAsync(`js${protocolVersion}/retained`, { qos: 1 });
      const received = await message;
      expect(received.payload).toBe('kept');
      expect(received.packet.retain).toBe(true);
      await pub.publishAsync(`js${protocolVersion}/retained`, '', { qos: 1, retain: true });
    });

    it('receives the will of a client that disappears', async () => {
      const sub = await open();
      await sub.subscribeAsync(`js${protocolVersion}/will`, { qos: 1 });
      const dying = await mqtt.connectAsync(`mqtt://127.0.0.1:${started.port}`, {
        protocolVersion,
        reconnectPeriod: 0,
        will: { topic: `js${protocolVersion}/will`, payload: Buffer.from('bye'), qos: 1, retain: false },
      });
      const message = nextMessage(sub);
      dying.stream.destroy();
      expect((await message).payload).toBe('bye');
      await dying.endAsync(true).catch(() => {});
    });

    it('keeps a persistent session and delivers messages queued while offline', async () => {
      const clientId = `js-persist-${protocolVersion}`;
      const sessionOptions: mqtt.IClientOptions =
        protocolVersion === 5
          ? { clean: false, clientId, properties: { sessionExpiryInterval: 60 } }
          : { clean: false, clientId };
      const first = await open(sessionOptions);
      await first.subscribeAsync(`js${protocolVersion}/offline`, { qos: 1 });
      await first.endAsync();
      const pub = await open();
      await pub.publishAsync(`js${protocolVersion}/offline`, 'queued', { qos: 1 });
      const second = mqtt.connect(`mqtt://127.0.0.1:${started.port}`, {
        protocolVersion,
        reconnectPeriod: 0,
        ...sessionOptions,
      });
      clients.push(second);
      const received = await nextMessage(second);
      expect(received.payload).toBe('queued');
    });
  });
}
