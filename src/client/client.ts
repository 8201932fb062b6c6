/**
 * MqttClient: the promise-first facade. It owns the reconnect loop and turns user calls into session requests;
 * the session (session.ts) decides what goes on the wire, the connection (connection.ts) puts it there.
 */
import {
  type ConnackPacket,
  type DisconnectPacket,
  encode,
  encodedLength,
  type Packet,
  PacketDecoder,
  PacketError,
  PacketType,
  type PublishPacket,
  type PubrelPacket,
  ReasonCode,
} from '../codec/index.js';
import { Connection } from './connection.js';
import { Emitter } from './emitter.js';
import {
  ClientClosedError,
  ConnectionRefusedError,
  DisconnectedError,
  MqttClientError,
  PublishError,
  returnCodeToReasonCode,
  SubscribeError,
} from './errors.js';
import { type Message, MessageStream } from './messages.js';
import { type ResolvedOptions, toBytes } from './options.js';
import { fromPacketProperties, type Properties, toPacketProperties } from './properties.js';
import { Backoff } from './reconnect.js';
import { type RequestOptions, RequestTracker } from './request.js';
import { type AckResult, ClientSession, type PublishResult as SessionPublishResult } from './session.js';
import { topicMatches } from './topic.js';
import type { TransportFactory } from './transport/transport.js';
import {
  type ClientEvents,
  type PublishOptions,
  type PublishResult,
  type SubscribeOptions,
  type SubscriptionGrant,
  toSubscribeRequest,
  type UnsubscribeResult,
} from './types.js';

export type {
  ClientEvents,
  PublishOptions,
  PublishResult,
  SubscribeOptions,
  SubscriptionGrant,
  UnsubscribeResult,
} from './types.js';

type Settle<T> = { resolve(value: T): void; reject(error: Error): void };
const deferred = <T>(): Settle<T> & { promise: Promise<T> } => {
  let settle!: Settle<T>;
  const promise = new Promise<T>((resolve, reject) => {
    settle = { resolve, reject };
  });
  return { promise, ...settle };
};

export class MqttClient extends Emitter<ClientEvents> {
  /** True while a connection is established (CONNACK accepted). */
  connected = false;
  /** True while waiting to reconnect or reconnecting. */
  reconnecting = false;
  /** True once end() was called or the client gave up; it never connects again. */
  disconnected = false;
  /** The client identifier in use (the broker's Assigned Client Identifier when the id was empty). */
  clientId: string;
  /** The last CONNACK accepted. */
  connack: ConnackPacket | undefined;

  private readonly session: ClientSession;
  private readonly backoff: Backoff;
  private readonly streams = new Set<MessageStream>();
  private readonly requests: RequestTracker;
  private connection: Connection | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private firstConnect: Settle<ConnackPacket> | undefined;
  private lastError: Error | undefined;
  private drainWaiters: (() => void)[] = [];
  private idleWaiter: (() => void) | undefined;
  private finished = false;
  private held: Message[] | undefined;

  constructor(
    readonly options: ResolvedOptions,
    private readonly transport: TransportFactory,
  ) {
    super();
    this.clientId = options.clientId;
    this.session = new ClientSession({
      queueLimit: options.queueLimit,
      resubscribe: options.resubscribe,
      manualAck: options.manualAck,
      protocolVersion: options.protocolVersion,
      persist: options.store && {
        put: (id, packet) => options.store?.put(id, encode(packet, options.protocolVersion)),
        delete: (id) => options.store?.delete(id),
      },
    });
    this.backoff = new Backoff({ initialMs: options.reconnectPeriod, maxMs: options.maxReconnectPeriod });
    this.requests = new RequestTracker(this);
  }

  /** Opens the first connection. Resolves on CONNACK success; rejects (and ends the client) on any failure. */
  async start(): Promise<ConnackPacket> {
    const first = deferred<ConnackPacket>();
    this.firstConnect = first;
    if (this.options.store !== undefined) {
      const decoder = new PacketDecoder({ protocolVersion: this.options.protocolVersion });
      const flows: (PublishPacket | PubrelPacket)[] = [];
      for (const bytes of await this.options.store.load()) {
        decoder.decode(bytes, (p) => {
          if (p.type === PacketType.PUBLISH || p.type === PacketType.PUBREL) flows.push(p);
        });
      }
      this.session.restore(flows);
    }
    this.open();
    return first.promise;
  }

