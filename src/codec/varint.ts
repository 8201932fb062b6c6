/** Variable Byte Integer (MQTT 5.0 §1.5.5, MQTT 3.1.1 §2.2.3 "Remaining Length"): 7 bits a byte, 1 to 4 bytes. */

/** Bytes needed to encode `value` (0 .. 268,435,455). */
export function varintSize(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : 4;
}

/** Writes `value` at `pos` using the minimum number of bytes [MQTT-1.5.5-1]; returns the end offset. */
export function writeVarint(buf: Uint8Array, pos: number, value: number): number {
  while (value >= 0x80) {
    buf[pos++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  buf[pos++] = value;
  return pos;
}
