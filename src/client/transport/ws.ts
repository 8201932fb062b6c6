/**
 * `ws://` and `wss://`: MQTT over a WebSocket, for any implementation with the browser's WebSocket API (the
 * browser's own, Node 22's global, or the `ws` package in Node). Binary frames only; a frame may hold many packets
 * or part of one, the decoder does not care. Isomorphic: imports nothing from Node.
 */
import type { ResolvedOptions } from '../options.js';
import type { TransportFactory } from './transport.js';

/** The subset of the WebSocket API the transport uses. */
export interface WebSocketLike {
  binaryType: string;
  readonly bufferedAmount: number;
  readonly protocol: string;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
}

/** Creates the socket: `(url, subprotocols, options) => new WebSocket(url, subprotocols[, nodeOptions])`. */
export type WebSocketConstructor = (url: string, protocols: string[], options: ResolvedOptions) => WebSocketLike;

/** Bytes buffered in the socket above which writes report congestion. */
const HIGH_WATER_MARK = 1024 * 1024;

export function webSocketUrl(options: ResolvedOptions): string {
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const path = options.path.startsWith('/') ? options.path : `/${options.path}`;
  return `${options.protocol}://${host}:${options.port}${path}`;
}

function toBytes(data: unknown): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError('MQTT over WebSocket needs binary frames; a text frame arrived');
}

export function webSocketTransport(create: WebSocketConstructor): TransportFactory {
  return (options, handlers) => {
    const subprotocol = options.wsProtocol ?? (options.protocolVersion === 3 ? 'mqttv3.1' : 'mqtt');
    const socket = create(webSocketUrl(options), [subprotocol], options);
    socket.binaryType = 'arraybuffer';
    let closed = false;
    let failure: Error | undefined;
    let drainTimer: ReturnType<typeof setInterval> | undefined;
    const finish = (error?: Error) => {
      if (closed) return;
      closed = true;
      if (drainTimer !== undefined) clearInterval(drainTimer);
      handlers.onClose(error);
    };
    socket.onopen = () => handlers.onOpen();
    socket.onmessage = (event) => {
      try {
        handlers.onData(toBytes(event.data));
      } catch (error) {
        failure = error as Error;
        socket.close(1003);
      }
    };
    socket.onerror = (event) => {
      const message = (event as { message?: string }).message ?? 'WebSocket error';
      failure ??= new Error(message);
    };
    socket.onclose = (event) => {
      finish(
        failure ??
          (event.code === 1000 || event.code === 1005
            ? undefined
            : new Error(`WebSocket closed: ${event.code} ${event.reason}`)),
      );
    };
    return {
      write(data) {
        socket.send(data);
        if (socket.bufferedAmount < HIGH_WATER_MARK) return true;
        // The WebSocket API has no 'drain' event: poll bufferedAmount while congested.
        drainTimer ??= setInterval(() => {
          if (socket.bufferedAmount >= HIGH_WATER_MARK) return;
          clearInterval(drainTimer);
          drainTimer = undefined;
          handlers.onDrain();
        }, 10);
        return false;
      },
      end() {
        socket.close(1000);
      },
      destroy() {
        const terminate = (socket as { terminate?: () => void }).terminate;
        if (typeof terminate === 'function') terminate.call(socket);
        else socket.close(1000);
        // A browser WebSocket reports close asynchronously; the client must not wait for it.
        finish(failure);
      },
    };
  };
}
