/** `mqtts://`, `ssl://`, `tls://`: a TLS socket (Node); ca, cert, key, rejectUnauthorized, servername passed through. */
import net from 'node:net';
import tls from 'node:tls';
import { streamTransport } from './stream.js';
import type { TransportFactory } from './transport.js';

type Pem = tls.ConnectionOptions['ca'];

export const tlsTransport: TransportFactory = (options, handlers) => {
  const connectOptions: tls.ConnectionOptions = { host: options.host, port: options.port };
  if (options.ca !== undefined) connectOptions.ca = options.ca as Pem;
  if (options.cert !== undefined) connectOptions.cert = options.cert as Pem;
  if (options.key !== undefined) connectOptions.key = options.key as Pem;
  if (options.rejectUnauthorized !== undefined) connectOptions.rejectUnauthorized = options.rejectUnauthorized;
  const servername = options.servername ?? (net.isIP(options.host) === 0 ? options.host : undefined);
  if (servername !== undefined) connectOptions.servername = servername;
  const socket = tls.connect(connectOptions);
  socket.setNoDelay(true);
  return streamTransport(socket, handlers, 'secureConnect');
};
