/**
 * Reads a `midge broker` config file: a Midge JSON file (`.json`, or content starting with `{`) whose keys are the
 * flags in camelCase, or Mosquitto's `mosquitto.conf` for the options that map (docs/broker.md, Configuration files).
 * Every problem is collected (not only the first) as `FILE:LINE: message` naming the option.
 */
import { readFileSync } from 'node:fs';
import { dirname, extname, isAbsolute, resolve } from 'node:path';
import { InvalidArgumentError } from 'commander';
import type { ConfigOption } from './options.js';

export interface ConfigSetting {
  key: string;
  value: unknown;
  line: number;
  /** How the file names it: the JSON key or the mosquitto.conf option. */
  name: string;
}

export interface LoadedConfig {
  file: string;
  format: 'midge' | 'mosquitto';
  settings: ConfigSetting[];
  errors: string[];
}

/** Options whose value is a file or folder: a relative path is taken from the config file's folder. */
const PATH_KEYS = new Set(['passwordFile', 'aclFile', 'dataDir', 'cert', 'key', 'cafile']);

export function loadConfig(file: string, table: ConfigOption[]): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    return { file, format: 'midge', settings: [], errors: [`${file}: cannot read the config file (${code})`] };
  }
  const isJson = extname(file).toLowerCase() === '.json' || text.trimStart().startsWith('{');
  const loaded = isJson ? readJson(file, text) : readMosquitto(file, text);
  const byKey = new Map(table.map((o) => [o.key, o]));
  const settings: ConfigSetting[] = [];
  for (const setting of loaded.settings) {
    const option = byKey.get(setting.key);
    const where = `${file}:${setting.line}`;
    if (option === undefined) {
      loaded.errors.push(`${where}: unknown option '${setting.name}'`);
      continue;
    }
    const problem = check(option, setting.value);
    if (problem !== undefined) {
      loaded.errors.push(`${where}: option '${setting.name}': ${problem}`);
      continue;
    }
    let value = setting.value;
    if (PATH_KEYS.has(setting.key) && typeof value === 'string' && !isAbsolute(value)) {
      value = resolve(dirname(file), value);
    }
    settings.push({ ...setting, value });
  }
  loaded.errors.sort((a, b) => lineOf(a) - lineOf(b));
  return { file, format: isJson ? 'midge' : 'mosquitto', settings, errors: loaded.errors };
}

function lineOf(error: string): number {
  return Number(/:(\d+): /.exec(error)?.[1] ?? 0);
}

