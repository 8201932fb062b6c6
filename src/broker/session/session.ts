/**
 * The state of one client id that outlives its network connections: outgoing inflight window, incoming
 * QoS 2 ids, the queue of messages waiting for it, and its expiry. Subscriptions live in the broker's
 * SubscriptionTrie under the client id. The session does no I/O itself: it talks to the connection that
 * is attached to it through {@link SessionLink}.
 */
import { detachMessage, isExpired, type Outgoing } from '../message.js';
import { IncomingQos2, type InflightEntry, OutgoingInflight, OutgoingState } from './inflight.js';
import { MessageQueue } from './queue.js';

/** Why a message meant for a subscriber was not delivered. */
export type DropReason =
  | 'queue-full'
  | 'expired'
  | 'packet-too-large'
  | 'offline-qos0'
  | 'session-ended'
  | 'not-authorized';

/** The connection currently attached to a session, as the session sees it. */
export interface SessionLink {
  /** False while the socket is back-pressured: messages are queued instead of written. */
  readonly writable: boolean;
  /**
   * Writes a PUBLISH; returns true if sent, false if not (larger than the client's Maximum Packet Size), or
   * 'not-authorized' if the client may not read the topic.
   */
  sendPublish(outgoing: Outgoing, packetId: number | undefined, dup: boolean): boolean | 'not-authorized';
  sendPubrel(packetId: number, reasonCode: number): void;
}

/**
 * Messages made on demand, in order: the retained messages of a new subscription (see Session.addSource), so that
 * thousands of them need neither an object each nor a queue slot until the client can take them.
 */
export interface MessageSource {
  /** Messages left, the one peek returned included. */
  readonly size: number;
  /** The next message, without taking it; undefined once none is left. */
  peek(): Outgoing | undefined;
  /** Takes the message peek returned. */
  shift(): void;
}

export interface SessionObserver {
  messageDropped(session: Session, outgoing: Outgoing, reason: DropReason): void;
  /** QoS 0 written, or QoS 1/2 acknowledged (PUBACK / PUBCOMP). */
  messageDelivered(session: Session, outgoing: Outgoing): void;
}

/**
 * Mirrors the QoS 1/2 messages of a session into a store (set only when the broker has one): queued, inflight
 * (with its packet id and state), and done. Calls are synchronous; the implementation batches the writes.
 */
export interface SessionPersistence {
  queued(session: Session, outgoing: Outgoing): void;
  inflight(session: Session, entry: InflightEntry): void;
  done(session: Session, outgoing: Outgoing): void;
}

/** Session Expiry Interval meaning "never expires" (MQTT 5.0 §3.1.2.11.2). */
export const SESSION_NEVER_EXPIRES = 0xffff_ffff;

export interface SessionOptions {
  maxInflight: number;
  maxQueuedMessages: number;
  /** Queue QoS 0 messages for an offline persistent session too (default false, as Mosquitto). */
  queueQos0Offline: boolean;
}

export class Session {
  link: SessionLink | undefined;
  /** Seconds; 0 = ends when the connection closes; SESSION_NEVER_EXPIRES = never. */
  expiryInterval = 0;
  /** Absolute ms when an offline session expires (undefined while connected or if it never expires). */
  expiresAt: number | undefined;
  expiryTimer: NodeJS.Timeout | undefined;
  // Created on first use: most sessions of idle clients never need them.
  private inflightWindow: OutgoingInflight | undefined;
  private incomingIds: IncomingQos2 | undefined;
  private messageQueue: MessageQueue | undefined;
  /** Sources whose messages wait after the queue's (see addSource), and how many messages they hold. */
  private sources: MessageSource[] | undefined;
  private pendingCount = 0;
  /** The send quota for the inflight window, kept while the window does not exist yet. */
  private inflightLimit: number;
  /** Set by the broker when it has a store. */
  persistence: SessionPersistence | undefined;
  /** Next sequence number for persisted messages. */
  nextSeq = 1;

  constructor(
    readonly clientId: string,
    private readonly options: SessionOptions,
    private readonly observer: SessionObserver,
  ) {
    this.inflightLimit = options.maxInflight;
  }

  /** Outgoing QoS 1/2 messages awaiting acknowledgement. */
  get inflight(): OutgoingInflight {
    if (this.inflightWindow === undefined) this.inflightWindow = new OutgoingInflight(this.inflightLimit);
    return this.inflightWindow;
  }

  /** Incoming QoS 2 packet ids awaiting PUBREL. */
  get incoming(): IncomingQos2 {
    if (this.incomingIds === undefined) this.incomingIds = new IncomingQos2();
    return this.incomingIds;
  }

  /** Messages waiting for this subscriber, all of them: those of pending sources are moved into the queue first. */
  get queue(): MessageQueue {
    if (this.pendingCount > 0) this.queuePending();
    return this.ensureQueue();
  }

