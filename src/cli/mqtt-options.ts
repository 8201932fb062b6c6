/**
 * What `midge pub`, `midge sub` and `midge bench` share: the mosquitto_pub/mosquitto_sub connection flags (-h -p -u
 * -P -i -k -V -L -c -x, TLS, will, -D properties), their translation into ClientOptions, the reason code names and the
 * exit codes (docs/cli.md § Exit codes).
 */
import { readFileSync } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import {
  type ClientOptions,
  ConnectionRefusedError,
  DisconnectedError,
  PublishError,
  TimeoutError,
  TransportError,
} from '../client/index.js';
import { type Protocol, protocolOfScheme } from '../client/options.js';
import type { Properties } from '../client/properties.js';
import type { QoS } from '../codec/index.js';

/** Exit codes (as mosquitto_pub / mosquitto_sub where they have one). */
export const EXIT = {
  ok: 0,
  /** Bad flags, and failures on our side of the connection (unreachable host, TLS, connection lost). */
  error: 1,
  /** -W elapsed, or no CONNACK within the connect timeout (MOSQ_ERR_TIMEOUT). */
  timeout: 27,
} as const;

const REASON_NAMES: Record<number, string> = {
  0: 'Success',
  16: 'No matching subscribers',
  17: 'No subscription existed',
  128: 'Unspecified error',
  129: 'Malformed Packet',
  130: 'Protocol Error',
  131: 'Implementation specific error',
  132: 'Unsupported Protocol Version',
  133: 'Client Identifier not valid',
  134: 'Bad User Name or Password',
  135: 'Not authorized',
  136: 'Server unavailable',
  137: 'Server busy',
  138: 'Banned',
  139: 'Server shutting down',
  140: 'Bad authentication method',
  141: 'Keep Alive timeout',
  142: 'Session taken over',
  143: 'Topic Filter invalid',
  144: 'Topic Name invalid',
  145: 'Packet Identifier in use',
  146: 'Packet Identifier not found',
  147: 'Receive Maximum exceeded',
  148: 'Topic Alias invalid',
  149: 'Packet too large',
  150: 'Message rate too high',
  151: 'Quota exceeded',
  152: 'Administrative action',
  153: 'Payload format invalid',
  154: 'Retain not supported',
  155: 'QoS not supported',
  156: 'Use another server',
  157: 'Server moved',
  158: 'Shared Subscriptions not supported',
  159: 'Connection rate exceeded',
  160: 'Maximum connect time',
  161: 'Subscription Identifiers not supported',
  162: 'Wildcard Subscriptions not supported',
};

/** `0x86 Bad User Name or Password`. */
export function reasonName(code: number): string {
  return `0x${code.toString(16).padStart(2, '0')} ${REASON_NAMES[code] ?? 'Unknown reason code'}`;
}

// --- argument parsers ---------------------------------------------------------------------------------------------

