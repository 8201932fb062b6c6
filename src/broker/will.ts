/**
 * Will Messages (§3.1.2.5, §3.1.3.2). A will is published when the connection closes without a DISCONNECT
 * (or with a 5.0 DISCONNECT 0x04) [MQTT-3.1.2-8]; a normal DISCONNECT discards it [MQTT-3.1.2-10].
 * A 5.0 Will Delay Interval postpones it; it is cancelled if the client reconnects to the session first
 * [MQTT-3.1.3-9], and published when the session ends if that is sooner.
 */
import type { Will } from '../codec/index.js';
import { createMessage, type Message } from './message.js';
import type { StoreWriter } from './store/store.js';
import { clearLongTimeout, setLongTimeout } from './timers.js';

interface DelayedWill {
  message: Message;
  publishAt: number;
  timer: NodeJS.Timeout;
}

export class WillManager {
  private readonly delayed = new Map<string, DelayedWill>();

  constructor(
    private readonly publish: (message: Message) => void,
    private readonly store: StoreWriter | undefined,
  ) {}

  get pending(): number {
    return this.delayed.size;
  }

  /** The connection of `clientId` ended abnormally: publish its will now or after its delay. */
  trigger(clientId: string, will: Will, sessionExpiryInterval: number, now: number): void {
    const properties = will.properties ? { ...will.properties } : undefined;
    const willDelay = properties?.willDelayInterval ?? 0;
    if (properties) delete properties.willDelayInterval;
    const message = createMessage(will.topic, will.payload, will.qos, will.retain, properties, clientId, now);
    const delay = Math.min(willDelay, sessionExpiryInterval);
    if (delay <= 0) {
      this.publish(message);
      return;
    }
    this.schedule(clientId, message, now + delay * 1000);
  }

  /** Re-creates a delayed will read from the store at startup. */
  schedule(clientId: string, message: Message, publishAt: number): void {
    this.cancel(clientId);
    const timer = setLongTimeout(() => this.fire(clientId), publishAt - Date.now());
    this.delayed.set(clientId, { message, publishAt, timer });
    this.store?.push({ op: 'putWill', will: { clientId, message: toRecord(message), publishAt } });
  }

  /** The client reconnected to its session before the delay passed: the will is not sent [MQTT-3.1.3-9]. */
  cancel(clientId: string): void {
    const pending = this.delayed.get(clientId);
    if (pending === undefined) return;
    clearLongTimeout(pending.timer);
    this.delayed.delete(clientId);
    this.store?.push({ op: 'deleteWill', clientId });
  }

  /** The session ended: a will still waiting is sent now. */
  sessionEnded(clientId: string): void {
    if (this.delayed.has(clientId)) this.fire(clientId);
  }

  /** Stops every timer (broker shutdown); the delayed wills stay in the store for the next start. */
  stop(): void {
    for (const pending of this.delayed.values()) clearLongTimeout(pending.timer);
    this.delayed.clear();
  }

  private fire(clientId: string): void {
    const pending = this.delayed.get(clientId);
    if (pending === undefined) return;
    this.cancel(clientId);
    this.publish(pending.message);
  }
}

export function toRecord(message: Message) {
  const { topic, payload, qos, retain, properties, publisherId, expiresAt } = message;
  return {
    topic,
    payload,
    qos,
    retain,
    ...(properties !== undefined && { properties }),
    ...(publisherId !== undefined && { publisherId }),
    ...(expiresAt !== undefined && { expiresAt }),
  };
}