  /**
   * Publishes. Resolves when the QoS flow completes: when sent (QoS 0; or when the transport drained, if it was
   * congested), on PUBACK (QoS 1), on PUBCOMP (QoS 2). Rejects with PublishError carrying the reason code when the
   * broker refuses it (≥ 0x80) or when it exceeds the broker's limits (0x95 packet too large, 0x9B QoS, 0x9A retain).
   */
  async publish(topic: string, payload: string | Uint8Array, options: PublishOptions = {}): Promise<PublishResult> {
    if (this.disconnected) throw new ClientClosedError();
    const packet: PublishPacket = {
      type: PacketType.PUBLISH,
      topic,
      payload: toBytes(payload),
      qos: options.qos ?? 0,
      retain: options.retain ?? false,
      dup: options.dup ?? false,
    };
    if (packet.qos > 0) packet.packetId = 1; // a placeholder for checkPublish's encodedLength; the session assigns it
    if (this.options.protocolVersion === 5 && options.properties !== undefined) {
      packet.properties = toPacketProperties(options.properties)!;
    }
    this.checkPublish(packet);
    const done = deferred<SessionPublishResult>();
    this.write(this.session.publish(packet, done));
    const result = await done.promise;
    if (packet.qos === 0 && this.connection?.congested) await new Promise<void>((r) => this.drainWaiters.push(r));
    if (result.properties === undefined) return { reasonCode: result.reasonCode };
    return { reasonCode: result.reasonCode, properties: fromPacketProperties(result.properties)! };
  }

  /**
   * Subscribes. Resolves with one grant per filter — a filter the broker refused has a reason code ≥ 0x80 there;
   * the promise rejects only when the request as a whole fails (client ended, queue full, connection refused).
   */
  async subscribe(
    filters: string | string[] | Record<string, SubscribeOptions>,
    options: SubscribeOptions = {},
  ): Promise<SubscriptionGrant[]> {
    if (this.disconnected) throw new ClientClosedError();
    const { entries, subscriptions, properties } = toSubscribeRequest(filters, options, this.options.protocolVersion);
    const done = deferred<AckResult>();
    this.write(this.session.subscribe(subscriptions, properties, done));
    const { reasonCodes } = await done.promise;
    if (reasonCodes.length !== entries.length) {
      throw new SubscribeError(
        ReasonCode.ProtocolError,
        `SUBACK has ${reasonCodes.length} codes for ${entries.length} filters`,
      );
    }
    return entries.map(([topic], i) => {
      const reasonCode = reasonCodes[i]!;
      return { topic, qos: reasonCode, reasonCode };
    });
  }

  /** Unsubscribes; resolves with one reason code per filter (0 under 3.1.1, which has none). */
  async unsubscribe(
    filters: string | string[],
    options: { properties?: Properties } = {},
  ): Promise<UnsubscribeResult[]> {
    if (this.disconnected) throw new ClientClosedError();
    const list = typeof filters === 'string' ? [filters] : filters;
    const properties = this.options.protocolVersion === 5 ? toPacketProperties(options.properties) : undefined;
    const done = deferred<AckResult>();
    this.write(this.session.unsubscribe(list, properties, done));
    const { reasonCodes } = await done.promise;
    return list.map((topic, i) => ({ topic, reasonCode: reasonCodes[i] ?? 0 }));
  }

  /** With manualAck: acknowledges a received QoS 1/2 message (a reason ≥ 0x80 refuses it, MQTT 5.0). */
  ack(message: Message, reasonCode = 0): void {
    if (message.packetId === undefined || !this.connected) return;
    this.write(this.session.acknowledge(message.packetId, message.qos, reasonCode));
  }

