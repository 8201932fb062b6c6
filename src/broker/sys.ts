/**
 * $SYS topics, as Mosquitto names them, published retained every sysInterval seconds (only values that changed).
 * Subscribers to `#` or `+/...` do not receive them: wildcards at the first level do not match topics starting
 * with `$` [MQTT-4.7.2-1] (applied by the trie).
 */
import type { BrokerCore } from './core.js';
import { createMessage } from './message.js';
import { VERSION } from './version.js';

export class SysPublisher {
  private timer: NodeJS.Timeout | undefined;
  private readonly last = new Map<string, string>();

  constructor(private readonly broker: BrokerCore) {}

  start(intervalSeconds: number): void {
    if (intervalSeconds <= 0) return;
    this.publishAll();
    this.timer = setInterval(() => this.publishAll(), intervalSeconds * 1000);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The current values, by topic. */
  values(): Map<string, string> {
    const { broker } = this;
    const { stats } = broker;
    const values = new Map<string, string>();
    const set = (topic: string, value: string | number) => values.set(`$SYS/broker/${topic}`, String(value));
    set('version', `midge version ${VERSION}`);
    set('uptime', `${Math.floor((Date.now() - broker.startedAt) / 1000)} seconds`);
    set('clients/connected', stats.connections);
    set('clients/total', broker.sessions.size);
    set('clients/disconnected', broker.sessions.size - stats.connections);
    set('messages/received', stats.messagesReceived);
    set('messages/sent', stats.messagesSent);
    set('publish/messages/dropped', stats.messagesDropped);
    set('subscriptions/count', broker.trie.size);
    set('retained messages/count', broker.retained.size);
    set('retained messages/dropped', stats.retainedDropped);
    set('bytes/received', stats.bytesReceived);
    set('bytes/sent', stats.bytesSent);
    return values;
  }

  publishAll(): void {
    const now = Date.now();
    for (const [topic, value] of this.values()) {
      if (this.last.get(topic) === value) continue;
      this.last.set(topic, value);
      this.broker.publish(createMessage(topic, Buffer.from(value), 0, true, undefined, undefined, now));
    }
  }
}
