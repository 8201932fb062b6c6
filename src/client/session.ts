/**
 * The client's session state (§4.1): packet identifiers, outgoing QoS 1/2 publishes in flight, incoming QoS 2
 * publishes not yet released, subscriptions to restore, and the queue of requests waiting for the connection or
 * for room in the broker's Receive Maximum. No I/O and no timers: each method takes what happened (a user request,
 * an incoming packet, a connection event) and returns the packets to send, in order. Requests complete through the
 * Ticket the caller handed in.
 */
import {
  type ConnackPacket,
  type Packet,
  PacketType,
  type Properties,
  type PublishPacket,
  type PubrelPacket,
  type QoS,
  ReasonCode,
  type SubscribePacket,
  type Subscription,
  type UnsubscribePacket,
} from '../codec/index.js';
import { ProtocolError, PublishError, QueueFullError } from './errors.js';

/** How a request completes. */
export interface Ticket<T> {
  resolve(value: T): void;
  reject(error: Error): void;
}

/** What a completed publish resolves with: the PUBACK/PUBREC reason (0 for QoS 0 and for 3.1.1). */
export interface PublishResult {
  reasonCode: number;
  properties?: Properties;
}

/** What a SUBACK or UNSUBACK resolves with: one reason code per filter (3.1.1 UNSUBACK: all 0). */
export interface AckResult {
  reasonCodes: number[];
  properties?: Properties;
}

type Request =
  | { kind: 'publish'; packet: PublishPacket; ticket: Ticket<PublishResult>; awaiting: 'ack' | 'rec' | 'comp' }
  | { kind: 'subscribe'; packet: SubscribePacket; ticket: Ticket<AckResult> }
  | { kind: 'unsubscribe'; packet: UnsubscribePacket; ticket: Ticket<AckResult> };

export interface SessionOptions {
  /** Largest number of requests queued while disconnected or waiting for the window. Default 1000. */
  queueLimit?: number;
  /** Re-subscribe when the broker did not keep the session (CONNACK Session Present 0). Default true. */
  resubscribe?: boolean;
  /** Incoming QoS 1/2 are acknowledged only through acknowledge(). Default false. */
  manualAck?: boolean;
  /** Protocol level (decides whether acks carry reason codes). Default 4. */
  protocolVersion?: 3 | 4 | 5;
  /** Told about every change of the outgoing QoS 1/2 flows, to keep them in a persistent store. */
  persist?: FlowObserver;
}

/** Receives the outgoing flows' changes: the packet to resend for flow `packetId`, or its end. */
export interface FlowObserver {
  put(packetId: number, packet: PublishPacket | PubrelPacket): void;
  delete(packetId: number): void;
}

const noTicket: Ticket<unknown> = { resolve() {}, reject() {} };

export class ClientSession {
  /** True between a successful CONNACK and the end of that connection. */
  connected = false;
  /** The broker's Receive Maximum for this connection (65,535 when it did not say). */
  receiveMaximum = 65_535;

  private readonly queueLimit: number;
  private readonly resubscribe: boolean;
  private readonly manualAck: boolean;
  private readonly v5: boolean;
  /** Requests holding a packet identifier, in the order they were first sent (Map keeps insertion order). */
  private readonly inflight = new Map<number, Request>();
  /** QoS 1/2 publishes in `inflight` (what Receive Maximum limits). */
  private publishesInFlight = 0;
  /** Requests without a packet identifier yet: made while disconnected, or waiting for the window. */
  private readonly pending: Request[] = [];
  /** Incoming QoS 2: 'ack' = delivered, waiting for the user's manual ack; 'rel' = PUBREC sent, waiting for PUBREL. */
  private readonly incoming = new Map<number, 'ack' | 'rel'>();
  /** Granted subscriptions, for re-subscription: filter → options and the properties of their SUBSCRIBE. */
  private readonly subscriptions = new Map<string, { subscription: Subscription; properties?: Properties }>();
  private lastId = 0;
  private readonly persist: FlowObserver | undefined;

  constructor(options: SessionOptions = {}) {
    this.queueLimit = options.queueLimit ?? 1000;
    this.resubscribe = options.resubscribe ?? true;
    this.manualAck = options.manualAck ?? false;
    this.v5 = options.protocolVersion === 5;
    this.persist = options.persist;
  }

