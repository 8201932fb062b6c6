/**
 * `midge broker`: run a broker on TCP (and on WebSocket with --ws-port). With no options it listens on
 * 127.0.0.1:1883 only — like Mosquitto 2.x without a configuration file ("local only mode"); pass --host 0.0.0.0 to
 * accept remote clients.
 *
 * State is persisted in SQLite (./data/midge.db) unless --store says otherwise (docs/persistence.md). SIGTERM /
 * SIGINT: stop listening, disconnect clients, flush and close the store, exit 0.
 */
import { join, resolve } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { type Logger, pino } from 'pino';
import { type AdminServer, isLoopback, startAdminServer } from '../../admin/index.js';
import { createBroker } from '../../broker/broker.js';
import { DEFAULT_OPTIONS } from '../../broker/options.js';
import type { RestoreSummary } from '../../broker/restore.js';
import { createStore, type Store, type StoreKind } from '../../broker/store/index.js';
import { addEnvironmentVariables, applyConfigFile, describeConfig } from '../config/index.js';
import { integer } from '../config/options.js';
import {
  addSecurityOptions,
  type SecurityCommandOptions,
  type SecuritySetup,
  securityFromOptions,
  startSecureListeners,
} from './broker-security.js';

const DEFAULT_DATA_DIR = './data';
const SQLITE_FILE = 'midge.db';
const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

function redisUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError('expected a URL such as redis://127.0.0.1:6379');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new InvalidArgumentError('expected a redis:// or rediss:// URL');
  }
  return value;
}

function describeRestore(summary: RestoreSummary): string {
  const parts = [
    `${summary.sessions} sessions (${summary.subscriptions} subscriptions)`,
    `${summary.retained} retained messages`,
    `${summary.queued} queued and ${summary.inflight} in-flight messages`,
  ];
  if (summary.expiredSessions > 0) parts.push(`${summary.expiredSessions} expired sessions deleted`);
  if (summary.droppedMessages + summary.droppedRetained > 0) {
    parts.push(`${summary.droppedMessages + summary.droppedRetained} messages over the limits dropped`);
  }
  return `restored ${parts.join(', ')} in ${summary.durationMs} ms`;
}

function wsPath(value: string): string {
  if (!value.startsWith('/')) throw new InvalidArgumentError('expected a path starting with /, such as /mqtt');
  return value;
}

interface BrokerCommandOptions {
  host: string;
  port: number;
  logLevel: string;
  logFormat: 'auto' | 'pretty' | 'json';
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
  maxRetainedMessages: number;
  store: StoreKind;
  dataDir: string;
  redis: string;
  sqliteSync: 'normal' | 'full';
  adminPort?: number;
  adminHost: string;
  adminToken?: string;
  adminInsecure?: boolean;
  wsPort?: number;
  wsHost?: string;
  wsPath: string;
  cluster?: string;
  nodeId?: string;
  clusterPrefix: string;
  config?: string;
  checkConfig?: string;
}

/** Where an option's value came from counts as given unless it is the default. */
function isGiven(command: Command, name: string): boolean {
  const source = command.getOptionValueSource(name);
  return source === 'cli' || source === 'config' || source === 'env';
}

/** The store the flags ask for, or a message saying why the flags do not fit together. */
function storeFromOptions(
  options: BrokerCommandOptions,
  command: Command,
): { store: Store | undefined; where: string } | string {
  const given = (name: string) => isGiven(command, name);
  if (options.store !== 'sqlite' && (given('dataDir') || given('sqliteSync'))) {
    return '--data-dir and --sqlite-sync apply to --store sqlite only';
  }
  if (options.store !== 'redis' && given('redis')) return '--redis applies to --store redis only';
  switch (options.store) {
    case 'memory':
      // No store at all: the broker's own memory is the state, and nothing is copied for a restart that would lose it.
      return { store: undefined, where: 'memory (nothing survives a restart)' };
    case 'sqlite': {
      // In a cluster, nodes on one host must not share a file: the default folder gets the node id.
      const dir =
        options.cluster !== undefined && !given('dataDir') ? join(options.dataDir, options.nodeId!) : options.dataDir;
      const path = resolve(dir, SQLITE_FILE);
      const synchronous = options.sqliteSync === 'full' ? 'FULL' : 'NORMAL';
      return {
        store: createStore('sqlite', { path, synchronous }),
        where: `sqlite ${path} (synchronous=${synchronous})`,
      };
    }
    case 'redis': {
      if (options.cluster === undefined) {
        return { store: createStore('redis', { url: options.redis }), where: `redis ${options.redis}` };
      }
      // In a cluster each node keeps its state under its own prefix, on the cluster's Redis unless --redis says
      // otherwise; there, another node can adopt the sessions of a node that died (docs/cluster.md).
      const url = given('redis') ? options.redis : options.cluster;
      const prefix = `${options.clusterPrefix}store:${options.nodeId}:`;
      return { store: createStore('redis', { url, prefix }), where: `redis ${url} (prefix '${prefix}')` };
    }
  }
}

