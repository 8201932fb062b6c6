/**
 * One client connection: bytes ↔ codec, write batching, back-pressure, connect timeout, keep-alive, and the
 * one place where a protocol error becomes bytes on the wire [MQTT-4.13.1-1]:
 *   before CONNACK: a CONNACK with the reason code (5.0) / the 3.1.1 return code if one fits, then close;
 *   after CONNACK:  a DISCONNECT with the reason code (5.0), then close; 3.1/3.1.1: just close.
 * The connection is the session's {@link SessionLink}. It never opens a socket: any Duplex will do.
 */
import type { Duplex } from 'node:stream';
import {
  ConnectReturnCode,
  encode,
  encodedLength,
  MAX_PACKET_SIZE,
  type Packet,
  PacketDecoder,
  PacketError,
  PacketType,
  type ProtocolVersion,
  type PublishPacket,
  ReasonCode,
  type Will,
} from '../../codec/index.js';
import type { BrokerCore } from '../core.js';
import { ProtocolViolation } from '../errors.js';
import type { ClientInfo } from '../hooks.js';
import { type Outgoing, outgoingProperties } from '../message.js';
import type { Session, SessionLink } from '../session/session.js';
import { dispatch } from './dispatch.js';

export const ConnectionState = {
  AwaitingConnect: 0,
  /** CONNECT received, authentication pending. */
  Connecting: 1,
  Connected: 2,
  Closed: 3,
} as const;
export type ConnectionState = (typeof ConnectionState)[keyof typeof ConnectionState];

/** MQTT 5.0 CONNACK reason code → the nearest MQTT 3.1.1 return code; undefined = close without CONNACK. */
export function connackReturnCode311(reasonCode: number): number | undefined {
  switch (reasonCode) {
    case ReasonCode.Success:
      return ConnectReturnCode.ConnectionAccepted;
    case ReasonCode.UnsupportedProtocolVersion:
      return ConnectReturnCode.UnacceptableProtocolVersion;
    case ReasonCode.ClientIdentifierNotValid:
      return ConnectReturnCode.IdentifierRejected;
    case ReasonCode.ServerUnavailable:
    case ReasonCode.ServerBusy:
    case ReasonCode.ServerShuttingDown:
    case ReasonCode.ConnectionRateExceeded:
      return ConnectReturnCode.ServerUnavailable;
    case ReasonCode.BadUserNameOrPassword:
      return ConnectReturnCode.BadUserNameOrPassword;
    case ReasonCode.NotAuthorized:
    case ReasonCode.Banned:
    case ReasonCode.BadAuthenticationMethod:
      return ConnectReturnCode.NotAuthorized;
    default:
      return undefined;
  }
}

export class Connection implements SessionLink {
  state: ConnectionState = ConnectionState.AwaitingConnect;
  protocolVersion: ProtocolVersion = 4;
  clientId = '';
  username: string | undefined;
  session: Session | undefined;
  info: ClientInfo | undefined;
  /** Seconds, after Server Keep Alive. */
  keepAlive = 0;
  will: Will | undefined;
  /** Session Expiry Interval in force (seconds); a v5 DISCONNECT may change it. */
  sessionExpiryInterval = 0;
  /** The client's Receive Maximum (5.0), 65,535 if absent. */
  receiveMaximum = 65_535;
  /** The client's Maximum Packet Size (5.0) [MQTT-3.1.2-25]. */
  clientMaximumPacketSize = MAX_PACKET_SIZE;
  /** 5.0 Request Problem Information; false = no Reason Strings except in CONNACK/DISCONNECT [MQTT-3.1.2-29]. */
  problemInformation = true;
  /** Client → broker topic aliases (5.0). */
  readonly topicAliases = new Map<number, string>();
  /** Why the connection ended, for logs and the clientDisconnected event. */
  closeReason = '';
  /** True once the client sent DISCONNECT (the will is then discarded unless reason 0x04). */
  normalDisconnect = false;