  /**
   * The messages received on `filter` as an async iterable. It does not subscribe (call subscribe() for that);
   * it filters what arrives. At most `bufferSize` (default 1000) unread messages are kept: older ones are dropped.
   */
  messages(filter: string, options: { bufferSize?: number } = {}): MessageStream {
    const stream = new MessageStream(filter, options.bufferSize ?? 1000, (s) => this.streams.delete(s));
    if (this.disconnected) stream.end();
    else this.streams.add(stream);
    return stream;
  }

  /**
   * MQTT 5.0 request/response: publishes with a Response Topic and Correlation Data and resolves with the first
   * message that comes back on that topic with that correlation data (rejects with TimeoutError after `timeout`).
   */
  request(topic: string, payload: string | Uint8Array, options: RequestOptions = {}): Promise<Message> {
    return this.requests.request(topic, payload, options);
  }

  /**
   * Ends the client. Unless `force`, waits for in-flight QoS 1/2 flows (at most `connectTimeout`), sends DISCONNECT
   * and closes gracefully; requests still open are rejected with ClientClosedError. Resolves once closed.
   */
  async end(force = false): Promise<void> {
    if (this.disconnected) return;
    this.disconnected = true;
    clearTimeout(this.reconnectTimer);
    const connection = this.connection;
    if (connection !== undefined) {
      const closed = new Promise<void>((resolve) => this.once('close', resolve));
      if (!force && this.connected) {
        await this.settled(this.options.connectTimeout);
        const packet: DisconnectPacket = { type: PacketType.DISCONNECT };
        connection.send(packet);
        connection.end();
        const timer = setTimeout(() => connection.destroy(), 1000);
        await closed;
        clearTimeout(timer);
      } else {
        connection.destroy();
        await closed;
      }
    }
    this.finish(new ClientClosedError());
  }

  // --- internals -----------------------------------------------------------------------------------------------

  /** Hands packets from the session to the current connection (none while disconnected: the session queued them). */
  private write(packets: Packet[]): void {
    const connection = this.connection;
    if (connection === undefined || !this.connected) return;
    for (const packet of packets) connection.send(packet);
  }

  private checkPublish(packet: PublishPacket): void {
    try {
      const size = encodedLength(packet, this.options.protocolVersion);
      const p = this.connack?.properties;
      if (p?.maximumPacketSize !== undefined && size > p.maximumPacketSize) {
        throw new PublishError(ReasonCode.PacketTooLarge, `a ${size}-byte PUBLISH exceeds the broker's maximum`);
      }
      if (p?.maximumQoS !== undefined && packet.qos > p.maximumQoS) {
        throw new PublishError(ReasonCode.QoSNotSupported, `the broker's Maximum QoS is ${p.maximumQoS}`);
      }
      if (p?.retainAvailable === 0 && packet.retain) {
        throw new PublishError(ReasonCode.RetainNotSupported, 'the broker does not support retained messages');
      }
    } catch (error) {
      if (error instanceof PacketError) throw new PublishError(error.reasonCode, error.message);
      throw error;
    }
  }

  private open(): void {
    const connection: Connection = new Connection(this.options, this.transport, {
      packet: (packet) => this.receive(connection, packet),
      sent: (packet) => this.emit('packetsend', packet),
      drain: () => {
        for (const resolve of this.drainWaiters.splice(0)) resolve();
      },
      close: (error) => this.closed(connection, error),
    });
    this.connection = connection;
  }

  private receive(connection: Connection, packet: Packet): void {
    this.emit('packetreceive', packet);
    if (!this.connected) {
      if (packet.type === PacketType.CONNACK) this.connackReceived(connection, packet);
      else connection.destroy(new MqttClientError(`expected CONNACK, received packet type ${packet.type}`));
      return;
    }
    switch (packet.type) {
      case PacketType.PUBLISH: {
        const { send, deliver } = this.session.receivePublish(packet);
        this.write(send);
        if (deliver) this.deliver(packet);
        return;
      }
      case PacketType.DISCONNECT: {
        this.emit('disconnect', packet);
        const code = packet.reasonCode ?? 0;
        connection.destroy(new DisconnectedError(code, packet.properties?.reasonString));
        return;
      }
      case PacketType.PINGRESP:
        return;
      default:
        this.write(this.session.handle(packet));
        if (this.idleWaiter !== undefined && this.session.inFlight === 0 && this.session.queued === 0) {
          this.idleWaiter();
        }
    }
  }

