/**
 * PacketDecoder: turns a byte stream, chunked any way, into packets. Framing is here; each packet's body is decoded
 * by the modules in ./packets.
 *
 * Memory: a packet that lies whole in a chunk is decoded in place (payload and binary fields are views of the
 * chunk, so the caller must not reuse a chunk it has fed); a packet split across chunks is assembled in one buffer
 * of its exact declared size, allocated only after the size check, and filled in place (no re-concatenation). Up
 * to 4 bytes of an incomplete fixed header are held aside.
 */
import { MAX_PACKET_SIZE, PacketType, type ProtocolVersion, ReasonCode } from './constants.js';
import { malformed, PacketError } from './errors.js';
import type { Packet } from './packet.js';
import { decodeConnack, decodeConnect } from './packets/connect.js';
import { decodeEmpty, decodeReasonPacket } from './packets/control.js';
import { decodeAck, decodePublish } from './packets/publish.js';
import { decodeSuback, decodeSubscribe, decodeUnsuback, decodeUnsubscribe } from './packets/subscribe.js';
import { type DecodeContext, Reader } from './reader.js';
import { allocBytesLike } from './runtime.js';

export interface DecoderOptions {
  /** Version of the packets to expect until a CONNECT says otherwise. Default 4 (3.1.1). */
  protocolVersion?: ProtocolVersion;
  /** Largest whole packet accepted, fixed header included. Default MAX_PACKET_SIZE (the wire format's limit). */
  maximumPacketSize?: number;
  /**
   * Check that a payload (and a Will Payload) whose Payload Format Indicator is 1 is valid UTF-8, refusing it with
   * Payload format invalid 0x99 otherwise. The spec lets a receiver check (§3.3.2.3.2: it "MAY validate"); default
   * true. Turn it off to answer with a PUBACK/PUBREC 0x99 instead of failing the stream, or to save the scan.
   */
  validatePayloadFormat?: boolean;
}

const reader = new Reader();

/**
 * Checks the first byte of a fixed header (§2.1.2, §2.1.3): the type must exist in `version` and the flags be the
 * ones the type requires.
 */
function checkFirstByte(b0: number, version: ProtocolVersion): void {
  const type = b0 >> 4;
  const flags = b0 & 0x0f;
  if (type === PacketType.PUBLISH) {
    if ((flags & 0x06) === 0x06) throw malformed('a PUBLISH must not have both QoS bits set [MQTT-3.3.1-4]');
    if (flags & 0x08 && (flags & 0x06) === 0) throw malformed('the DUP flag must be 0 for QoS 0 [MQTT-3.3.1-2]');
    return;
  }
  if (type === 0) throw malformed('packet type 0 is reserved');
  if (type === PacketType.AUTH && version !== 5) throw malformed('packet type 15 (AUTH) is reserved before MQTT 5.0');
  const required =
    type === PacketType.PUBREL || type === PacketType.SUBSCRIBE || type === PacketType.UNSUBSCRIBE ? 2 : 0;
  if (flags !== required) {
    // 3.1.1 [MQTT-2.2.2-1][MQTT-2.2.2-2]; 5.0 [MQTT-2.1.3-1] and §2.1.3 "If invalid flags are received it is a
    // Malformed Packet"; per type: PUBREL [MQTT-3.6.1-1], SUBSCRIBE [MQTT-3.8.1-1], UNSUBSCRIBE [MQTT-3.10.1-1],
    // DISCONNECT [MQTT-3.14.1-1], AUTH [MQTT-3.15.1-1].
    throw malformed(
      `invalid fixed header flags 0b${flags.toString(2).padStart(4, '0')} for packet type ${type} [MQTT-2.2.2-2]`,
    );
  }
}

/** Decodes the body [start, end) of the packet whose fixed header starts with `b0`. */
function decodeBody(ctx: DecodeContext, b0: number, buf: Uint8Array, start: number, end: number): Packet {
  const version = ctx.protocolVersion;
  const r = reader;
  r.init(buf, start, end, version === 5);
  let packet: Packet;
  const type = b0 >> 4;
  switch (type) {
    case PacketType.PUBLISH:
      packet = decodePublish(r, b0, ctx);
      break;
    case PacketType.PUBACK:
    case PacketType.PUBREC:
    case PacketType.PUBREL:
    case PacketType.PUBCOMP:
      packet = decodeAck(r, type, version);
      break;
    case PacketType.CONNECT:
      packet = decodeConnect(r, ctx);
      break;
    case PacketType.CONNACK:
      packet = decodeConnack(r, version);
      break;
    case PacketType.SUBSCRIBE:
      packet = decodeSubscribe(r, version);
      break;
    case PacketType.SUBACK:
      packet = decodeSuback(r, version);
      break;
    case PacketType.UNSUBSCRIBE:
      packet = decodeUnsubscribe(r, version);
      break;
    case PacketType.UNSUBACK:
      packet = decodeUnsuback(r, version);
      break;
    case PacketType.PINGREQ:
      decodeEmpty(r, 'PINGREQ');
      packet = { type: PacketType.PINGREQ };
      break;
    case PacketType.PINGRESP:
      decodeEmpty(r, 'PINGRESP');
      packet = { type: PacketType.PINGRESP };
      break;
    case PacketType.DISCONNECT:
    case PacketType.AUTH:
      packet = decodeReasonPacket(r, type, version);
      break;
    default:
      throw malformed(`packet type ${type} is reserved`);
  }
  r.release();
  return packet;
}

