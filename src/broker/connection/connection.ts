/**
 * One client connection: bytes ↔ codec, write batching, back-pressure, connect timeout, keep-alive, and the
 * one place where a protocol error becomes bytes on the wire [MQTT-4.13.1-1]:
 *   before CONNACK: a CONNACK with the reason code (5.0) / the 3.1.1 return code if one fits, then close;
 *   after CONNACK:  a DISCONNECT with the reason code (5.0), then close; 3.1/3.1.1: just close.
 * The connection is the session's {@link SessionLink}. It never opens a socket: any Duplex will do.
 *
 * Cost per connection matters (a broker holds many idle ones): the stream listeners are shared functions that find
 * their Connection through a symbol on the stream, the connect timeout / keep alive / closing linger are one entry
 * in the broker's timer wheel (no Timeout object), and buffers and maps are allocated when first used.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { PeerCertificate } from 'node:tls';
import {
  type ConnectPacket,
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
import type { ClientInfo, EnhancedAuthExchange } from '../hooks.js';
import type { PublishRateLimiter } from '../limits.js';
import { type Outgoing, outgoingProperties } from '../message.js';
import type { Session, SessionLink } from '../session/session.js';
import type { WheelEntry } from '../timers.js';
import { dispatch } from './dispatch.js';

/** Output of one turn up to this size is copied into one buffer and written once; above it, corked writes. */
const MAX_COALESCE = 64 * 1024;
/** How long a closed connection's socket may take to finish sending before it is destroyed. */
const CLOSE_LINGER_MS = 1000;

const kConnection = Symbol('midge.connection');
type AttachedStream = Duplex & { [kConnection]?: Connection };

// Stream listeners shared by every connection (`this` is the stream): no closures per socket.
function onStreamData(this: AttachedStream, chunk: Buffer): void {
  this[kConnection]?.onData(chunk);
}
function onStreamDrain(this: AttachedStream): void {
  this[kConnection]?.onDrain();
}
function onStreamEnd(this: AttachedStream): void {
  const connection = this[kConnection];
  connection?.close(connection.normalDisconnect ? 'client disconnected' : 'connection closed by client');
}
function onStreamClose(this: AttachedStream): void {
  const connection = this[kConnection];
  if (connection === undefined) return;
  connection.close(connection.normalDisconnect ? 'client disconnected' : 'connection lost');
  connection.broker.wheel.cancel(connection); // the closing linger, if any
}
function onStreamError(this: AttachedStream, error: Error): void {
  this[kConnection]?.onStreamError(error);
}

/** The connection whose bytes the decoder is decoding (the decoder calls back synchronously; nesting is restored). */
let decoding: Connection | undefined;
function onDecodedPacket(packet: Packet): void {
  decoding!.onPacket(packet);
}

/** What the transport knows of the peer beyond its address (TLS listeners). */
export interface PeerIdentity {
  /** The client certificate, verified against the listener's CA. */
  certificate?: PeerCertificate;
  /** The certificate's CN, when the listener uses it as the user name (use_identity_as_username). */
  certificateIdentity?: string;
}

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

export class Connection implements SessionLink, WheelEntry {
  state: ConnectionState = ConnectionState.AwaitingConnect;
  protocolVersion: ProtocolVersion = 4;
  clientId = '';
  username: string | undefined;
  session: Session | undefined;
  /** True once a CONNECT has been taken in (client id, user name and version known): `info` is then defined. */
  identified = false;
  private clientInfo: ClientInfo | undefined;
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
  /** ms since the epoch when the CONNECT was taken in (0 before). */
  connectedAt = 0;
  /** Why the connection ended, for logs and the clientDisconnected event. */
  closeReason = '';
  /** True once the client sent DISCONNECT (the will is then discarded unless reason 0x04). */
  normalDisconnect = false;
  /** 5.0 enhanced authentication: the CONNECT's Authentication Method, and the exchange in progress (if any). */
  authMethod: string | undefined;
  authExchange: EnhancedAuthExchange | undefined;
  /** Authentication Data for the CONNACK (last step of an enhanced authentication). */
  connackAuthData: Uint8Array | undefined;
  /** The CONNECT authenticated by an AUTH exchange (kept for re-authentication), and whether its id was assigned. */
  pendingConnect: { packet: ConnectPacket; assigned: boolean } | undefined;
  /** The address counted against maxConnectionsPerIp (read once when the socket opened). */
  countedAddress: string | undefined;
  /** Per-client publish rate (set at CONNACK when a limit is configured). */
  publishLimiter: PublishRateLimiter | undefined;
  /** The read check of every message written to this client (hooks.authorizeRead), set at CONNACK. */
  private readCheck: ((client: ClientInfo, topic: string) => boolean) | undefined;

  readonly decoder: PacketDecoder;
  private lastActivity = Date.now();
  private busy = false;
  /** Reading stopped because this client does not read what we send it (its acks pile up). */
  private readPaused = false;
  /** True while a chunk of this connection is being handled: its output is flushed at the end of it. */
  private reading = false;
  /** Packets that arrived while an async handler was pending. */
  private backlog: Packet[] | undefined;
  /** Output not yet handed to the stream: the first chunk, then the others, and their total size. */
  private outFirst: Uint8Array | undefined;
  private outMore: Uint8Array[] | undefined;
  private outBytes = 0;
  private aliases: Map<number, string> | undefined;

