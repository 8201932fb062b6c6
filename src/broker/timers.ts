/** setTimeout for delays beyond the 2^31-1 ms Node allows (session expiry can be up to ~136 years). */
const MAX_DELAY = 2_147_483_647;

export function setLongTimeout(fn: () => void, delayMs: number): NodeJS.Timeout {
  if (delayMs <= MAX_DELAY) {
    const timer = setTimeout(fn, Math.max(0, delayMs));
    timer.unref?.();
    return timer;
  }
  const timer = setTimeout(() => {
    const next = setLongTimeout(fn, delayMs - MAX_DELAY);
    // The caller holds the first handle; chaining keeps clearTimeout working on the latest one via the proxy.
    Object.assign(timer, { next });
  }, MAX_DELAY);
  timer.unref?.();
  return timer;
}

export function clearLongTimeout(timer: NodeJS.Timeout | undefined): void {
  let current: (NodeJS.Timeout & { next?: NodeJS.Timeout }) | undefined = timer;
  while (current !== undefined) {
    clearTimeout(current);
    current = current.next;
  }
}

/**
 * One deadline per object, kept by a {@link TimerWheel}. The object itself is the list node (intrusive links), so
 * scheduling allocates nothing: a broker holds one per connection (connect timeout, keep alive, closing linger).
 */
export interface WheelEntry {
  /** Absolute ms; meaningful while wheelSlot >= 0. */
  wheelDeadline: number;
  /** Slot index, -1 when not scheduled. */
  wheelSlot: number;
  wheelNext: WheelEntry | undefined;
  wheelPrev: WheelEntry | undefined;
  /** Called once the deadline has passed (never before it); the entry is no longer scheduled then. */
  onWheelTimeout(now: number): void;
}

/**
 * A hashed timer wheel: one unref'd interval for every connection instead of a Timeout object (and closure) each.
 * A deadline fires at the first tick at or after it, i.e. never early and at most `tickMs` late. Entries whose
 * deadline is more than one revolution away stay in their slot and are skipped until it comes.
 */
export class TimerWheel {
  private readonly slots: (WheelEntry | undefined)[];
  private timer: NodeJS.Timeout | undefined;
  private count = 0;
  /** The last tick number processed. */
  private tick: number;

  constructor(
    private readonly tickMs = 100,
    slotCount = 512,
  ) {
    this.slots = new Array<WheelEntry | undefined>(slotCount).fill(undefined);
    this.tick = Math.floor(Date.now() / tickMs);
  }

  get size(): number {
    return this.count;
  }

  /** Schedules (or reschedules) `entry` for `deadline` (absolute ms). */
  schedule(entry: WheelEntry, deadline: number): void {
    if (entry.wheelSlot >= 0) this.unlink(entry);
    // The tick that processes it: the first whose time is >= deadline, and never one already processed.
    const tick = Math.max(Math.ceil(deadline / this.tickMs), this.tick + 1);
    const slot = tick % this.slots.length;
    const head = this.slots[slot];
    entry.wheelDeadline = deadline;
    entry.wheelSlot = slot;
    entry.wheelPrev = undefined;
    entry.wheelNext = head;
    if (head !== undefined) head.wheelPrev = entry;
    this.slots[slot] = entry;
    if (this.count++ === 0 && this.timer === undefined) {
      this.tick = Math.max(this.tick, Math.floor(Date.now() / this.tickMs));
      this.timer = setInterval(this.run, this.tickMs);
      this.timer.unref?.();
    }
  }

  cancel(entry: WheelEntry): void {
    if (entry.wheelSlot >= 0) this.unlink(entry);
  }

  /** Stops the interval; scheduled entries stay and resume with the next schedule(). */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private unlink(entry: WheelEntry): void {
    const { wheelPrev: prev, wheelNext: next } = entry;
    if (prev === undefined) this.slots[entry.wheelSlot] = next;
    else prev.wheelNext = next;
    if (next !== undefined) next.wheelPrev = prev;
    entry.wheelNext = undefined;
    entry.wheelPrev = undefined;
    entry.wheelSlot = -1;
    this.count--;
  }

  private readonly run = (): void => {
    const now = Date.now();
    const last = Math.floor(now / this.tickMs);
    // After a long stall every slot is visited once; entries not yet due are skipped.
    const first = Math.max(this.tick + 1, last - this.slots.length + 1);
    this.tick = last;
    for (let t = first; t <= last; t++) {
      const slot = t % this.slots.length;
      let entry = this.slots[slot];
      while (entry !== undefined) {
        const next: WheelEntry | undefined = entry.wheelNext;
        if (entry.wheelDeadline > now) {
          entry = next;
          continue;
        }
        this.unlink(entry);
        entry.onWheelTimeout(now);
        // The callback may have cancelled or moved `next` (closing one connection can close another): then walk
        // this slot again from its head.
        entry = next !== undefined && next.wheelSlot === slot ? next : this.slots[slot];
      }
    }
    if (this.count === 0) this.stop();
  };
}