export function registerBrokerCommand(program: Command): void {
  const d = DEFAULT_OPTIONS;
  const brokerCommand = program
    .command('broker')
    .description('run an MQTT 3.1/3.1.1/5.0 broker over TCP (and WebSocket with --ws-port)')
    .option('-H, --host <address>', 'address to listen on (0.0.0.0 for all interfaces)', '127.0.0.1')
    .option('-p, --port <port>', 'TCP port to listen on', integer(0, 65_535), 1883)
    .addOption(
      new Option('--log-level <level>', 'log level')
        .choices(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])
        .default('info'),
    )
    .addOption(
      new Option(
        '--log-format <format>',
        'log lines: pretty (colours, for a terminal), json, or auto (pretty on a terminal)',
      )
        .choices(['auto', 'pretty', 'json'])
        .default('auto'),
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
    .option(
      '--max-retained-messages <n>',
      'retained messages kept; when full a new retained topic is not retained (0 = no limit)',
      integer(0, 1_000_000_000),
      d.maxRetainedMessages,
    )
    .addOption(
      new Option(
        '--store <kind>',
        'where sessions, queued/in-flight messages and retained messages are persisted: memory (nothing survives ' +
          'a restart), sqlite (a file, see --data-dir) or redis (see --redis)',
      )
        .choices(['memory', 'sqlite', 'redis'])
        .default('sqlite'),
    )
    .option(
      '--data-dir <dir>',
      `folder of the SQLite store (file ${SQLITE_FILE}; created if missing; with --cluster the default gets /<node-id>)`,
      DEFAULT_DATA_DIR,
    )
    .addOption(
      new Option(
        '--sqlite-sync <mode>',
        'SQLite synchronous mode: normal survives a crash of the process, full also a power loss (slower)',
      )
        .choices(['normal', 'full'])
        .default('normal'),
    )
    .option('--redis <url>', 'Redis server of the redis store', redisUrl, DEFAULT_REDIS_URL)
    .option(
      '--admin-port <port>',
      'serve the admin HTTP server (dashboard at /, /api/v1, /metrics) on this port (off by default)',
      integer(0, 65_535),
    )
    .option('--admin-host <address>', 'address of the admin server', '127.0.0.1')
    .option(
      '--admin-token <token>',
      'require Authorization: Bearer <token> for the admin API and /metrics (or set MIDGE_ADMIN_TOKEN)',
    )
    .option('--admin-insecure', 'allow a non-loopback --admin-host without --admin-token (anyone reaching it is admin)')
    .option('--ws-port <port>', 'also serve MQTT over WebSocket (ws://) on this port', integer(0, 65_535))
    .option('--ws-host <address>', 'address of the WebSocket listener (default: --host)')
    .option('--ws-path <path>', 'URL path of the WebSocket listener', wsPath, '/mqtt')
    .option('--cluster <url>', 'join the cluster of the nodes sharing this Redis (docs/cluster.md)', redisUrl)
    .option('--node-id <name>', "this node's name in the cluster (default: <hostname>-<pid>-<random>)")
    .option('--cluster-prefix <prefix>', "prefix of the cluster's Redis keys and channels", 'midge:cluster:')
    .option('--config <file>', 'read the options from a Midge JSON file or a mosquitto.conf (flags override it)')
    .option('--check-config <file>', 'validate a config file, print what it sets and exit (0 if valid, else 1)')
    .action(async (flags: BrokerCommandOptions, command: Command) => {
      if (flags.checkConfig !== undefined) {
        if (flags.config !== undefined) command.error('error: --config and --check-config do not go together');
        const loaded = applyConfigFile(command, flags.checkConfig);
        if (loaded.errors.length === 0) {
          try {
            securityFromOptions(command.opts() as SecurityCommandOptions);
          } catch (error) {
            loaded.errors.push(`${loaded.file}: ${(error as Error).message}`);
          }
        }
        if (loaded.errors.length > 0) {
          process.stderr.write(`${loaded.errors.join('\n')}\n`);
          process.exit(1);
        }
        process.stdout.write(describeConfig(loaded));
        process.exit(0);
      }
      if (flags.config !== undefined) {
        const loaded = applyConfigFile(command, flags.config);
        if (loaded.errors.length > 0) {
          process.stderr.write(`${loaded.errors.join('\n')}\n`);
          process.exit(1);
        }
      }
      const options = command.opts() as BrokerCommandOptions;
      const logger = createLogger(options);
      if (options.config !== undefined) logger.info({ config: resolve(options.config) }, `config: ${options.config}`);
      const given = (name: string) => isGiven(command, name);
      if (options.cluster === undefined && (given('nodeId') || given('clusterPrefix'))) {
        command.error('error: --node-id and --cluster-prefix apply to --cluster only');
      }
      if (options.cluster !== undefined && options.nodeId === undefined) {
        const { defaultNodeId } = await import('../../broker/cluster/index.js');
        options.nodeId = defaultNodeId();
      }
      const chosen = storeFromOptions(options, command);
      if (typeof chosen === 'string') command.error(`error: ${chosen}`);
      const { store, where } = chosen as { store: Store | undefined; where: string };
      let secure: SecuritySetup;
      try {
        secure = securityFromOptions(options as unknown as SecurityCommandOptions);
      } catch (error) {
        command.error(`error: ${(error as Error).message}`);
      }
      const broker = createBroker({
        ...secure.brokerOptions,
        store,
        maxRetainedMessages: options.maxRetainedMessages,
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
      let address: Awaited<ReturnType<typeof broker.listen>>;
      let admin: AdminServer | undefined;
      let wsAddress: typeof address | undefined;
      let logSecureListeners = () => {};
      try {
        await broker.ready;
        if (broker.restoreSummary !== undefined) {
          logger.info({ store: where, ...broker.restoreSummary }, describeRestore(broker.restoreSummary));
        } else {
          logger.info({ store: where }, `store: ${where}`);
        }
        if (options.cluster !== undefined) {
          // Loaded only with --cluster; broker.close() leaves the cluster.
          const { startCluster } = await import('../../broker/cluster/index.js');
          await startCluster(broker, { url: options.cluster, nodeId: options.nodeId, prefix: options.clusterPrefix });
        }
        address = await broker.listen({ host: options.host, port: options.port });
        logSecureListeners = await startSecureListeners(broker, secure, logger);
        if (options.wsPort !== undefined) {
          // Closed by broker.close() with the TCP listener.
          wsAddress = await broker.listenWebSocket({
            host: options.wsHost ?? options.host,
            port: options.wsPort,
            path: options.wsPath,
          });
        }
        if (options.adminPort !== undefined) {
          admin = await startAdminServer(broker, {
            port: options.adminPort,
            host: options.adminHost,
            token: options.adminToken ?? process.env.MIDGE_ADMIN_TOKEN,
            allowRemoteWithoutToken: options.adminInsecure === true,
            logger,
          });
          const a = admin.address;
          const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
          if (!isLoopback(a.address) && admin.options.token === undefined) {
            logger.warn('the admin server accepts anyone on the network (--admin-insecure, no --admin-token)');
          }
          logger.info(
            { address: a.address, port: a.port },
            `midge admin (dashboard, API, metrics) on http://${host}:${a.port}/`,
          );
        }
      } catch (error) {
        await admin?.close().catch(() => {});
        logger.fatal({ err: error, store: where }, `cannot start: ${(error as Error).message}`);
        await broker.close().catch(() => {});
        process.exit(1);
      }
      logger.info(
        { address: address.address, port: address.port },
        `midge broker listening on ${address.address}:${address.port}`,
      );
      if (wsAddress !== undefined) {
        logger.info(
          { address: wsAddress.address, port: wsAddress.port, path: options.wsPath },
          `midge broker listening on ws://${wsAddress.address}:${wsAddress.port}${options.wsPath}`,
        );
      }
      logSecureListeners();
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, 'shutting down');
        Promise.all([admin?.close(), broker.close()]).then(
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
  addSecurityOptions(brokerCommand);
  addEnvironmentVariables(brokerCommand);
}

/** JSON lines, or pino-pretty (in a worker thread) when asked or when stdout is a terminal. */
function createLogger(options: BrokerCommandOptions): Logger {
  const pretty = options.logFormat === 'pretty' || (options.logFormat === 'auto' && process.stdout.isTTY === true);
  if (!pretty) return pino({ level: options.logLevel });
  return pino({
    level: options.logLevel,
    transport: {
      target: 'pino-pretty',
      options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' },
    },
  });
}
