/**
 * Abuse limits kept per remote address and per client: token buckets (connect rate, publish rate), connection counts
 * per IP, and the back-off after failed authentications. Maps keyed by address are swept of idle entries when they
 * grow, so a scan from many addresses cannot grow them without bound.
 */

/** A token bucket: `rate` tokens per second, at most `burst` saved. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    now = Date.now(),
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /** Takes `n` tokens if there are that many (refilled up to now); false, taking none, if not. */
  take(n: number, now: number): boolean {
    const elapsed = now - this.last;
    if (elapsed > 0) {
      this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.rate) / 1000);
      this.last = now;
    }
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }

  /** True when the bucket is full again (its entry can be forgotten). */
  idle(now: number): boolean {
    return this.tokens + ((now - this.last) * this.rate) / 1000 >= this.burst;
  }
}

/** Messages/s and bytes/s of one client's PUBLISH packets (0 = no limit on that measure). */
export class PublishRateLimiter {
  private readonly messages: TokenBucket | undefined;
  private readonly bytes: TokenBucket | undefined;

  constructor(messagesPerSecond: number, bytesPerSecond: number, now: number) {
    if (messagesPerSecond > 0) this.messages = new TokenBucket(messagesPerSecond, messagesPerSecond, now);
    // The byte bucket holds at least one largest-possible burst of a second, and never less than 64 KiB, so a single
    // message larger than the per-second rate can still pass (once the bucket is full).
    if (bytesPerSecond > 0) this.bytes = new TokenBucket(bytesPerSecond, Math.max(bytesPerSecond, 65_536), now);
  }

  /** false when the message exceeds the rate (nothing is taken then). */
  allow(size: number, now: number): boolean {
    if (this.messages !== undefined && !this.messages.take(1, now)) return false;
    if (this.bytes !== undefined && !this.bytes.take(size, now)) return false;
    return true;
  }
}

const SWEEP_THRESHOLD = 10_000;

interface FailureRecord {
  /** Failures counted in the current window. */
  failures: number;
  windowStart: number;
  /** Refused without checking credentials until then. */
  blockedUntil: number;
}

export interface AuthBackoffOptions {
  /** Failures from one address within `windowMs` before it is blocked. 0 disables the back-off. */
  threshold: number;
  windowMs: number;
  /** First block; doubled by each further failure, up to maxMs. */
  baseMs: number;
  maxMs: number;
}

/**
 * Per-address back-off against password guessing: after `threshold` failed authentications within `windowMs`, the
 * address is blocked for baseMs, then 2×, 4×, … (up to maxMs) for each further failure. While blocked, CONNECTs from
 * it are refused (CONNACK 0x9F / 3.1.1 0x03) without looking at the credentials. A success clears the record.
 */
export class AuthBackoff {
  private readonly records = new Map<string, FailureRecord>();

  constructor(private readonly options: AuthBackoffOptions) {}

  /** Milliseconds the address stays blocked (0 = not blocked). */
  blocked(address: string | undefined, now: number): number {
    if (address === undefined || this.options.threshold <= 0) return 0;
    const record = this.records.get(address);
    return record === undefined ? 0 : Math.max(0, record.blockedUntil - now);
  }

  failed(address: string | undefined, now: number): void {
    const { threshold, windowMs, baseMs, maxMs } = this.options;
    if (address === undefined || threshold <= 0) return;
    let record = this.records.get(address);
    if (record === undefined || (now - record.windowStart > windowMs && record.blockedUntil <= now)) {
      if (this.records.size >= SWEEP_THRESHOLD) this.sweep(now);
      record = { failures: 0, windowStart: now, blockedUntil: 0 };
      this.records.set(address, record);
    }
    record.failures++;
    if (record.failures >= threshold) {
      const exponent = Math.min(30, record.failures - threshold);
      record.blockedUntil = now + Math.min(maxMs, baseMs * 2 ** exponent);
      record.windowStart = now;
    }
  }

  succeeded(address: string | undefined): void {
    if (address !== undefined) this.records.delete(address);
  }

  get size(): number {
    return this.records.size;
  }

  private sweep(now: number): void {
    for (const [address, record] of this.records) {
      if (record.blockedUntil <= now && now - record.windowStart > this.options.windowMs) this.records.delete(address);
    }
  }
}

/** Open connections and a connect-rate bucket per remote address. */
export class AddressLimits {
  private readonly open = new Map<string, number>();
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly maxPerAddress: number,
    private readonly connectRate: number,
    private readonly connectBurst: number,
  ) {}

  /** A socket from `address` opened: false (counting nothing) when the address already has its maximum. */
  opened(address: string | undefined): boolean {
    if (address === undefined || this.maxPerAddress <= 0) return true;
    const count = this.open.get(address) ?? 0;
    if (count >= this.maxPerAddress) return false;
    this.open.set(address, count + 1);
    return true;
  }

  closed(address: string | undefined): void {
    if (address === undefined || this.maxPerAddress <= 0) return;
    const count = this.open.get(address) ?? 0;
    if (count <= 1) this.open.delete(address);
    else this.open.set(address, count - 1);
  }

  /** A CONNECT from `address`: false when it exceeds the connect rate. */
  connectAllowed(address: string | undefined, now: number): boolean {
    if (address === undefined || this.connectRate <= 0) return true;
    let bucket = this.buckets.get(address);
    if (bucket === undefined) {
      if (this.buckets.size >= SWEEP_THRESHOLD) {
        for (const [key, value] of this.buckets) if (value.idle(now)) this.buckets.delete(key);
      }
      bucket = new TokenBucket(this.connectRate, this.connectBurst, now);
      this.buckets.set(address, bucket);
    }
    return bucket.take(1, now);
  }
}