  readonly decoder: PacketDecoder;
  private lastActivity = Date.now();
  private connectTimer: NodeJS.Timeout | undefined;
  private keepAliveTimer: NodeJS.Timeout | undefined;
  private corked = false;
  private busy = false;
  /** Reading stopped because this client does not read what we send it (its acks pile up). */
  private readPaused = false;
  private backlog: Packet[] = [];

  constructor(
    readonly broker: BrokerCore,
    readonly stream: Duplex,
    readonly remoteAddress: string | undefined,
  ) {
    const { options } = broker;
    this.decoder = new PacketDecoder({ maximumPacketSize: options.maxPacketSize });
    stream.on('data', this.onData);
    stream.on('drain', this.onDrain);
    stream.on('error', this.onStreamError);
    stream.on('end', this.onStreamEnd);
    stream.on('close', this.onStreamClose);
    this.connectTimer = setTimeout(() => this.close('connect timeout'), options.connectTimeout * 1000);
    this.connectTimer.unref?.();
  }

  // ─── reading ────────────────────────────────────────────────────────────────────────────────────────────────

  private readonly onData = (chunk: Buffer): void => {
    if (this.state === ConnectionState.Closed) return;
    this.lastActivity = Date.now();
    this.broker.stats.bytesReceived += chunk.length;
    try {
      this.decoder.decode(chunk, this.onPacket);
    } catch (error) {
      this.fail(error);
      return;
    }
    if (!this.writable && this.state === ConnectionState.Connected && !this.readPaused) {
      // A client that sends without reading our answers: stop reading it until its socket drains.
      this.readPaused = true;
      this.stream.pause();
    }
  };

  private readonly onPacket = (packet: Packet): void => {
    if (this.state === ConnectionState.Closed) return;
    if (this.busy) {
      this.backlog.push(packet);
      return;
    }
    this.run(packet);
  };

  /** Runs one packet's handler; a handler that returns a Promise holds every later packet until it settles. */
  private run(packet: Packet): void {
    let result: void | Promise<void>;
    try {
      result = dispatch(this, packet);
    } catch (error) {
      this.fail(error);
      return;
    }
    if (result !== undefined) {
      this.busy = true;
      this.stream.pause();
      result.then(this.resume, (error: unknown) => {
        this.busy = false;
        this.fail(error);
      });
    }
  }

  private readonly resume = (): void => {
    this.busy = false;
    while (!this.busy && this.backlog.length > 0 && this.state !== ConnectionState.Closed) {
      const next = this.backlog.shift()!;
      this.run(next);
    }
    if (!this.busy && !this.readPaused && this.state !== ConnectionState.Closed) this.stream.resume();
  };

  // ─── writing ────────────────────────────────────────────────────────────────────────────────────────────────

  /** Sends a packet; writes of one event-loop turn go out together (cork / uncork on the next tick). */
  send(packet: Packet): void {
    this.writeBytes(encode(packet, this.protocolVersion));
  }

  writeBytes(bytes: Uint8Array): void {
    if (this.state === ConnectionState.Closed || this.stream.destroyed) return;
    if (!this.corked) {
      this.corked = true;
      this.stream.cork();
      process.nextTick(this.uncork);
    }
    this.stream.write(bytes);
    this.broker.stats.bytesSent += bytes.length;
  }

  private readonly uncork = (): void => {
    this.corked = false;
    this.stream.uncork();
  };

  /**
   * SessionLink: false while the socket has more than maxWriteBuffer bytes waiting. The limit is never below the
   * stream's high-water mark, so that whenever this turns false a write has returned false and 'drain' will follow.
   */
  get writable(): boolean {
    const stream = this.stream;
    return (
      this.state === ConnectionState.Connected &&
      stream.writableLength < Math.max(this.broker.options.maxWriteBuffer, stream.writableHighWaterMark)
    );
  }

  private readonly onDrain = (): void => {
    if (this.readPaused) {
      this.readPaused = false;
      if (!this.busy && this.state !== ConnectionState.Closed) this.stream.resume();
    }
    this.session?.drain(Date.now());
  };

