/**
 * `client.messages(filter)`: the messages received on a filter as an async iterable. It does not subscribe: it
 * filters what the client receives (so several iterators can share one subscription). The buffer is bounded:
 * when a consumer falls more than `bufferSize` messages behind, the oldest buffered message is dropped and
 * counted in `dropped` (the network is never stalled by a slow iterator). Breaking out of the `for await` loop
 * (or calling `return()`) stops it; so does `client.end()`.
 */
import type { QoS } from '../codec/index.js';
import type { Properties } from './properties.js';

/** A received application message, as the facade hands it out. */
export interface Message {
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
  dup: boolean;
  /** Present for QoS 1/2 (needed by `client.ack` with manualAck). */
  packetId?: number;
  /** MQTT 5.0 properties; `subscriptionIdentifiers` lists the identifiers of the matching subscriptions. */
  properties?: Properties;
}

export class MessageStream implements AsyncIterableIterator<Message> {
  /** Messages dropped because the consumer was more than bufferSize behind. */
  dropped = 0;
  private readonly buffer: Message[] = [];
  private waiting: ((result: IteratorResult<Message>) => void) | undefined;
  private done = false;

  constructor(
    readonly filter: string,
    private readonly bufferSize: number,
    private readonly onReturn: (stream: MessageStream) => void,
  ) {}

  /** Called by the client for every received message matching the filter. */
  push(message: Message): void {
    if (this.done) return;
    const waiting = this.waiting;
    if (waiting !== undefined) {
      this.waiting = undefined;
      waiting({ value: message, done: false });
      return;
    }
    this.buffer.push(message);
    if (this.buffer.length > this.bufferSize) {
      this.buffer.shift();
      this.dropped++;
    }
  }

  /** Ends the iteration (buffered messages are still handed out first). */
  end(): void {
    this.done = true;
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<Message>> {
    const message = this.buffer.shift();
    if (message !== undefined) return Promise.resolve({ value: message, done: false });
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  return(): Promise<IteratorResult<Message>> {
    this.buffer.length = 0;
    this.end();
    this.onReturn(this);
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
