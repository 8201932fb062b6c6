/** A TCP proxy for tests: forwards to a broker, and can stop forwarding (broker unreachable) or cut connections. */
import net from 'node:net';

export interface TcpProxy {
  port: number;
  /** Stops forwarding in both directions; sockets stay open (a silent network). */
  pause(): void;
  resume(): void;
  /** Destroys every proxied connection. */
  cut(): void;
  /** While true, new connections are closed at once (the broker is down). */
  refuse: boolean;
  close(): Promise<void>;
}

export async function startProxy(targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<[net.Socket, net.Socket]>();
  let paused = false;
  const proxy = { refuse: false } as TcpProxy;
  const server = net.createServer((client) => {
    if (proxy.refuse) {
      client.destroy();
      return;
    }
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    const forward = (from: net.Socket, to: net.Socket) =>
      from.on('data', (chunk) => {
        if (!paused) to.write(chunk);
      });
    forward(client, upstream);
    forward(upstream, client);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  Object.assign(proxy, {
    port: address.port,
    pause: () => {
      paused = true;
    },
    resume: () => {
      paused = false;
    },
    cut: () => {
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      pairs.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const [a, b] of pairs) {
          a.destroy();
          b.destroy();
        }
        server.close(() => resolve());
      }),
  });
  return proxy;
}
