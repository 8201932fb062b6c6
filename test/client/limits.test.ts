/** Client behaviour that needs a configurable broker (Midge) or a misbehaving network. */
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Broker, createBroker } from '../../src/broker/index.js';
import {
  ClientClosedError,
  type ClientOptions,
  connect,
  type MqttClient,
  PublishError,
  QueueFullError,
  TimeoutError,
  TransportError,
} from '../../src/client/index.js';
import { startProxy, type TcpProxy } from './helpers/proxy.js';

let broker: Broker;
let port: number;
const clients: MqttClient[] = [];
const proxies: TcpProxy[] = [];

beforeAll(async () => {
  broker = createBroker({ sysInterval: 0, maxInflight: 2, maxPacketSize: 1024 });
  port = (await broker.listen({ host: '127.0.0.1', port: 0 })).port;
});
afterAll(() => broker.close());
afterEach(async () => {
  for (const client of clients.splice(0)) await client.end(true);
  for (const proxy of proxies.splice(0)) await proxy.close();
});

const open = async (options: ClientOptions = {}, to = port) => {
  const client = await connect({ host: '127.0.0.1', port: to, reconnectPeriod: 0, connectTimeout: 3000, ...options });
  clients.push(client);
  return client;
};
const waitFor = async (condition: () => boolean, timeoutMs = 3000) => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

describe('MQTT 5.0 limits announced by the broker', () => {
  it('never has more QoS 1 publishes in flight than the broker Receive Maximum', async () => {
    const client = await open({ protocolVersion: 5 });
    expect(client.connack?.properties?.receiveMaximum).toBe(2);
    let outstanding = 0;
    let most = 0;
    client.on('packetsend', (p) => {
      if (p.type === 3) most = Math.max(most, ++outstanding);
    });
    client.on('packetreceive', (p) => {
      if (p.type === 4) outstanding--;
    });
    await Promise.all(Array.from({ length: 20 }, (_, i) => client.publish('rm/t', String(i), { qos: 1 })));
    expect(most).toBe(2);
  });

  it('refuses a publish larger than the broker Maximum Packet Size with PublishError 0x95, and stays connected', async () => {
    const client = await open({ protocolVersion: 5 });
    const error = await client.publish('big', new Uint8Array(2000), { qos: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PublishError);
    expect((error as PublishError).reasonCode).toBe(0x95);
    expect(client.connected).toBe(true);
    await client.publish('small', 'ok', { qos: 1 });
  });

  it('refuses an invalid topic name with a PublishError carrying the codec reason code', async () => {
    const client = await open({ protocolVersion: 5 });
    const error = await client.publish('a/+/b', 'x').catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'PublishError', reasonCode: 0x90 });
  });
});

describe('offline queue and failures', () => {
  it('queues publishes made while disconnected (bounded) and sends them after reconnecting', async () => {
    const proxy = await startProxy(port);
    proxies.push(proxy);
    const sub = await open({ protocolVersion: 4 });
    await sub.subscribe('offline/#', { qos: 1 });
    const got: string[] = [];
    sub.on('message', (_t, payload) => got.push(Buffer.from(payload).toString()));
    const client = await open({ protocolVersion: 4, reconnectPeriod: 50, queueLimit: 3 }, proxy.port);
    proxy.refuse = true;
    proxy.cut();
    await waitFor(() => !client.connected);
    const queued = [1, 2, 3].map((n) => client.publish(`offline/${n}`, `m${n}`, { qos: 1 }));
    await expect(client.publish('offline/4', 'm4', { qos: 1 })).rejects.toBeInstanceOf(QueueFullError);
    proxy.refuse = false;
    await Promise.all(queued);
    await waitFor(() => got.length === 3);
    expect(got).toEqual(['m1', 'm2', 'm3']);
  });

  it('end() rejects what is still queued with ClientClosedError', async () => {
    const proxy = await startProxy(port);
    proxies.push(proxy);
    const client = await open({ reconnectPeriod: 50 }, proxy.port);
    proxy.refuse = true;
    proxy.cut();
    await waitFor(() => !client.connected);
    const pending = client.publish('x', 'y', { qos: 1 });
    await client.end();
    await expect(pending).rejects.toBeInstanceOf(ClientClosedError);
  });

  it('rejects with TimeoutError when the server never answers CONNECT', async () => {
    const silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentPort = (silent.address() as net.AddressInfo).port;
    try {
      const started = Date.now();
      const error = await open({ connectTimeout: 300 }, silentPort).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TimeoutError);
      expect((error as TimeoutError).operation).toBe('connect');
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      silent.close();
    }
  });

  it('rejects with TransportError when nothing listens', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as net.AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await expect(open({}, closedPort)).rejects.toBeInstanceOf(TransportError);
  });

  it('emits offline, reconnect and connect when the connection drops, then works again', async () => {
    const proxy = await startProxy(port);
    proxies.push(proxy);
    const client = await open({ reconnectPeriod: 50 }, proxy.port);
    const events: string[] = [];
    for (const e of ['offline', 'reconnect', 'connect', 'close'] as const) client.on(e, () => events.push(e));
    proxy.cut();
    await waitFor(() => events.includes('connect'));
    expect(events).toEqual(['close', 'offline', 'reconnect', 'connect']);
    await client.publish('again', 'x', { qos: 1 });
  });
});
