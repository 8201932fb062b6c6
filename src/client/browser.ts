/**
 * `midge/client` for browsers: the same client over the global WebSocket (`ws://`, `wss://` only). Nothing here
 * or in what it imports touches a Node API.
 */
import { MqttClient } from './client.js';
import { type ClientOptions, resolveOptions } from './options.js';
import { type WebSocketLike, webSocketTransport } from './transport/ws.js';

const browserWebSocket = webSocketTransport((url, protocols) => {
  const Ctor = (globalThis as { WebSocket?: new (url: string, protocols: string[]) => WebSocketLike }).WebSocket;
  if (Ctor === undefined) throw new TypeError('no global WebSocket in this environment');
  return new Ctor(url, protocols);
});

/** Creates a client without connecting (call `start()`). Only `ws:` and `wss:` are available in a browser. */
export function createClient(urlOrOptions: string | ClientOptions, options?: ClientOptions): MqttClient {
  const resolved = resolveOptions(urlOrOptions, options);
  if (resolved.protocol !== 'ws' && resolved.protocol !== 'wss') {
    throw new TypeError(`only ws:// and wss:// are available in a browser, not ${resolved.protocol}://`);
  }
  return new MqttClient(resolved, browserWebSocket);
}

/** Connects; resolves once CONNACK accepted the connection. */
export async function connect(urlOrOptions: string | ClientOptions, options?: ClientOptions): Promise<MqttClient> {
  const client = createClient(urlOrOptions, options);
  await client.start();
  return client;
}

export { MqttClient } from './client.js';
export * from './errors.js';
export { type InflightStore, MemoryInflightStore } from './store/store.js';
