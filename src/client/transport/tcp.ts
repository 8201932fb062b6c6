/** `mqtt://` and `tcp://`: a TCP socket (Node). */
import net from 'node:net';
import { streamTransport } from './stream.js';
import type { TransportFactory } from './transport.js';

export const tcpTransport: TransportFactory = (options, handlers) => {
  const socket = net.connect({ host: options.host, port: options.port });
  socket.setNoDelay(true);
  return streamTransport(socket, handlers, 'connect');
};
