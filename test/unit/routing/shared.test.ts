import { describe, expect, it } from 'vitest';
import { ShareGroup } from '../../../src/broker/routing/shared.js';
import { type SubscriptionOptions, SubscriptionTrie } from '../../../src/broker/routing/subscription-trie.js';
import type { QoS } from '../../../src/codec/constants.js';

function opts(qos: QoS, extra: Partial<SubscriptionOptions> = {}): SubscriptionOptions {
  return { qos, noLocal: false, retainAsPublished: false, retainHandling: 0, ...extra };
}

function counts(trie: SubscriptionTrie, topic: string, messages: number, isAvailable?: (id: string) => boolean) {
  const received = new Map<string, number>();
  for (let i = 0; i < messages; i++) {
    const deliveries = trie.match(topic, undefined, isAvailable);
    expect(deliveries).toHaveLength(1); // each message to exactly one member (§4.8.2)
    const id = deliveries[0]!.clientId;
    received.set(id, (received.get(id) ?? 0) + 1);
  }
  return received;
}

describe('shared subscriptions (§4.8.2)', () => {
  it('delivers each message to exactly one member, round-robin, evenly', () => {
    const trie = new SubscriptionTrie();
    for (const id of ['m1', 'm2', 'm3']) trie.subscribe(id, '$share/g/sensors/+/temp', opts(1));
    const order = Array.from({ length: 6 }, () => trie.match('sensors/k/temp')[0]!.clientId);
    expect(order.slice(0, 3).sort()).toEqual(['m1', 'm2', 'm3']);
    expect(order.slice(3)).toEqual(order.slice(0, 3));
    expect(counts(trie, 'sensors/k/temp', 300)).toEqual(
      new Map([
        ['m1', 100],
        ['m2', 100],
        ['m3', 100],
      ]),
    );
    expect(trie.match('sensors/k/humidity')).toEqual([]);
  });

  it('carries the chosen member’s options and identifier, and the ShareName [MQTT-4.8.2-3], [MQTT-3.3.4-5]', () => {
    const trie = new SubscriptionTrie();
    trie.subscribe('m1', '$share/g/a', opts(0, { subscriptionIdentifier: 4 }));
    trie.subscribe('m2', '$share/g/a', opts(2, { retainAsPublished: true }));
    const seen = [trie.match('a')[0], trie.match('a')[0]].sort((x, y) => x!.clientId.localeCompare(y!.clientId));
    expect(seen).toEqual([
      {
        clientId: 'm1',
        qos: 0,
        retainAsPublished: false,
        subscriptionIdentifiers: [4],
        shareGroup: 'g',
        shareFilter: '$share/g/a',
      },
      {
        clientId: 'm2',
        qos: 2,
        retainAsPublished: true,
        subscriptionIdentifiers: undefined,
        shareGroup: 'g',
        shareFilter: '$share/g/a',
      },
    ]);
  });

  it('delivers only to the share groups that shareFilter accepts (cluster: the group is served on another node)', () => {
    const trie = new SubscriptionTrie();
    trie.subscribe('m1', '$share/g/a', opts(1));
    trie.subscribe('m2', '$share/h/a', opts(1));
    trie.subscribe('c1', 'a', opts(0));
    trie.shareFilter = (key) => key === '$share/h/a';
    expect(
      trie
        .match('a')
        .map((d) => d.clientId)
        .sort(),
    ).toEqual(['c1', 'm2']);
    trie.shareFilter = () => false;
    expect(trie.match('a').map((d) => d.clientId)).toEqual(['c1']);
    trie.shareFilter = undefined;
    expect(
      trie
        .match('a')
        .map((d) => d.clientId)
        .sort(),
    ).toEqual(['c1', 'm1', 'm2']);
  });

  it('respects isAvailable, and falls back to all members when none is available', () => {
    const trie = new SubscriptionTrie();
    for (const id of ['m1', 'm2', 'm3', 'm4']) trie.subscribe(id, '$share/g/#', opts(0));
    const online = new Set(['m2', 'm4']);
    expect(counts(trie, 'x/y', 100, (id) => online.has(id))).toEqual(
      new Map([
        ['m2', 50],
        ['m4', 50],
      ]),
    );
    expect(counts(trie, 'x/y', 100, () => false)).toEqual(
      new Map([
        ['m1', 25],
        ['m2', 25],
        ['m3', 25],
        ['m4', 25],
      ]),
    );
  });

  it('gives one delivery to each of two groups on the same filter', () => {
    const trie = new SubscriptionTrie();
    trie.subscribe('a1', '$share/A/t', opts(0));
    trie.subscribe('a2', '$share/A/t', opts(0));
    trie.subscribe('b1', '$share/B/t', opts(0));
    for (let i = 0; i < 10; i++) {
      const deliveries = trie.match('t');
      expect(deliveries.map((d) => d.shareGroup).sort()).toEqual(['A', 'B']);
      expect(deliveries.find((d) => d.shareGroup === 'B')?.clientId).toBe('b1');
    }
  });

  it('treats the same ShareName on different filters as different groups', () => {
    const trie = new SubscriptionTrie();
    trie.subscribe('m1', '$share/g/a/+', opts(0));
    trie.subscribe('m2', '$share/g/a/#', opts(0));
    expect(
      trie
        .match('a/b')
        .map((d) => d.clientId)
        .sort(),
    ).toEqual(['m1', 'm2']);
  });

  it('gives a client two deliveries for a shared and a non-shared match', () => {
    const trie = new SubscriptionTrie();
    trie.subscribe('c1', '$share/g/a/b', opts(1, { subscriptionIdentifier: 1 }));
    trie.subscribe('c1', 'a/+', opts(0, { subscriptionIdentifier: 2 }));
    trie.subscribe('c1', 'a/b', opts(2));
    const deliveries = trie.match('a/b');
    expect(deliveries).toHaveLength(2);
    expect(deliveries).toContainEqual({
      clientId: 'c1',
      qos: 1,
      retainAsPublished: false,
      subscriptionIdentifiers: [1],
      shareGroup: 'g',
      shareFilter: '$share/g/a/b',
    });
    expect(deliveries).toContainEqual({
      clientId: 'c1',
      qos: 2,
      retainAsPublished: false,
      subscriptionIdentifiers: [2],
      shareGroup: undefined,
    });
  });

  it('shared filters follow the $ rule too [MQTT-4.7.2-1]', () => {
    const trie = new SubscriptionTrie();
    trie.subscribe('m1', '$share/g/#', opts(0));
    trie.subscribe('m2', '$share/h/$SYS/#', opts(0));
    expect(trie.match('$SYS/x').map((d) => d.clientId)).toEqual(['m2']);
  });

  it('keeps the rotation fair when members leave, and drops the group with its last member', () => {
    const trie = new SubscriptionTrie();
    for (const id of ['m1', 'm2', 'm3']) trie.subscribe(id, '$share/g/t', opts(0));
    trie.match('t');
    expect(trie.unsubscribe('m2', '$share/g/t')).toBe(true);
    expect(counts(trie, 't', 10)).toEqual(
      new Map([
        ['m1', 5],
        ['m3', 5],
      ]),
    );
    trie.unsubscribeAll('m1');
    trie.unsubscribe('m3', '$share/g/t');
    expect(trie.match('t')).toEqual([]);
    expect(trie.nodeCount).toBe(1);
  });
});

describe('ShareGroup', () => {
  it('upsert replaces options without a second membership', () => {
    const group = new ShareGroup('g', '$share/g/t');
    expect(group.upsert('m1', opts(0))).toBe(true);
    expect(group.upsert('m1', opts(2))).toBe(false);
    expect(group.size).toBe(1);
    expect(group.pick().options.qos).toBe(2);
    expect(group.remove('m1')).toBe(true);
    expect(group.remove('m1')).toBe(false);
  });

  it('continues the rotation after the removed member', () => {
    const group = new ShareGroup('g', '$share/g/t');
    for (const id of ['m1', 'm2', 'm3', 'm4']) group.upsert(id, opts(0));
    expect(group.pick().clientId).toBe('m1');
    expect(group.pick().clientId).toBe('m2');
    group.remove('m1'); // before the cursor
    expect(group.pick().clientId).toBe('m3');
    group.remove('m4'); // at the cursor, which wraps
    expect(group.pick().clientId).toBe('m2');
    expect(group.pick().clientId).toBe('m3');
  });
});
