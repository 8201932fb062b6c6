import { describe, expect, it } from 'vitest';
import {
  type Delivery,
  type SubscriptionOptions,
  SubscriptionTrie,
} from '../../../src/broker/routing/subscription-trie.js';
import { parseSharedFilter, topicMatches } from '../../../src/broker/routing/topic.js';
import type { QoS } from '../../../src/codec/constants.js';
import { int, mulberry32, pick, type Rng, randomFilter, randomTopic } from './random.js';

function opts(qos: QoS, extra: Partial<SubscriptionOptions> = {}): SubscriptionOptions {
  return { qos, noLocal: false, retainAsPublished: false, retainHandling: 0, ...extra };
}

describe('SubscriptionTrie basics', () => {
  it('matches by the number of levels left: filters of other depths under one node, `#` covering its parent', () => {
    const trie = new SubscriptionTrie();
    const filters = ['+/1/y', 'bench/+/2', 'bench/3/x', 'a/#', 'a/+/#', '+', '+/+', 'b/+/+/#', '$share/g/+/q/#'];
    for (const [i, f] of filters.entries()) trie.subscribe(`c${i}`, f, opts(0));
    const topics = [
      'bench/3',
      'bench/1',
      '1',
      'a',
      'a/b',
      'a/b/c',
      'b/c',
      'b/c/d',
      'b/c/d/e',
      'x/q',
      'x/q/r/s',
      'bench/3/x',
    ];
    for (const topic of topics) {
      const expected = filters.filter((f) => topicMatches(parseSharedFilter(f)?.filter ?? f, topic)).length;
      expect(trie.match(topic).length, topic).toBe(expected);
    }
    // Bounds are not narrowed on unsubscribe: removing the short filters must not hide the long ones, nor the reverse.
    trie.unsubscribe('c5', '+');
    trie.unsubscribe('c3', 'a/#');
    trie.subscribe('c9', '+/+/+', opts(0));
    expect(trie.match('a').map((d) => d.clientId)).toEqual([]);
    expect(
      trie
        .match('a/b')
        .map((d) => d.clientId)
        .sort(),
    ).toEqual(['c4', 'c6']);
    expect(
      trie
        .match('a/b/c')
        .map((d) => d.clientId)
        .sort(),
    ).toEqual(['c4', 'c9']);
  });

  it('subscribe returns true only for a new client×filter, and replaces options', () => {
    const trie = new SubscriptionTrie();
    expect(trie.subscribe('c1', 'a/b', opts(0))).toBe(true);
    expect(trie.subscribe('c1', 'a/b', opts(2))).toBe(false);
    expect(trie.subscribe('c2', 'a/b', opts(1))).toBe(true);
    expect(trie.subscribe('c1', '$share/g/a/b', opts(1))).toBe(true);
    expect(trie.subscribe('c1', '$share/g/a/b', opts(0))).toBe(false);
    expect(trie.size).toBe(3);
    expect(trie.subscriptionsOf('c1')).toEqual(
      new Map([
        ['a/b', opts(2)],
        ['$share/g/a/b', opts(0)],
      ]),
    );
    expect(trie.match('a/b').filter((d) => d.clientId === 'c1' && !d.shareGroup)[0]?.qos).toBe(2);
  });

  it('unsubscribe returns whether the subscription existed and prunes nodes', () => {
    const trie = new SubscriptionTrie();
    trie.subscribe('c1', 'a/+/c/#', opts(1));
    trie.subscribe('c1', 'a/b', opts(1));
    expect(trie.nodeCount).toBe(6);
    expect(trie.unsubscribe('c1', 'a/+/c')).toBe(false);
    expect(trie.unsubscribe('c2', 'a/b')).toBe(false);
    expect(trie.unsubscribe('c1', 'a/+/c/#')).toBe(true);
    expect(trie.unsubscribe('c1', 'a/+/c/#')).toBe(false);
    expect(trie.nodeCount).toBe(3);
    expect(trie.unsubscribe('c1', 'a/b')).toBe(true);
    expect(trie.nodeCount).toBe(1);
    expect(trie.size).toBe(0);
    expect(trie.subscriptionsOf('c1')).toBeUndefined();
  });

  it('unsubscribeAll removes every subscription of one client only', () => {
    const trie = new SubscriptionTrie();
    trie.subscribe('c1', 'a/#', opts(0));
    trie.subscribe('c1', '$share/g/a/#', opts(0));
    trie.subscribe('c1', '+', opts(0));
    trie.subscribe('c2', 'a/#', opts(0));
    expect(trie.unsubscribeAll('c1')).toBe(3);
    expect(trie.unsubscribeAll('c1')).toBe(0);
    expect(trie.size).toBe(1);
    expect(trie.match('a/x').map((d) => d.clientId)).toEqual(['c2']);
    expect(trie.nodeCount).toBe(3);
  });

  it('one delivery per client with max QoS and all identifiers [MQTT-3.3.4-2], [MQTT-3.3.4-3]', () => {
    const trie = new SubscriptionTrie();
    trie.subscribe('c1', 'a/+', opts(0, { subscriptionIdentifier: 7 }));
    trie.subscribe('c1', 'a/#', opts(2, { subscriptionIdentifier: 9 }));
    trie.subscribe('c1', 'a/b', opts(1, { retainAsPublished: true }));
    const [d, ...rest] = trie.match('a/b');
    expect(rest).toEqual([]);
    expect(d).toMatchObject({ clientId: 'c1', qos: 2, retainAsPublished: true, shareGroup: undefined });
    expect(d?.subscriptionIdentifiers?.sort()).toEqual([7, 9]);
    expect(trie.match('a/c')).toEqual([
      expect.objectContaining({ qos: 2, retainAsPublished: false, subscriptionIdentifiers: expect.any(Array) }),
    ]);
    expect(trie.match('b')).toEqual([]);
  });

  it('skips No Local subscriptions for the publisher [MQTT-3.8.3-3]', () => {
    const trie = new SubscriptionTrie();
    trie.subscribe('c1', 'a', opts(1, { noLocal: true }));
    trie.subscribe('c2', 'a', opts(1, { noLocal: true }));
    expect(trie.match('a', 'c1').map((d) => d.clientId)).toEqual(['c2']);
    expect(trie.match('a').length).toBe(2);
    // Another of c1's matching subscriptions without No Local still delivers, at that subscription's QoS.
    trie.subscribe('c1', '#', opts(0));
    expect(trie.match('a', 'c1')).toContainEqual(expect.objectContaining({ clientId: 'c1', qos: 0 }));
  });

  it('applies the $ rule at the root only [MQTT-4.7.2-1]', () => {
    const trie = new SubscriptionTrie();
    trie.subscribe('all', '#', opts(0));
    trie.subscribe('plus', '+/monitor/Clients', opts(0));
    trie.subscribe('sys', '$SYS/#', opts(0));
    trie.subscribe('sysplus', '$SYS/+/Clients', opts(0));
    const ids = (topic: string) =>
      trie
        .match(topic)
        .map((d) => d.clientId)
        .sort();
    expect(ids('$SYS/monitor/Clients')).toEqual(['sys', 'sysplus']);
    expect(ids('x/monitor/Clients')).toEqual(['all', 'plus']);
    expect(ids('$SYS')).toEqual(['sys']);
  });

  it('returns a fresh array each time', () => {
    const trie = new SubscriptionTrie();
    trie.subscribe('c1', 'a', opts(0));
    const first = trie.match('a');
    const second = trie.match('a');
    expect(first).not.toBe(second);
    expect(first[0]).not.toBe(second[0]);
    expect(first).toEqual(second);
  });

  it('handles very deep topics and filters without recursion', () => {
    const trie = new SubscriptionTrie();
    const deep = Array.from({ length: 20_000 }, () => 'x').join('/');
    trie.subscribe('c1', `${deep}/#`, opts(0));
    trie.subscribe('c2', deep.replaceAll('x', '+'), opts(0));
    expect(
      trie
        .match(deep)
        .map((d) => d.clientId)
        .sort(),
    ).toEqual(['c1', 'c2']);
    trie.unsubscribeAll('c1');
    trie.unsubscribeAll('c2');
    expect(trie.nodeCount).toBe(1);
  });
});