  /** Messages waiting, pending sources included (without creating the queue). */
  get queuedCount(): number {
    return (this.messageQueue === undefined ? 0 : this.messageQueue.length) + this.pendingCount;
  }

  /** Outgoing QoS 1/2 messages awaiting acknowledgement (without creating the window). */
  get inflightCount(): number {
    return this.inflightWindow === undefined ? 0 : this.inflightWindow.size;
  }

  get connected(): boolean {
    return this.link !== undefined;
  }

  /** Routes one message to this subscriber: send now, or queue (bounded), or drop. */
  deliver(outgoing: Outgoing): void {
    const link = this.link;
    if (link === undefined) {
      if (outgoing.qos === 0 && !this.options.queueQos0Offline) {
        this.observer.messageDropped(this, outgoing, 'offline-qos0');
        return;
      }
      detachMessage(outgoing.message);
      this.enqueue(outgoing);
      return;
    }
    if (this.queuedCount > 0 || !link.writable) {
      this.enqueue(outgoing);
      return;
    }
    if (outgoing.qos === 0) {
      this.sendQos0(link, outgoing);
      return;
    }
    if (this.inflight.full) {
      this.enqueue(outgoing);
      return;
    }
    this.sendNew(link, outgoing);
  }

  /**
   * Moves waiting messages into the inflight window / onto the socket while both have room: the queue's first, then
   * those of the pending sources.
   */
  drain(now: number): void {
    const link = this.link;
    if (link === undefined) return;
    while (link.writable) {
      const queued = this.messageQueue === undefined ? undefined : this.messageQueue.peek();
      const next = queued ?? (this.pendingCount > 0 ? this.peekPending() : undefined);
      if (next === undefined) return;
      if (isExpired(next.message, now)) {
        // [MQTT-3.3.2-5] an expired message whose onward delivery has not started is deleted.
        this.take(queued);
        if (next.seq !== undefined) this.persistence?.done(this, next);
        this.observer.messageDropped(this, next, 'expired');
        continue;
      }
      if (next.qos > 0 && this.inflight.full) return;
      this.take(queued);
      if (next.qos === 0) this.sendQos0(link, next);
      else this.sendNew(link, next);
    }
  }

  /**
   * Adds messages to send after everything waiting so far, made and sent one by one as the window and the socket
   * allow (the retained messages of a new subscription); while they wait they count against the queue's limit. A
   * session that is offline, whose queue a store keeps, or that has not the room for them all, gets them delivered
   * now instead, one by one as any message (queued under the queue's limit and drop policy).
   */
  addSource(source: MessageSource, now: number): void {
    const size = source.size;
    if (size === 0) return;
    const durable = this.persistence !== undefined && this.expiryInterval !== 0;
    if (this.link === undefined || durable || this.queuedCount + size > this.options.maxQueuedMessages) {
      if (this.pendingCount > 0) this.queuePending();
      for (let next = source.peek(); next !== undefined; next = source.peek()) {
        source.shift();
        this.deliver(next);
      }
      return;
    }
    if (this.sources === undefined) this.sources = [];
    this.sources.push(source);
    this.pendingCount += size;
    this.drain(now);
  }

  /**
   * A connection takes over this session: resend every unacknowledged PUBLISH with DUP=1 and every
   * PUBREL, in the original order [MQTT-4.4.0-1], then drain the queue.
   */
  attach(link: SessionLink, receiveMaximum: number, now: number): void {
    this.link = link;
    this.expiresAt = undefined;
    if (this.expiryTimer !== undefined) {
      clearTimeout(this.expiryTimer);
      this.expiryTimer = undefined;
    }
    this.inflightLimit = Math.min(receiveMaximum, this.options.maxInflight);
    const window = this.inflightWindow;
    if (window !== undefined) {
      window.limit = this.inflightLimit;
      for (const entry of window.pending()) {
        if (entry.state === OutgoingState.AwaitingPubcomp) link.sendPubrel(entry.packetId, 0);
        else link.sendPublish(entry.outgoing, entry.packetId, true);
      }
    }
    this.drain(now);
  }

  /** The connection went away; QoS 0 messages queued for it are dropped unless queueQos0Offline. */
  detach(): void {
    this.link = undefined;
    // Offline, the waiting messages are the queue's (kept, persisted, or dropped as any queued message).
    if (this.pendingCount > 0) this.queuePending();
    if (!this.options.queueQos0Offline && this.messageQueue !== undefined) {
      for (const dropped of this.messageQueue.removeQos0()) {
        this.observer.messageDropped(this, dropped, 'offline-qos0');
      }
    }
  }

  puback(packetId: number, now: number): boolean {
    const entry = this.inflightWindow?.puback(packetId);
    if (entry === undefined) return false;
    this.completed(entry, now);
    return true;
  }

