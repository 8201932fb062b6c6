/**
 * The composition root: createBroker(options) → Broker. The broker never opens a socket itself except through
 * listen() (TCP, transports/tcp.ts); handle(duplex) accepts any Duplex (TCP, TLS, a WebSocket stream).
 */
import type net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Properties, QoS } from '../codec/index.js';
import { listenTcp, type TcpListenOptions } from '../transports/tcp.js';
import { Connection } from './connection/connection.js';
import { BrokerCore } from './core.js';
import { createMessage, type Message } from './message.js';
import { type BrokerOptions, resolveOptions } from './options.js';
import { type RestoreSummary, restoreState } from './restore.js';
import { SysPublisher } from './sys.js';
import { clearLongTimeout } from './timers.js';

export interface PublishOptions {
  qos?: QoS;
  retain?: boolean;
  properties?: Properties;
}

export class Broker extends BrokerCore {
  /** Resolves once the store (if any) has been read; listen() waits for it. */
  readonly ready: Promise<void>;
  private restored = false;
  /** What the startup restore read from the store (undefined without a store, or before `ready`). */
  restoreSummary: RestoreSummary | undefined;
  private readonly servers: net.Server[] = [];
  private readonly sys: SysPublisher;

  constructor(options: BrokerOptions = {}) {
    super(resolveOptions(options));
    this.sys = new SysPublisher(this);
    this.ready = restoreState(this).then((summary) => {
      this.restoreSummary = summary;
      this.restored = true;
      this.sys.start(this.options.sysInterval);
    });
  }

  /** Serves one client over any Duplex stream. */
  handle(stream: Duplex, remoteAddress?: string): void {
    if (this.closing) {
      stream.destroy();
      return;
    }
    if (!this.restored) {
      void this.ready.then(
        () => this.handle(stream, remoteAddress),
        () => stream.destroy(),
      );
      return;
    }
    this.connections.add(new Connection(this, stream, remoteAddress));
  }

  /** Listens on TCP (default 127.0.0.1:1883); returns the bound address. */
  async listen(options: TcpListenOptions = {}): Promise<AddressInfo> {
    await this.ready;
    const server = await listenTcp((stream) => this.handle(stream), options);
    this.servers.push(server);
    return server.address() as AddressInfo;
  }

  /** Publishes a message from the application embedding the broker. */
  publishMessage(topic: string, payload: Uint8Array | string, options: PublishOptions = {}): number {
    const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
    const message: Message = createMessage(
      topic,
      bytes,
      options.qos ?? 0,
      options.retain ?? false,
      options.properties,
      undefined,
      Date.now(),
    );
    return this.publish(message);
  }

  /** Counters plus the sizes of the broker's state. */
  get snapshot() {
    return {
      ...this.stats,
      sessions: this.sessions.size,
      subscriptions: this.trie.size,
      retained: this.retained.size,
    };
  }

  /** Stops listening, disconnects every client (5.0: DISCONNECT 0x8B), flushes and closes the store. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await this.ready.catch(() => {});
    this.sys.stop();
    const closed = this.servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve())));
    this.disconnectAll();
    await Promise.all(closed);
    for (const session of this.sessions.values()) {
      clearLongTimeout(session.expiryTimer);
    }
    this.wills.stop();
    if (this.storeWriter) {
      await this.storeWriter.flush();
      await this.options.store?.close();
    }
  }
}

export function createBroker(options: BrokerOptions = {}): Broker {
  return new Broker(options);
}