interface ModelSub {
  clientId: string;
  filter: string;
  options: SubscriptionOptions;
}

const CLIENTS = ['c0', 'c1', 'c2', 'c3', 'c4', 'c5'];

function randomOptions(rng: Rng, shared: boolean): SubscriptionOptions {
  const o: SubscriptionOptions = {
    qos: int(rng, 3) as QoS,
    noLocal: !shared && rng() < 0.3, // No Local on a shared subscription is a Protocol Error [MQTT-3.8.3-4]
    retainAsPublished: rng() < 0.3,
    retainHandling: int(rng, 3) as 0 | 1 | 2,
  };
  if (rng() < 0.5) o.subscriptionIdentifier = 1 + int(rng, 20);
  return o;
}

function randomFullFilter(rng: Rng): string {
  const filter = randomFilter(rng);
  return rng() < 0.2 ? `$share/${pick(rng, ['g1', 'g2'])}/${filter}` : filter;
}

/** Brute force over all subscriptions: non-shared deliveries, and the matching share groups (ShareName + filter). */
function bruteForce(subs: Iterable<ModelSub>, topic: string, publisherId: string | undefined) {
  const deliveries = new Map<string, Delivery>();
  const groups = new Map<string, ModelSub[]>();
  for (const sub of subs) {
    const shared = parseSharedFilter(sub.filter);
    if (!topicMatches(shared ? shared.filter : sub.filter, topic)) continue;
    if (shared) {
      const key = `${shared.group}\u0000${shared.filter}`;
      groups.set(key, [...(groups.get(key) ?? []), sub]);
      continue;
    }
    if (sub.options.noLocal && sub.clientId === publisherId) continue;
    const id = sub.options.subscriptionIdentifier;
    const d = deliveries.get(sub.clientId);
    if (!d) {
      deliveries.set(sub.clientId, {
        clientId: sub.clientId,
        qos: sub.options.qos,
        retainAsPublished: sub.options.retainAsPublished,
        subscriptionIdentifiers: id === undefined ? undefined : [id],
        shareGroup: undefined,
      });
    } else {
      d.qos = Math.max(d.qos, sub.options.qos) as QoS;
      d.retainAsPublished ||= sub.options.retainAsPublished;
      if (id !== undefined) d.subscriptionIdentifiers = [...(d.subscriptionIdentifiers ?? []), id];
    }
  }
  return { deliveries, groups };
}