  /** SessionLink: writes one PUBLISH for a subscriber; false if it exceeds the client's Maximum Packet Size. */
  sendPublish(outgoing: Outgoing, packetId: number | undefined, dup: boolean): boolean {
    const { message } = outgoing;
    const v5 = this.protocolVersion === 5;
    const stats = this.broker.stats;
    if (outgoing.qos === 0 && outgoing.subscriptionIdentifiers === undefined && message.expiresAt === undefined) {
      // The same bytes for every subscriber of this protocol family and retain flag: encode once.
      const index = (v5 ? 2 : 0) + (outgoing.retain ? 1 : 0);
      let cache = message.encoded;
      let bytes = cache?.[index];
      if (bytes === undefined) {
        bytes = encode(
          {
            type: PacketType.PUBLISH,
            topic: message.topic,
            payload: message.payload,
            qos: 0,
            retain: outgoing.retain,
            dup: false,
            properties: v5 ? message.properties : undefined,
          },
          this.protocolVersion,
        );
        if (cache === undefined) {
          cache = [];
          message.encoded = cache;
        }
        cache[index] = bytes;
      }
      if (bytes.length > this.clientMaximumPacketSize) return false;
      this.writeBytes(bytes);
      stats.messagesSent++;
      return true;
    }
    const packet: PublishPacket = {
      type: PacketType.PUBLISH,
      topic: message.topic,
      payload: message.payload,
      qos: outgoing.qos,
      retain: outgoing.retain,
      dup,
      packetId,
      properties: v5 ? outgoingProperties(outgoing, Date.now()) : undefined,
    };
    if (
      this.clientMaximumPacketSize < MAX_PACKET_SIZE &&
      encodedLength(packet, this.protocolVersion) > this.clientMaximumPacketSize
    ) {
      return false; // [MQTT-3.1.2-25]
    }
    this.send(packet);
    stats.messagesSent++;
    return true;
  }

  sendPubrel(packetId: number, reasonCode: number): void {
    this.send({
      type: PacketType.PUBREL,
      packetId,
      reasonCode: this.protocolVersion === 5 && reasonCode !== 0 ? reasonCode : undefined,
    });
  }

  // ─── timers ─────────────────────────────────────────────────────────────────────────────────────────────────

  clearConnectTimer(): void {
    if (this.connectTimer !== undefined) clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
  }

  /** [MQTT-3.1.2-24] (3.1.1) / [MQTT-3.1.2-22] (5.0): close after one and a half times the Keep Alive without any packet from the client. */
  startKeepAlive(): void {
    if (this.keepAlive <= 0) return;
    const limit = this.keepAlive * 1500;
    const check = (): void => {
      const idle = Date.now() - this.lastActivity;
      if (idle >= limit) {
        this.fail(new ProtocolViolation(ReasonCode.KeepAliveTimeout, 'keep alive timeout'));
        return;
      }
      this.keepAliveTimer = setTimeout(check, limit - idle);
      this.keepAliveTimer.unref?.();
    };
    this.keepAliveTimer = setTimeout(check, limit);
    this.keepAliveTimer.unref?.();
  }

  // ─── ending ─────────────────────────────────────────────────────────────────────────────────────────────────

  /**
   * THE place where an error becomes what the client sees [MQTT-4.13.1-1]: PacketError (codec) and
   * ProtocolViolation (handlers) carry a reason code; anything else is an Unspecified error (0x80).
   */
  fail(error: unknown): void {
    if (this.state === ConnectionState.Closed) return;
    const reasonCode =
      error instanceof PacketError || error instanceof ProtocolViolation
        ? error.reasonCode
        : ReasonCode.UnspecifiedError;
    const message = error instanceof Error ? error.message : String(error);
    if (!(error instanceof PacketError || error instanceof ProtocolViolation)) {
      this.broker.logger?.error({ err: error, clientId: this.clientId }, 'internal error while handling a packet');
    }
    if (this.state === ConnectionState.Connected) {
      if (this.protocolVersion === 5) {
        this.send(
          this.withinMaximumPacketSize({
            type: PacketType.DISCONNECT,
            reasonCode,
            properties: { reasonString: message },
          }),
        );
      }
    } else {
      this.refuseConnect(reasonCode, message);
    }
    this.close(`protocol error 0x${reasonCode.toString(16)}: ${message}`);
  }

