/** The admin API from the browser: JSON requests and Server-Sent Events read with fetch (to send the token header). */

const TOKEN_KEY = 'midge.adminToken';

export class UnauthorizedError extends Error {}

export function getToken(): string {
  return localStorage.getItem(TOKEN_KEY) ?? '';
}

export function setToken(token: string): void {
  if (token === '') localStorage.removeItem(TOKEN_KEY);
  else localStorage.setItem(TOKEN_KEY, token);
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const token = getToken();
  return token === '' ? extra : { ...extra, authorization: `Bearer ${token}` };
}

/** Relative to the page, so that the dashboard works under a reverse proxy's sub-path too. */
export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = {
    method,
    headers: headers(body !== undefined ? { 'content-type': 'application/json' } : {}),
  };
  if (body !== undefined) init.body = JSON.stringify(body);
  const res = await fetch(path, init);
  if (res.status === 401) throw new UnauthorizedError('token required');
  const data = (await res.json().catch(() => ({}))) as T & { error?: string };
  if (!res.ok) throw new Error(data.error ?? `${res.status} ${res.statusText}`);
  return data;
}

export interface Page<T> {
  total: number;
  offset: number;
  limit: number;
  items: T[];
}

export interface Client {
  clientId: string;
  username: string | null;
  address: string | null;
  protocol: string;
  keepAlive: number;
  connectedAt: string;
  subscriptions: number;
  queued: number;
  inflight: number;
}

export type { RateSample } from '../../src/admin/rate-sample.js';

export interface TopicSnapshot {
  topic: string;
  count: number;
  rate: number;
  lastAt: number;
  qos: number;
  retain: boolean;
  size: number;
  preview: string;
  binary: boolean;
  truncated: boolean;
}

export interface Retained {
  topic: string;
  qos: number;
  size: number;
  payload: string;
  encoding: 'utf8' | 'base64';
  truncated: boolean;
  publisherId: string | null;
}

export interface StreamMessage {
  topic: string;
  qos: number;
  retain: boolean;
  size: number;
  payload: string;
  encoding: 'utf8' | 'base64';
  truncated: boolean;
  t: number;
}

export type EventHandler = (event: string, data: unknown) => void;

/**
 * Reads an event stream until `signal` aborts; reconnects after a drop. `onState` reports 'open' / 'closed' /
 * 'unauthorized'.
 */
export async function streamEvents(
  path: string,
  onEvent: EventHandler,
  onState: (state: 'open' | 'closed' | 'unauthorized') => void,
  signal: AbortSignal,
): Promise<void> {
  while (!signal.aborted) {
    try {
      const res = await fetch(path, { headers: headers({ accept: 'text/event-stream' }), signal });
      if (res.status === 401) {
        onState('unauthorized');
        return;
      }
      if (!res.ok || res.body === null) throw new Error(`${res.status}`);
      onState('open');
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end = buffer.indexOf('\n\n');
        while (end !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = 'message';
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (data !== '') onEvent(event, JSON.parse(data));
          end = buffer.indexOf('\n\n');
        }
      }
    } catch {
      if (signal.aborted) return;
    }
    onState('closed');
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}