  /**
   * Takes back flows from a persistent store (before the first connection): a PUBLISH is resent with DUP=1, a
   * PUBREL as it is. Nobody awaits them: they complete silently.
   */
  restore(packets: (PublishPacket | PubrelPacket)[]): void {
    for (const packet of packets) {
      const id = packet.packetId!;
      if (this.inflight.has(id)) continue;
      const publish: PublishPacket =
        packet.type === PacketType.PUBLISH
          ? packet
          : {
              type: PacketType.PUBLISH,
              topic: '',
              payload: new Uint8Array(0),
              qos: 2,
              retain: false,
              dup: true,
              packetId: id,
            };
      const awaiting = packet.type === PacketType.PUBREL ? 'comp' : packet.qos === 2 ? 'rec' : 'ack';
      this.inflight.set(id, { kind: 'publish', packet: publish, ticket: noTicket, awaiting });
      this.publishesInFlight++;
      this.lastId = Math.max(this.lastId, id);
    }
  }

  /** Requests waiting for a packet identifier (offline queue plus those waiting for the window). */
  get queued(): number {
    return this.pending.length;
  }

  /** Requests sent and not yet acknowledged. */
  get inFlight(): number {
    return this.inflight.size;
  }

  /** Filters the session will restore after a reconnection without a kept session. */
  get subscribedFilters(): string[] {
    return [...this.subscriptions.keys()];
  }

  // --- user requests -------------------------------------------------------------------------------------------

  /** A publish from the user. QoS 0 completes when handed out (sent); QoS 1 on PUBACK; QoS 2 on PUBCOMP. */
  publish(packet: PublishPacket, ticket: Ticket<PublishResult>): Packet[] {
    const request: Request = { kind: 'publish', packet, ticket, awaiting: packet.qos === 2 ? 'rec' : 'ack' };
    if (this.connected && (packet.qos === 0 || (this.pending.length === 0 && this.hasWindow()))) {
      return [this.start(request)];
    }
    return this.enqueue(request);
  }

  subscribe(subscriptions: Subscription[], properties: Properties | undefined, ticket: Ticket<AckResult>): Packet[] {
    const packet: SubscribePacket = { type: PacketType.SUBSCRIBE, packetId: 0, subscriptions };
    if (properties !== undefined) packet.properties = properties;
    return this.request({ kind: 'subscribe', packet, ticket });
  }

  unsubscribe(topicFilters: string[], properties: Properties | undefined, ticket: Ticket<AckResult>): Packet[] {
    const packet: UnsubscribePacket = { type: PacketType.UNSUBSCRIBE, packetId: 0, topicFilters };
    if (properties !== undefined) packet.properties = properties;
    return this.request({ kind: 'unsubscribe', packet, ticket });
  }

  /** The user's acknowledgement of an incoming QoS 1/2 publish (manualAck). */
  acknowledge(packetId: number, qos: QoS, reasonCode = 0): Packet[] {
    if (qos === 0) return [];
    const ack = this.ack(qos === 1 ? PacketType.PUBACK : PacketType.PUBREC, packetId, reasonCode);
    if (qos === 2) {
      if (this.incoming.get(packetId) !== 'ack') return [];
      // A refused QoS 2 message ends its flow at PUBREC (§4.3.3): no PUBREL will come.
      if (reasonCode >= 0x80) this.incoming.delete(packetId);
      else this.incoming.set(packetId, 'rel');
    }
    return [ack];
  }

  // --- connection events ---------------------------------------------------------------------------------------

  /**
   * A successful CONNACK: take the broker's limits, then (in this order) restore subscriptions if the session was
   * not kept, resend what is in flight (PUBLISH with DUP=1, or PUBREL where PUBREC came) [MQTT-4.4.0-1], and send
   * what was queued, as far as the Receive Maximum allows.
   */
  connack(connack: ConnackPacket): Packet[] {
    this.connected = true;
    this.receiveMaximum = connack.properties?.receiveMaximum ?? 65_535;
    const out: Packet[] = [];
    const resend = [...this.inflight.values()];
    if (!connack.sessionPresent) {
      this.incoming.clear();
      if (this.resubscribe) out.push(...this.restoreSubscriptions());
    }
    for (const request of resend) {
      if (request.kind !== 'publish') {
        out.push(request.packet);
      } else if (request.awaiting === 'comp') {
        out.push({ type: PacketType.PUBREL, packetId: request.packet.packetId! });
      } else {
        request.packet = { ...request.packet, dup: true };
        out.push(request.packet);
      }
    }
    out.push(...this.drain());
    return out;
  }