export function integer(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer in ${min}..${max}`);
    }
    return n;
  };
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number > 0');
  return n;
}

export function nonNegativeNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number >= 0');
  return n;
}

export const qos = (value: string): QoS => integer(0, 2)(value) as QoS;

/** -V: 5, mqttv5, 311, mqttv311, 4, 31, mqttv31, 3 (as mosquitto's -V, plus the numbers). */
export function protocolVersion(value: string): 3 | 4 | 5 {
  switch (value.toLowerCase()) {
    case '5':
    case 'mqttv5':
      return 5;
    case '311':
    case 'mqttv311':
    case '4':
      return 4;
    case '31':
    case 'mqttv31':
    case '3':
      return 3;
    default:
      throw new InvalidArgumentError('expected 5 (mqttv5), 311 (mqttv311) or 31 (mqttv31)');
  }
}

/** Collects a repeatable option into a list. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

// --- -L URL --------------------------------------------------------------------------------------------------------

export interface ParsedUrl {
  protocol: Protocol;
  host: string;
  port: number | undefined;
  username: string | undefined;
  password: string | undefined;
  /** mqtt(s)://: the topic (the path without its leading /). */
  topic: string | undefined;
  /** ws(s)://: the WebSocket path. */
  path: string | undefined;
}

/**
 * -L mqtt(s)://[user[:password]@]host[:port]/topic (mosquitto's form), or ws(s)://[user[:password]@]host[:port]/path
 * (the path is the WebSocket path, default /mqtt; give the topic with -t).
 */
export function parseUrlOption(value: string): ParsedUrl {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError('expected a URL such as mqtt://user:pass@host:1883/topic');
  }
  const scheme = url.protocol.replace(/:$/, '');
  const protocol = protocolOfScheme(scheme);
  if (protocol === undefined)
    throw new InvalidArgumentError(`unsupported URL scheme '${scheme}:' (mqtt, mqtts, ws, wss)`);
  const webSocket = protocol === 'ws' || protocol === 'wss';
  const path = decodeURIComponent(url.pathname);
  return {
    protocol,
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? undefined : Number(url.port),
    username: url.username === '' ? undefined : decodeURIComponent(url.username),
    password: url.password === '' ? undefined : decodeURIComponent(url.password),
    topic: !webSocket && path.length > 1 ? path.slice(1) : undefined,
    path: webSocket && path.length > 1 ? path + url.search : undefined,
  };
}

// --- -D properties -------------------------------------------------------------------------------------------------

type PropertyCommand = 'connect' | 'publish' | 'subscribe' | 'will';
type PropertyKind = 'u16' | 'u32' | 'varint' | 'byte' | 'string' | 'binary' | 'pair';

const PROPERTY_SPECS: Record<string, { key: string; kind: PropertyKind; commands: PropertyCommand[] }> = {
  'payload-format-indicator': { key: 'payloadFormatIndicator', kind: 'byte', commands: ['publish', 'will'] },
  'message-expiry-interval': { key: 'messageExpiryInterval', kind: 'u32', commands: ['publish', 'will'] },
  'content-type': { key: 'contentType', kind: 'string', commands: ['publish', 'will'] },
  'response-topic': { key: 'responseTopic', kind: 'string', commands: ['publish', 'will'] },
  'correlation-data': { key: 'correlationData', kind: 'binary', commands: ['publish', 'will'] },
  'topic-alias': { key: 'topicAlias', kind: 'u16', commands: ['publish'] },
  'subscription-identifier': { key: 'subscriptionIdentifier', kind: 'varint', commands: ['subscribe'] },
  'session-expiry-interval': { key: 'sessionExpiryInterval', kind: 'u32', commands: ['connect'] },
  'receive-maximum': { key: 'receiveMaximum', kind: 'u16', commands: ['connect'] },
  'maximum-packet-size': { key: 'maximumPacketSize', kind: 'u32', commands: ['connect'] },
  'topic-alias-maximum': { key: 'topicAliasMaximum', kind: 'u16', commands: ['connect'] },
  'request-problem-information': { key: 'requestProblemInformation', kind: 'byte', commands: ['connect'] },
  'request-response-information': { key: 'requestResponseInformation', kind: 'byte', commands: ['connect'] },
  'will-delay-interval': { key: 'willDelayInterval', kind: 'u32', commands: ['will'] },
  'user-property': {
    key: 'userProperties',
    kind: 'pair',
    commands: ['connect', 'publish', 'subscribe', 'will'],
  },
};

const LIMITS: Record<PropertyKind, number> = {
  byte: 1,
  u16: 65_535,
  u32: 4_294_967_295,
  varint: 268_435_455,
  string: 0,
  binary: 0,
  pair: 0,
};

/** -D properties, grouped by the packet they go to. */
export type PropertySet = Partial<Record<PropertyCommand, Properties & { subscriptionIdentifier?: number }>>;

/**
 * Reads the values of every -D (commander gives them as one flat list: `command identifier value`, and `command
 * user-property name value`). `allowed` are the commands this tool sends.
 */
export function parseProperties(values: string[], allowed: PropertyCommand[]): PropertySet {
  const set: PropertySet = {};
  let i = 0;
  while (i < values.length) {
    const command = values[i]!;
    const identifier = values[i + 1];
    if (identifier === undefined) throw new Error(`-D ${command}: expected -D command identifier value`);
    const spec = PROPERTY_SPECS[identifier];
    if (!(allowed as string[]).includes(command)) {
      throw new Error(
        `-D ${command}: properties of '${command}' are not supported here (supported: ${allowed.join(', ')})`,
      );
    }
    if (spec === undefined) {
      const known = Object.entries(PROPERTY_SPECS)
        .filter(([, s]) => s.commands.includes(command as PropertyCommand))
        .map(([name]) => name);
      throw new Error(`-D ${command} ${identifier}: unknown or unsupported property (supported: ${known.join(', ')})`);
    }
    if (!spec.commands.includes(command as PropertyCommand)) {
      throw new Error(`-D ${command} ${identifier}: '${identifier}' is not a ${command} property`);
    }
    const arity = spec.kind === 'pair' ? 2 : 1;
    const args = values.slice(i + 2, i + 2 + arity);
    if (args.length < arity) {
      throw new Error(`-D ${command} ${identifier}: expected ${arity === 2 ? 'a name and a value' : 'a value'}`);
    }
    i += 2 + arity;
    set[command as PropertyCommand] ??= {};
    const properties = set[command as PropertyCommand] as Record<string, unknown>;
    const value = args[0]!;
    switch (spec.kind) {
      case 'string':
        properties[spec.key] = value;
        break;
      case 'binary':
        properties[spec.key] = new TextEncoder().encode(value);
        break;
      case 'pair': {
        properties.userProperties ??= {};
        const pairs = properties.userProperties as Record<string, string | string[]>;
        const existing = pairs[value];
        const v = args[1]!;
        pairs[value] = existing === undefined ? v : Array.isArray(existing) ? [...existing, v] : [existing, v];
        break;
      }
      default: {
        const n = Number(value);
        const min = spec.kind === 'varint' || spec.key === 'receiveMaximum' || spec.key === 'topicAlias' ? 1 : 0;
        if (value.trim() === '' || !Number.isInteger(n) || n < min || n > LIMITS[spec.kind]) {
          throw new Error(`-D ${command} ${identifier}: expected an integer in ${min}..${LIMITS[spec.kind]}`);
        }
        properties[spec.key] = n;
      }
    }
  }
  return set;
}

// --- connection flags ----------------------------------------------------------------------------------------------

export interface ConnectionFlags {
  host: string;
  port?: number;
  username?: string;
  pw?: string;
  id?: string;
  keepalive: number;
  protocolVersion: 3 | 4 | 5;
  url?: ParsedUrl;
  disableCleanSession?: boolean;
  sessionExpiryInterval?: number;
  cafile?: string;
  cert?: string;
  key?: string;
  insecure?: boolean;
  willTopic?: string;
  willPayload?: string;
  willQos?: QoS;
  willRetain?: boolean;
  property?: string[];
  connectTimeout: number;
  debug?: boolean;
  quiet?: boolean;
}

function sessionExpiry(value: string): number {
  if (value === '-1' || value === '∞') return 4_294_967_295;
  return integer(0, 4_294_967_295)(value);
}

/** Adds the connection flags of mosquitto_pub / mosquitto_sub. (-h is the host: the command's help is --help.) */
export function addConnectionOptions(command: Command): Command {
  return command
    .helpOption('--help', 'display help for command')
    .option('-h, --host <host>', 'broker host', 'localhost')
    .option('-p, --port <port>', 'broker port (default 1883, 8883 with TLS)', integer(1, 65_535))
    .option('-L, --url <url>', 'mqtt(s)://[user[:pass]@]host[:port]/topic or ws(s)://host[:port]/path', parseUrlOption)
    .option('-u, --username <user>', 'user name')
    .option('-P, --pw <password>', 'password')
    .option('-i, --id <id>', 'client identifier (default midge_<tool>_<pid>)')
    .option('-k, --keepalive <seconds>', 'keep alive, seconds (0 disables)', integer(0, 65_535), 60)
    .option(
      '-V, --protocol-version <version>',
      'MQTT version: 5 (mqttv5), 311 (mqttv311), 31 (mqttv31)',
      protocolVersion,
      4,
    )
    .option('-c, --disable-clean-session', 'keep the session (Clean Session / Clean Start 0); needs -i')
    .option('-x, --session-expiry-interval <seconds>', 'MQTT 5 Session Expiry Interval (-1: never)', sessionExpiry)
    .option('--cafile <file>', 'CA certificates (PEM) to trust; enables TLS')
    .option('--cert <file>', 'client certificate (PEM); enables TLS')
    .option('--key <file>', 'client private key (PEM)')
    .option('--insecure', 'do not verify the broker certificate (Node cannot skip only the host name check)')
    .option('--will-topic <topic>', 'topic of the will message')
    .option('--will-payload <payload>', 'payload of the will message (default empty)')
    .option('--will-qos <qos>', 'QoS of the will message', qos)
    .option('--will-retain', 'retain the will message')
    .option(
      '-D, --property <values...>',
      'MQTT 5 property: -D command identifier value (e.g. -D publish user-property name value); repeatable',
    )
    .option('--connect-timeout <seconds>', 'seconds to wait for CONNACK', positiveNumber, 30)
    .option('-d, --debug', 'print connection and subscription events on stderr')
    .option('--quiet', 'do not print error messages');
}

export interface Target {
  url: string;
  options: ClientOptions;
  properties: PropertySet;
  /** The topic -L gave (mqtt(s):// only). */
  urlTopic: string | undefined;
  describe: string;
}

/** ConnectionFlags → what connect() needs. Throws an Error with a usage message when the flags do not fit. */
export function clientTarget(flags: ConnectionFlags, tool: 'pub' | 'sub', allowed: PropertyCommand[]): Target {
  const v5 = flags.protocolVersion === 5;
  const properties = parseProperties(flags.property ?? [], allowed);
  if (Object.keys(properties).length > 0 && !v5) throw new Error('-D properties need MQTT 5 (-V 5)');
  if (flags.sessionExpiryInterval !== undefined && !v5) throw new Error('-x needs MQTT 5 (-V 5)');
  if (flags.disableCleanSession && flags.id === undefined) {
    throw new Error('-c needs a client identifier (-i): the session is kept under it');
  }
  const u = flags.url;
  const tls = flags.cafile !== undefined || flags.cert !== undefined || flags.insecure === true;
  let protocol = u?.protocol ?? (tls ? 'mqtts' : 'mqtt');
  if (tls && protocol === 'mqtt') protocol = 'mqtts';
  if (tls && protocol === 'ws') protocol = 'wss';
  const host = u?.host ?? flags.host;
  const defaultPort = { mqtt: 1883, mqtts: 8883, ws: 80, wss: 443 }[protocol];
  const port = flags.port ?? u?.port ?? defaultPort;
  const webSocket = protocol === 'ws' || protocol === 'wss';
  const path = webSocket ? (u?.path ?? '/mqtt') : '';
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const options: ClientOptions = {
    clientId: flags.id ?? `midge_${tool}_${process.pid}`,
    keepalive: flags.keepalive,
    clean: !flags.disableCleanSession,
    protocolVersion: flags.protocolVersion,
    reconnectPeriod: 0,
    connectTimeout: Math.round(flags.connectTimeout * 1000),
  };
  const username = flags.username ?? u?.username;
  const password = flags.pw ?? u?.password;
  if (username !== undefined) options.username = username;
  if (password !== undefined) options.password = password;
  if (flags.cafile !== undefined) options.ca = readFileSync(flags.cafile);
  if (flags.cert !== undefined) options.cert = readFileSync(flags.cert);
  if (flags.key !== undefined) options.key = readFileSync(flags.key);
  if (flags.insecure) options.rejectUnauthorized = false;
  const connectProperties: Properties = { ...properties.connect };
  if (v5) {
    // As mosquitto: -c alone keeps the session forever; -x sets it.
    const expiry = flags.sessionExpiryInterval ?? (flags.disableCleanSession ? 4_294_967_295 : undefined);
    if (expiry !== undefined) connectProperties.sessionExpiryInterval = expiry;
    if (Object.keys(connectProperties).length > 0) options.properties = connectProperties;
  }
  if (flags.willTopic === undefined) {
    if (flags.willPayload !== undefined || flags.willQos !== undefined || flags.willRetain || properties.will) {
      throw new Error('--will-payload, --will-qos, --will-retain and -D will need --will-topic');
    }
  } else {
    options.will = {
      topic: flags.willTopic,
      payload: flags.willPayload ?? '',
      qos: flags.willQos ?? 0,
      retain: flags.willRetain ?? false,
    };
    if (properties.will !== undefined) options.will.properties = properties.will;
  }
  return {
    url: `${protocol}://${hostPart}:${port}${path}`,
    options,
    properties,
    urlTopic: u?.topic,
    describe: `${hostPart}:${port}`,
  };
}

