/**
 * The composition root: createBroker(options) → Broker. The broker never opens a socket itself except through
 * listen() (TCP, transports/tcp.ts) and listenWebSocket() (transports/ws.ts); handle(duplex) accepts any Duplex
 * (TCP, TLS, a WebSocket stream). close() closes every listener opened through them.
 */
import type net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Properties, QoS } from '../codec/index.js';
import { listenTcp, type TcpListenOptions } from '../transports/tcp.js';
import { listenTls, type TlsListenOptions } from '../transports/tls.js';
import { listenWebSocket, type WsListener, type WsListenOptions } from '../transports/ws.js';
import { Connection, type PeerIdentity } from './connection/connection.js';
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

/** How long close() lets WebSocket clients finish the closing handshake before cutting them off. */
const WS_CLOSE_GRACE_MS = 1000;

export class Broker extends BrokerCore {
  /** Resolves once the store (if any) has been read; listen() waits for it. */
  readonly ready: Promise<void>;
  private restored = false;
  /** What the startup restore read from the store (undefined without a store, or before `ready`). */
  restoreSummary: RestoreSummary | undefined;
  private readonly servers: net.Server[] = [];
  private readonly wsListeners: WsListener[] = [];
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

  /**
   * Serves one client over any Duplex stream. `remoteAddress` if the transport knows it better than the stream;
   * `peer` carries a TLS client certificate (and its CN when used as the user name).
   */
  handle(stream: Duplex, remoteAddress?: string, peer?: PeerIdentity): void {
    if (this.closing) {
      stream.destroy();
      return;
    }
    if (!this.restored) {
      void this.ready.then(
        () => this.handle(stream, remoteAddress, peer),
        () => stream.destroy(),
      );
      return;
    }
    let counted: string | undefined;
    if (this.options.maxConnectionsPerIp > 0) {
      counted = remoteAddress ?? (stream as Partial<net.Socket>).remoteAddress;
      if (!this.addressLimits.opened(counted)) {
        // maxConnectionsPerIp: closed before any MQTT byte is read (a client learns it from the reset).
        this.stats.connectionsLimited++;
        stream.destroy();
        return;
      }
    }
    const connection = new Connection(this, stream, remoteAddress, peer);
    connection.countedAddress = counted;
    this.connections.add(connection);
  }

  /** Listens on TCP (default 127.0.0.1:1883); returns the bound address. */
  async listen(options: TcpListenOptions = {}): Promise<AddressInfo> {
    await this.ready;
    const server = await listenTcp((stream) => this.handle(stream), options);
    this.servers.push(server);
    return server.address() as AddressInfo;
  }

  /**
   * Listens on TLS (`mqtts`, default 127.0.0.1:8883); with `requireCertificate` clients must present a certificate
   * signed by `ca` (mutual TLS). Returns the bound address; close() closes it.
   */
  async listenTls(options: TlsListenOptions): Promise<AddressInfo> {
    await this.ready;
    const server = await listenTls((stream, peer) => this.handle(stream, undefined, peer), {
      handshakeTimeout: this.options.connectTimeout * 1000,
      ...options,
    });
    this.servers.push(server);
    return server.address() as AddressInfo;
  }

  /** Listens on WebSocket (`ws://`, or `wss://` with `tls`; default path /mqtt); close() closes it. */
  async listenWebSocket(options: WsListenOptions = {}): Promise<AddressInfo> {
    await this.ready;
    const listener = await listenWebSocket(this, options);
    this.wsListeners.push(listener);
    return listener.address;
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
    // WebSocket clients were just sent their DISCONNECT and a close frame: they get a moment to answer it.
    closed.push(...this.wsListeners.map((listener) => listener.close(WS_CLOSE_GRACE_MS)));
    await Promise.all(closed);
    for (const session of this.sessions.values()) {
      clearLongTimeout(session.expiryTimer);
    }
    this.wills.stop();
    await this.cluster?.stop(); // cluster hook: leaves the cluster (no-op without one)
    if (this.storeWriter) {
      await this.storeWriter.flush();
      await this.options.store?.close();
    }
  }
}

export function createBroker(options: BrokerOptions = {}): Broker {
  return new Broker(options);
}
