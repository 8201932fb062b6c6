/**
 * Routing micro-benchmark: `npx tsx bench/routing.ts`.
 * 1. SubscriptionTrie.match with 50,000 unrelated subscriptions (exact, `+` at various levels, `#`) plus a few
 *    matching ones, against a trie holding only the matching ones: the rates should be close.
 * 2. Splitting a topic into levels: String.prototype.split vs the indexOf scan used by match().
 * 3. RetainedStore.forEachMatch over 50,000 retained topics, with `#` and with a selective filter.
 * Topics are decoded from bytes, as the codec does: V8 caches split() results for literal (internalized) strings,
 * which would flatter split() and hide the cost of hashing fresh level strings.
 */
import { RetainedStore } from '../src/broker/routing/retained-store.js';
import { type SubscriptionOptions, SubscriptionTrie } from '../src/broker/routing/subscription-trie.js';
import { topicMatches } from '../src/broker/routing/topic.js';

const OPTIONS: SubscriptionOptions = { qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 };
const TOPIC = 'sensors/building1/floor3/room42/temperature';
const UNRELATED = 50_000;

function addMatching(trie: SubscriptionTrie): void {
  trie.subscribe('m1', TOPIC, OPTIONS);
  trie.subscribe('m1', 'sensors/+/floor3/+/temperature', { ...OPTIONS, subscriptionIdentifier: 1 });
  trie.subscribe('m2', 'sensors/building1/#', OPTIONS);
  trie.subscribe('m3', '+/building1/floor3/room42/+', OPTIONS);
  trie.subscribe('m4', '$share/workers/sensors/+/+/+/temperature', OPTIONS);
  trie.subscribe('m5', '$share/workers/sensors/+/+/+/temperature', OPTIONS);
}

/** Unrelated subscriptions, many of them sharing a prefix or a wildcard position with TOPIC. */
function addUnrelated(trie: SubscriptionTrie, count: number): void {
  const shapes = [
    (i: number) => `devices/d${i}/status`,
    (i: number) => `sensors/building${i + 2}/floor3/room42/temperature`,
    (i: number) => `sensors/building1/floor${i + 4}/+/temperature`,
    (i: number) => `sensors/+/floor3/room${i + 43}/temperature`,
    (i: number) => `+/building1/floor3/room42/humidity${i}`,
    (i: number) => `+/+/floor${i + 4}/#`,
    (i: number) => `sensors/building${i + 2}/#`,
    (i: number) => `other${i}/#`,
    (i: number) => `sensors/building1/floor3/room42/temperature/sub${i}`,
    (i: number) => `+/d${i}/+/+/+/+`,
  ];
  for (let i = 0; i < count; i++) trie.subscribe(`u${i % 5000}`, shapes[i % shapes.length]!(i), OPTIONS);
}

/** Fresh, non-internalized copies of a topic, as a decoder produces them. */
function decoded(topic: string, count = 1024): string[] {
  return Array.from({ length: count }, () => Buffer.from(topic).toString('utf8'));
}

function rate(fn: () => void, minMs = 400): number {
  for (let i = 0; i < 20_000; i++) fn(); // warm up
  let ops = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < minMs) {
    for (let i = 0; i < 10_000; i++) fn();
    ops += 10_000;
    elapsed = performance.now() - start;
  }
  return (ops / elapsed) * 1000;
}

function time(fn: () => void, runs = 50): number {
  for (let i = 0; i < runs; i++) fn(); // warm up
  const start = performance.now();
  for (let i = 0; i < runs; i++) fn();
  return (performance.now() - start) / runs;
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits });
const rows: [string, string][] = [];

// 1. match
const small = new SubscriptionTrie();
addMatching(small);
const large = new SubscriptionTrie();
addUnrelated(large, UNRELATED);
addMatching(large);
const expected = small.match(TOPIC).length;
if (large.match(TOPIC).length !== expected) throw new Error('the unrelated subscriptions matched');
let sink = 0;
let next = 0;
const topics = decoded(TOPIC);
const topic = () => topics[next++ & 1023]!;
// Interleaved rounds, best of each: the cores may be shared, and a slow moment should not land on one case only.
let smallRate = 0;
let largeRate = 0;
for (let round = 0; round < 5; round++) {
  smallRate = Math.max(
    smallRate,
    rate(() => {
      sink += small.match(topic(), 'm1').length;
    }, 200),
  );
  largeRate = Math.max(
    largeRate,
    rate(() => {
      sink += large.match(topic(), 'm1').length;
    }, 200),
  );
}
rows.push([`match, ${expected} deliveries, only the ${small.size} matching subscriptions`, `${fmt(smallRate)} /s`]);
rows.push([`match, same + ${fmt(UNRELATED)} unrelated (${fmt(large.nodeCount)} nodes)`, `${fmt(largeRate)} /s`]);
rows.push(['  ratio (large / small)', fmt(largeRate / smallRate, 2)]);
const misses = decoded('nothing/here/at/all');
const missRate = rate(() => {
  sink += large.match(misses[next++ & 1023]!, 'm1').length;
});
rows.push(['match, no subscriber (large trie)', `${fmt(missRate)} /s`]);

// 2. splitting levels
const scratch: string[] = [];
const scan = (topic: string): number => {
  let n = 0;
  let start = 0;
  for (;;) {
    const slash = topic.indexOf('/', start);
    if (slash === -1) {
      scratch[n++] = topic.slice(start);
      return n;
    }
    scratch[n++] = topic.slice(start, slash);
    start = slash + 1;
  }
};
const splitRate = rate(() => {
  sink += topic().split('/').length;
});
const scanRate = rate(() => {
  sink += scan(topic());
});
rows.push(["split levels: topic.split('/')", `${fmt(splitRate)} /s`]);
rows.push(['split levels: indexOf scan into a reused array', `${fmt(scanRate)} /s`]);

// 3. retained
const store = new RetainedStore<number>();
for (let i = 0; i < UNRELATED; i++) store.set(`sensors/s${i % 5000}/${i < 5000 ? 'temp' : `m${i}`}`, i);
let visited = 0;
const allMs = time(() => {
  visited = 0;
  store.forEachMatch('#', () => {
    visited++;
  });
});
rows.push([`forEachMatch('#') over ${fmt(store.size)} retained (${fmt(visited)} visited)`, `${fmt(allMs, 2)} ms`]);
const someMs = time(() => {
  visited = 0;
  store.forEachMatch('sensors/+/temp', () => {
    visited++;
  });
});
rows.push([`forEachMatch('sensors/+/temp') (${fmt(visited)} matches)`, `${fmt(someMs, 2)} ms`]);
const bruteMs = time(() => {
  visited = 0;
  for (const [t] of store.entries()) if (topicMatches('sensors/+/temp', t)) visited++;
}, 10);
rows.push([`  for comparison: scan all with topicMatches (${fmt(visited)} matches)`, `${fmt(bruteMs, 2)} ms`]);

const width = Math.max(...rows.map(([label]) => label.length));
console.log(`${'case'.padEnd(width)}  result`);
console.log(`${'-'.repeat(width)}  ${'-'.repeat(16)}`);
for (const [label, value] of rows) console.log(`${label.padEnd(width)}  ${value.padStart(16)}`);
if (sink === -1) console.log(sink);
