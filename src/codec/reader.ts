/**
 * A cursor over the body of one packet. The decoder owns a single Reader and re-points it at each packet: packet
 * decoding is synchronous and finishes before the packet is handed to the caller, so nothing else can observe it.
 * Every read is bounds-checked against `end`, the end of the packet (or of the property list while inside one):
 * a field that runs past it is a Malformed Packet.
 */
import type { ProtocolVersion } from './constants.js';
import { malformed, type PacketError } from './errors.js';
import { readUtf8 } from './utf8.js';

const EMPTY = new Uint8Array(0);

export class Reader {
  buf: Uint8Array = EMPTY;
  pos = 0;
  end = 0;
  /** MQTT 5.0: Variable Byte Integers must use the minimum number of bytes [MQTT-1.5.5-1]. */
  v5 = false;

  init(buf: Uint8Array, pos: number, end: number, v5: boolean): void {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
    this.v5 = v5;
  }

  /** Drops the reference to the last packet's bytes. */
  release(): void {
    this.buf = EMPTY;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  u8(): number {
    const p = this.pos;
    if (p >= this.end) throw truncated();
    this.pos = p + 1;
    return this.buf[p]!;
  }

  u16(): number {
    const p = this.pos;
    if (p + 2 > this.end) throw truncated();
    this.pos = p + 2;
    return (this.buf[p]! << 8) | this.buf[p + 1]!;
  }

  u32(): number {
    const p = this.pos;
    if (p + 4 > this.end) throw truncated();
    this.pos = p + 4;
    const b = this.buf;
    return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
  }

  /** A Variable Byte Integer (§1.5.5): at most 4 bytes; in MQTT 5.0 also minimal [MQTT-1.5.5-1]. */
  varint(): number {
    let value = 0;
    let shift = 0;
    for (let i = 0; i < 4; i++) {
      const b = this.u8();
      value += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) {
        if (b === 0 && i > 0 && this.v5)
          throw malformed('Variable Byte Integer not in its shortest form [MQTT-1.5.5-1]');
        return value;
      }
      shift += 7;
    }
    throw malformed('Variable Byte Integer longer than 4 bytes');
  }

  /** A UTF-8 Encoded String (§1.5.4): 2-byte length, then validated UTF-8. */
  utf8(): string {
    const len = this.u16();
    const start = this.pos;
    const end = start + len;
    if (end > this.end) throw truncated();
    this.pos = end;
    return readUtf8(this.buf, start, end);
  }

  /** Binary Data (§1.5.6): 2-byte length, then bytes: a view of the packet's bytes, not a copy. */
  binary(): Uint8Array {
    const len = this.u16();
    const start = this.pos;
    const end = start + len;
    if (end > this.end) throw truncated();
    this.pos = end;
    return this.buf.subarray(start, end);
  }

  /** Throws unless every byte up to `end` was consumed: trailing bytes where the spec defines none are malformed. */
  done(what: string): void {
    if (this.pos !== this.end) throw malformed(`${this.end - this.pos} unexpected byte(s) at the end of ${what}`);
  }
}

function truncated(): PacketError {
  return malformed('a field runs past the end of the packet');
}

/** What packet decoders may read from, and set on, the decoder they run for. */
export interface DecodeContext {
  protocolVersion: ProtocolVersion;
  validatePayloadFormat: boolean;
}
