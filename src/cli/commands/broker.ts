/**
 * `midge broker`: run a broker on TCP. With no options it listens on 127.0.0.1:1883 only — like Mosquitto 2.x
 * without a configuration file ("local only mode"); pass --host 0.0.0.0 to accept remote clients.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { pino } from 'pino';
import { createBroker } from '../../broker/broker.js';
import { DEFAULT_OPTIONS } from '../../broker/options.js';

function integer(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected an integer in ${min}..${max}`);
    return n;
  };
}

interface BrokerCommandOptions {
  host: string;
  port: number;
  logLevel: string;
  connectTimeout: number;
  maxConnections: number;
  maxInflight: number;
  maxQueuedMessages: number;
  maxPacketSize: number;
  maxKeepAlive: number;
  topicAliasMaximum: number;
  sysInterval: number;
  maximumQos: number;
  retain: boolean;
  queueQos0: boolean;
}

export function registerBrokerCommand(program: Command): void {
  const d = DEFAULT_OPTIONS;
  program
    .command('broker')
    .description('run an MQTT 3.1/3.1.1/5.0 broker over TCP')
    .option('-H, --host <address>', 'address to listen on (0.0.0.0 for all interfaces)', '127.0.0.1')
    .option('-p, --port <port>', 'TCP port to listen on', integer(0, 65_535), 1883)
    .addOption(
      new Option('--log-level <level>', 'log level')
        .choices(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])
        .default('info'),
    )
    .option('--connect-timeout <seconds>', 'seconds a client has to send CONNECT', integer(1, 3600), d.connectTimeout)
    .option('--max-connections <n>', 'simultaneous clients (0 = no limit)', integer(0, 10_000_000), d.maxConnections)
    .option(
      '--max-inflight <n>',
      'unacknowledged QoS 1/2 messages per client (Receive Maximum)',
      integer(1, 65_535),
      d.maxInflight,
    )
    .option(
      '--max-queued-messages <n>',
      'messages queued per session before dropping',
      integer(0, 100_000_000),
      d.maxQueuedMessages,
    )
    .option(
      '--max-packet-size <bytes>',
      'largest packet accepted from a client',
      integer(2, d.maxPacketSize),
      d.maxPacketSize,
    )
    .option(
      '--max-keep-alive <seconds>',
      'largest keep alive for MQTT 5.0 clients (0 = no limit)',
      integer(0, 65_535),
      d.maxKeepAlive,
    )
    .option(
      '--topic-alias-maximum <n>',
      'topic aliases a 5.0 client may use (0 disables)',
      integer(0, 65_535),
      d.topicAliasMaximum,
    )
    .option(
      '--sys-interval <seconds>',
      'seconds between $SYS updates (0 disables $SYS)',
      integer(0, 86_400),
      d.sysInterval,
    )
    .option('--maximum-qos <qos>', 'highest QoS accepted and granted (0, 1 or 2)', integer(0, 2), d.maximumQoS)
    .option('--no-retain', 'refuse retained messages (Retain Available = 0)')
    .option('--queue-qos0', 'also queue QoS 0 messages for offline persistent sessions')
    .action(async (options: BrokerCommandOptions) => {
      const logger = pino({ level: options.logLevel });
      const broker = createBroker({
        logger,
        connectTimeout: options.connectTimeout,
        maxConnections: options.maxConnections,
        maxInflight: options.maxInflight,
        maxQueuedMessages: options.maxQueuedMessages,
        maxPacketSize: options.maxPacketSize,
        maxKeepAlive: options.maxKeepAlive,
        topicAliasMaximum: options.topicAliasMaximum,
        sysInterval: options.sysInterval,
        retainAvailable: options.retain,
        maximumQoS: options.maximumQos as 0 | 1 | 2,
        queueQos0Offline: options.queueQos0 ?? false,
      });
      const address = await broker.listen({ host: options.host, port: options.port });
      logger.info(
        { address: address.address, port: address.port },
        `midge broker listening on ${address.address}:${address.port}`,
      );
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, 'shutting down');
        broker.close().then(
          () => process.exit(0),
          (error: unknown) => {
            logger.error({ err: error }, 'error while shutting down');
            process.exit(1);
          },
        );
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
}
