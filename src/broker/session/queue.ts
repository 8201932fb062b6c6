/**
 * A bounded FIFO of messages waiting for one subscriber: while it is offline (persistent session), while
 * its inflight window is full, or while its socket is not draining (back-pressure).
 *
 * Drop policy when the queue is full (documented in BrokerOptions.maxQueuedMessages):
 *  1. an arriving QoS 0 message is dropped (the newest);
 *  2. an arriving QoS 1/2 message evicts the oldest queued QoS 0 message, if there is one;
 *  3. otherwise the arriving QoS 1/2 message is dropped (as Mosquitto does), so what was queued first
 *     is delivered first and nothing already queued is lost.
 */
import type { Outgoing } from '../message.js';

export type QueueResult =
  | { readonly queued: true; readonly evicted: Outgoing | undefined }
  | { readonly queued: false; readonly evicted: undefined };

// The common results are shared: queueing a message allocates nothing but its slot.
const QUEUED: QueueResult = Object.freeze({ queued: true, evicted: undefined });
const REFUSED: QueueResult = Object.freeze({ queued: false, evicted: undefined });

export class MessageQueue {
  private items: (Outgoing | undefined)[] = [];
  private head = 0;
  private qos0Count = 0;

  constructor(public limit: number) {}

  get length(): number {
    return this.items.length - this.head;
  }

  /** @param reserved slots kept for messages that wait elsewhere (a session's pending sources). */
  push(outgoing: Outgoing, reserved = 0): QueueResult {
    let evicted: Outgoing | undefined;
    if (this.length + reserved >= this.limit) {
      if (outgoing.qos === 0 || this.qos0Count === 0) return REFUSED;
      evicted = this.evictOldestQos0();
    }
    this.items.push(outgoing);
    if (outgoing.qos === 0) this.qos0Count++;
    return evicted === undefined ? QUEUED : { queued: true, evicted };
  }

  peek(): Outgoing | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  shift(): Outgoing | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head++;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    if (item?.qos === 0) this.qos0Count--;
    return item;
  }

  /** Removes every QoS 0 message (a persistent session going offline keeps only QoS 1/2). */
  removeQos0(): Outgoing[] {
    if (this.qos0Count === 0) return [];
    const removed: Outgoing[] = [];
    const kept: Outgoing[] = [];
    for (let i = this.head; i < this.items.length; i++) {
      const item = this.items[i];
      if (item === undefined) continue;
      (item.qos === 0 ? removed : kept).push(item);
    }
    this.items = kept;
    this.head = 0;
    this.qos0Count = 0;
    return removed;
  }

  *[Symbol.iterator](): IterableIterator<Outgoing> {
    for (let i = this.head; i < this.items.length; i++) {
      const item = this.items[i];
      if (item !== undefined) yield item;
    }
  }

  clear(): Outgoing[] {
    if (this.length === 0) return [];
    const all = [...this];
    this.items = [];
    this.head = 0;
    this.qos0Count = 0;
    return all;
  }

  private evictOldestQos0(): Outgoing | undefined {
    for (let i = this.head; i < this.items.length; i++) {
      const item = this.items[i];
      if (item !== undefined && item.qos === 0) {
        this.items.splice(i, 1);
        this.qos0Count--;
        return item;
      }
    }
    return undefined;
  }
}