/** A failure → the message to print and the exit code (docs/cli.md § Exit codes). */
export function describeFailure(error: unknown, target: string): { message: string; exitCode: number } {
  if (error instanceof ConnectionRefusedError) {
    const legacy = error.returnCode === undefined ? '' : ` (MQTT 3.1.1 return code ${error.returnCode})`;
    const reason = error.reasonString ? `: ${error.reasonString}` : '';
    return {
      message: `Connection refused: ${reasonName(error.reasonCode)}${legacy}${reason}`,
      exitCode: error.returnCode ?? error.reasonCode,
    };
  }
  if (error instanceof TimeoutError) {
    return { message: `Timed out: no answer from ${target} (${error.operation}, ${error.timeoutMs} ms)`, exitCode: 27 };
  }
  if (error instanceof DisconnectedError) {
    const reason = error.reasonString ? `: ${error.reasonString}` : '';
    return {
      message: `Disconnected by the broker: ${reasonName(error.reasonCode)}${reason}`,
      exitCode: error.reasonCode,
    };
  }
  if (error instanceof PublishError) {
    const reason = error.reasonString ? `: ${error.reasonString}` : '';
    return { message: `Publish refused: ${reasonName(error.reasonCode)}${reason}`, exitCode: error.reasonCode };
  }
  if (error instanceof TransportError) {
    const cause = error.cause as NodeJS.ErrnoException | undefined;
    const code = cause?.code;
    const what =
      code === 'ECONNREFUSED'
        ? `connection refused by ${target} (is a broker listening there?)`
        : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
          ? `host not found (${target})`
          : code === 'EHOSTUNREACH' || code === 'ENETUNREACH'
            ? `host unreachable (${target})`
            : `${cause?.message ?? error.message} (${target})`;
    return { message: `Error: ${what}`, exitCode: EXIT.error };
  }
  return { message: `Error: ${(error as Error).message ?? String(error)}`, exitCode: EXIT.error };
}

/** Writes to stderr (unless --quiet), waits for stdout to be flushed and exits. */
export async function exitWith(code: number, message: string | undefined, quiet: boolean | undefined): Promise<never> {
  if (message !== undefined && !quiet) process.stderr.write(`${message}\n`);
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  process.exit(code);
}