  /** The connection ended. In-flight and queued requests stay for the next connection. */
  disconnected(): void {
    this.connected = false;
  }

  /** The client is ended: every request still open is rejected with `error`; the state is cleared. */
  close(error: Error): void {
    this.connected = false;
    const requests = [...this.inflight.values(), ...this.pending];
    this.inflight.clear();
    this.pending.length = 0;
    this.publishesInFlight = 0;
    this.incoming.clear();
    for (const request of requests) request.ticket.reject(error);
  }

  // --- incoming packets ----------------------------------------------------------------------------------------

  /**
   * An incoming PUBLISH. Returns the acknowledgement to send (none for QoS 0, or with manualAck) and whether to
   * deliver the message to the user: a QoS 2 message whose PUBREL has not come yet is not delivered twice.
   */
  receivePublish(packet: PublishPacket): { send: Packet[]; deliver: boolean } {
    if (packet.qos === 0) return { send: [], deliver: true };
    const id = packet.packetId!;
    if (packet.qos === 1) {
      return { send: this.manualAck ? [] : [this.ack(PacketType.PUBACK, id, 0)], deliver: true };
    }
    const state = this.incoming.get(id);
    if (state === 'rel') return { send: [this.ack(PacketType.PUBREC, id, 0)], deliver: false };
    if (state === 'ack') return { send: [], deliver: false };
    if (this.manualAck) {
      this.incoming.set(id, 'ack');
      return { send: [], deliver: true };
    }
    this.incoming.set(id, 'rel');
    return { send: [this.ack(PacketType.PUBREC, id, 0)], deliver: true };
  }

  /** Any other packet of the session flows (PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK). */
  handle(packet: Packet): Packet[] {
    switch (packet.type) {
      case PacketType.PUBREL: {
        const known = this.incoming.delete(packet.packetId);
        const code = known || !this.v5 ? 0 : ReasonCode.PacketIdentifierNotFound;
        return [this.ack(PacketType.PUBCOMP, packet.packetId, code)];
      }
      case PacketType.PUBACK:
      case PacketType.PUBREC:
      case PacketType.PUBCOMP:
        return this.publishAck(packet.type, packet.packetId, packet.reasonCode ?? 0, packet.properties);
      case PacketType.SUBACK:
      case PacketType.UNSUBACK: {
        const request = this.inflight.get(packet.packetId);
        const kind = packet.type === PacketType.SUBACK ? 'subscribe' : 'unsubscribe';
        if (request?.kind !== kind) return [];
        this.inflight.delete(packet.packetId);
        const reasonCodes =
          packet.reasonCodes ?? (request.kind === 'unsubscribe' ? request.packet.topicFilters.map(() => 0) : []);
        if (request.kind === 'subscribe') this.recordSubscriptions(request.packet, reasonCodes);
        else for (const filter of request.packet.topicFilters) this.subscriptions.delete(filter);
        const result: AckResult = { reasonCodes };
        if (packet.properties !== undefined) result.properties = packet.properties;
        request.ticket.resolve(result);
        return this.drain();
      }
      default:
        return [];
    }
  }

  // --- internals -----------------------------------------------------------------------------------------------

