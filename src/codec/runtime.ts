/**
 * The few run-time facilities the codec borrows from Node when it runs there, found by feature detection so that the
 * codec itself stays isomorphic (no `node:` import, no Node types). In a browser every helper falls back to plain
 * Uint8Array and TextDecoder code.
 */

/** The part of Node's Buffer constructor the codec uses (declared locally: the codec compiles without Node types). */
interface BufferConstructorLike {
  allocUnsafe(size: number): Uint8Array;
  allocUnsafeSlow(size: number): Uint8Array;
  byteLength(string: string, encoding: 'utf8'): number;
  prototype: {
    latin1Slice?: (this: Uint8Array, start: number, end: number) => string;
    utf8Slice?: (this: Uint8Array, start: number, end: number) => string;
    utf8Write?: (this: Uint8Array, string: string, offset: number) => number;
  };
}

const NodeBuffer = (globalThis as { Buffer?: BufferConstructorLike }).Buffer;
const bufferAllocUnsafe = typeof NodeBuffer?.allocUnsafeSlow === 'function' ? NodeBuffer : undefined;

/** Node's native latin1 slice (fast for ASCII, which the caller has already validated), if present. */
export const latin1Slice = NodeBuffer?.prototype.latin1Slice;
/** Node's native UTF-8 slice (the caller validates the bytes first: it would replace bad sequences by U+FFFD). */
export const utf8Slice = NodeBuffer?.prototype.utf8Slice;
/** Node's native UTF-8 writer (the caller has validated the string and made room for it), if present. */
export const utf8Write = NodeBuffer?.prototype.utf8Write;
/** Node's native UTF-8 byte count, if present (it counts a lone surrogate as U+FFFD: validate those separately). */
export const utf8ByteLength =
  typeof NodeBuffer?.byteLength === 'function'
    ? (str: string): number => NodeBuffer.byteLength(str, 'utf8')
    : undefined;
/** From this many UTF-16 units on, a native string call beats a charCodeAt loop (measured on Node 20). */
export const NATIVE_STRING_MIN = 16;

interface TextDecoderLike {
  decode(bytes: Uint8Array): string;
}
const TextDecoderClass = (
  globalThis as { TextDecoder?: new (label: string, options: { ignoreBOM: boolean }) => TextDecoderLike }
).TextDecoder;
/** Keeps a leading U+FEFF: MQTT strings must not have it stripped [MQTT-1.5.4-3]. */
const textDecoder = TextDecoderClass === undefined ? undefined : new TextDecoderClass('utf-8', { ignoreBOM: true });

/** Decodes bytes already validated as UTF-8, without Node's Buffer (TextDecoder, or a hand loop as a last resort). */
export function decodeUtf8Portable(bytes: Uint8Array): string {
  if (textDecoder !== undefined) return textDecoder.decode(bytes);
  let s = '';
  for (let i = 0; i < bytes.length; ) {
    const c = bytes[i]!;
    let cp: number;
    if (c < 0x80) {
      cp = c;
      i += 1;
    } else if (c < 0xe0) {
      cp = ((c & 0x1f) << 6) | (bytes[i + 1]! & 0x3f);
      i += 2;
    } else if (c < 0xf0) {
      cp = ((c & 0x0f) << 12) | ((bytes[i + 1]! & 0x3f) << 6) | (bytes[i + 2]! & 0x3f);
      i += 3;
    } else {
      cp = ((c & 0x07) << 18) | ((bytes[i + 1]! & 0x3f) << 12) | ((bytes[i + 2]! & 0x3f) << 6) | (bytes[i + 3]! & 0x3f);
      i += 4;
    }
    s += String.fromCodePoint(cp);
  }
  return s;
}

/** Uninitialised memory of `size` bytes as a plain Uint8Array. */
function rawBytes(size: number): Uint8Array {
  if (bufferAllocUnsafe === undefined) return new Uint8Array(size);
  const b = bufferAllocUnsafe.allocUnsafeSlow(size);
  return new Uint8Array(b.buffer, b.byteOffset, size);
}

const SLAB_SIZE = 64 * 1024;
const SLAB_MAX_PIECE = 8 * 1024;
let slab: Uint8Array = new Uint8Array(0);
let slabUsed = 0;

/**
 * Bytes for the encoder to fill completely: a plain Uint8Array, whatever the platform. Packets up to 8 KiB are
 * carved out of a shared 64 KiB slab (as Node's Buffer pool does with 8 KiB: creating a backing store per packet
 * costs far more than the encoding, and a larger slab amortises it over more packets); larger ones get their own
 * memory. A view keeps its whole slab alive: copy (`slice()`) an encoded packet that is kept for long.
 */
export function allocBytes(size: number): Uint8Array {
  if (size > SLAB_MAX_PIECE) return rawBytes(size);
  if (slabUsed + size > slab.length) {
    slab = rawBytes(SLAB_SIZE);
    slabUsed = 0;
  }
  const bytes = new Uint8Array(slab.buffer, slab.byteOffset + slabUsed, size);
  slabUsed += size;
  return bytes;
}

/**
 * Bytes of the same class as `like` (a Buffer when `like` is one, else a plain Uint8Array), so that the payloads the
 * decoder hands out are of one class however the input was chunked: views of the caller's chunk when a packet lies
 * whole in it, views of this buffer when it had to be assembled.
 */
export function allocBytesLike(like: Uint8Array, size: number): Uint8Array {
  if (bufferAllocUnsafe !== undefined && like instanceof (bufferAllocUnsafe as unknown as typeof Uint8Array)) {
    return bufferAllocUnsafe.allocUnsafe(size);
  }
  return allocBytes(size);
}