function normalize(d: Delivery): Delivery {
  return { ...d, subscriptionIdentifiers: d.subscriptionIdentifiers?.slice().sort((a, b) => a - b) };
}

function checkAgainstModel(trie: SubscriptionTrie, model: Map<string, ModelSub>, rng: Rng, topics: number): void {
  expect(trie.size).toBe(model.size);
  for (let i = 0; i < topics; i++) {
    const topic = randomTopic(rng);
    const publisherId = rng() < 0.8 ? pick(rng, CLIENTS) : undefined;
    const expected = bruteForce(model.values(), topic, publisherId);
    const actual = trie.match(topic, publisherId);

    const nonShared = actual.filter((d) => d.shareGroup === undefined).map(normalize);
    nonShared.sort((a, b) => a.clientId.localeCompare(b.clientId));
    const expectedNonShared = [...expected.deliveries.values()].map(normalize);
    expectedNonShared.sort((a, b) => a.clientId.localeCompare(b.clientId));
    expect(nonShared, `${topic} from ${publisherId}`).toEqual(expectedNonShared);

    // Exactly one delivery per matching group; each one to a member of a matching group of that name, with the
    // member's own options.
    const sharedDeliveries = actual.filter((d) => d.shareGroup !== undefined);
    expect(sharedDeliveries.length, topic).toBe(expected.groups.size);
    const groups = [...expected.groups.entries()];
    const fits = (d: Delivery, [key, members]: [string, ModelSub[]]) =>
      key.startsWith(`${d.shareGroup}\u0000`) &&
      members.some(
        (m) =>
          m.clientId === d.clientId &&
          m.options.qos === d.qos &&
          m.options.retainAsPublished === d.retainAsPublished &&
          (m.options.subscriptionIdentifier === undefined
            ? d.subscriptionIdentifiers === undefined
            : d.subscriptionIdentifiers?.length === 1 &&
              d.subscriptionIdentifiers[0] === m.options.subscriptionIdentifier),
      );
    // The deliveries do not say which filter they came from: find a one-to-one assignment to groups (backtracking).
    const used = new Set<number>();
    const assign = (i: number): boolean => {
      const d = sharedDeliveries[i];
      if (!d) return true;
      for (let g = 0; g < groups.length; g++) {
        if (used.has(g) || !fits(d, groups[g]!)) continue;
        used.add(g);
        if (assign(i + 1)) return true;
        used.delete(g);
      }
      return false;
    };
    expect(assign(0), `${topic}: ${JSON.stringify(sharedDeliveries)}`).toBe(true);
  }
  for (const clientId of CLIENTS) {
    const mine = [...model.values()].filter((s) => s.clientId === clientId);
    const actual = trie.subscriptionsOf(clientId);
    if (mine.length === 0) expect(actual).toBeUndefined();
    else expect(actual).toEqual(new Map(mine.map((s) => [s.filter, s.options])));
  }
}

