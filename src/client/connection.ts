/**
 * One network connection of the client: the transport, the decoder, the write batching, the topic alias maps and
 * keep-alive. It knows nothing of sessions or promises: it sends CONNECT when the transport opens, hands every
 * decoded packet up, and reports its end once (with the error that caused it, if any).
 */
import {
  type ConnackPacket,
  encode,
  MAX_PACKET_SIZE,
  type Packet,
  PacketDecoder,
  PacketError,
  PacketType,
  type PublishPacket,
} from '../codec/index.js';
import { ProtocolError, TimeoutError, TransportError } from './errors.js';
import { KeepAlive } from './keepalive.js';
import { connectPacket, type ResolvedOptions } from './options.js';
import { TopicAliasReceiver, TopicAliasSender } from './topic-alias.js';
import type { Transport, TransportFactory } from './transport/transport.js';

export interface ConnectionEvents {
  /** A decoded packet (an incoming PUBLISH has its topic alias resolved). */
  packet(packet: Packet): void;
  /** A packet was handed to the transport. */
  sent(packet: Packet): void;
  /** The transport drained after being congested. */
  drain(): void;
  /** The connection ended (exactly once). */
  close(error: Error | undefined): void;
}

export class Connection {
  /** True when the last write found the transport over its high-water mark. */
  congested = false;
  private readonly transport: Transport;
  private readonly decoder: PacketDecoder;
  private readonly version: 3 | 4 | 5;
  private readonly aliasesIn: TopicAliasReceiver;
  private aliasesOut: TopicAliasSender | undefined;
  private keepAlive: KeepAlive | undefined;
  private outbox: Uint8Array[] = [];
  private outboxBytes = 0;
  private flushScheduled = false;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private failure: Error | undefined;
  private closed = false;

  constructor(
    private readonly options: ResolvedOptions,
    factory: TransportFactory,
    private readonly events: ConnectionEvents,
  ) {
    this.version = options.protocolVersion;
    const maximumPacketSize = (this.version === 5 && options.properties?.maximumPacketSize) || MAX_PACKET_SIZE;
    this.decoder = new PacketDecoder({ protocolVersion: this.version, maximumPacketSize });
    this.aliasesIn = new TopicAliasReceiver(this.version === 5 ? (options.properties?.topicAliasMaximum ?? 0) : 0);
    this.connectTimer = setTimeout(
      () => this.destroy(new TimeoutError('connect', options.connectTimeout)),
      options.connectTimeout,
    );
    const handlers = {
      onOpen: () => this.send(connectPacket(options)),
      onData: (chunk: Uint8Array) => this.receive(chunk),
      onDrain: () => {
        this.congested = false;
        events.drain();
      },
      onClose: (error?: Error) => this.closedByTransport(error),
    };
    let transport: Transport;
    try {
      transport = factory(options, handlers);
    } catch (error) {
      // A transport that cannot even start (no WebSocket in this environment, a bad URL) fails like a closed one.
      transport = { write: () => false, end() {}, destroy() {} };
      queueMicrotask(() => this.closedByTransport(error as Error));
    }
    this.transport = transport;
  }

  /** The broker accepted the connection: stop the connect timer, apply its limits, start keep-alive. */
  accepted(connack: ConnackPacket, autoAlias: boolean): void {
    clearTimeout(this.connectTimer);
    const p = connack.properties;
    if (autoAlias && this.version === 5) this.aliasesOut = new TopicAliasSender(p?.topicAliasMaximum ?? 0);
    // [MQTT-3.2.2-21]: the Server Keep Alive replaces the value the client asked for.
    const seconds = p?.serverKeepAlive ?? this.options.keepalive;
    const timeoutMs = this.options.pingTimeout ?? Math.max(seconds * 500, 1000);
    this.keepAlive = new KeepAlive({
      intervalMs: seconds * 1000,
      timeoutMs,
      sendPing: () => this.send({ type: PacketType.PINGREQ }),
      onTimeout: () => this.destroy(new TimeoutError('ping', timeoutMs)),
    });
    this.keepAlive.start();
  }

  /** Encodes and queues a packet; the queue is written in one piece at the end of the current turn. */
  send(packet: Packet): void {
    if (this.closed) return;
    const wire = packet.type === PacketType.PUBLISH && this.aliasesOut !== undefined ? this.alias(packet) : packet;
    const bytes = encode(wire, this.version);
    this.outbox.push(bytes);
    this.outboxBytes += bytes.length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => this.flush());
    }
    this.keepAlive?.packetSent();
    this.events.sent(packet);
  }

  /** Writes what is queued, then closes gracefully. */
  end(): void {
    if (this.closed) return;
    this.flush();
    this.transport.end();
  }

  /** Closes now; `error` is what close() will report. A 5.0 protocol error is told to the broker first. */
  destroy(error?: Error): void {
    if (this.closed) return;
    this.failure ??= error;
    if (error instanceof ProtocolError && this.version === 5) {
      this.send({ type: PacketType.DISCONNECT, reasonCode: error.reasonCode });
      this.flush();
    }
    this.stopTimers();
    this.transport.destroy();
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.outbox.length === 0 || this.closed) return;
    let data: Uint8Array;
    if (this.outbox.length === 1) {
      data = this.outbox[0]!;
    } else {
      data = new Uint8Array(this.outboxBytes);
      let offset = 0;
      for (const chunk of this.outbox) {
        data.set(chunk, offset);
        offset += chunk.length;
      }
    }
    this.outbox = [];
    this.outboxBytes = 0;
    if (!this.transport.write(data)) this.congested = true;
  }

  private alias(packet: PublishPacket): PublishPacket {
    if (packet.properties?.topicAlias !== undefined) {
      this.aliasesOut!.explicit(packet.topic, packet.properties.topicAlias);
      return packet;
    }
    const assigned = this.aliasesOut!.assign(packet.topic);
    if (assigned === undefined) return packet;
    return {
      ...packet,
      topic: assigned.sendTopic ? packet.topic : '',
      properties: { ...packet.properties, topicAlias: assigned.alias },
    };
  }

  private receive(chunk: Uint8Array): void {
    if (this.closed) return;
    this.keepAlive?.packetReceived();
    try {
      this.decoder.decode(chunk, (packet) => {
        if (packet.type === PacketType.PUBLISH && this.version === 5) {
          const alias = packet.properties?.topicAlias;
          if (alias !== undefined) packet.topic = this.aliasesIn.resolve(packet.topic, alias);
        }
        this.events.packet(packet);
      });
    } catch (error) {
      if (error instanceof PacketError) this.destroy(new ProtocolError(error.reasonCode, error.message));
      else if (error instanceof ProtocolError) this.destroy(error);
      else throw error;
    }
  }

  private stopTimers(): void {
    clearTimeout(this.connectTimer);
    this.keepAlive?.stop();
  }

  private closedByTransport(error: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.stopTimers();
    this.outbox = [];
    const cause = this.failure ?? (error === undefined ? undefined : toTransportError(error));
    this.events.close(cause);
  }
}

function toTransportError(error: Error): Error {
  const wrapped = new TransportError(error.message);
  (wrapped as { cause?: unknown }).cause = error;
  return wrapped;
}
