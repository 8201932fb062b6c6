/**
 * WebSocket listeners (`ws://`, `wss://`) for the broker: each WebSocket on `path` (default `/mqtt`) that agreed on
 * the subprotocol `mqtt` (3.1.1, 5.0) or `mqttv3.1` (3.1) becomes a Duplex handed to `broker.handle()`, so TCP and
 * WebSocket connections share all connection handling. MQTT packets and WebSocket frames are independent: a frame
 * may carry many packets and a packet may span frames (the broker's decoder reassembles the byte stream).
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { createWebSocketStream, WebSocketServer } from 'ws';

/** Subprotocols accepted, in order of preference (MQTT 3.1.1 §6.0, MQTT 5.0 §6.0). */
export const MQTT_SUBPROTOCOLS = ['mqtt', 'mqttv3.1'] as const;

export interface WsListenOptions {
  /** Default 8080 (ws) or 8443 (wss); 0 for an ephemeral port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** URL path served. Default '/mqtt'. */
  path?: string;
  /** TLS options (key, cert, ca, requestCert, …): serve `wss://` instead of `ws://`. */
  tls?: https.ServerOptions;
  /** Largest WebSocket message accepted, bytes. Default 256 MiB + 5 (the largest MQTT packet). */
  maxPayload?: number;
}

export interface WsListener {
  readonly address: AddressInfo;
  /**
   * Stops accepting. Open WebSockets get `graceMs` (default 0) to finish closing (the broker ends them when it
   * closes), then are terminated. Calling it again returns the same promise.
   */
  close(graceMs?: number): Promise<void>;
}

/** The part of the broker a listener needs. */
export interface StreamHandler {
  handle(stream: Duplex, remoteAddress?: string): void;
}

/**
 * Picks the subprotocol: the first offered one we speak. A client that offers none is accepted without one (some
 * clients omit the header); a client that offers only others is refused during the handshake.
 */
export function selectSubprotocol(offered: Set<string>): string | false {
  for (const protocol of MQTT_SUBPROTOCOLS) if (offered.has(protocol)) return protocol;
  return false;
}

export async function listenWebSocket(broker: StreamHandler, options: WsListenOptions = {}): Promise<WsListener> {
  const server = options.tls === undefined ? http.createServer() : https.createServer(options.tls);
  server.on('request', (_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
    res.end('MQTT over WebSocket: connect with a WebSocket client\n');
  });
  const wss = new WebSocketServer({
    server,
    path: options.path ?? '/mqtt',
    maxPayload: options.maxPayload ?? 268_435_460,
    perMessageDeflate: false,
    handleProtocols: selectSubprotocol,
  });
  wss.on('connection', (socket, request) => {
    const stream = createWebSocketStream(socket);
    // A stream error (a peer that vanished) is reported through the broker's close handling, not thrown.
    stream.on('error', () => {});
    broker.handle(stream, request.socket.remoteAddress);
  });
  const defaultPort = options.tls === undefined ? 8080 : 8443;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? defaultPort, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  let closing: Promise<void> | undefined;
  const close = async (graceMs = 0): Promise<void> => {
    const open = [...wss.clients].filter((client) => client.readyState !== client.CLOSED);
    if (graceMs > 0 && open.length > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        let left = open.length;
        for (const client of open) {
          client.once('close', () => {
            if (--left === 0) {
              clearTimeout(timer);
              resolve();
            }
          });
        }
      });
    }
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => server.close(() => resolve())));
  };
  return {
    address: server.address() as AddressInfo,
    close: (graceMs) => {
      closing ??= close(graceMs);
      return closing;
    },
  };
}