describe('SubscriptionTrie differential test against topicMatches', () => {
  it.each([1, 2, 3, 4, 5, 6, 7, 8])('seed %i', (seed) => {
    const rng = mulberry32(seed);
    const trie = new SubscriptionTrie();
    const model = new Map<string, ModelSub>();
    const key = (clientId: string, filter: string) => `${clientId}\u0000${filter}`;

    for (let i = 0; i < 400; i++) {
      const clientId = pick(rng, CLIENTS);
      const filter = randomFullFilter(rng);
      const options = randomOptions(rng, filter.startsWith('$share/'));
      const k = key(clientId, filter);
      expect(trie.subscribe(clientId, filter, options)).toBe(!model.has(k));
      model.set(k, { clientId, filter, options });
    }
    checkAgainstModel(trie, model, rng, 300);

    // Random unsubscribes, some of filters never subscribed.
    for (let i = 0; i < 200; i++) {
      const existing = [...model.values()];
      const sub = rng() < 0.7 && existing.length > 0 ? pick(rng, existing) : undefined;
      const clientId = sub?.clientId ?? pick(rng, CLIENTS);
      const filter = sub?.filter ?? randomFullFilter(rng);
      const k = key(clientId, filter);
      expect(trie.unsubscribe(clientId, filter)).toBe(model.delete(k));
    }
    checkAgainstModel(trie, model, rng, 200);

    // unsubscribeAll for half of the clients.
    for (const clientId of CLIENTS.slice(0, 3)) {
      const mine = [...model.values()].filter((s) => s.clientId === clientId);
      expect(trie.unsubscribeAll(clientId)).toBe(mine.length);
      for (const s of mine) model.delete(key(s.clientId, s.filter));
    }
    checkAgainstModel(trie, model, rng, 200);

    // Churn: resubscribe, then remove everything; the trie shrinks back to its root.
    for (let i = 0; i < 200; i++) {
      const clientId = pick(rng, CLIENTS);
      const filter = randomFullFilter(rng);
      trie.subscribe(clientId, filter, randomOptions(rng, filter.startsWith('$share/')));
      model.set(key(clientId, filter), { clientId, filter, options: trie.subscriptionsOf(clientId)!.get(filter)! });
    }
    checkAgainstModel(trie, model, rng, 100);
    for (const s of [...model.values()]) {
      if (rng() < 0.5) trie.unsubscribe(s.clientId, s.filter);
    }
    for (const clientId of CLIENTS) trie.unsubscribeAll(clientId);
    expect(trie.size).toBe(0);
    expect(trie.clientCount).toBe(0);
    expect(trie.nodeCount).toBe(1);
    expect(trie.match('a/b')).toEqual([]);
  });
});
