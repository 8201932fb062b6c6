/**
 * Encoding: the exact size is computed first (validating the packet as the decoder would), then the packet is
 * written once into one buffer. Encoding throws PacketError only for packets that cannot legally go on the wire.
 *
 * Version rules: fields that exist only in MQTT 5.0 (properties, Reason Codes of acknowledgements, Subscription
 * Options beyond QoS) are not written for 3.1/3.1.1; a CONNACK's `reasonCode` is written as the 3.1.1 return code;
 * AUTH cannot be encoded before 5.0. A CONNECT is encoded for its own `protocolVersion` (its Protocol Level), not
 * for the `protocolVersion` argument, as the decoder reads it.
 */
import { MAX_VARIABLE_BYTE_INTEGER, PacketType, type ProtocolVersion, ReasonCode } from './constants.js';
import { malformed, PacketError } from './errors.js';
import type { Packet } from './packet.js';
import { connackLength, connectLength, writeConnack, writeConnect } from './packets/connect.js';
import { reasonPacketLength, writeReasonPacket } from './packets/control.js';
import { ackLength, publishFirstByte, publishLength, writeAck, writePublish } from './packets/publish.js';
import {
  subackLength,
  subscribeLength,
  unsubackLength,
  unsubscribeLength,
  writeSuback,
  writeSubscribe,
  writeUnsuback,
  writeUnsubscribe,
} from './packets/subscribe.js';
import { allocBytes } from './runtime.js';
import { varintSize, writeVarint } from './varint.js';

function checkVersion(version: ProtocolVersion): void {
  if (version !== 5 && version !== 4 && version !== 3) {
    throw new PacketError(ReasonCode.UnsupportedProtocolVersion, `unknown protocol version ${version}`);
  }
}

/** Remaining Length of `p`; validates it and leaves what the writer needs in the packet modules' scratch state. */
function remainingLength(p: Packet, version: ProtocolVersion): number {
  let len: number;
  switch (p.type) {
    case PacketType.PUBLISH:
      len = publishLength(p, version);
      break;
    case PacketType.PUBACK:
    case PacketType.PUBREC:
    case PacketType.PUBREL:
    case PacketType.PUBCOMP:
      return ackLength(p, version);
    case PacketType.CONNECT:
      len = connectLength(p);
      break;
    case PacketType.CONNACK:
      return connackLength(p, version);
    case PacketType.SUBSCRIBE:
      len = subscribeLength(p, version);
      break;
    case PacketType.SUBACK:
      len = subackLength(p, version);
      break;
    case PacketType.UNSUBSCRIBE:
      len = unsubscribeLength(p, version);
      break;
    case PacketType.UNSUBACK:
      len = unsubackLength(p, version);
      break;
    case PacketType.PINGREQ:
    case PacketType.PINGRESP:
      return 0;
    case PacketType.DISCONNECT:
    case PacketType.AUTH:
      len = reasonPacketLength(p, version);
      break;
    default:
      throw malformed(`unknown packet type ${(p as { type: unknown }).type}`);
  }
  if (len > MAX_VARIABLE_BYTE_INTEGER) {
    throw new PacketError(ReasonCode.PacketTooLarge, `a Remaining Length of ${len} exceeds 268,435,455`);
  }
  return len;
}

/** First byte of the fixed header: type and flags (§2.1.3; PUBREL, SUBSCRIBE, UNSUBSCRIBE carry 0b0010). */
function firstByte(p: Packet): number {
  const type = p.type;
  if (type === PacketType.PUBLISH) return publishFirstByte(p);
  return (
    (type << 4) |
    (type === PacketType.PUBREL || type === PacketType.SUBSCRIBE || type === PacketType.UNSUBSCRIBE ? 2 : 0)
  );
}

function writeBody(p: Packet, version: ProtocolVersion, buf: Uint8Array, pos: number, rl: number): number {
  switch (p.type) {
    case PacketType.PUBLISH:
      return writePublish(buf, pos, p, version);
    case PacketType.PUBACK:
    case PacketType.PUBREC:
    case PacketType.PUBREL:
    case PacketType.PUBCOMP:
      return writeAck(buf, pos, p, rl);
    case PacketType.CONNECT:
      return writeConnect(buf, pos, p);
    case PacketType.CONNACK:
      return writeConnack(buf, pos, p, version);
    case PacketType.SUBSCRIBE:
      return writeSubscribe(buf, pos, p, version);
    case PacketType.SUBACK:
      return writeSuback(buf, pos, p, version);
    case PacketType.UNSUBSCRIBE:
      return writeUnsubscribe(buf, pos, p, version);
    case PacketType.UNSUBACK:
      return writeUnsuback(buf, pos, p, version);
    case PacketType.DISCONNECT:
    case PacketType.AUTH:
      return writeReasonPacket(buf, pos, p, rl);
    default:
      return pos; // PINGREQ, PINGRESP
  }
}

function write(p: Packet, version: ProtocolVersion, buf: Uint8Array, offset: number, rl: number): number {
  buf[offset] = firstByte(p);
  const start = writeVarint(buf, offset + 1, rl);
  const end = writeBody(p, version, buf, start, rl);
  if (end !== start + rl) throw new Error(`codec bug: wrote ${end - start} bytes for a Remaining Length of ${rl}`);
  return end;
}

/** Bytes `packet` takes on the wire under `protocolVersion`, fixed header included. */
export function encodedLength(packet: Packet, protocolVersion: ProtocolVersion): number {
  checkVersion(protocolVersion);
  const rl = remainingLength(packet, protocolVersion);
  return 1 + varintSize(rl) + rl;
}

/**
 * Encodes `packet` into a new buffer of its exact size. Under Node that buffer is a Buffer from the shared
 * `Buffer.allocUnsafe` pool (a Uint8Array subclass); elsewhere a Uint8Array.
 */
export function encode(packet: Packet, protocolVersion: ProtocolVersion): Uint8Array {
  checkVersion(protocolVersion);
  const rl = remainingLength(packet, protocolVersion);
  const buf = allocBytes(1 + varintSize(rl) + rl);
  write(packet, protocolVersion, buf, 0, rl);
  return buf;
}

/** Encodes `packet` into `target` at `offset`; returns the end offset. Throws RangeError if it does not fit. */
export function encodeInto(
  packet: Packet,
  protocolVersion: ProtocolVersion,
  target: Uint8Array,
  offset: number,
): number {
  checkVersion(protocolVersion);
  const rl = remainingLength(packet, protocolVersion);
  const size = 1 + varintSize(rl) + rl;
  if (!(offset >= 0 && offset + size <= target.length)) {
    throw new RangeError(`encodeInto: ${size} bytes do not fit at offset ${offset} of a ${target.length}-byte target`);
  }
  return write(packet, protocolVersion, target, offset, rl);
}
