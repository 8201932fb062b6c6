/**
 * Reconnect delays: exponential back-off with jitter. Attempt n (from 0) waits
 * `min(maxMs, initialMs * factor^n)` scaled by a random factor in [1 - jitter, 1], so clients that lost the same
 * broker at the same moment do not come back in lock-step. `reset()` after a successful connection.
 */

export interface BackoffOptions {
  /** First delay, ms (the client's `reconnectPeriod`). */
  initialMs: number;
  /** Ceiling, ms. Default 30,000. */
  maxMs?: number;
  /** Growth per attempt. Default 2. */
  factor?: number;
  /** Fraction of each delay that is random, 0..1. Default 0.5. */
  jitter?: number;
  /** Uniform random number in [0, 1) (injectable for tests). Default Math.random. */
  random?: () => number;
}

export class Backoff {
  private attempt = 0;
  private readonly maxMs: number;
  private readonly factor: number;
  private readonly jitter: number;
  private readonly random: () => number;

  constructor(private readonly options: BackoffOptions) {
    this.maxMs = Math.max(options.maxMs ?? 30_000, options.initialMs);
    this.factor = options.factor ?? 2;
    this.jitter = Math.min(Math.max(options.jitter ?? 0.5, 0), 1);
    this.random = options.random ?? Math.random;
  }

  /** Attempts made since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** The delay before the next attempt, in ms; counts the attempt. */
  next(): number {
    const base = Math.min(this.maxMs, this.options.initialMs * this.factor ** this.attempt);
    this.attempt++;
    return Math.round(base * (1 - this.jitter * this.random()));
  }

  reset(): void {
    this.attempt = 0;
  }
}
