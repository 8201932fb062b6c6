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
