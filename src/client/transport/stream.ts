/** Adapts a Node Duplex (net.Socket, tls.TLSSocket, a WebSocket stream) to the client's Transport. Node only. */
import type { Duplex } from 'node:stream';
import type { Transport, TransportHandlers } from './transport.js';

export function streamTransport(stream: Duplex, handlers: TransportHandlers, openEvent: string): Transport {
  let closed = false;
  let failure: Error | undefined;
  stream.once(openEvent, () => handlers.onOpen());
  stream.on('data', (chunk: Uint8Array) => handlers.onData(chunk));
  stream.on('drain', () => handlers.onDrain());
  stream.on('error', (error: Error) => {
    failure ??= error;
  });
  stream.once('close', () => {
    if (closed) return;
    closed = true;
    handlers.onClose(failure);
  });
  return {
    write: (data) => stream.write(data),
    end: () => {
      stream.end();
    },
    destroy: () => {
      stream.destroy();
    },
  };
}
