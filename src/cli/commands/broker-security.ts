/**
 * The security flags of `midge broker` (docs/security.md): password and ACL files, anonymous access, the TLS
 * listeners (mqtts, wss) with mutual TLS, and the abuse limits. Kept apart from broker.ts: registered on the command
 * with addSecurityOptions, read with securityFromOptions, listeners opened with startSecureListeners. SIGHUP re-reads
 * the password and ACL files (a bad file is logged and the old contents stay in force).
 */
import { readFileSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { type Command, Option } from 'commander';
import type { Logger } from 'pino';
import { FileSecurity } from '../../broker/auth/file-security.js';
import { ConfigFileError } from '../../broker/auth/password-file.js';
import type { Broker } from '../../broker/broker.js';
import { type BrokerOptions, DEFAULT_OPTIONS } from '../../broker/options.js';
import type { TlsListenOptions } from '../../transports/tls.js';
import { bool, integer } from '../config/options.js';

export interface SecurityCommandOptions {
  passwordFile?: string;
  aclFile?: string;
  allowAnonymous?: boolean;
  tlsPort?: number;
  tlsHost?: string;
  wssPort?: number;
  cert?: string;
  key?: string;
  cafile?: string;
  requireCertificate?: boolean;
  useIdentityAsUsername?: boolean;
  maxConnectionsPerIp: number;
  connectRatePerIp: number;
  publishRate: number;
  publishByteRate: number;
  publishRateAction: 'disconnect' | 'reject';
  maxSubscriptionsPerClient: number;
  maxTopicLength: number;
  maxTopicLevels: number;
  authFailureThreshold: number;
  authFailureWindow: number;
  authBackoffMax: number;
  host: string;
}

export const DEFAULT_TLS_PORT = 8883;

const count = integer;

export function addSecurityOptions(command: Command): Command {
  const d = DEFAULT_OPTIONS;
  return command
    .option('--password-file <file>', 'password file (midge passwd or mosquitto_passwd); SIGHUP re-reads it')
    .option('--acl-file <file>', "ACL file in Mosquitto's syntax; SIGHUP re-reads it")
    .option(
      '--allow-anonymous <true|false>',
      'accept clients without user name (default: false with --password-file, else true)',
      bool,
    )
    .option(
      '--tls-port <port>',
      `serve MQTT over TLS (mqtts) on this port (default ${DEFAULT_TLS_PORT} with --cert)`,
      count(0, 65_535),
    )
    .option('--tls-host <address>', 'address of the TLS listeners (default: --host)')
    .option('--wss-port <port>', 'serve MQTT over secure WebSocket (wss://, path /mqtt) on this port', count(0, 65_535))
    .option('--cert <file>', 'PEM server certificate of the TLS listeners')
    .option('--key <file>', 'PEM private key of --cert')
    .option('--cafile <file>', 'PEM CA certificate(s) that client certificates must be signed by')
    .option('--require-certificate', 'clients must present a certificate signed by --cafile (mutual TLS)')
    .option('--use-identity-as-username', "use the client certificate's CN as user name (needs --require-certificate)")
    .option(
      '--max-connections-per-ip <n>',
      'open sockets per remote address (0 = no limit)',
      count(0, 10_000_000),
      d.maxConnectionsPerIp,
    )
    .option(
      '--connect-rate-per-ip <n>',
      'CONNECTs per second per remote address (0 = no limit)',
      count(0, 1_000_000),
      d.connectRatePerIp,
    )
    .option(
      '--publish-rate <n>',
      'PUBLISH packets per second per client (0 = no limit)',
      count(0, 100_000_000),
      d.publishRate,
    )
    .option(
      '--publish-byte-rate <bytes>',
      'PUBLISH bytes per second per client (0 = no limit)',
      count(0, 1_000_000_000_000),
      d.publishByteRate,
    )
    .addOption(
      new Option(
        '--publish-rate-action <action>',
        'MQTT 5.0 client over the publish rate: disconnect (DISCONNECT 0x96) or reject (0x97 on the ack)',
      )
        .choices(['disconnect', 'reject'])
        .default(d.publishRateAction),
    )
    .option(
      '--max-subscriptions-per-client <n>',
      'subscriptions per client (0 = no limit)',
      count(0, 100_000_000),
      d.maxSubscriptionsPerClient,
    )
    .option(
      '--max-topic-length <bytes>',
      'longest topic name or filter (0 = no limit)',
      count(0, 65_535),
      d.maxTopicLength,
    )
    .option(
      '--max-topic-levels <n>',
      'most levels in a topic name or filter (0 = no limit)',
      count(0, 65_535),
      d.maxTopicLevels,
    )
    .option(
      '--auth-failure-threshold <n>',
      'failed authentications from one address before it is refused for a while (0 = no back-off)',
      count(0, 1_000_000),
      d.authFailureThreshold,
    )
    .option(
      '--auth-failure-window <seconds>',
      'window in which failed authentications are counted',
      count(1, 86_400),
      d.authFailureWindow,
    )
    .option(
      '--auth-backoff-max <seconds>',
      'longest refusal of an address after failed authentications',
      count(1, 86_400),
      d.authBackoffMax,
    );
}

export interface SecuritySetup {
  brokerOptions: BrokerOptions;
  security: FileSecurity | undefined;
  tls: Omit<TlsListenOptions, 'port'> | undefined;
  tlsPort: number | undefined;
  wssPort: number | undefined;
  warnings: string[];
}

function readPem(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new Error(`${flag}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
}

/** The setup the flags ask for; throws an Error whose message names the flag or file:line at fault. */
export function securityFromOptions(options: SecurityCommandOptions): SecuritySetup {
  const warnings: string[] = [];
  let security: FileSecurity | undefined;
  if (options.passwordFile !== undefined || options.aclFile !== undefined || options.allowAnonymous !== undefined) {
    try {
      security = new FileSecurity({
        passwordFile: options.passwordFile,
        aclFile: options.aclFile,
        allowAnonymous: options.allowAnonymous,
      });
    } catch (error) {
      const flag =
        error instanceof ConfigFileError && error.file === options.aclFile ? '--acl-file' : '--password-file';
      throw new Error(`${flag}: ${(error as Error).message}`);
    }
    if (options.passwordFile !== undefined && (statSync(options.passwordFile).mode & 0o004) !== 0) {
      warnings.push(`${options.passwordFile} is readable by every user: chmod 600 it`);
    }
  }
  const wantsTls = options.tlsPort !== undefined || options.wssPort !== undefined;
  if ((options.cert === undefined) !== (options.key === undefined)) throw new Error('--cert and --key go together');
  if (wantsTls && options.cert === undefined) throw new Error('--tls-port and --wss-port need --cert and --key');
  if (options.requireCertificate && options.cafile === undefined)
    throw new Error('--require-certificate needs --cafile');
  if (options.useIdentityAsUsername && !options.requireCertificate) {
    throw new Error('--use-identity-as-username needs --require-certificate');
  }
  let tls: SecuritySetup['tls'];
  if (options.cert !== undefined && options.key !== undefined) {
    tls = {
      host: options.tlsHost ?? options.host,
      cert: readPem('--cert', options.cert),
      key: readPem('--key', options.key),
      ca: options.cafile === undefined ? undefined : readPem('--cafile', options.cafile),
      requireCertificate: options.requireCertificate === true,
      useIdentityAsUsername: options.useIdentityAsUsername === true,
    };
  } else if (options.cafile !== undefined || options.requireCertificate) {
    throw new Error('--cafile and --require-certificate need --cert and --key');
  }
  const tlsPort =
    tls === undefined ? undefined : (options.tlsPort ?? (options.wssPort === undefined ? DEFAULT_TLS_PORT : undefined));
  return {
    brokerOptions: {
      hooks: security?.hooks,
      maxConnectionsPerIp: options.maxConnectionsPerIp,
      connectRatePerIp: options.connectRatePerIp,
      publishRate: options.publishRate,
      publishByteRate: options.publishByteRate,
      publishRateAction: options.publishRateAction,
      maxSubscriptionsPerClient: options.maxSubscriptionsPerClient,
      maxTopicLength: options.maxTopicLength,
      maxTopicLevels: options.maxTopicLevels,
      authFailureThreshold: options.authFailureThreshold,
      authFailureWindow: options.authFailureWindow,
      authBackoffMax: options.authBackoffMax,
    },
    security,
    tls,
    tlsPort,
    wssPort: options.wssPort,
    warnings,
  };
}

/**
 * Opens the mqtts and wss listeners (closed by broker.close()) and installs the SIGHUP reload. Returns a function that
 * logs their addresses (called once every listener is up).
 */
export async function startSecureListeners(broker: Broker, setup: SecuritySetup, logger: Logger): Promise<() => void> {
  const lines: [object, string][] = [];
  for (const warning of setup.warnings) logger.warn(warning);
  if (setup.tls !== undefined && setup.tlsPort !== undefined) {
    const a: AddressInfo = await broker.listenTls({ ...setup.tls, port: setup.tlsPort });
    lines.push([{ address: a.address, port: a.port }, `midge broker listening on mqtts://${a.address}:${a.port}`]);
  }
  if (setup.tls !== undefined && setup.wssPort !== undefined) {
    const { cert, key, ca, requireCertificate, host } = setup.tls;
    const a = await broker.listenWebSocket({
      host,
      port: setup.wssPort,
      tls: { cert, key, ca, requestCert: requireCertificate, rejectUnauthorized: requireCertificate },
    });
    lines.push([{ address: a.address, port: a.port }, `midge broker listening on wss://${a.address}:${a.port}/mqtt`]);
  }
  const security = setup.security;
  if (security !== undefined) {
    process.on('SIGHUP', () => {
      try {
        security.reload();
        logger.info('SIGHUP: password and ACL files re-read');
      } catch (error) {
        logger.error({ err: error }, `SIGHUP: ${(error as Error).message}; the previous files stay in force`);
      }
    });
  }
  return () => {
    for (const [fields, message] of lines) logger.info(fields, message);
  };
}