  private publishAck(type: 4 | 5 | 7, id: number, reasonCode: number, properties?: Properties): Packet[] {
    const request = this.inflight.get(id);
    if (request?.kind !== 'publish') return [];
    const expected = type === PacketType.PUBACK ? 'ack' : type === PacketType.PUBREC ? 'rec' : 'comp';
    if (request.awaiting !== expected) {
      // A PUBREC again after PUBREL (a resend by the broker) is answered with PUBREL; anything else is ignored.
      if (type === PacketType.PUBREC && request.awaiting === 'comp') return [{ type: PacketType.PUBREL, packetId: id }];
      return [];
    }
    if (type === PacketType.PUBREC && reasonCode < 0x80) {
      request.awaiting = 'comp';
      const pubrel: PubrelPacket = { type: PacketType.PUBREL, packetId: id };
      this.persist?.put(id, pubrel);
      return [pubrel];
    }
    this.inflight.delete(id);
    this.publishesInFlight--;
    this.persist?.delete(id);
    if (reasonCode >= 0x80) {
      const reasonString = properties?.reasonString;
      request.ticket.reject(new PublishError(reasonCode, 'the broker refused the publish', reasonString));
    } else {
      const result: PublishResult = { reasonCode };
      if (properties !== undefined) result.properties = properties;
      request.ticket.resolve(result);
    }
    return this.drain();
  }

  private request(request: Request): Packet[] {
    if (this.connected && this.pending.length === 0) return [this.start(request)];
    return this.enqueue(request);
  }

  private enqueue(request: Request): Packet[] {
    if (this.pending.length >= this.queueLimit) {
      request.ticket.reject(new QueueFullError(this.queueLimit));
      return [];
    }
    this.pending.push(request);
    return [];
  }

  private hasWindow(): boolean {
    return this.publishesInFlight < this.receiveMaximum;
  }

  /** Gives the request a packet identifier (if it needs one) and returns its packet. */
  private start(request: Request): Packet {
    if (request.kind === 'publish') {
      if (request.packet.qos === 0) {
        request.ticket.resolve({ reasonCode: 0 });
        return request.packet;
      }
      this.publishesInFlight++;
    }
    const id = this.allocateId();
    request.packet.packetId = id;
    this.inflight.set(id, request);
    if (request.kind === 'publish') this.persist?.put(id, request.packet);
    return request.packet;
  }

  /** Sends queued requests in order while connected and, for QoS 1/2 publishes, while the window has room. */
  private drain(): Packet[] {
    const out: Packet[] = [];
    while (this.connected && this.pending.length > 0) {
      const next = this.pending[0]!;
      if (next.kind === 'publish' && next.packet.qos > 0 && !this.hasWindow()) break;
      if (next.kind !== 'publish' || next.packet.qos > 0) {
        if (this.inflight.size >= 65_535) break;
      }
      this.pending.shift();
      out.push(this.start(next));
    }
    return out;
  }

  /** The next packet identifier not in use (1..65,535, cycling) [MQTT-2.2.1-3]. */
  private allocateId(): number {
    for (let i = 0; i < 65_535; i++) {
      this.lastId = this.lastId === 65_535 ? 1 : this.lastId + 1;
      if (!this.inflight.has(this.lastId)) return this.lastId;
    }
    throw new ProtocolError(ReasonCode.ReceiveMaximumExceeded, 'all 65,535 packet identifiers are in use');
  }

  private ack(type: 4 | 5 | 7, packetId: number, reasonCode: number): Packet {
    return this.v5 && reasonCode !== 0 ? { type, packetId, reasonCode } : { type, packetId };
  }

  private recordSubscriptions(packet: SubscribePacket, reasonCodes: number[]): void {
    packet.subscriptions.forEach((subscription, i) => {
      const code = reasonCodes[i];
      if (code === undefined || code >= 0x80) return;
      const entry: { subscription: Subscription; properties?: Properties } = { subscription };
      if (packet.properties !== undefined) entry.properties = packet.properties;
      this.subscriptions.set(subscription.topicFilter, entry);
    });
  }

  /** SUBSCRIBE packets for every recorded subscription, one per distinct set of SUBSCRIBE properties. */
  private restoreSubscriptions(): Packet[] {
    const groups = new Map<Properties | undefined, Subscription[]>();
    for (const { subscription, properties } of this.subscriptions.values()) {
      const group = groups.get(properties);
      if (group === undefined) groups.set(properties, [subscription]);
      else group.push(subscription);
    }
    const out: Packet[] = [];
    for (const [properties, subscriptions] of groups) {
      const packet: SubscribePacket = { type: PacketType.SUBSCRIBE, packetId: 0, subscriptions };
      if (properties !== undefined) packet.properties = properties;
      out.push(this.start({ kind: 'subscribe', packet, ticket: noTicket as Ticket<AckResult> }));
    }
    return out;
  }
}