/** Why `value` does not fit `option` (type, range, choices, the flag's own parser), or undefined. */
function check(option: ConfigOption, value: unknown): string | undefined {
  const got = JSON.stringify(value);
  switch (option.type) {
    case 'boolean':
      return typeof value === 'boolean' ? undefined : `expected true or false, got ${got}`;
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) return `expected an integer, got ${got}`;
      break;
    case 'string':
      if (typeof value !== 'string') return `expected a string, got ${got}`;
      break;
  }
  if (option.choices !== undefined && !option.choices.includes(String(value))) {
    return `expected one of ${option.choices.join(', ')}, got ${got}`;
  }
  if (option.option.parseArg !== undefined) {
    try {
      option.option.parseArg(String(value), undefined);
    } catch (error) {
      if (error instanceof InvalidArgumentError) return `${error.message}, got ${got}`;
      throw error;
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Midge JSON

function lineAt(text: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

function readJson(file: string, text: string): { settings: ConfigSetting[]; errors: string[] } {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    const message = (error as Error).message;
    const position = /position (\d+)/.exec(message);
    const line = /line (\d+)/.exec(message)?.[1] ?? (position ? lineAt(text, Number(position[1])) : 1);
    return { settings: [], errors: [`${file}:${line}: not valid JSON: ${message}`] };
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { settings: [], errors: [`${file}:1: expected a JSON object of options`] };
  }
  const settings: ConfigSetting[] = [];
  const errors: string[] = [];
  for (const [key, value] of Object.entries(data)) {
    if (key === '$schema') continue;
    const escaped = JSON.stringify(key).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const match = new RegExp(`${escaped}\\s*:`).exec(text);
    const line = match === null ? 1 : lineAt(text, match.index);
    settings.push({ key, value, line, name: key });
  }
  return { settings, errors };
}

// ---------------------------------------------------------------------------------------------------------------
// mosquitto.conf

/** Mosquitto options Midge knows but does not implement (an error saying so, rather than "unknown"). */
const UNSUPPORTED = new Set([
  'acl_file_per_listener',
  'address',
  'addresses',
  'allow_duplicate_messages',
  'allow_zero_length_clientid',
  'auth_plugin',
  'auth_plugin_deny_special_chars',
  'auto_id_prefix',
  'autosave_interval',
  'autosave_on_changes',
  'bridge',
  'capath',
  'check_retain_source',
  'ciphers',
  'ciphers_tls1.3',
  'cleansession',
  'clientid',
  'clientid_prefixes',
  'connection',
  'connection_messages',
  'crlfile',
  'dhparamfile',
  'enable_control_api',
  'global_max_clients',
  'global_max_connections',
  'http_dir',
  'idle_timeout',
  'keepalive_interval',
  'local_clientid',
  'local_password',
  'local_username',
  'log_dest',
  'log_facility',
  'log_timestamp',
  'log_timestamp_format',
  'log_type',
  'max_queued_bytes',
  'memory_limit',
  'mount_point',
  'notifications',
  'notifications_local_only',
  'notification_topic',
  'per_listener_settings',
  'persistence_file',
  'persistent_client_expiration',
  'pid_file',
  'plugin',
  'plugin_opt',
  'psk_file',
  'psk_hint',
  'remote_clientid',
  'remote_password',
  'remote_username',
  'restart_timeout',
  'retry_interval',
  'round_robin',
  'set_tcp_nodelay',
  'socket_domain',
  'start_type',
  'store_clean_interval',
  'threshold',
  'tls_engine',
  'tls_engine_kpass_sha1',
  'tls_keyform',
  'tls_version',
  'topic',
  'try_private',
  'upgrade_outgoing_qos',
  'use_subject_as_username',
  'use_username_as_clientid',
  'user',
  'websockets_headers_size',
  'websockets_log_level',
]);

const UNSUPPORTED_PREFIXES = ['bridge_', 'auth_opt_', 'plugin_opt_', 'local_', 'remote_'];

/** mosquitto.conf options that map to one Midge option with the value as it is (type converted). */
const SIMPLE: Record<string, { key: string; type: 'integer' | 'boolean' | 'string' }> = {
  allow_anonymous: { key: 'allowAnonymous', type: 'boolean' },
  password_file: { key: 'passwordFile', type: 'string' },
  acl_file: { key: 'aclFile', type: 'string' },
  max_keepalive: { key: 'maxKeepAlive', type: 'integer' },
  retain_available: { key: 'retain', type: 'boolean' },
  sys_interval: { key: 'sysInterval', type: 'integer' },
  queue_qos0_messages: { key: 'queueQos0', type: 'boolean' },
  max_topic_alias: { key: 'topicAliasMaximum', type: 'integer' },
};

interface Listener {
  line: number;
  port: string;
  host?: string;
  websockets: boolean;
  certfile?: string;
  keyfile?: string;
  cafile?: string;
  requireCertificate?: boolean;
  useIdentityAsUsername?: boolean;
  /** The default listener (`port` / `bind_address`, or TLS settings before any `listener`). */
  isDefault: boolean;
}

function convert(raw: string, type: 'integer' | 'boolean' | 'string'): string | number | boolean {
  if (type === 'integer') return /^-?\d+$/.test(raw) ? Number(raw) : raw;
  if (type === 'boolean') return raw === 'true' ? true : raw === 'false' ? false : raw;
  return raw;
}

function isBoolean(where: string, name: string, value: string, errors: string[]): boolean {
  if (value === 'true' || value === 'false') return true;
  errors.push(`${where}: mosquitto option '${name}': expected true or false, got "${value}"`);
  return false;
}

function readMosquitto(file: string, text: string): { settings: ConfigSetting[]; errors: string[] } {
  const settings: ConfigSetting[] = [];
  const errors: string[] = [];
  const listeners: Listener[] = [];
  let defaultListener: Listener | undefined;
  let current: Listener | undefined;
  const set = (key: string, value: string | number | boolean, line: number, name: string) => {
    settings.push({ key, value, line, name });
  };
  let persistence: { value: string; line: number } | undefined;
  let location: { value: string; line: number } | undefined;
  let packetSize: { value: number; line: number; name: string } | undefined;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const trimmed = (lines[i] ?? '').trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const [name = '', ...rest] = trimmed.split(/\s+/);
    const value = rest.join(' ');
    const where = `${file}:${lineNo}`;
    const needValue = () => {
      if (value === '') errors.push(`${where}: mosquitto option '${name}' needs a value`);
      return value !== '';
    };
    const listener = (): Listener => {
      if (current !== undefined) return current;
      defaultListener ??= { line: lineNo, port: '1883', websockets: false, isDefault: true };
      return defaultListener;
    };
    if (name === 'include_dir') {
      errors.push(`${where}: mosquitto option 'include_dir' is not supported by Midge (put every option in one file)`);
      continue;
    }
    const simple = SIMPLE[name];
    if (simple !== undefined) {
      if (needValue()) set(simple.key, convert(value, simple.type), lineNo, name);
      continue;
    }
    switch (name) {
      case 'listener': {
        if (!needValue()) break;
        const [port = '', host] = rest;
        current = { line: lineNo, port, host, websockets: false, isDefault: false };
        listeners.push(current);
        break;
      }
      case 'port':
        if (needValue()) listener().port = value;
        break;
      case 'bind_address':
        if (needValue()) listener().host = value;
        break;
      case 'protocol':
        if (!needValue()) break;
        if (value !== 'websockets' && value !== 'mqtt') {
          errors.push(`${where}: mosquitto option 'protocol': expected mqtt or websockets, got "${value}"`);
        } else listener().websockets = value === 'websockets';
        break;
      case 'certfile':
        if (needValue()) listener().certfile = value;
        break;
      case 'keyfile':
        if (needValue()) listener().keyfile = value;
        break;
      case 'cafile':
        if (needValue()) listener().cafile = value;
        break;
      case 'require_certificate':
        if (needValue() && isBoolean(where, name, value, errors)) listener().requireCertificate = value === 'true';
        break;
      case 'use_identity_as_username':
        if (needValue() && isBoolean(where, name, value, errors)) listener().useIdentityAsUsername = value === 'true';
        break;
      case 'persistence':
        if (needValue()) persistence = { value, line: lineNo };
        break;
      case 'persistence_location':
        if (needValue()) location = { value, line: lineNo };
        break;
      case 'max_inflight_messages':
        // Mosquitto: 0 = no limit; Midge's largest Receive Maximum is 65535.
        if (needValue()) set('maxInflight', value === '0' ? 65_535 : convert(value, 'integer'), lineNo, name);
        break;
      case 'max_queued_messages':
        // Mosquitto: 0 = no limit; Midge's 0 queues nothing, its largest bound is 100,000,000.
        if (needValue())
          set('maxQueuedMessages', value === '0' ? 100_000_000 : convert(value, 'integer'), lineNo, name);
        break;
      case 'max_connections':
        // Mosquitto: -1 = no limit; Midge: 0.
        if (needValue()) set('maxConnections', value === '-1' ? 0 : convert(value, 'integer'), lineNo, name);
        break;
      case 'max_packet_size':
      case 'message_size_limit': {
        if (!needValue()) break;
        const n = convert(value, 'integer');
        if (typeof n !== 'number' || n < 0) {
          errors.push(`${where}: mosquitto option '${name}': expected an integer, got "${value}"`);
          break;
        }
        if (n === 0) break; // no limit: Midge's default
        // message_size_limit bounds the payload; Midge bounds the packet: allow 64 KiB more for topic and properties.
        const size = name === 'message_size_limit' ? n + 65_536 : n;
        if (packetSize === undefined || size < packetSize.value) packetSize = { value: size, line: lineNo, name };
        break;
      }
      default:
        if (UNSUPPORTED.has(name) || UNSUPPORTED_PREFIXES.some((p) => name.startsWith(p))) {
          errors.push(`${where}: mosquitto option '${name}' is not supported by Midge`);
        } else {
          errors.push(`${where}: unknown mosquitto option '${name}'`);
        }
    }
  }
  if (packetSize !== undefined) {
    set('maxPacketSize', Math.min(packetSize.value, 268_435_460), packetSize.line, packetSize.name);
  }
  if (persistence !== undefined) {
    const p = convert(persistence.value, 'boolean');
    if (typeof p !== 'boolean') {
      errors.push(`${file}:${persistence.line}: mosquitto option 'persistence': expected true or false, got "${p}"`);
    } else {
      set('store', p ? 'sqlite' : 'memory', persistence.line, 'persistence');
      if (p && location !== undefined) set('dataDir', location.value, location.line, 'persistence_location');
    }
  }
  mapListeners(file, defaultListener === undefined ? listeners : [defaultListener, ...listeners], set, errors);
  return { settings, errors };
}

const ALL_INTERFACES = '0.0.0.0';

function mapListeners(
  file: string,
  listeners: Listener[],
  set: (key: string, value: string | number | boolean, line: number, name: string) => void,
  errors: string[],
): void {
  let plain = false;
  let ws = false;
  let tls: Listener | undefined;
  let mqtts = false;
  let wss = false;
  let tlsHost: string | undefined;
  const port = (l: Listener) => convert(l.port, 'integer');
  // Mosquitto listens on every interface when a listener has no address.
  for (const l of listeners) l.host ??= ALL_INTERFACES;
  for (const l of listeners) {
    const where = `${file}:${l.line}`;
    const secure = l.certfile !== undefined || l.keyfile !== undefined;
    if (!secure && (l.cafile !== undefined || l.requireCertificate !== undefined)) {
      errors.push(
        `${where}: mosquitto option 'cafile'/'require_certificate' needs certfile and keyfile on the listener`,
      );
      continue;
    }
    if (secure) {
      if (tls !== undefined && (tls.certfile !== l.certfile || tls.keyfile !== l.keyfile || tls.cafile !== l.cafile)) {
        errors.push(
          `${where}: listener: Midge's TLS listeners share one certfile/keyfile/cafile (see line ${tls.line})`,
        );
        continue;
      }
      if (tlsHost !== undefined && l.host !== tlsHost) {
        errors.push(`${where}: listener: Midge's TLS listeners share one bind address`);
        continue;
      }
      if (l.websockets ? wss : mqtts) {
        errors.push(`${where}: listener: Midge has one ${l.websockets ? 'wss' : 'mqtts'} listener`);
        continue;
      }
      if (tls === undefined) {
        if (l.certfile !== undefined) set('cert', l.certfile, l.line, 'certfile');
        if (l.keyfile !== undefined) set('key', l.keyfile, l.line, 'keyfile');
        if (l.cafile !== undefined) set('cafile', l.cafile, l.line, 'cafile');
        if (l.requireCertificate === true) set('requireCertificate', true, l.line, 'require_certificate');
        if (l.useIdentityAsUsername === true) set('useIdentityAsUsername', true, l.line, 'use_identity_as_username');
        set('tlsHost', l.host ?? ALL_INTERFACES, l.line, 'listener');
        tls = l;
        tlsHost = l.host;
      }
      if (l.websockets) wss = true;
      else mqtts = true;
      set(l.websockets ? 'wssPort' : 'tlsPort', port(l), l.line, 'listener');
      continue;
    }
    if (l.websockets) {
      if (ws) {
        errors.push(`${where}: listener: Midge has one plain WebSocket listener`);
        continue;
      }
      ws = true;
      set('wsPort', port(l), l.line, 'listener');
      set('wsHost', l.host ?? ALL_INTERFACES, l.line, 'listener');
      continue;
    }
    if (plain) {
      errors.push(`${where}: listener: Midge has one plain TCP listener (a second one is not supported)`);
      continue;
    }
    plain = true;
    set('port', port(l), l.line, l.isDefault ? 'port' : 'listener');
    set('host', l.host ?? ALL_INTERFACES, l.line, l.isDefault ? 'bind_address' : 'listener');
  }
}
