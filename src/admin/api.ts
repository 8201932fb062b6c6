/**
 * The admin API's JSON views of the broker's state and its operations (kick, delete retained, publish). Handlers only
 * read the broker's maps when asked; nothing here runs on the publish path.
 */
import type { Broker } from '../broker/broker.js';
import type { Connection } from '../broker/connection/connection.js';
import type { Message } from '../broker/message.js';
import type { SubscriptionOptions } from '../broker/routing/index.js';
import { topicMatches } from '../broker/routing/topic.js';
import type { Session } from '../broker/session/session.js';
import { SESSION_NEVER_EXPIRES } from '../broker/session/session.js';
import { isValidTopicFilter, isValidTopicName, type QoS, ReasonCode } from '../codec/index.js';
import { payloadPreview } from './activity.js';
import { HttpError } from './router.js';

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;
/** Bytes of payload shown in list views (the single-retained view returns the whole payload). */
const LIST_PREVIEW_BYTES = 256;

export interface Page<T> {
  total: number;
  offset: number;
  limit: number;
  items: T[];
}

function intParam(url: URL, name: string, fallback: number, max: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > max) throw new HttpError(400, `${name} must be an integer in 0..${max}`);
  return n;
}

export function paginate<T>(items: T[], url: URL): Page<T> {
  const offset = intParam(url, 'offset', 0, Number.MAX_SAFE_INTEGER);
  const limit = intParam(url, 'limit', DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
  return { total: items.length, offset, limit, items: items.slice(offset, offset + limit) };
}

const PROTOCOL_NAMES: Record<number, string> = { 3: '3.1', 4: '3.1.1', 5: '5.0' };

export interface SubscriptionView {
  clientId: string;
  topicFilter: string;
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: number;
  subscriptionIdentifier?: number;
}

export interface ClientView {
  clientId: string;
  username: string | null;
  address: string | null;
  protocolVersion: number;
  protocol: string;
  keepAlive: number;
  sessionExpiryInterval: number;
  connectedAt: string;
  subscriptions: number;
  queued: number;
  inflight: number;
}

export interface SessionView {
  clientId: string;
  online: boolean;
  expiryInterval: number | null;
  expiresAt: string | null;
  subscriptions: number;
  queued: number;
  inflight: number;
}

function subscriptionView(clientId: string, topicFilter: string, options: SubscriptionOptions): SubscriptionView {
  const view: SubscriptionView = {
    clientId,
    topicFilter,
    qos: options.qos,
    noLocal: options.noLocal,
    retainAsPublished: options.retainAsPublished,
    retainHandling: options.retainHandling,
  };
  if (options.subscriptionIdentifier !== undefined) view.subscriptionIdentifier = options.subscriptionIdentifier;
  return view;
}

export function clientView(broker: Broker, connection: Connection): ClientView {
  const session: Session | undefined = connection.session;
  return {
    clientId: connection.clientId,
    username: connection.username ?? null,
    address: connection.remoteAddress ?? null,
    protocolVersion: connection.protocolVersion,
    protocol: PROTOCOL_NAMES[connection.protocolVersion] ?? String(connection.protocolVersion),
    keepAlive: connection.keepAlive,
    sessionExpiryInterval: connection.sessionExpiryInterval,
    connectedAt: new Date(connection.connectedAt).toISOString(),
    subscriptions: broker.trie.subscriptionsOf(connection.clientId)?.size ?? 0,
    queued: session?.queuedCount ?? 0,
    inflight: session?.inflightCount ?? 0,
  };
}

export function subscriptionsOf(broker: Broker, clientId: string): SubscriptionView[] {
  const subscriptions = broker.trie.subscriptionsOf(clientId);
  if (subscriptions === undefined) return [];
  return [...subscriptions].map(([filter, options]) => subscriptionView(clientId, filter, options));
}

function matchesQuery(q: string, ...values: (string | undefined)[]): boolean {
  for (const value of values) if (value?.toLowerCase().includes(q)) return true;
  return false;
}

export function listClients(broker: Broker, url: URL): Page<ClientView> {
  const q = url.searchParams.get('q')?.toLowerCase() ?? '';
  const out: ClientView[] = [];
  for (const connection of broker.clients.values()) {
    if (q !== '' && !matchesQuery(q, connection.clientId, connection.username, connection.remoteAddress)) continue;
    out.push(clientView(broker, connection));
  }
  out.sort((a, b) => (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0));
  return paginate(out, url);
}

export function getClient(broker: Broker, clientId: string): ClientView & { subscriptionList: SubscriptionView[] } {
  const connection = broker.clients.get(clientId);
  if (connection === undefined) throw new HttpError(404, `no connected client '${clientId}'`);
  return { ...clientView(broker, connection), subscriptionList: subscriptionsOf(broker, clientId) };
}

/** Disconnects a client: MQTT 5.0 clients get DISCONNECT 0x98 Administrative action; 3.1.1 ones are closed. */
export function kickClient(broker: Broker, clientId: string): { clientId: string; disconnected: true } {
  const connection = broker.clients.get(clientId);
  if (connection === undefined) throw new HttpError(404, `no connected client '${clientId}'`);
  broker.logger?.info({ clientId }, 'client disconnected by the admin API');
  connection.disconnect(ReasonCode.AdministrativeAction, 'disconnected by an administrator');
  return { clientId, disconnected: true };
}

export function listSubscriptions(broker: Broker, url: URL): Page<SubscriptionView> {
  const q = url.searchParams.get('q')?.toLowerCase() ?? '';
  const clientId = url.searchParams.get('clientId');
  const out: SubscriptionView[] = [];
  const ids = clientId !== null ? [clientId] : [...broker.sessions.keys()].sort();
  for (const id of ids) {
    for (const view of subscriptionsOf(broker, id)) {
      if (q !== '' && !matchesQuery(q, view.clientId, view.topicFilter)) continue;
      out.push(view);
    }
  }
  return paginate(out, url);
}

export function sessionView(broker: Broker, session: Session): SessionView {
  const online = session.link !== undefined;
  const expiry = session.expiryInterval;
  return {
    clientId: session.clientId,
    online,
    expiryInterval: expiry === SESSION_NEVER_EXPIRES ? null : expiry,
    expiresAt: session.expiresAt !== undefined ? new Date(session.expiresAt).toISOString() : null,
    subscriptions: broker.trie.subscriptionsOf(session.clientId)?.size ?? 0,
    queued: session.queuedCount,
    inflight: session.inflightCount,
  };
}

export function listSessions(broker: Broker, url: URL): Page<SessionView> {
  const q = url.searchParams.get('q')?.toLowerCase() ?? '';
  const state = url.searchParams.get('state');
  if (state !== null && state !== 'online' && state !== 'offline') {
    throw new HttpError(400, "state must be 'online' or 'offline'");
  }
  const out: SessionView[] = [];
  for (const session of broker.sessions.values()) {
    if (q !== '' && !matchesQuery(q, session.clientId)) continue;
    const online = session.link !== undefined;
    if ((state === 'online' && !online) || (state === 'offline' && online)) continue;
    out.push(sessionView(broker, session));
  }
  out.sort((a, b) => (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0));
  return paginate(out, url);
}

/** Ends an offline session (its subscriptions and queued messages go); a connected client's session is refused. */
export function deleteSession(broker: Broker, clientId: string): { clientId: string; deleted: true } {
  const session = broker.sessions.get(clientId);
  if (session === undefined) throw new HttpError(404, `no session '${clientId}'`);
  if (session.link !== undefined) {
    throw new HttpError(409, `client '${clientId}' is connected: disconnect it first (DELETE /api/v1/clients/...)`);
  }
  broker.endSession(session);
  return { clientId, deleted: true };
}

export interface RetainedView {
  topic: string;
  qos: QoS;
  size: number;
  payload: string;
  encoding: 'utf8' | 'base64';
  truncated: boolean;
  publisherId: string | null;
  expiresAt: string | null;
  properties?: Record<string, unknown>;
}

function retainedView(message: Message, previewBytes: number): RetainedView {
  const preview = payloadPreview(message.payload, previewBytes);
  const view: RetainedView = {
    topic: message.topic,
    qos: message.qos,
    size: message.payload.byteLength,
    payload: preview.text,
    encoding: preview.binary ? 'base64' : 'utf8',
    truncated: preview.truncated,
    publisherId: message.publisherId ?? null,
    expiresAt: message.expiresAt !== undefined ? new Date(message.expiresAt).toISOString() : null,
  };
  if (message.properties !== undefined) view.properties = jsonProperties(message.properties);
  return view;
}

/** Properties as JSON (binary ones, such as Correlation Data, in base64). */
function jsonProperties(properties: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(properties)) {
    out[key] = value instanceof Uint8Array ? Buffer.from(value).toString('base64') : value;
  }
  return out;
}

