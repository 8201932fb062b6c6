/**
 * /metrics: scrape, drive traffic with MQTT.js (QoS 0/1/2, a refused connection, a dropped message, retained),
 * scrape again: every counter moved by the expected amount.
 */
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminServer, startAdminServer } from '../../src/admin/index.js';
import type { Broker } from '../../src/broker/index.js';
import { MemoryStore } from '../../src/broker/store/index.js';
import { startBroker } from '../helpers/broker.js';

let broker: Broker;
let port: number;
let admin: AdminServer;
let closeBroker: () => Promise<void>;

beforeAll(async () => {
  const started = await startBroker({
    store: new MemoryStore(),
    hooks: { authenticate: ({ clientId }) => clientId !== 'refused' },
  });
  broker = started.broker;
  port = started.port;
  closeBroker = started.close;
  admin = await startAdminServer(broker, { port: 0 });
});

afterAll(async () => {
  await admin.close();
  await closeBroker();
});

async function scrape(): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${admin.address.port}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  const values = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const at = line.lastIndexOf(' ');
    values.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return values;
}

function client(options: mqtt.IClientOptions): Promise<mqtt.MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, ...options });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

describe('/metrics', () => {
  it('counters move as traffic flows', async () => {
    const before = await scrape();
    const delta = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0);

    const sub = await client({ clientId: 'sub', protocolVersion: 5 });
    await sub.subscribeAsync('m/#', { qos: 2 });
    const received = new Promise<void>((resolve) => {
      let n = 0;
      sub.on('message', () => {
        if (++n === 3) resolve();
      });
    });
    const pub = await client({ clientId: 'pub', protocolVersion: 4 });
    await pub.publishAsync('m/0', 'aaaa', { qos: 0 });
    await pub.publishAsync('m/1', 'bbbbbb', { qos: 1, retain: true });
    await pub.publishAsync('m/2', 'cccccccc', { qos: 2 });
    await received;
    // A persistent session offline: a QoS 0 message for it is dropped (offline-qos0).
    const offline = await client({
      clientId: 'offline',
      protocolVersion: 5,
      clean: false,
      properties: { sessionExpiryInterval: 60 },
    });
    await offline.subscribeAsync('o/#', { qos: 0 });
    await offline.endAsync();
    await pub.publishAsync('o/x', 'z', { qos: 0 });
    // A refused connection (the authenticate hook says no: 0x87 Not authorized).
    await expect(client({ clientId: 'refused', protocolVersion: 5 })).rejects.toThrow();
    await new Promise((resolve) => setTimeout(resolve, 50));

    const after = await scrape();
    expect(delta('midge_connections_total')).toBe(3);
    expect(after.get('midge_connections')).toBe(2);
    expect(delta('midge_connections_refused_total{reason="NotAuthorized",code="0x87"}')).toBe(1);
    expect(delta('midge_messages_received_total')).toBe(4);
    expect(delta('midge_messages_received_by_qos_total{qos="0"}')).toBe(2);
    expect(delta('midge_messages_received_by_qos_total{qos="1"}')).toBe(1);
    expect(delta('midge_messages_received_by_qos_total{qos="2"}')).toBe(1);
    expect(delta('midge_payload_bytes_received_total{qos="0"}')).toBe(5);
    expect(delta('midge_payload_bytes_received_total{qos="1"}')).toBe(6);
    expect(delta('midge_payload_bytes_received_total{qos="2"}')).toBe(8);
    expect(delta('midge_messages_sent_total')).toBe(3);
    expect(delta('midge_messages_sent_by_qos_total{qos="0"}')).toBe(1);
    expect(delta('midge_messages_sent_by_qos_total{qos="1"}')).toBe(1);
    expect(delta('midge_messages_sent_by_qos_total{qos="2"}')).toBe(1);
    expect(delta('midge_payload_bytes_sent_total{qos="2"}')).toBe(8);
    expect(delta('midge_bytes_received_total')).toBeGreaterThan(0);
    expect(delta('midge_bytes_sent_total')).toBeGreaterThan(0);
    expect(delta('midge_messages_dropped_total{reason="offline-qos0"}')).toBe(1);
    expect(delta('midge_messages_dropped_total{reason="queue-full"}')).toBe(0);
    expect(after.get('midge_subscriptions')).toBe(2);
    expect(after.get('midge_retained_messages')).toBe(1);
    expect(after.get('midge_sessions{state="online"}')).toBe(2);
    expect(after.get('midge_sessions{state="offline"}')).toBe(1);
    expect(after.get('midge_session_messages{state="inflight"}')).toBe(0);
    expect(after.get(`midge_listener_connections{listener="mqtt://127.0.0.1:${port}"}`)).toBe(2);
    // The store (memory here) is timed per batch.
    expect(delta('midge_store_write_seconds_count{result="ok"}')).toBeGreaterThan(0);
    expect(delta('midge_store_operations_total')).toBeGreaterThan(0);
    // prom-client's default metrics, event-loop lag included.
    expect(after.has('midge_nodejs_eventloop_lag_seconds')).toBe(true);

    await sub.endAsync();
    await pub.endAsync();
  });
});
