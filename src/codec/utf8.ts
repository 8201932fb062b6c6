/**
 * UTF-8 Encoded Strings (MQTT 5.0 §1.5.4, MQTT 3.1.1 §1.5.3): hand-rolled because most MQTT strings are short ASCII
 * topics, for which a byte loop beats TextEncoder/TextDecoder (whose per-call overhead dominates short strings).
 * The rules enforced both ways: well-formed UTF-8 only (no overlong forms, no surrogates U+D800..U+DFFF, nothing above
 * U+10FFFF) [MQTT-1.5.4-1], and no U+0000 [MQTT-1.5.4-2]. A leading U+FEFF is kept, never stripped [MQTT-1.5.4-3].
 */
import { malformed } from './errors.js';
import { decodeUtf8Portable, latin1Slice, NATIVE_STRING_MIN, utf8ByteLength, utf8Slice, utf8Write } from './runtime.js';

/**
 * Length in bytes of the UTF-8 encoding of `str`, without allocating. Throws PacketError (0x81) for strings that
 * cannot be sent: a lone surrogate (not encodable as UTF-8) or U+0000 [MQTT-1.5.4-1][MQTT-1.5.4-2].
 */
export function utf8Length(str: string): number {
  const n = str.length;
  if (n >= NATIVE_STRING_MIN && utf8ByteLength !== undefined && utf8ByteLength(str) === n) {
    // As many bytes as units: all ASCII (any other unit takes 2+ bytes), so only U+0000 can be wrong.
    if (str.indexOf('\0') !== -1) throw malformed('a UTF-8 string must not contain U+0000 [MQTT-1.5.4-2]');
    return n;
  }
  let bytes = n;
  for (let i = 0; i < n; i++) {
    const c = str.charCodeAt(i);
    if (c < 0x80) {
      if (c === 0) throw malformed('a UTF-8 string must not contain U+0000 [MQTT-1.5.4-2]');
    } else if (c < 0x800) {
      bytes += 1;
    } else if (c < 0xd800 || c > 0xdfff) {
      bytes += 2;
    } else {
      // A surrogate pair: two UTF-16 units, four bytes.
      // Past the end charCodeAt gives NaN, which fails no range test: check the bound.
      const d = c < 0xdc00 && i + 1 < n ? str.charCodeAt(i + 1) : 0;
      if (d < 0xdc00 || d > 0xdfff)
        throw malformed('a string with a lone surrogate cannot be UTF-8 encoded [MQTT-1.5.4-1]');
      bytes += 2;
      i++;
    }
  }
  return bytes;
}

/**
 * Writes `str` as UTF-8 at `pos`, returning the end offset. The caller has run utf8Length on it (which validates) and
 * made room. Short strings: ASCII is copied by a charCodeAt loop, the first non-ASCII unit switches to the general
 * writer; long ones go to Node's native writer when present.
 */
export function writeUtf8(buf: Uint8Array, pos: number, str: string): number {
  const n = str.length;
  if (n >= NATIVE_STRING_MIN && utf8Write !== undefined) return pos + utf8Write.call(buf, str, pos);
  let i = 0;
  for (; i < n; i++) {
    const c = str.charCodeAt(i);
    if (c >= 0x80) break;
    buf[pos++] = c;
  }
  for (; i < n; i++) {
    let c = str.charCodeAt(i);
    if (c < 0x80) {
      buf[pos++] = c;
    } else if (c < 0x800) {
      buf[pos++] = 0xc0 | (c >> 6);
      buf[pos++] = 0x80 | (c & 0x3f);
    } else if (c < 0xd800 || c > 0xdfff) {
      buf[pos++] = 0xe0 | (c >> 12);
      buf[pos++] = 0x80 | ((c >> 6) & 0x3f);
      buf[pos++] = 0x80 | (c & 0x3f);
    } else {
      c = 0x10000 + ((c - 0xd800) << 10) + (str.charCodeAt(++i) - 0xdc00);
      buf[pos++] = 0xf0 | (c >> 18);
      buf[pos++] = 0x80 | ((c >> 12) & 0x3f);
      buf[pos++] = 0x80 | ((c >> 6) & 0x3f);
      buf[pos++] = 0x80 | (c & 0x3f);
    }
  }
  return pos;
}

