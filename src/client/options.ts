/**
 * Client options, named as MQTT.js names them, and the CONNECT packet they produce. `resolveOptions` merges a URL
 * (`mqtt://user:pass@host:port`) with an options object (the object wins) and fills in the defaults.
 */
import { type ConnectPacket, PacketType, type QoS, type Will } from '../codec/index.js';
import { type Properties, toPacketProperties } from './properties.js';
import type { InflightStore } from './store/store.js';

export type Protocol = 'mqtt' | 'mqtts' | 'ws' | 'wss';

export interface WillOptions {
  topic: string;
  payload: string | Uint8Array;
  qos?: QoS;
  retain?: boolean;
  /** MQTT 5.0 Will Properties (willDelayInterval, messageExpiryInterval, contentType, userProperties, …). */
  properties?: Properties;
}

export interface ClientOptions {
  /** `mqtt`/`tcp` (TCP), `mqtts`/`ssl`/`tls` (TLS), `ws`, `wss`. Default `mqtt` (or what the URL says). */
  protocol?: Protocol | 'tcp' | 'ssl' | 'tls';
  /** Default 'localhost'. */
  host?: string;
  /** Default 1883 (mqtt), 8883 (mqtts), 80 (ws), 443 (wss). */
  port?: number;
  /** WebSocket path. Default '/mqtt'. */
  path?: string;
  /** Default `midge_` and 8 random hex digits. An empty string asks the broker to assign one. */
  clientId?: string;
  username?: string;
  password?: string | Uint8Array;
  /** Seconds; 0 disables keep-alive. Default 60. */
  keepalive?: number;
  /** Clean Session (3.1.1) / Clean Start (5.0). Default true. */
  clean?: boolean;
  /** 3 (MQTT 3.1), 4 (3.1.1) or 5 (5.0). Default 4, as MQTT.js. */
  protocolVersion?: 3 | 4 | 5;
  will?: WillOptions;
  /** MQTT 5.0 CONNECT properties (sessionExpiryInterval, receiveMaximum, maximumPacketSize, …). */
  properties?: Properties;
  /** First reconnect delay, ms; 0 disables reconnection. Default 1000. */
  reconnectPeriod?: number;
  /** Largest reconnect delay (the back-off's ceiling), ms. Default 30,000. */
  maxReconnectPeriod?: number;
  /** Time from opening the transport to CONNACK, ms. Default 30,000. */
  connectTimeout?: number;
  /** Time to wait for an answer to PINGREQ, ms. Default half the keep-alive interval, at least 1,000. */
  pingTimeout?: number;
  /** Requests (publish, subscribe, unsubscribe) queued while disconnected; beyond it they fail. Default 1000. */
  queueLimit?: number;
  /** Re-subscribe after reconnecting when the broker did not keep the session. Default true. */
  resubscribe?: boolean;
  /** Incoming QoS 1/2 messages are acknowledged only when the user calls `client.ack(message)`. Default false. */
  manualAck?: boolean;
  /** MQTT 5.0: give repeated topics a Topic Alias automatically (within the broker's maximum). Default false. */
  autoAssignTopicAlias?: boolean;
  /** TLS (`mqtts`, `wss`): passed to `tls.connect` in Node. */
  ca?: string | Uint8Array | Array<string | Uint8Array>;
  cert?: string | Uint8Array | Array<string | Uint8Array>;
  key?: string | Uint8Array | Array<string | Uint8Array>;
  rejectUnauthorized?: boolean;
  servername?: string;
  /** WebSocket subprotocol. Default 'mqtt' (3.1.1, 5.0) or 'mqttv3.1' (3.1). */
  wsProtocol?: string;
  /**
   * Keeps outgoing QoS 1/2 flows so they survive a client restart (MemoryInflightStore, FileInflightStore in Node).
   * A client started with a store that holds flows resends them after connecting. Use one store per client id.
   */
  store?: InflightStore;
}

export interface ResolvedOptions
  extends Required<
    Omit<
      ClientOptions,
      | 'username'
      | 'password'
      | 'will'
      | 'properties'
      | 'pingTimeout'
      | 'ca'
      | 'cert'
      | 'key'
      | 'rejectUnauthorized'
      | 'servername'
      | 'wsProtocol'
      | 'protocol'
      | 'store'
    >
  > {
  protocol: Protocol;
  username?: string;
  password?: string | Uint8Array;
  will?: WillOptions;
  properties?: Properties;
  pingTimeout?: number;
  ca?: ClientOptions['ca'];
  cert?: ClientOptions['cert'];
  key?: ClientOptions['key'];
  rejectUnauthorized?: boolean;
  servername?: string;
  wsProtocol?: string;
  store?: InflightStore;
}