  /** Returns the PUBREL reason code to send, or undefined to send nothing. */
  pubrec(packetId: number, reasonCode: number, now: number): number | undefined {
    const result = this.inflight.pubrec(packetId, reasonCode);
    if (result.completed !== undefined) this.completed(result.completed, now);
    else if (this.persistence !== undefined && result.pubrel === 0) {
      const entry = this.inflight.get(packetId);
      if (entry?.outgoing.seq !== undefined) this.persistence.inflight(this, entry);
    }
    return result.pubrel;
  }

  pubcomp(packetId: number, now: number): boolean {
    const entry = this.inflightWindow?.pubcomp(packetId);
    if (entry === undefined) return false;
    this.completed(entry, now);
    return true;
  }

  /** Ends the session: everything still queued or inflight is dropped. */
  destroy(): void {
    if (this.expiryTimer !== undefined) clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    if (this.inflightWindow !== undefined) {
      for (const entry of this.inflightWindow.clear()) {
        this.observer.messageDropped(this, entry.outgoing, 'session-ended');
      }
    }
    if (this.messageQueue !== undefined) {
      for (const outgoing of this.messageQueue.clear()) this.observer.messageDropped(this, outgoing, 'session-ended');
    }
    for (let next = this.peekPending(); next !== undefined; next = this.peekPending()) {
      this.shiftPending();
      this.observer.messageDropped(this, next, 'session-ended');
    }
    this.incomingIds?.clear();
    this.link = undefined;
  }

  /** Forgets everything without reporting drops: the session moved to another cluster node. */
  release(): void {
    if (this.expiryTimer !== undefined) clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    this.inflightWindow?.clear();
    this.messageQueue?.clear();
    this.sources = undefined;
    this.pendingCount = 0;
    this.incomingIds?.clear();
    this.link = undefined;
  }

  private completed(entry: InflightEntry, now: number): void {
    if (entry.outgoing.seq !== undefined) this.persistence?.done(this, entry.outgoing);
    this.observer.messageDelivered(this, entry.outgoing);
    if (this.queuedCount > 0) this.drain(now);
  }

  private enqueue(outgoing: Outgoing): void {
    if (this.persistence !== undefined && outgoing.qos > 0 && outgoing.seq === undefined) {
      outgoing.seq = this.nextSeq++;
      this.persistence.queued(this, outgoing);
    }
    const result = this.ensureQueue().push(outgoing, this.pendingCount);
    if (!result.queued && outgoing.seq !== undefined) this.persistence?.done(this, outgoing);
    if (!result.queued) this.observer.messageDropped(this, outgoing, 'queue-full');
    else if (result.evicted !== undefined) this.observer.messageDropped(this, result.evicted, 'queue-full');
  }

  private ensureQueue(): MessageQueue {
    if (this.messageQueue === undefined) this.messageQueue = new MessageQueue(this.options.maxQueuedMessages);
    return this.messageQueue;
  }

  /** The next message of the pending sources (the exhausted ones are dropped from the list). */
  private peekPending(): Outgoing | undefined {
    const sources = this.sources;
    if (sources === undefined) return undefined;
    for (;;) {
      const source = sources[0];
      if (source === undefined) {
        this.sources = undefined;
        this.pendingCount = 0;
        return undefined;
      }
      const next = source.peek();
      if (next !== undefined) return next;
      sources.shift();
    }
  }

  /** Takes the message drain looked at: the queue's head if it came from the queue, else the pending one. */
  private take(queued: Outgoing | undefined): void {
    if (queued !== undefined) this.messageQueue!.shift();
    else this.shiftPending();
  }

  private shiftPending(): void {
    this.sources![0]!.shift();
    this.pendingCount--;
  }

  /** Moves the messages of the pending sources into the queue, in order (they fit: their room was kept). */
  private queuePending(): void {
    for (let next = this.peekPending(); next !== undefined; next = this.peekPending()) {
      this.shiftPending();
      this.enqueue(next);
    }
    this.pendingCount = 0;
  }

  private sendQos0(link: SessionLink, outgoing: Outgoing): void {
    const sent = link.sendPublish(outgoing, undefined, false);
    if (sent === true) this.observer.messageDelivered(this, outgoing);
    else this.observer.messageDropped(this, outgoing, sent === false ? 'packet-too-large' : sent);
  }

  private sendNew(link: SessionLink, outgoing: Outgoing): void {
    const entry = this.inflight.start(outgoing);
    if (entry === undefined) {
      this.enqueue(outgoing);
      return;
    }
    const sent = link.sendPublish(outgoing, entry.packetId, false);
    if (sent !== true) {
      // [MQTT-3.1.2-25] too large for the client (or not readable by it): discard as if delivery completed.
      this.inflight.abort(entry.packetId);
      if (outgoing.seq !== undefined) this.persistence?.done(this, outgoing);
      this.observer.messageDropped(this, outgoing, sent === false ? 'packet-too-large' : sent);
      return;
    }
    if (this.persistence !== undefined) {
      if (outgoing.seq === undefined) outgoing.seq = this.nextSeq++;
      this.persistence.inflight(this, entry);
    }
  }
}