  // WheelEntry: one deadline at a time: connect timeout, then keep alive, then the closing linger.
  wheelDeadline = 0;
  wheelSlot = -1;
  wheelNext: WheelEntry | undefined;
  wheelPrev: WheelEntry | undefined;

  constructor(
    readonly broker: BrokerCore,
    readonly stream: Duplex,
    /** The peer's address if the transport knows it better than the stream (else the socket's, read when needed). */
    private readonly peerAddress?: string,
    /** TLS client certificate and identity, if any. */
    readonly peer?: PeerIdentity,
  ) {
    const { options } = broker;
    this.decoder = new PacketDecoder({ maximumPacketSize: options.maxPacketSize });
    (stream as AttachedStream)[kConnection] = this;
    stream.on('data', onStreamData);
    stream.on('drain', onStreamDrain);
    stream.on('error', onStreamError);
    stream.on('end', onStreamEnd);
    stream.on('close', onStreamClose);
    broker.wheel.schedule(this, this.lastActivity + options.connectTimeout * 1000);
  }

  /** The client's address: the one given to Broker.handle, else the socket's (a getpeername call, made lazily). */
  get remoteAddress(): string | undefined {
    return this.peerAddress ?? (this.stream as Partial<Socket>).remoteAddress;
  }

  /**
   * What hooks and events see of the client; undefined before CONNECT. Made on first use: it reads the peer address,
   * a system call most connections never need.
   */
  get info(): ClientInfo | undefined {
    if (this.clientInfo === undefined && this.identified) {
      this.clientInfo = {
        clientId: this.clientId,
        username: this.username,
        protocolVersion: this.protocolVersion,
        remoteAddress: this.remoteAddress,
      };
    }
    return this.clientInfo;
  }

  /**
   * CONNECT taken in (clientId, username and protocolVersion set). The ClientInfo is made now, while the socket is
   * surely open, if a hook or an event listener may look at it; otherwise only if one asks later.
   */
  identify(): void {
    this.identified = true;
    this.connectedAt = Date.now();
    const broker = this.broker;
    if (
      broker.options.hooks !== undefined ||
      broker.listenerCount('clientConnected') > 0 ||
      broker.listenerCount('clientDisconnected') > 0
    ) {
      this.clientInfo = undefined;
      void this.info;
    }
  }

  /** From CONNACK on: every message written to the client is checked with `check` (read access). */
  setReadCheck(check: ((client: ClientInfo, topic: string) => boolean) | undefined): void {
    this.readCheck = check;
  }

  /** Client → broker topic aliases (5.0), created on first use. */
  get topicAliases(): Map<number, string> {
    if (this.aliases === undefined) this.aliases = new Map();
    return this.aliases;
  }

  // ─── reading ────────────────────────────────────────────────────────────────────────────────────────────────

  /** @internal stream 'data'. */
  onData(chunk: Buffer): void {
    if (this.state === ConnectionState.Closed) return;
    this.lastActivity = Date.now();
    this.broker.stats.bytesReceived += chunk.length;
    const outer = decoding;
    decoding = this;
    this.reading = true;
    try {
      this.decoder.decode(chunk, onDecodedPacket);
    } catch (error) {
      this.fail(error);
    } finally {
      decoding = outer;
      this.reading = false;
    }
    // The answers to this chunk (CONNACK, PUBACK, SUBACK...) go out now, in one write.
    this.flush();
    if (!this.writable && this.state === ConnectionState.Connected && !this.readPaused) {
      // A client that sends without reading our answers: stop reading it until its socket drains.
      this.readPaused = true;
      this.stream.pause();
    }
  }

