/** Starts a broker on 127.0.0.1 with an ephemeral port for one test file or test. */
import { type Broker, createBroker } from '../../src/broker/broker.js';
import type { BrokerOptions } from '../../src/broker/options.js';

export interface StartedBroker {
  broker: Broker;
  port: number;
  close(): Promise<void>;
}

export async function startBroker(options: BrokerOptions = {}): Promise<StartedBroker> {
  const broker = createBroker({ sysInterval: 0, ...options });
  const address = await broker.listen({ host: '127.0.0.1', port: 0 });
  return { broker, port: address.port, close: () => broker.close() };
}

/** Runs `test` with a broker of its own, closed afterwards whatever happens. */
export async function withBroker<T>(options: BrokerOptions, test: (own: StartedBroker) => Promise<T>): Promise<T> {
  const own = await startBroker(options);
  try {
    return await test(own);
  } finally {
    await own.close();
  }
}
