/**
 * Keep-alive (§3.1.2.10, §4.4 of 3.1.1): a PINGREQ goes out when nothing was sent for `intervalMs`; if no packet
 * comes back within `timeoutMs` of it, the connection is declared dead. Any packet received counts as proof of
 * life (a broker busy sending us messages may answer the PINGREQ late). Sending costs one clock read, not a timer:
 * one timer runs per interval and re-arms itself for the time that remains.
 */

export interface KeepAliveOptions {
  /** Keep Alive in ms; 0 disables. */
  intervalMs: number;
  /** How long to wait for an answer to PINGREQ, ms. */
  timeoutMs: number;
  sendPing(): void;
  onTimeout(): void;
  /** Clock in ms (injectable for tests). Default Date.now. */
  now?: () => number;
}

export class KeepAlive {
  private lastSent = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly now: () => number;

  constructor(private readonly options: KeepAliveOptions) {
    this.now = options.now ?? Date.now;
  }

  get intervalMs(): number {
    return this.options.intervalMs;
  }

  /** True while a PINGREQ is unanswered. */
  get waitingForPong(): boolean {
    return this.pingTimer !== undefined;
  }

  start(): void {
    this.stop();
    if (this.options.intervalMs <= 0) return;
    this.lastSent = this.now();
    this.arm(this.options.intervalMs);
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.pingTimer !== undefined) clearTimeout(this.pingTimer);
    this.timer = undefined;
    this.pingTimer = undefined;
  }

  /** Call whenever a packet is written. */
  packetSent(): void {
    this.lastSent = this.now();
  }

  /** Call whenever a packet is received: the broker is alive. */
  packetReceived(): void {
    if (this.pingTimer !== undefined) {
      clearTimeout(this.pingTimer);
      this.pingTimer = undefined;
    }
  }

  private arm(delay: number): void {
    this.timer = setTimeout(() => this.tick(), delay);
  }

  private tick(): void {
    this.timer = undefined;
    const idle = this.now() - this.lastSent;
    const interval = this.options.intervalMs;
    if (idle < interval) {
      this.arm(interval - idle);
      return;
    }
    this.options.sendPing();
    this.lastSent = this.now();
    if (this.pingTimer === undefined) {
      this.pingTimer = setTimeout(() => {
        this.pingTimer = undefined;
        this.stop();
        this.options.onTimeout();
      }, this.options.timeoutMs);
    }
    this.arm(interval);
  }
}