export class PacketDecoder implements DecodeContext {
  /** Version used to decode; set from each decoded CONNECT's Protocol Level. */
  protocolVersion: ProtocolVersion;
  /** Whole-packet size limit, fixed header included; a larger packet is refused from its fixed header alone. */
  maximumPacketSize: number;
  validatePayloadFormat: boolean;

  private failure: PacketError | null = null;
  /**
   * An incomplete fixed header: at most 1 type byte + 3 Remaining Length bytes. Allocated the first time a fixed
   * header is split across chunks (rare): a broker holds one decoder per idle connection.
   */
  private head: Uint8Array | null = null;
  private headLength = 0;
  /** The body being assembled (exactly Remaining Length bytes), its fill level, and its fixed header's first byte. */
  private body: Uint8Array | null = null;
  private bodyFilled = 0;
  private bodyFirstByte = 0;
  /** Length of the fixed header of the body being assembled (counted in `buffered`). */
  private bodyHeaderLength = 0;
  /** Bytes not yet decoded because onPacket threw before they were reached. */
  private leftover: Uint8Array | null = null;
  /** Remaining Length just parsed by parseRemainingLength. */
  private rl = 0;
  /** Bumped by reset(): a callback that resets the decoder stops the loop over the current chunk. */
  private generation = 0;
  private inCallback = false;
  private resumeAt = 0;

  constructor(options: DecoderOptions = {}) {
    this.protocolVersion = options.protocolVersion ?? 4;
    this.maximumPacketSize = options.maximumPacketSize ?? MAX_PACKET_SIZE;
    this.validatePayloadFormat = options.validatePayloadFormat ?? true;
  }

  /** Bytes held waiting for the rest of a packet: those fed of the packet in progress, fixed header included. */
  get buffered(): number {
    const inProgress = this.body === null ? this.headLength : this.bodyHeaderLength + this.bodyFilled;
    return inProgress + (this.leftover === null ? 0 : this.leftover.length);
  }

  /** Forgets any partial packet and a previous error. Keeps protocolVersion and maximumPacketSize. */
  reset(): void {
    this.failure = null;
    this.headLength = 0;
    this.body = null;
    this.bodyFilled = 0;
    this.leftover = null;
    this.inCallback = false;
    this.generation++;
  }

  /**
   * Feeds bytes in any chunking. Calls onPacket synchronously for each whole packet, in order. Throws PacketError
   * on the first bad packet (the packets before it are delivered first); after that every call throws the same
   * error until reset(). If onPacket throws, the error propagates and the bytes after that packet are kept for the
   * next call. Not re-entrant: onPacket must not call decode() on the same decoder.
   */
  decode(chunk: Uint8Array, onPacket: (packet: Packet) => void): void {
    if (this.failure !== null) throw this.failure;
    let data = chunk;
    if (this.leftover !== null) {
      data = allocBytesLike(chunk, this.leftover.length + chunk.length);
      data.set(this.leftover, 0);
      data.set(chunk, this.leftover.length);
      this.leftover = null;
    }
    const generation = this.generation;
    try {
      this.run(data, onPacket, generation);
    } catch (err) {
      if (this.inCallback) {
        this.inCallback = false;
        if (this.generation === generation && this.resumeAt < data.length) this.leftover = data.subarray(this.resumeAt);
        throw err;
      }
      throw this.fail(err);
    }
  }

  private fail(err: unknown): PacketError {
    const error =
      err instanceof PacketError
        ? err
        : malformed(`decoder failure: ${err instanceof Error ? err.message : String(err)}`);
    this.reset();
    this.failure = error;
    reader.release();
    return error;
  }

