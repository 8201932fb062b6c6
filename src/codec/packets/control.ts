/** PINGREQ (§3.12), PINGRESP (§3.13), DISCONNECT (§3.14), AUTH (§3.15). */
import { PacketType, type ProtocolVersion, ReasonCode } from '../constants.js';
import { malformed } from '../errors.js';
import type { AuthPacket, DisconnectPacket } from '../packet.js';
import { propertiesLength, propertyBlockSize, readProperties, writeProperties } from '../properties.js';
import type { Reader } from '../reader.js';
import { checkReasonCode } from '../reason-codes.js';

type ReasonPacket = DisconnectPacket | AuthPacket;
type ReasonType = typeof PacketType.DISCONNECT | typeof PacketType.AUTH;

/**
 * DISCONNECT and AUTH in 5.0: Remaining Length 0 means Reason Code 0x00 and no properties; Remaining Length 1 means
 * no properties (§3.14.2.1, §3.14.2.2.1; AUTH, §3.15.2.1, only spells out the 0 case, but the same reading is used
 * for it rather than refusing a 1-byte AUTH). `reasonCode` is present exactly when its byte was on the wire.
 * 3.1/3.1.1 DISCONNECT has no variable header: Remaining Length must be 0.
 */
export function decodeReasonPacket(r: Reader, type: ReasonType, version: ProtocolVersion): ReasonPacket {
  const name = type === PacketType.DISCONNECT ? 'DISCONNECT' : 'AUTH';
  if (version !== 5 || r.pos === r.end) {
    r.done(name);
    return { type };
  }
  const reasonCode = r.u8();
  checkReasonCode(type, reasonCode, version);
  if (r.pos === r.end) return { type, reasonCode };
  const properties = readProperties(r, type);
  r.done(name);
  return properties === undefined ? { type, reasonCode } : { type, reasonCode, properties };
}

let propsLength = 0;

/** 5.0: the shortest form the content allows; an AUTH with a Reason Code always carries its Property Length. */
export function reasonPacketLength(p: ReasonPacket, version: ProtocolVersion): number {
  if (version !== 5) {
    if (p.type === PacketType.AUTH) throw malformed('AUTH exists only in MQTT 5.0 (type 15 is reserved before it)');
    return 0;
  }
  const reasonCode = p.reasonCode ?? ReasonCode.Success;
  checkReasonCode(p.type, reasonCode, version);
  propsLength = propertiesLength(p.properties, p.type);
  if (propsLength === 0) {
    if (reasonCode === ReasonCode.Success) return 0;
    if (p.type === PacketType.DISCONNECT) return 1;
  }
  return 1 + propertyBlockSize(propsLength);
}

export function writeReasonPacket(buf: Uint8Array, pos: number, p: ReasonPacket, remainingLength: number): number {
  if (remainingLength === 0) return pos;
  buf[pos++] = p.reasonCode ?? ReasonCode.Success;
  if (remainingLength === 1) return pos;
  return writeProperties(buf, pos, p.properties, propsLength);
}

/** PINGREQ and PINGRESP have no variable header and no payload. */
export function decodeEmpty(r: Reader, name: string): void {
  r.done(name);
}