/**
 * Index of the first byte in [start, end) that breaks UTF-8 or (unless allowNul) is U+0000, or -1 when the range
 * is a valid MQTT UTF-8 string. Follows the Unicode table of well-formed byte sequences (no overlongs, no surrogates, <= U+10FFFF);
 * a sequence cut by `end` is invalid.
 */
export function invalidUtf8At(buf: Uint8Array, start: number, end: number, allowNul = false): number {
  let i = start;
  while (i < end) {
    const c = buf[i]!;
    if (c < 0x80) {
      if (c === 0 && !allowNul) return i;
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c < 0xc2) return i; // continuation byte, or C0/C1 (overlong two-byte form)
    if (c < 0xe0) need = 1;
    else if (c < 0xf0) {
      need = 2;
      if (c === 0xe0)
        lo = 0xa0; // overlong three-byte form
      else if (c === 0xed) hi = 0x9f; // U+D800..U+DFFF, the surrogates
    } else if (c < 0xf5) {
      need = 3;
      if (c === 0xf0)
        lo = 0x90; // overlong four-byte form
      else if (c === 0xf4) hi = 0x8f; // above U+10FFFF
    } else return i; // F5..FF: above U+10FFFF or never valid
    if (i + need >= end) return i; // truncated by the end of the field
    const b1 = buf[i + 1]!;
    if (b1 < lo || b1 > hi) return i;
    for (let k = 2; k <= need; k++) {
      const b = buf[i + k]!;
      if (b < 0x80 || b > 0xbf) return i;
    }
    i += need + 1;
  }
  return -1;
}

/**
 * True when [start, end) is well-formed UTF-8: the Payload Format Indicator check (§3.3.2.3.2 asks for well-formed
 * UTF-8 as the Unicode specification and RFC 3629 define it; the no-U+0000 rule is for UTF-8 Encoded Strings, so a
 * payload may contain U+0000).
 */
export function isValidUtf8(buf: Uint8Array, start = 0, end = buf.length): boolean {
  return invalidUtf8At(buf, start, end, true) === -1;
}

/** A string from bytes already known to be ASCII. */
export function asciiString(buf: Uint8Array, start: number, end: number): string {
  if (latin1Slice !== undefined) return latin1Slice.call(buf, start, end);
  if (end - start < 24) {
    let s = '';
    for (let i = start; i < end; i++) s += String.fromCharCode(buf[i]!);
    return s;
  }
  return decodeUtf8Portable(buf.subarray(start, end));
}

/**
 * Decodes the UTF-8 string in [start, end), validating it; throws PacketError (0x81) on bad UTF-8 [MQTT-1.5.4-1]
 * or U+0000 [MQTT-1.5.4-2]. ASCII (the common case) is checked by a tight loop and sliced natively.
 */
export function readUtf8(buf: Uint8Array, start: number, end: number): string {
  let i = start;
  // 1..127 passes; 0 wraps to 0xffffffff and >= 128 stays >= 127: one compare for both exits.
  while (i < end && (buf[i]! - 1) >>> 0 < 0x7f) i++;
  if (i === end) return asciiString(buf, start, end);
  checkUtf8(buf, i, end);
  if (utf8Slice !== undefined) return utf8Slice.call(buf, start, end);
  return decodeUtf8Portable(buf.subarray(start, end));
}

/** Throws the PacketError for the first invalid byte in [start, end), if any. */
export function checkUtf8(buf: Uint8Array, start: number, end: number): void {
  const at = invalidUtf8At(buf, start, end);
  if (at === -1) return;
  if (buf[at] === 0) throw malformed('a UTF-8 string must not contain U+0000 [MQTT-1.5.4-2]');
  throw malformed(`ill-formed UTF-8 at byte ${at - start} of a string [MQTT-1.5.4-1]`);
}
