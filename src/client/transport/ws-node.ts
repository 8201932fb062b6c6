/** `ws://` / `wss://` in Node, with the `ws` package (TLS options passed through). */
import WebSocket from 'ws';
import { type WebSocketLike, webSocketTransport } from './ws.js';

export const nodeWebSocketTransport = webSocketTransport((url, protocols, options) => {
  const tls: WebSocket.ClientOptions = { perMessageDeflate: false };
  if (options.ca !== undefined) tls.ca = options.ca as WebSocket.ClientOptions['ca'];
  if (options.cert !== undefined) tls.cert = options.cert as WebSocket.ClientOptions['cert'];
  if (options.key !== undefined) tls.key = options.key as WebSocket.ClientOptions['key'];
  if (options.rejectUnauthorized !== undefined) tls.rejectUnauthorized = options.rejectUnauthorized;
  if (options.servername !== undefined) Object.assign(tls, { servername: options.servername });
  return new WebSocket(url, protocols, tls) as unknown as WebSocketLike;
});