/** URL schemes and the transport each names (`tcp:` and `ssl:`/`tls:` are MQTT.js's aliases). */
export const SCHEMES: Readonly<Record<string, Protocol>> = {
  mqtt: 'mqtt',
  tcp: 'mqtt',
  mqtts: 'mqtts',
  ssl: 'mqtts',
  tls: 'mqtts',
  ws: 'ws',
  wss: 'wss',
};

/** The transport a URL scheme names, or undefined (own keys only: `constructor:` is a valid URL scheme too). */
export function protocolOfScheme(scheme: string): Protocol | undefined {
  return Object.hasOwn(SCHEMES, scheme) ? SCHEMES[scheme] : undefined;
}

const DEFAULT_PORTS: Record<Protocol, number> = { mqtt: 1883, mqtts: 8883, ws: 80, wss: 443 };

function randomClientId(): string {
  let hex = '';
  for (let i = 0; i < 8; i++) hex += Math.floor(Math.random() * 16).toString(16);
  return `midge_${hex}`;
}

/** Reads what a URL says: protocol, host, port, path, username and password. */
export function parseUrl(url: string): ClientOptions {
  const parsed = new URL(url);
  const scheme = parsed.protocol.replace(/:$/, '');
  const protocol = protocolOfScheme(scheme);
  if (protocol === undefined) throw new TypeError(`unsupported URL scheme '${scheme}:' in ${url}`);
  const options: ClientOptions = { protocol, host: parsed.hostname.replace(/^\[(.*)\]$/, '$1') };
  if (parsed.port !== '') options.port = Number(parsed.port);
  if (parsed.pathname !== '' && parsed.pathname !== '/') options.path = parsed.pathname + parsed.search;
  if (parsed.username !== '') options.username = decodeURIComponent(parsed.username);
  if (parsed.password !== '') options.password = decodeURIComponent(parsed.password);
  return options;
}

export function resolveOptions(
  urlOrOptions: string | ClientOptions | undefined,
  more: ClientOptions = {},
): ResolvedOptions {
  const fromUrl = typeof urlOrOptions === 'string' ? parseUrl(urlOrOptions) : (urlOrOptions ?? {});
  const merged: ClientOptions = { ...fromUrl, ...more };
  const protocol = protocolOfScheme(merged.protocol ?? 'mqtt');
  if (protocol === undefined) throw new TypeError(`unsupported protocol '${merged.protocol}'`);
  const protocolVersion = merged.protocolVersion ?? 4;
  if (![3, 4, 5].includes(protocolVersion)) throw new TypeError(`protocolVersion must be 3, 4 or 5`);
  const resolved: ResolvedOptions = {
    ...merged,
    protocol,
    host: merged.host ?? 'localhost',
    port: merged.port ?? DEFAULT_PORTS[protocol],
    path: merged.path ?? '/mqtt',
    clientId: merged.clientId ?? randomClientId(),
    keepalive: merged.keepalive ?? 60,
    clean: merged.clean ?? true,
    protocolVersion,
    reconnectPeriod: merged.reconnectPeriod ?? 1000,
    maxReconnectPeriod: merged.maxReconnectPeriod ?? 30_000,
    connectTimeout: merged.connectTimeout ?? 30_000,
    queueLimit: merged.queueLimit ?? 1000,
    resubscribe: merged.resubscribe ?? true,
    manualAck: merged.manualAck ?? false,
    autoAssignTopicAlias: merged.autoAssignTopicAlias ?? false,
  };
  return resolved;
}

const encoder = new TextEncoder();

export const toBytes = (data: string | Uint8Array): Uint8Array =>
  typeof data === 'string' ? encoder.encode(data) : data;

/** The CONNECT packet for these options. */
export function connectPacket(options: ResolvedOptions): ConnectPacket {
  const v5 = options.protocolVersion === 5;
  const packet: ConnectPacket = {
    type: PacketType.CONNECT,
    protocolName: options.protocolVersion === 3 ? 'MQIsdp' : 'MQTT',
    protocolVersion: options.protocolVersion,
    clean: options.clean,
    keepAlive: options.keepalive,
    clientId: options.clientId,
  };
  if (options.username !== undefined) packet.username = options.username;
  if (options.password !== undefined) packet.password = toBytes(options.password);
  if (options.will !== undefined) {
    const w = options.will;
    const will: Will = { topic: w.topic, payload: toBytes(w.payload), qos: w.qos ?? 0, retain: w.retain ?? false };
    const properties = v5 ? toPacketProperties(w.properties) : undefined;
    if (properties !== undefined) will.properties = properties;
    packet.will = will;
  }
  const properties = v5 ? toPacketProperties(options.properties) : undefined;
  if (properties !== undefined) packet.properties = properties;
  return packet;
}
