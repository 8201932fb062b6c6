/** Seeded PRNG (mulberry32) and generators of topics and filters for the routing property tests. */
export type Rng = () => number;

export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function int(rng: Rng, n: number): number {
  return Math.floor(rng() * n);
}

export function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[int(rng, items.length)]!;
}

/** Small alphabet, with an empty level and `$` levels, so that matches (and the `$` rule) happen often. */
const LEVELS = ['a', 'b', 'c', '', '$SYS', '$x'];

/** A topic name of 1..4 levels (never empty as a whole). */
export function randomTopic(rng: Rng): string {
  for (;;) {
    const n = 1 + int(rng, 4);
    const levels: string[] = [];
    for (let i = 0; i < n; i++) levels.push(i > 0 && pick(rng, LEVELS).startsWith('$') ? 'a' : pick(rng, LEVELS));
    const topic = levels.join('/');
    if (topic.length > 0) return topic;
  }
}

/** A valid topic filter of 1..4 levels: `+` anywhere, `#` only last. */
export function randomFilter(rng: Rng): string {
  for (;;) {
    const n = 1 + int(rng, 4);
    const levels: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = rng();
      if (i === n - 1 && r < 0.2) levels.push('#');
      else if (r < 0.45) levels.push('+');
      else levels.push(i > 0 && rng() < 0.3 ? 'a' : pick(rng, LEVELS));
    }
    const filter = levels.join('/');
    if (filter.length > 0) return filter;
  }
}
