/**
 * The admin HTTP server: `/metrics` (Prometheus), `/api/v1/...` (JSON), live updates over Server-Sent Events, and
 * the dashboard's static files at `/`. Plain node:http and a tiny router.
 *
 * Access: with a token, every request but the dashboard's static files needs `Authorization: Bearer <token>`.
 * Without one, the server refuses to listen on anything but loopback unless `allowRemoteWithoutToken` is set, and
 * (while on loopback) refuses requests whose Host is not a loopback name, so that a web page the operator visits
 * cannot reach the API through DNS rebinding. A POST must be `application/json` (a cross-site form cannot send it).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Broker } from '../broker/broker.js';
import type { Message } from '../broker/message.js';
import { payloadPreview, type RateSample, RateSampler, TopicActivity } from './activity.js';
import * as api from './api.js';
import { type BrokerMetrics, createBrokerMetrics } from './metrics.js';
import { HttpError, type RequestContext, Router } from './router.js';
import { defaultDashboardDir, serveStatic } from './static.js';

export interface AdminServerOptions {
  /** Default 8080; 0 for an ephemeral port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** When set, API, metrics and event requests need `Authorization: Bearer <token>`. */
  token?: string;
  /** Allow a non-loopback host without a token (the API can disconnect clients and publish: think twice). */
  allowRemoteWithoutToken?: boolean;
  /** Folder of the built dashboard (default: dist/dashboard of this package). */
  dashboardDir?: string;
  /** Topics tracked for the topic tree (least recently active evicted). Default 1000. */
  maxTopics?: number;
  /** Sampling interval of the live rates, ms. Default 1000. */
  sampleIntervalMs?: number;
  /** Messages per second sent to one live subscription stream; the rest are counted as skipped. Default 50. */
  streamRateLimit?: number;
  /** Largest request body, bytes. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Include prom-client's default process metrics (event-loop lag, memory, CPU, GC). Default true. */
  defaultMetrics?: boolean;
  logger?: Logger;
}

/** Bytes of each payload sent to a live subscription stream. */
const STREAM_PREVIEW_BYTES = 4096;

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost', '::ffff:127.0.0.1']);

export function isLoopback(host: string): boolean {
  return LOOPBACK_HOSTS.has(host) || host.startsWith('127.');
}

