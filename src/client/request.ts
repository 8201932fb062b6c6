/**
 * MQTT 5.0 request/response (§4.10) for `client.request()`: each request is published with a Response Topic
 * (one per client, subscribed once, lazily) and a fresh Correlation Data; the first message that arrives on that
 * topic with that correlation data answers it and is not delivered as an ordinary message.
 */
import type { QoS } from '../codec/index.js';
import { MqttClientError, TimeoutError } from './errors.js';
import type { Message } from './messages.js';
import type { Properties } from './properties.js';

export interface RequestOptions {
  /** QoS of the request and of the response subscription. Default 1. */
  qos?: QoS;
  /** ms before the request fails with TimeoutError. Default 10,000. */
  timeout?: number;
  /** Response Topic to use instead of the client's own (it must be subscribed by the caller). */
  responseTopic?: string;
  /** Other PUBLISH properties of the request. */
  properties?: Properties;
}

/** The part of the client the tracker uses. */
export interface RequestHost {
  clientId: string;
  readonly options: { protocolVersion: number };
  subscribe(filter: string, options: { qos: QoS }): Promise<unknown>;
  publish(topic: string, payload: string | Uint8Array, options: { qos: QoS; properties: Properties }): Promise<unknown>;
}

interface Pending {
  resolve(message: Message): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

const hex = (bytes: Uint8Array): string => {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
};

export class RequestTracker {
  private readonly pending = new Map<string, Pending>();
  private responseTopic: string | undefined;
  private subscribed: Promise<unknown> | undefined;
  private counter = 0;
  private readonly nonce = Math.floor(Math.random() * 0xffff_ffff)
    .toString(16)
    .padStart(8, '0');

  constructor(private readonly host: RequestHost) {}

  async request(topic: string, payload: string | Uint8Array, options: RequestOptions): Promise<Message> {
    if (this.host.options.protocolVersion !== 5) throw new MqttClientError('request() needs MQTT 5.0');
    const qos = options.qos ?? 1;
    let responseTopic = options.responseTopic;
    if (responseTopic === undefined) {
      this.responseTopic ??= `midge/responses/${this.host.clientId}/${this.nonce}`;
      responseTopic = this.responseTopic;
      this.subscribed ??= this.host.subscribe(responseTopic, { qos });
      await this.subscribed;
    }
    const correlationData = new Uint8Array(12);
    new DataView(correlationData.buffer).setUint32(0, ++this.counter);
    for (let i = 4; i < 12; i++) correlationData[i] = Math.floor(Math.random() * 256);
    const key = hex(correlationData);
    const timeout = options.timeout ?? 10_000;
    const answer = new Promise<Message>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(key);
        reject(new TimeoutError('request', timeout));
      }, timeout);
      this.pending.set(key, { resolve, reject, timer });
    });
    answer.catch(() => {}); // the caller gets the publish error instead while the publish is pending
    const properties: Properties = { ...options.properties, responseTopic, correlationData };
    try {
      await this.host.publish(topic, payload, { qos, properties });
    } catch (error) {
      const p = this.pending.get(key);
      this.pending.delete(key);
      if (p !== undefined) clearTimeout(p.timer);
      throw error;
    }
    return answer;
  }

  /** True (and the request answered) when `message` is the response to a pending request. */
  consume(message: Message): boolean {
    if (this.pending.size === 0) return false;
    const correlation = message.properties?.correlationData;
    if (correlation === undefined) return false;
    const key = hex(correlation);
    const p = this.pending.get(key);
    if (p === undefined) return false;
    this.pending.delete(key);
    clearTimeout(p.timer);
    p.resolve(message);
    return true;
  }

  close(error: Error): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(error);
    }
    this.pending.clear();
  }
}
