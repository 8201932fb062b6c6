/**
 * The admin API, every endpoint: token refusal (401), unknown client / topic (404), bad bodies (400 with a message),
 * kick (an MQTT 5.0 client sees DISCONNECT 0x98), publish reaching a subscriber, retained list / read / delete,
 * sessions, subscriptions, stats, topics, the live event streams and the loopback Host check without a token.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminServer, startAdminServer } from '../../src/admin/index.js';
import type { Broker } from '../../src/broker/index.js';
import { connect, type MqttClient } from '../../src/client/index.js';
import { startBroker } from '../helpers/broker.js';

const TOKEN = 's3cret';
let broker: Broker;
let port: number;
let admin: AdminServer;
let base: string;
let closeBroker: () => Promise<void>;
const clients: MqttClient[] = [];

beforeAll(async () => {
  const started = await startBroker();
  ({ broker, port } = started);
  closeBroker = started.close;
  admin = await startAdminServer(broker, { port: 0, token: TOKEN, defaultMetrics: false, sampleIntervalMs: 200 });
  base = `http://127.0.0.1:${admin.address.port}`;
});

afterAll(async () => {
  for (const c of clients) await c.end(true).catch(() => {});
  await admin.close();
  await closeBroker();
});

// biome-ignore lint/suspicious/noExplicitAny: the JSON answers of the API under test
type Json = any;

async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const init: RequestInit = { method, headers: { authorization: `Bearer ${TOKEN}`, ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const res = await fetch(base + path, init);
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : (JSON.parse(text) as Record<string, Json>) };
}

async function mqttClient(clientId: string, options: Record<string, unknown> = {}): Promise<MqttClient> {
  const c = await connect(`mqtt://127.0.0.1:${port}`, { clientId, protocolVersion: 5, reconnectPeriod: 0, ...options });
  clients.push(c);
  return c;
}

describe('auth', () => {
  it('401 without the token or with a wrong one, on the API, /metrics and the event streams', async () => {
    for (const path of [
      '/api/v1/stats',
      '/api/v1/clients',
      '/metrics',
      '/api/v1/events',
      '/api/v1/stream?filter=%23',
    ]) {
      const res = await fetch(base + path);
      expect(res.status, path).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('Bearer');
      expect(((await res.json()) as { error: string }).error).toMatch(/token/);
    }
    const wrong = await fetch(`${base}/api/v1/stats`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    const kick = await fetch(`${base}/api/v1/clients/x`, { method: 'DELETE' });
    expect(kick.status).toBe(401);
  });

  it('serves the dashboard page without the token (it asks for one)', async () => {
    const res = await fetch(`${base}/`);
    expect([200, 503]).toContain(res.status); // 503 when the dashboard is not built
  });

  it('without a token: loopback only, and requests for other host names are refused (DNS rebinding)', async () => {
    const open = await startAdminServer(broker, { port: 0, defaultMetrics: false });
    try {
      const ok = await fetch(`http://127.0.0.1:${open.address.port}/api/v1/stats`);
      expect(ok.status).toBe(200);
      const status = await new Promise<number>((resolve, reject) => {
        http
          .get(
            { host: '127.0.0.1', port: open.address.port, path: '/api/v1/stats', headers: { host: 'evil.example:80' } },
            (res) => {
              res.resume();
              resolve(res.statusCode ?? 0);
            },
          )
          .on('error', reject);
      });
      expect(status).toBe(403);
    } finally {
      await open.close();
    }
    await expect(startAdminServer(broker, { port: 0, host: '0.0.0.0' })).rejects.toThrow(/without a token/);
  });
});

describe('clients', () => {
  it('lists, searches, pages and gets clients; 404 for an unknown one', async () => {
    const a = await mqttClient('api-alpha', { keepalive: 30 });
    await a.subscribe('alpha/#', { qos: 1 });
    await mqttClient('api-beta', { protocolVersion: 4 });
    const list = await api('GET', '/api/v1/clients');
    expect(list.status).toBe(200);
    expect(list.body!.total).toBe(2);
    const alpha = list.body!.items.find((c: { clientId: string }) => c.clientId === 'api-alpha');
    expect(alpha).toMatchObject({
      clientId: 'api-alpha',
      address: '127.0.0.1',
      protocolVersion: 5,
      protocol: '5.0',
      keepAlive: 30,
      subscriptions: 1,
      queued: 0,
      inflight: 0,
    });
    expect(Date.parse(alpha.connectedAt)).toBeGreaterThan(Date.now() - 60_000);
    const beta = list.body!.items.find((c: { clientId: string }) => c.clientId === 'api-beta');
    expect(beta.protocol).toBe('3.1.1');

    const search = await api('GET', '/api/v1/clients?q=ALPH');
    expect(search.body!.items.map((c: { clientId: string }) => c.clientId)).toEqual(['api-alpha']);
    const page = await api('GET', '/api/v1/clients?offset=1&limit=1');
    expect(page.body).toMatchObject({ total: 2, offset: 1, limit: 1 });
    expect(page.body!.items).toHaveLength(1);
    expect((await api('GET', '/api/v1/clients?limit=-1')).status).toBe(400);

    const one = await api('GET', '/api/v1/clients/api-alpha');
    expect(one.status).toBe(200);
    expect(one.body!.subscriptionList).toEqual([
      {
        clientId: 'api-alpha',
        topicFilter: 'alpha/#',
        qos: 1,
        noLocal: false,
        retainAsPublished: false,
        retainHandling: 0,
      },
    ]);
    const unknown = await api('GET', '/api/v1/clients/nobody');
    expect(unknown.status).toBe(404);
    expect(unknown.body!.error).toContain('nobody');
    expect((await api('DELETE', '/api/v1/clients/nobody')).status).toBe(404);
  });

  it('kick: DELETE disconnects the client, a 5.0 client gets DISCONNECT 0x98', async () => {
    const victim = await mqttClient('api-victim/with slash');
    const reason = new Promise<number | undefined>((resolve) => victim.on('disconnect', (p) => resolve(p.reasonCode)));
    const res = await api('DELETE', `/api/v1/clients/${encodeURIComponent('api-victim/with slash')}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ clientId: 'api-victim/with slash', disconnected: true });
    expect(await reason).toBe(0x98);
    expect(broker.clients.has('api-victim/with slash')).toBe(false);
  });
});

describe('subscriptions and sessions', () => {
  it('lists subscriptions (search, per client) and sessions (online/offline, expiry); deletes an offline session', async () => {
    const s = await mqttClient('api-sess', { clean: false, properties: { sessionExpiryInterval: 300 } });
    await s.subscribe('sess/+/x', { qos: 2 });
    const subs = await api('GET', '/api/v1/subscriptions?q=sess/');
    expect(subs.body!.items).toEqual([
      {
        clientId: 'api-sess',
        topicFilter: 'sess/+/x',
        qos: 2,
        noLocal: false,
        retainAsPublished: false,
        retainHandling: 0,
      },
    ]);
    expect((await api('GET', '/api/v1/subscriptions?clientId=api-alpha')).body!.items).toHaveLength(1);
    await s.end();
    const offline = await api('GET', '/api/v1/sessions?state=offline');
    const session = offline.body!.items.find((x: { clientId: string }) => x.clientId === 'api-sess');
    expect(session).toMatchObject({ online: false, expiryInterval: 300, subscriptions: 1 });
    expect(Date.parse(session.expiresAt)).toBeGreaterThan(Date.now());
    const online = await api('GET', '/api/v1/sessions?state=online');
    expect(online.body!.items.every((x: { online: boolean }) => x.online)).toBe(true);
    expect((await api('GET', '/api/v1/sessions?state=sideways')).status).toBe(400);
    expect((await api('DELETE', '/api/v1/sessions/api-alpha')).status).toBe(409);
    expect((await api('DELETE', '/api/v1/sessions/api-sess')).status).toBe(200);
    expect(broker.sessions.has('api-sess')).toBe(false);
    expect((await api('DELETE', '/api/v1/sessions/api-sess')).status).toBe(404);
  });
});

describe('publish and retained', () => {
  it('publish reaches a subscriber (utf8 and base64), retained is listed, read and deleted', async () => {
    const sub = await mqttClient('api-sub');
    await sub.subscribe('pub/#', { qos: 1 });
    const got: { topic: string; text: string; qos: number }[] = [];
    const two = new Promise<void>((resolve) =>
      sub.on('message', (topic, payload, message) => {
        got.push({ topic, text: Buffer.from(payload).toString(), qos: message.qos });
        if (got.length === 2) resolve();
      }),
    );
    const a = await api('POST', '/api/v1/publish', { topic: 'pub/a', payload: 'hello', qos: 1, retain: true });
    expect(a).toEqual({ status: 200, body: { topic: 'pub/a', matched: 1 } });
    const b = await api('POST', '/api/v1/publish', {
      topic: 'pub/b',
      payload: Buffer.from([0xff, 0x00, 0x01]).toString('base64'),
      encoding: 'base64',
      retain: true,
    });
    expect(b.body!.matched).toBe(1);
    await two;
    expect(got[0]).toEqual({ topic: 'pub/a', text: 'hello', qos: 1 });

    const list = await api('GET', '/api/v1/retained?filter=pub/%2B');
    expect(list.body!.items.map((r: { topic: string }) => r.topic)).toEqual(['pub/a', 'pub/b']);
    expect(list.body!.items[1]).toMatchObject({ size: 3, encoding: 'base64', payload: '/wAB' });
    expect((await api('GET', '/api/v1/retained?filter=a/%23/b')).status).toBe(400);
    const one = await api('GET', '/api/v1/retained/pub/a');
    expect(one.body).toMatchObject({ topic: 'pub/a', payload: 'hello', encoding: 'utf8', qos: 1, publisherId: null });
    expect((await api('GET', '/api/v1/retained/pub/none')).status).toBe(404);
    expect((await api('DELETE', '/api/v1/retained/pub/a')).body).toEqual({ topic: 'pub/a', deleted: true });
    expect(broker.retained.get('pub/a')).toBeUndefined();
    expect((await api('DELETE', '/api/v1/retained/pub/a')).status).toBe(404);
  });

  it('400 with a message for a bad body; 415 without JSON content type', async () => {
    const cases: [unknown, RegExp][] = [
      ['not json', /not valid JSON/],
      ['', /empty/],
      [[1, 2], /JSON object/],
      [{ payload: 'x' }, /topic/],
      [{ topic: 'a/#' }, /wildcards/],
      [{ topic: 'a', qos: 3 }, /qos/],
      [{ topic: 'a', retain: 'yes' }, /retain/],
      [{ topic: 'a', payload: 42 }, /payload/],
      [{ topic: 'a', payload: '***', encoding: 'base64' }, /base64/],
      [{ topic: 'a', encoding: 'hex' }, /encoding/],
    ];
    for (const [body, message] of cases) {
      const res = await api('POST', '/api/v1/publish', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body!.error).toMatch(message);
    }
    const form = await api('POST', '/api/v1/publish', 'topic=a', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(form.status).toBe(415);
    expect((await api('PUT', '/api/v1/publish', {})).status).toBe(405);
    expect((await api('GET', '/api/v1/nothing')).status).toBe(404);
  });
});

describe('stats, topics and live events', () => {
  it('stats', async () => {
    const res = await api('GET', '/api/v1/stats');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ connections: broker.stats.connections, subscriptions: broker.trie.size });
    expect(res.body!.sessions.total).toBe(broker.sessions.size);
    expect(res.body!.droppedByReason).toHaveProperty('queue-full');
    expect(Array.isArray((await api('GET', '/api/v1/stats/history')).body)).toBe(true);
  });

  it('the event stream pushes rates and topic activity; the stream endpoint pushes matching messages', async () => {
    const controller = new AbortController();
    const events: { event: string; data: Json }[] = [];
    const read = async (path: string) => {
      const res = await fetch(base + path, {
        headers: { authorization: `Bearer ${TOKEN}` },
        signal: controller.signal,
      });
      expect(res.headers.get('content-type')).toContain('text/event-stream');
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) return;
        buffer += value;
        for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event !== undefined && data !== undefined) events.push({ event, data: JSON.parse(data) });
        }
      }
    };
    void read('/api/v1/events');
    void read('/api/v1/stream?filter=live/%23');
    await expect
      .poll(() => events.some((e) => e.event === 'hello') && events.some((e) => e.event === 'subscribed'))
      .toBe(true);
    await api('POST', '/api/v1/publish', { topic: 'live/one', payload: 'x'.repeat(300) });
    await api('POST', '/api/v1/publish', { topic: 'other/topic', payload: 'y' });
    await expect
      .poll(() =>
        events.find((e) => e.event === 'topics' && e.data.some((t: { topic: string }) => t.topic === 'live/one')),
      )
      .toBeDefined();
    const topics = events.find(
      (e) => e.event === 'topics' && e.data.some((t: { topic: string }) => t.topic === 'live/one'),
    )!;
    expect(topics.data.find((t: { topic: string }) => t.topic === 'live/one')).toMatchObject({
      count: 1,
      size: 300,
      truncated: true,
    });
    expect(events.some((e) => e.event === 'rates' && typeof e.data.messagesInPerSecond === 'number')).toBe(true);
    const messages = events.filter((e) => e.event === 'message');
    expect(messages.map((m) => m.data.topic)).toEqual(['live/one']);
    expect(messages[0]!.data.payload).toBe('x'.repeat(300));
    controller.abort();

    const list = await api('GET', '/api/v1/topics');
    expect(list.body!.map((t: { topic: string }) => t.topic)).toEqual(
      expect.arrayContaining(['live/one', 'other/topic']),
    );
    expect((await api('GET', '/api/v1/stream')).status).toBe(400);
  });
});