export function listRetained(broker: Broker, url: URL): Page<RetainedView> {
  const filter = url.searchParams.get('filter') ?? '#';
  if (!isValidTopicFilter(filter)) throw new HttpError(400, `'${filter}' is not a valid topic filter`);
  const now = Date.now();
  const out: RetainedView[] = [];
  broker.retained.forEachMatch(filter, (_topic, message) => {
    if (message.expiresAt !== undefined && message.expiresAt <= now) return;
    out.push(retainedView(message, LIST_PREVIEW_BYTES));
  });
  out.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0));
  return paginate(out, url);
}

export function getRetained(broker: Broker, topic: string): RetainedView {
  const message = broker.retained.get(topic);
  if (message === undefined) throw new HttpError(404, `no retained message on '${topic}'`);
  return retainedView(message, Number.MAX_SAFE_INTEGER);
}

export function deleteRetained(broker: Broker, topic: string): { topic: string; deleted: true } {
  if (!broker.retained.delete(topic)) throw new HttpError(404, `no retained message on '${topic}'`);
  broker.storeWriter?.push({ op: 'deleteRetained', topic });
  return { topic, deleted: true };
}

export interface PublishRequest {
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Validates a POST /api/v1/publish body; throws a 400 saying what is wrong. */
export function parsePublish(body: unknown): PublishRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, 'the body must be a JSON object {topic, payload?, encoding?, qos?, retain?}');
  }
  const b = body as Record<string, unknown>;
  if (typeof b.topic !== 'string' || b.topic.length === 0) throw new HttpError(400, 'topic must be a non-empty string');
  if (!isValidTopicName(b.topic)) throw new HttpError(400, 'topic must be a topic name (no + or # wildcards)');
  const encoding = b.encoding ?? 'utf8';
  if (encoding !== 'utf8' && encoding !== 'base64') throw new HttpError(400, "encoding must be 'utf8' or 'base64'");
  const rawPayload = b.payload ?? '';
  if (typeof rawPayload !== 'string') throw new HttpError(400, 'payload must be a string');
  if (encoding === 'base64' && (rawPayload.length % 4 !== 0 || !BASE64.test(rawPayload))) {
    throw new HttpError(400, 'payload is not valid base64');
  }
  const qos = b.qos ?? 0;
  if (qos !== 0 && qos !== 1 && qos !== 2) throw new HttpError(400, 'qos must be 0, 1 or 2');
  const retain = b.retain ?? false;
  if (typeof retain !== 'boolean') throw new HttpError(400, 'retain must be a boolean');
  const payload = Buffer.from(rawPayload, encoding);
  return { topic: b.topic, payload, qos, retain };
}