  /** @internal one decoded packet. */
  onPacket(packet: Packet): void {
    if (this.state === ConnectionState.Closed) return;
    if (this.busy) {
      if (this.backlog === undefined) this.backlog = [];
      this.backlog.push(packet);
      return;
    }
    this.run(packet);
  }

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
      result.then(
        () => this.resume(),
        (error: unknown) => {
          this.busy = false;
          this.fail(error);
        },
      );
    }
  }

  private resume(): void {
    this.busy = false;
    const backlog = this.backlog;
    while (!this.busy && backlog !== undefined && backlog.length > 0 && this.state !== ConnectionState.Closed) {
      const next = backlog.shift()!;
      this.run(next);
    }
    if (!this.busy && !this.readPaused && this.state !== ConnectionState.Closed) this.stream.resume();
  }

  // ─── writing ────────────────────────────────────────────────────────────────────────────────────────────────

  /**
   * Sends a packet. Output is gathered and handed to the stream in one write: at the end of the chunk being handled
   * for this connection, else at the end of the current tick (the broker's flush list).
   */
  send(packet: Packet): void {
    this.writeBytes(encode(packet, this.protocolVersion));
  }

  writeBytes(bytes: Uint8Array): void {
    if (this.state === ConnectionState.Closed || this.stream.destroyed) return;
    if (this.outFirst === undefined) {
      this.outFirst = bytes;
      if (!this.reading) this.broker.queueFlush(this);
    } else {
      if (this.outMore === undefined) this.outMore = [];
      this.outMore.push(bytes);
    }
    this.outBytes += bytes.length;
    this.broker.stats.bytesSent += bytes.length;
  }

  /** Hands the gathered output to the stream: one buffer if small, else corked writes (no copy). */
  flush(): void {
    const first = this.outFirst;
    if (first === undefined) return;
    const more = this.outMore;
    const total = this.outBytes;
    this.outFirst = undefined;
    this.outBytes = 0;
    const stream = this.stream;
    if (more === undefined || more.length === 0) {
      if (!stream.destroyed) stream.write(first);
      return;
    }
    if (!stream.destroyed) {
      if (total <= MAX_COALESCE) {
        const buffer = Buffer.allocUnsafe(total);
        buffer.set(first, 0);
        let offset = first.length;
        for (let i = 0; i < more.length; i++) {
          const chunk = more[i]!;
          buffer.set(chunk, offset);
          offset += chunk.length;
        }
        stream.write(buffer);
      } else {
        stream.cork();
        stream.write(first);
        for (let i = 0; i < more.length; i++) stream.write(more[i]!);
        stream.uncork();
      }
    }
    more.length = 0;
  }

  /**
   * SessionLink: false while more than maxWriteBuffer bytes wait (gathered or in the socket). The limit is never below
   * the stream's high-water mark, so that whenever this turns false the flush's write returns false and 'drain' will
   * follow.
   */
  get writable(): boolean {
    const stream = this.stream;
    return (
      this.state === ConnectionState.Connected &&
      stream.writableLength + this.outBytes < Math.max(this.broker.options.maxWriteBuffer, stream.writableHighWaterMark)
    );
  }

  /** @internal stream 'drain'. */
  onDrain(): void {
    if (this.readPaused) {
      this.readPaused = false;
      if (!this.busy && this.state !== ConnectionState.Closed) this.stream.resume();
    }
    this.session?.drain(Date.now());
  }

  /**
   * SessionLink: writes one PUBLISH for a subscriber; false if it exceeds the client's Maximum Packet Size,
   * 'not-authorized' if the client may not read its topic.
   */
  sendPublish(outgoing: Outgoing, packetId: number | undefined, dup: boolean): boolean | 'not-authorized' {
    const { message } = outgoing;
    const readCheck = this.readCheck;
    if (readCheck !== undefined && !readCheck(this.info!, message.topic)) return 'not-authorized';
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
      stats.messagesSentByQos[0]++;
      stats.payloadBytesSentByQos[0] += message.payload.byteLength;
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
    stats.messagesSentByQos[outgoing.qos]++;
    stats.payloadBytesSentByQos[outgoing.qos] += message.payload.byteLength;
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
    this.broker.wheel.cancel(this);
  }

  /** [MQTT-3.1.2-24] (3.1.1) / [MQTT-3.1.2-22] (5.0): close after one and a half times the Keep Alive without any packet from the client. */
  startKeepAlive(): void {
    if (this.keepAlive <= 0) return;
    this.broker.wheel.schedule(this, this.lastActivity + this.keepAlive * 1500);
  }

  /** WheelEntry: the connect timeout, the keep alive check, or the end of the closing linger. */
  onWheelTimeout(now: number): void {
    switch (this.state) {
      case ConnectionState.AwaitingConnect:
        this.close('connect timeout');
        return;
      case ConnectionState.Connecting:
        // CONNECT received but authentication (an AUTH exchange, a slow hook) did not finish in time.
        this.close('authentication timeout');
        return;
      case ConnectionState.Connected: {
        if (this.keepAlive <= 0) return;
        const deadline = this.lastActivity + this.keepAlive * 1500;
        if (now >= deadline) this.fail(new ProtocolViolation(ReasonCode.KeepAliveTimeout, 'keep alive timeout'));
        else this.broker.wheel.schedule(this, deadline);
        return;
      }
      case ConnectionState.Closed:
        this.stream.destroy();
        return;
    }
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
    const refused = this.broker.stats.connectionsRefused;
    refused[reasonCode] = (refused[reasonCode] ?? 0) + 1;
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
    const wheel = this.broker.wheel;
    wheel.cancel(this);
    this.backlog = undefined;
    this.flush();
    this.broker.connectionClosed(this, wasConnected);
    if (!this.stream.destroyed) {
      this.stream.end();
      // Destroyed if it has not closed within the linger; its 'close' cancels this.
      if (!this.stream.destroyed) wheel.schedule(this, Date.now() + CLOSE_LINGER_MS);
    }
  }

  /** @internal stream 'error'. */
  onStreamError(error: Error): void {
    this.broker.logger?.debug({ err: error, clientId: this.clientId }, 'socket error');
    this.close(`socket error: ${error.message}`);
    this.stream.destroy();
  }
}
