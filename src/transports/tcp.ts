/** TCP listener: every accepted socket is handed to the broker as a Duplex. */
import net from 'node:net';
import type { Duplex } from 'node:stream';

export interface TcpListenOptions {
  port?: number;
  host?: string;
}

export async function listenTcp(handle: (stream: Duplex) => void, options: TcpListenOptions = {}): Promise<net.Server> {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    handle(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 1883, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