  private run(data: Uint8Array, onPacket: (packet: Packet) => void, generation: number): void {
    const len = data.length;
    let pos = 0;
    if (this.headLength > 0) {
      pos = this.continueHead(data, onPacket);
      if (pos < 0 || this.generation !== generation) return;
    } else if (this.body !== null) {
      pos = this.continueBody(data, onPacket);
      if (pos < 0 || this.generation !== generation) return;
    }
    while (pos < len) {
      const b0 = data[pos]!;
      checkFirstByte(b0, this.protocolVersion);
      const headerEnd = this.parseRemainingLength(data, pos + 1, len);
      if (headerEnd < 0) {
        this.head ??= new Uint8Array(5);
        this.head.set(data.subarray(pos, len), 0);
        this.headLength = len - pos;
        return;
      }
      pos = this.frame(b0, headerEnd - pos, data, headerEnd, onPacket);
      if (pos < 0 || this.generation !== generation) return;
    }
  }

  /**
   * Parses a Remaining Length (§2.1.4) from bytes[i..end); returns the index after it, or -1 if `end` comes first.
   * The value is left in this.rl. More than 4 bytes: Malformed. MQTT 5.0: the shortest form is required
   * [MQTT-1.5.5-1] (a multi-byte encoding ending in 0x00 is not); 3.1/3.1.1 state no such rule and accept it.
   */
  private parseRemainingLength(bytes: Uint8Array, i: number, end: number): number {
    let value = 0;
    let multiplier = 1;
    for (let k = 0; k < 4; k++) {
      if (i >= end) return -1;
      const b = bytes[i++]!;
      value += (b & 0x7f) * multiplier;
      if (b < 0x80) {
        if (b === 0 && k > 0 && this.protocolVersion === 5) {
          throw malformed('the Remaining Length is not in its shortest form [MQTT-1.5.5-1]');
        }
        this.rl = value;
        return i;
      }
      multiplier *= 128;
    }
    throw malformed('the Remaining Length is longer than 4 bytes (§1.5.5)');
  }

  /**
   * Handles a packet whose fixed header (first byte b0, `headerLength` bytes, Remaining Length in this.rl) has been
   * read and whose body starts at data[bodyStart]: refuses it if too large, decodes it if the body is all there,
   * else starts assembling it. Returns where the next packet starts, or -1 when the rest of `data` was buffered.
   */
  private frame(
    b0: number,
    headerLength: number,
    data: Uint8Array,
    bodyStart: number,
    onPacket: (packet: Packet) => void,
  ): number {
    const rl = this.rl;
    if (headerLength + rl > this.maximumPacketSize) {
      throw new PacketError(
        ReasonCode.PacketTooLarge,
        `a packet of ${headerLength + rl} bytes exceeds the Maximum Packet Size of ${this.maximumPacketSize}`,
      );
    }
    const end = bodyStart + rl;
    if (end > data.length) {
      const body = allocBytesLike(data, rl);
      const have = data.length - bodyStart;
      body.set(data.subarray(bodyStart), 0);
      this.body = body;
      this.bodyFilled = have;
      this.bodyFirstByte = b0;
      this.bodyHeaderLength = headerLength;
      return -1;
    }
    const packet = decodeBody(this, b0, data, bodyStart, end);
    this.resumeAt = end;
    this.inCallback = true;
    onPacket(packet);
    this.inCallback = false;
    return end;
  }

  /** Completes a fixed header held in this.head with the first bytes of `data`. */
  private continueHead(data: Uint8Array, onPacket: (packet: Packet) => void): number {
    const head = this.head!;
    const held = this.headLength;
    const take = Math.min(5 - held, data.length);
    for (let k = 0; k < take; k++) head[held + k] = data[k]!;
    const headerEnd = this.parseRemainingLength(head, 1, held + take);
    if (headerEnd < 0) {
      this.headLength = held + take;
      return -1;
    }
    this.headLength = 0;
    const bodyStart = headerEnd - held; // index in data where the body starts
    return this.frame(head[0]!, headerEnd, data, bodyStart, onPacket);
  }

  /** Adds the first bytes of `data` to the body being assembled; decodes it once complete. */
  private continueBody(data: Uint8Array, onPacket: (packet: Packet) => void): number {
    const body = this.body!;
    const need = body.length - this.bodyFilled;
    if (data.length < need) {
      if (data.length < 16) for (let k = 0; k < data.length; k++) body[this.bodyFilled + k] = data[k]!;
      else body.set(data, this.bodyFilled);
      this.bodyFilled += data.length;
      return -1;
    }
    body.set(need === data.length ? data : data.subarray(0, need), this.bodyFilled);
    this.body = null;
    this.bodyFilled = 0;
    const packet = decodeBody(this, this.bodyFirstByte, body, 0, body.length);
    this.resumeAt = need;
    this.inCallback = true;
    onPacket(packet);
    this.inCallback = false;
    return need;
  }
}