  /** Before CONNACK: answer with a CONNACK carrying the refusal, in the form the client's version knows. */
  refuseConnect(reasonCode: number, reasonString?: string): void {
    if (reasonCode === ReasonCode.UnsupportedProtocolVersion) {
      // [MQTT-3.1.2-2] unknown level: answer in the 3.1.1 format (return code 0x01), as Mosquitto does.
      this.writeBytes(
        encode(
          {
            type: PacketType.CONNACK,
            sessionPresent: false,
            reasonCode: ConnectReturnCode.UnacceptableProtocolVersion,
          },
          4,
        ),
      );
      return;
    }
    const version =
      this.state === ConnectionState.AwaitingConnect ? this.decoder.protocolVersion : this.protocolVersion;
    if (version === 5) {
      const properties = reasonString !== undefined && this.problemInformation ? { reasonString } : undefined;
      const connack = this.withinMaximumPacketSize({
        type: PacketType.CONNACK,
        sessionPresent: false,
        reasonCode,
        properties,
      });
      this.writeBytes(encode(connack, 5));
      return;
    }
    const code = connackReturnCode311(reasonCode);
    if (code !== undefined && code !== 0) {
      this.writeBytes(encode({ type: PacketType.CONNACK, sessionPresent: false, reasonCode: code }, version));
    }
  }

  /**
   * A CONNACK or DISCONNECT without its Reason String if the Reason String would make it larger than the client's
   * Maximum Packet Size ([MQTT-3.2.2-19], [MQTT-3.14.2-3]).
   */
  private withinMaximumPacketSize<T extends Packet & { properties?: { reasonString?: string } }>(packet: T): T {
    if (packet.properties?.reasonString === undefined) return packet;
    if (this.clientMaximumPacketSize >= MAX_PACKET_SIZE) return packet;
    if (encodedLength(packet, 5) <= this.clientMaximumPacketSize) return packet;
    const { reasonString: _dropped, ...rest } = packet.properties;
    return { ...packet, properties: Object.keys(rest).length > 0 ? rest : undefined };
  }

  /** Sends a server DISCONNECT (5.0 only) and closes. */
  disconnect(reasonCode: number, reason: string): void {
    if (this.state === ConnectionState.Closed) return;
    if (this.state === ConnectionState.Connected && this.protocolVersion === 5) {
      this.send({ type: PacketType.DISCONNECT, reasonCode });
    }
    this.close(reason);
  }

  /** Ends the connection now: state cleanup runs at once, the socket is ended (and destroyed if it lingers). */
  close(reason: string): void {
    if (this.state === ConnectionState.Closed) return;
    const wasConnected = this.state === ConnectionState.Connected;
    this.state = ConnectionState.Closed;
    this.closeReason = reason;
    this.clearConnectTimer();
    if (this.keepAliveTimer !== undefined) clearTimeout(this.keepAliveTimer);
    this.keepAliveTimer = undefined;
    this.backlog = [];
    if (this.corked) {
      this.corked = false;
      this.stream.uncork();
    }
    this.broker.connectionClosed(this, wasConnected);
    if (!this.stream.destroyed) {
      this.stream.end();
      const timer = setTimeout(() => this.stream.destroy(), 1000);
      timer.unref?.();
      this.stream.once('close', () => clearTimeout(timer));
    }
  }

  private readonly onStreamEnd = (): void => {
    this.close(this.normalDisconnect ? 'client disconnected' : 'connection closed by client');
  };

  private readonly onStreamClose = (): void => {
    this.close(this.normalDisconnect ? 'client disconnected' : 'connection lost');
  };

  private readonly onStreamError = (error: Error): void => {
    this.broker.logger?.debug({ err: error, clientId: this.clientId }, 'socket error');
    this.close(`socket error: ${error.message}`);
    this.stream.destroy();
  };
}