  private connackReceived(connection: Connection, connack: ConnackPacket): void {
    if (connack.reasonCode !== 0) {
      const v5 = this.options.protocolVersion === 5;
      const reasonCode = v5 ? connack.reasonCode : returnCodeToReasonCode(connack.reasonCode);
      const reasonString = connack.properties?.reasonString;
      connection.destroy(new ConnectionRefusedError(reasonCode, v5 ? undefined : connack.reasonCode, reasonString));
      return;
    }
    this.connack = connack;
    this.clientId = connack.properties?.assignedClientIdentifier ?? this.clientId;
    connection.accepted(connack, this.options.autoAssignTopicAlias);
    this.connected = true;
    this.reconnecting = false;
    this.backoff.reset();
    this.write(this.session.connack(connack));
    this.emit('connect', connack);
    const first = this.firstConnect;
    this.firstConnect = undefined;
    if (first !== undefined) {
      // Messages the broker sends right behind the first CONNACK (a kept session's queue, retained messages) are
      // held until the next macrotask, so that `const c = await connect(); c.on('message', …)` does not miss them.
      this.held = [];
      setTimeout(() => {
        const held = this.held ?? [];
        this.held = undefined;
        for (const message of held) this.dispatch(message);
      }, 0);
      first.resolve(connack);
    }
  }

  private deliver(packet: PublishPacket): void {
    const message: Message = {
      topic: packet.topic,
      payload: packet.payload,
      qos: packet.qos,
      retain: packet.retain,
      dup: packet.dup,
    };
    if (packet.packetId !== undefined) message.packetId = packet.packetId;
    if (packet.properties !== undefined) {
      const { topicAlias: _alias, ...rest } = packet.properties;
      message.properties = fromPacketProperties(rest)!;
    }
    if (this.held !== undefined) this.held.push(message);
    else this.dispatch(message);
  }

  private dispatch(message: Message): void {
    if (this.requests.consume(message)) return;
    for (const stream of this.streams) if (topicMatches(stream.filter, message.topic)) stream.push(message);
    this.emit('message', message.topic, message.payload, message);
  }

  private closed(connection: Connection, error: Error | undefined): void {
    if (connection !== this.connection) return;
    this.connection = undefined;
    const wasConnected = this.connected;
    this.connected = false;
    this.session.disconnected();
    for (const resolve of this.drainWaiters.splice(0)) resolve();
    if (error !== undefined) {
      this.lastError = error;
      this.emit('error', error);
    }
    this.emit('close');
    if (wasConnected) this.emit('offline');
    if (this.disconnected) return; // end() finishes
    const first = this.firstConnect;
    if (first !== undefined) {
      this.finish(error ?? new ClientClosedError('the connection closed before CONNACK'));
      return;
    }
    if (this.options.reconnectPeriod <= 0) {
      this.finish(new ClientClosedError('the connection was lost and reconnectPeriod is 0'));
      return;
    }
    this.reconnecting = true;
    this.reconnectTimer = setTimeout(() => {
      if (this.disconnected) return;
      this.emit('reconnect');
      this.open();
    }, this.backoff.next());
  }

  /** Rejects what is still open, ends the message streams, emits 'end'. */
  private finish(error: Error): void {
    if (this.finished) return;
    this.finished = true;
    this.disconnected = true;
    this.reconnecting = false;
    clearTimeout(this.reconnectTimer);
    this.session.close(error);
    this.requests.close(error);
    for (const stream of this.streams) stream.end();
    this.streams.clear();
    const first = this.firstConnect;
    this.firstConnect = undefined;
    first?.reject(error);
    this.emit('end');
  }

  /** Resolves when nothing is in flight or queued, or after `timeoutMs`. */
  private settled(timeoutMs: number): Promise<void> {
    if (this.session.inFlight === 0 && this.session.queued === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.idleWaiter = () => {
        this.idleWaiter = undefined;
        done();
      };
    });
  }

  /** @internal the last error that closed a connection. */
  get error(): Error | undefined {
    return this.lastError;
  }
}
