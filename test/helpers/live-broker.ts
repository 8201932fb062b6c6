/**
 * One broker for a whole test file (started in beforeAll, closed in afterAll) and raw clients on it that are ended
 * after each test.
 */
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { Broker } from '../../src/broker/broker.js';
import type { BrokerOptions } from '../../src/broker/options.js';
import type { ConnackPacket, ProtocolVersion, Subscription } from '../../src/codec/index.js';
import { type StartedBroker, startBroker, withBroker } from './broker.js';
import { type ConnectOptions, RawClient, subscribe } from './raw-client.js';

export interface LiveBroker {
  /** The port of the file's broker (inside tests and hooks only). */
  readonly port: number;
  readonly broker: Broker;
  /** CONNECT (to `port`, default the file's broker) and CONNACK; the client is ended after the test. */
  connect(options?: ConnectOptions, port?: number): Promise<RawClient>;
  /** Like connect, with the CONNACK. */
  connectWithConnack(options?: ConnectOptions, port?: number): Promise<{ client: RawClient; connack: ConnackPacket }>;
  /** A subscriber to `filters` (SUBACK received), then a publisher, both connected with the same options. */
  pair(
    filters: (string | Subscription)[],
    options?: ConnectOptions,
    port?: number,
  ): Promise<{ sub: RawClient; pub: RawClient }>;
  /** A TCP connection without MQTT traffic; ended after the test. */
  open(protocolVersion?: ProtocolVersion, port?: number): Promise<RawClient>;
  /** Ends the clients made so far (afterEach does it too). */
  endClients(): Promise<void>;
  /** Runs `test` with a broker of its own; then ends the clients made so far and closes that broker. */
  withBroker<T>(options: BrokerOptions, test: (own: StartedBroker) => Promise<T>): Promise<T>;
}

/** `defaults`: CONNECT options of every client made by connect and pair (the options given override them). */
export function useLiveBroker(options: BrokerOptions = {}, defaults: ConnectOptions = {}): LiveBroker {
  let started: StartedBroker | undefined;
  const clients: RawClient[] = [];
  const current = (): StartedBroker => {
    if (started === undefined) throw new Error('the broker is started in beforeAll: use it in tests and hooks');
    return started;
  };
  const endClients = async () => {
    for (const c of clients.splice(0)) await c.end().catch(() => {});
  };
  const connectWithConnack = async (connectOptions: ConnectOptions = {}, port = current().port) => {
    const result = await RawClient.connect(port, { ...defaults, ...connectOptions });
    clients.push(result.client);
    return result;
  };
  const connect = async (connectOptions?: ConnectOptions, port?: number) =>
    (await connectWithConnack(connectOptions, port)).client;

  beforeAll(async () => {
    started = await startBroker(options);
  });
  afterAll(() => started?.close());
  afterEach(endClients);

  return {
    get port() {
      return current().port;
    },
    get broker() {
      return current().broker;
    },
    connectWithConnack,
    connect,
    async pair(filters, connectOptions, port) {
      const sub = await connect(connectOptions, port);
      await subscribe(sub, filters);
      const pub = await connect(connectOptions, port);
      return { sub, pub };
    },
    async open(protocolVersion, port = current().port) {
      const client = await RawClient.open(port, protocolVersion);
      clients.push(client);
      return client;
    },
    endClients,
    withBroker(brokerOptions, test) {
      return withBroker(brokerOptions, async (own) => {
        try {
          return await test(own);
        } finally {
          await endClients();
        }
      });
    },
  };
}