export function publish(broker: Broker, request: PublishRequest): { topic: string; matched: number } {
  const matched = broker.publishMessage(request.topic, request.payload, { qos: request.qos, retain: request.retain });
  return { topic: request.topic, matched };
}

/** Broker statistics: counters, sizes, and what the admin server tracks. */
export function brokerStats(broker: Broker) {
  let online = 0;
  let inflight = 0;
  let queued = 0;
  for (const session of broker.sessions.values()) {
    if (session.link !== undefined) online++;
    inflight += session.inflightCount;
    queued += session.queuedCount;
  }
  const { stats } = broker;
  return {
    uptimeSeconds: Math.floor((Date.now() - broker.startedAt) / 1000),
    startedAt: new Date(broker.startedAt).toISOString(),
    connections: stats.connections,
    connectionsTotal: stats.connectionsTotal,
    connectionsRefused: Object.fromEntries(
      Object.entries(stats.connectionsRefused).map(([code, n]) => [
        `0x${Number(code).toString(16).padStart(2, '0')}`,
        n,
      ]),
    ),
    messagesReceived: stats.messagesReceived,
    messagesSent: stats.messagesSent,
    messagesReceivedByQos: stats.messagesReceivedByQos,
    messagesSentByQos: stats.messagesSentByQos,
    payloadBytesReceivedByQos: stats.payloadBytesReceivedByQos,
    payloadBytesSentByQos: stats.payloadBytesSentByQos,
    bytesReceived: stats.bytesReceived,
    bytesSent: stats.bytesSent,
    messagesDropped: stats.messagesDropped,
    droppedByReason: { ...stats.droppedByReason, 'publish-not-authorized': stats.publishUnauthorized },
    retainedDropped: stats.retainedDropped,
    subscriptions: broker.trie.size,
    retained: broker.retained.size,
    sessions: { total: broker.sessions.size, online, offline: broker.sessions.size - online },
    inflight,
    queued,
  };
}

/** For the live subscription stream: is `filter` a valid filter, and does it match `topic`. */
export function checkFilter(filter: string | null): string {
  if (filter === null || filter === '') throw new HttpError(400, 'filter is required');
  if (!isValidTopicFilter(filter)) throw new HttpError(400, `'${filter}' is not a valid topic filter`);
  return filter;
}

export { topicMatches };
