/**
 * How `midge sub` prints a message: plain payload, `-v` (topic payload), `--json` (one JSON object per line) or `-F`
 * (a subset of mosquitto_sub's format string, listed in docs/cli.md).
 */
import type { Message } from '../client/index.js';

const decoder = new TextDecoder('utf-8', { fatal: true });

/** The payload as UTF-8 text, or undefined when it is not valid UTF-8. */
export function utf8(payload: Uint8Array): string | undefined {
  try {
    return decoder.decode(payload);
  } catch {
    return undefined;
  }
}

const base64 = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
const hex = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');

/** MQTT 5 properties as JSON: binary values (correlation data) in base64. */
function jsonProperties(properties: Message['properties']): Record<string, unknown> | undefined {
  if (properties === undefined) return undefined;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(properties)) {
    if (value === undefined) continue;
    out[key] = value instanceof Uint8Array ? base64(value) : value;
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

/** --json: topic, payload (UTF-8, or base64 with "encoding": "base64"), qos, retain, properties (MQTT 5). */
export function formatJson(message: Message): string {
  const text = utf8(message.payload);
  const out: Record<string, unknown> = { topic: message.topic };
  if (text === undefined) {
    out.payload = base64(message.payload);
    out.encoding = 'base64';
  } else {
    out.payload = text;
  }
  out.qos = message.qos;
  out.retain = message.retain;
  const properties = jsonProperties(message.properties);
  if (properties !== undefined) out.properties = properties;
  return JSON.stringify(out);
}

/** The payload as printed by default and by -v: bytes as they are (mosquitto_sub prints raw bytes too). */
function payloadText(payload: Uint8Array): string {
  return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8');
}

/** `-v`: "topic payload" ("topic (null)" for an empty payload, as mosquitto_sub). */
export function formatVerbose(message: Message): string {
  return `${message.topic} ${message.payload.length === 0 ? '(null)' : payloadText(message.payload)}`;
}

function isoTime(date: Date): string {
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  const abs = Math.abs(offset);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:` +
    `${pad(date.getMinutes())}:${pad(date.getSeconds())}${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`
  );
}

/** mosquitto_sub's %j: tst, topic, qos, retain, payloadlen, mid (QoS > 0), payload (UTF-8 text, else base64). */
function mosquittoJson(message: Message, now: Date): string {
  const out: Record<string, unknown> = {
    tst: now.toISOString(),
    topic: message.topic,
    qos: message.qos,
    retain: message.retain ? 1 : 0,
    payloadlen: message.payload.length,
  };
  if (message.packetId !== undefined) out.mid = message.packetId;
  const text = utf8(message.payload);
  if (text === undefined) {
    out.payload = base64(message.payload);
    out.encoding = 'base64';
  } else {
    out.payload = text;
  }
  const properties = jsonProperties(message.properties);
  if (properties !== undefined) out.properties = properties;
  return JSON.stringify(out);
}

const FORMAT_CODES = 'tpqrlmIUxXjCERP%';

/** Checks a -F format: throws on a % code that is not supported. */
export function checkFormat(format: string): void {
  for (let i = 0; i < format.length; i++) {
    if (format[i] !== '%') continue;
    const code = format[i + 1];
    if (code === undefined || !FORMAT_CODES.includes(code)) {
      throw new Error(
        `-F: unsupported format code '%${code ?? ''}' (supported: %t %p %q %r %l %m %I %U %x %X %j %C %E %R %P %%)`,
      );
    }
    i++;
  }
}

/**
 * `-F format`: %t topic, %p payload, %q QoS, %r retain (0/1), %l payload length, %m packet id (0 for QoS 0), %I ISO
 * 8601 local time, %U Unix time with fractional seconds, %x / %X payload in lower / upper case hex, %j JSON (as
 * mosquitto_sub's), MQTT 5: %C content type, %E message expiry interval, %R response topic, %P user properties
 * (name:value, comma separated); %% a %. Escapes: \n \t \r \\ \0 (a NUL), \e (ESC), \a.
 */
export function formatMessage(format: string, message: Message, now = new Date()): string {
  let out = '';
  for (let i = 0; i < format.length; i++) {
    const c = format[i]!;
    if (c === '%') {
      const code = format[++i];
      const props = message.properties;
      switch (code) {
        case 't':
          out += message.topic;
          break;
        case 'p':
          out += payloadText(message.payload);
          break;
        case 'q':
          out += message.qos;
          break;
        case 'r':
          out += message.retain ? '1' : '0';
          break;
        case 'l':
          out += message.payload.length;
          break;
        case 'm':
          out += message.packetId ?? 0;
          break;
        case 'I':
          out += isoTime(now);
          break;
        case 'U':
          out += (now.getTime() / 1000).toFixed(6);
          break;
        case 'x':
          out += hex(message.payload);
          break;
        case 'X':
          out += hex(message.payload).toUpperCase();
          break;
        case 'j':
          out += mosquittoJson(message, now);
          break;
        case 'C':
          out += props?.contentType ?? '';
          break;
        case 'E':
          out += props?.messageExpiryInterval ?? '';
          break;
        case 'R':
          out += props?.responseTopic ?? '';
          break;
        case 'P':
          out += Object.entries(props?.userProperties ?? {})
            .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((value) => `${k}:${value}`))
            .join(',');
          break;
        case '%':
          out += '%';
          break;
        default:
          out += `%${code ?? ''}`;
      }
    } else if (c === '\\' && i + 1 < format.length) {
      const e = format[++i];
      const escapes: Record<string, string> = {
        n: '\n',
        t: '\t',
        r: '\r',
        '\\': '\\',
        '0': '\0',
        e: '\x1b',
        a: '\x07',
      };
      out += escapes[e!] ?? `\\${e}`;
    } else {
      out += c;
    }
  }
  return out;
}