/** The host part of a Host header (`[::1]:8080` → `::1`). */
function hostName(header: string | undefined): string {
  if (header === undefined) return '';
  if (header.startsWith('[')) return header.slice(1, header.indexOf(']'));
  const colon = header.lastIndexOf(':');
  return colon === -1 ? header : header.slice(0, colon);
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

interface EventClient {
  res: ServerResponse;
}

interface StreamClient {
  res: ServerResponse;
  filter: string;
  /** Messages sent in the current second, and skipped since the last notice. */
  sent: number;
  skipped: number;
}

export class AdminServer {
  readonly metrics: BrokerMetrics;
  readonly topics: TopicActivity;
  readonly rates: RateSampler;
  private readonly server: http.Server;
  private readonly router = new Router();
  private readonly tokenDigest: Buffer | undefined;
  private readonly events = new Set<EventClient>();
  private readonly streams = new Set<StreamClient>();
  private timer: NodeJS.Timeout | undefined;
  private readonly dashboardDir: string;
  private readonly streamRateLimit: number;
  private readonly maxBodyBytes: number;
  private loopbackOnly = true;
  private latest: RateSample | undefined;
  private readonly onMessage = (message: Message): void => {
    this.topics.record(message);
    if (this.streams.size > 0) this.streamMessage(message);
  };

  constructor(
    readonly broker: Broker,
    readonly options: AdminServerOptions = {},
  ) {
    this.tokenDigest = options.token !== undefined && options.token !== '' ? digest(options.token) : undefined;
    this.dashboardDir = options.dashboardDir ?? defaultDashboardDir();
    this.streamRateLimit = options.streamRateLimit ?? 50;
    this.maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
    this.metrics = createBrokerMetrics(broker, { defaultMetrics: options.defaultMetrics });
    this.topics = new TopicActivity(options.maxTopics ?? 1000);
    this.rates = new RateSampler(broker);
    this.routes();
    this.server = http.createServer((req, res) => {
      void this.handle(req, res);
    });
    // Keep-alive connections (the dashboard's) must not hold close() up.
    this.server.keepAliveTimeout = 5000;
  }

  /** Starts sampling and listens; returns the bound address. */
  async listen(): Promise<AddressInfo> {
    const host = this.options.host ?? '127.0.0.1';
    const port = this.options.port ?? 8080;
    this.loopbackOnly = isLoopback(host);
    if (!this.loopbackOnly && this.tokenDigest === undefined && this.options.allowRemoteWithoutToken !== true) {
      throw new Error(
        `refusing to serve the admin API on ${host} without a token: set a token, or allow it explicitly ` +
          '(--admin-insecure)',
      );
    }
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.broker.on('messagePublished', this.onMessage);
    const interval = this.options.sampleIntervalMs ?? 1000;
    this.timer = setInterval(() => this.tick(), interval);
    this.timer.unref();
    return this.server.address() as AddressInfo;
  }

  get address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.broker.off('messagePublished', this.onMessage);
    this.metrics.close();
    for (const client of this.events) client.res.end();
    for (const client of this.streams) client.res.end();
    this.events.clear();
    this.streams.clear();
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  // ─── live updates ──────────────────────────────────────────────────────────────────────────────────────────────

  /** Once a second: a rate sample and the topics active in that second, to every event stream. */
  private tick(): void {
    const now = Date.now();
    const sample = this.rates.sample(now);
    this.latest = sample;
    const topics = this.topics.tick(now);
    for (const stream of this.streams) {
      if (stream.skipped > 0) {
        send(stream.res, 'skipped', { skipped: stream.skipped });
        stream.skipped = 0;
      }
      stream.sent = 0;
    }
    if (this.events.size === 0) return;
    for (const client of this.events) {
      send(client.res, 'rates', sample);
      if (topics.length > 0) send(client.res, 'topics', topics);
    }
  }

  private streamMessage(message: Message): void {
    for (const stream of this.streams) {
      if (!api.topicMatches(stream.filter, message.topic)) continue;
      if (stream.sent >= this.streamRateLimit) {
        stream.skipped++;
        continue;
      }
      stream.sent++;
      const preview = payloadPreview(message.payload, STREAM_PREVIEW_BYTES);
      send(stream.res, 'message', {
        topic: message.topic,
        qos: message.qos,
        retain: message.retain,
        size: message.payload.byteLength,
        payload: preview.text,
        encoding: preview.binary ? 'base64' : 'utf8',
        truncated: preview.truncated,
        publisherId: message.publisherId ?? null,
        t: Date.now(),
      });
    }
  }

  // ─── HTTP ──────────────────────────────────────────────────────────────────────────────────────────────────────

  private routes(): void {
    const b = this.broker;
    this.router
      .add('GET', '/metrics', async ({ res }) => {
        const text = await this.metrics.registry.metrics();
        res.writeHead(200, { 'content-type': this.metrics.registry.contentType });
        res.end(text);
        return undefined;
      })
      .add('GET', '/api/v1/stats', () => ({ body: { ...api.brokerStats(b), rates: this.latest ?? null } }))
      .add('GET', '/api/v1/stats/history', () => ({ body: this.rates.history() }))
      .add('GET', '/api/v1/clients', ({ url }) => ({ body: api.listClients(b, url) }))
      .add('GET', '/api/v1/clients/:id', ({ params }) => ({ body: api.getClient(b, params.id!) }))
      .add('DELETE', '/api/v1/clients/:id', ({ params }) => ({ body: api.kickClient(b, params.id!) }))
      .add('GET', '/api/v1/subscriptions', ({ url }) => ({ body: api.listSubscriptions(b, url) }))
      .add('GET', '/api/v1/sessions', ({ url }) => ({ body: api.listSessions(b, url) }))
      .add('DELETE', '/api/v1/sessions/:id', ({ params }) => ({ body: api.deleteSession(b, params.id!) }))
      .add('GET', '/api/v1/retained', ({ url }) => ({ body: api.listRetained(b, url) }))
      .add('GET', '/api/v1/retained/*', ({ params }) => ({ body: api.getRetained(b, params['*']!) }))
      .add('DELETE', '/api/v1/retained/*', ({ params }) => ({ body: api.deleteRetained(b, params['*']!) }))
      .add('GET', '/api/v1/topics', () => ({ body: this.topics.list() }))
      .add('POST', '/api/v1/publish', async ({ req }) => {
        const request = api.parsePublish(await this.readJson(req));
        return { body: api.publish(b, request) };
      })
      .add('GET', '/api/v1/events', ({ res }) => {
        openEventStream(res);
        const client: EventClient = { res };
        this.events.add(client);
        res.on('close', () => this.events.delete(client));
        send(res, 'hello', { history: this.rates.history(), topics: this.topics.list(), stats: api.brokerStats(b) });
        return undefined;
      })
      .add('GET', '/api/v1/stream', ({ res, url }) => {
        const filter = api.checkFilter(url.searchParams.get('filter'));
        openEventStream(res);
        const client: StreamClient = { res, filter, sent: 0, skipped: 0 };
        this.streams.add(client);
        res.on('close', () => this.streams.delete(client));
        send(res, 'subscribed', { filter, rateLimit: this.streamRateLimit });
        return undefined;
      });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'no-referrer');
    try {
      const url = new URL(req.url ?? '/', 'http://admin.invalid');
      const path = url.pathname;
      if (this.loopbackOnly && this.tokenDigest === undefined && !isLoopback(hostName(req.headers.host))) {
        throw new HttpError(403, 'this admin server answers loopback host names only (set a token to serve others)');
      }
      const isApi = path === '/metrics' || path === '/api' || path.startsWith('/api/');
      if (!isApi) {
        if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'method not allowed');
        await serveStatic(this.dashboardDir, path, req, res);
        return;
      }
      if (!this.authorized(req)) {
        res.setHeader('www-authenticate', 'Bearer realm="midge"');
        throw new HttpError(401, 'missing or wrong token: send Authorization: Bearer <token>');
      }
      const found = this.router.match(req.method ?? 'GET', path);
      if (found === undefined) throw new HttpError(404, `no such endpoint: ${req.method} ${path}`);
      if ('allowed' in found) {
        res.setHeader('allow', found.allowed.join(', '));
        throw new HttpError(405, `method ${req.method} not allowed on ${path}`);
      }
      const context: RequestContext = { req, res, url, params: found.params };
      const result = await found.handler(context);
      if (result !== undefined) json(res, result.status ?? 200, result.body);
    } catch (error) {
      if (res.headersSent) {
        res.end();
        return;
      }
      if (error instanceof HttpError) {
        json(res, error.status, { error: error.message });
        return;
      }
      this.options.logger?.error({ err: error }, 'admin request failed');
      json(res, 500, { error: 'internal error' });
    }
  }

  private authorized(req: IncomingMessage): boolean {
    if (this.tokenDigest === undefined) return true;
    const header = req.headers.authorization;
    if (header === undefined || !header.startsWith('Bearer ')) return false;
    return timingSafeEqual(digest(header.slice(7).trim()), this.tokenDigest);
  }

  private async readJson(req: IncomingMessage): Promise<unknown> {
    const type = req.headers['content-type'] ?? '';
    if (!type.toLowerCase().startsWith('application/json')) {
      throw new HttpError(415, 'the body must be JSON with Content-Type: application/json');
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > this.maxBodyBytes) throw new HttpError(413, `the body is larger than ${this.maxBodyBytes} bytes`);
      chunks.push(chunk);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    if (text.trim() === '') throw new HttpError(400, 'the body is empty: expected a JSON object');
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw new HttpError(400, `the body is not valid JSON: ${(error as Error).message}`);
    }
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

function openEventStream(res: ServerResponse): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write('retry: 2000\n\n');
}

function send(res: ServerResponse, event: string, data: unknown): void {
  if (res.writableEnded || res.destroyed) return;
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

/** Creates an admin server for `broker` and starts listening. */
export async function startAdminServer(broker: Broker, options: AdminServerOptions = {}): Promise<AdminServer> {
  const server = new AdminServer(broker, options);
  await server.listen();
  return server;
}
