import { describe, expect, it } from 'vitest';
import { RetainedStore } from '../../../src/broker/routing/retained-store.js';
import { topicMatches } from '../../../src/broker/routing/topic.js';
import { int, mulberry32, randomFilter, randomTopic } from './random.js';

function matches<M>(store: RetainedStore<M>, filter: string): string[] {
  const topics: string[] = [];
  store.forEachMatch(filter, (topic, message) => {
    expect(store.get(topic)).toBe(message);
    topics.push(topic);
  });
  return topics.sort();
}

describe('RetainedStore', () => {
  it('sets, replaces, gets and deletes', () => {
    const store = new RetainedStore<string>();
    store.set('a/b', 'one');
    store.set('a/b', 'two');
    store.set('a', 'parent');
    expect(store.get('a/b')).toBe('two');
    expect(store.get('a')).toBe('parent');
    expect(store.get('a/c')).toBeUndefined();
    expect(store.size).toBe(2);
    expect(store.delete('a/b')).toBe(true);
    expect(store.delete('a/b')).toBe(false);
    expect(store.get('a/b')).toBeUndefined();
    store.set('a', undefined); // a retained message with an empty payload deletes
    expect(store.size).toBe(0);
    expect(store.nodeCount).toBe(1);
    store.set('x', undefined);
    expect(store.size).toBe(0);
  });

  it('keeps an intermediate node that still holds a message', () => {
    const store = new RetainedStore<number>();
    store.set('a/b/c', 1);
    store.set('a', 2);
    store.delete('a/b/c');
    expect(store.nodeCount).toBe(2);
    expect(matches(store, '#')).toEqual(['a']);
  });

  it('matches # on the parent level and the subtree (§4.7.1.2)', () => {
    const store = new RetainedStore<number>();
    for (const t of ['sport', 'sport/', 'sport/tennis', 'sport/tennis/player1', 'sports', '/sport']) store.set(t, 1);
    expect(matches(store, 'sport/#')).toEqual(['sport', 'sport/', 'sport/tennis', 'sport/tennis/player1']);
    expect(matches(store, 'sport/+')).toEqual(['sport/', 'sport/tennis']);
    expect(matches(store, '+/+')).toEqual(['/sport', 'sport/', 'sport/tennis']);
    expect(matches(store, '+')).toEqual(['sport', 'sports']);
    expect(matches(store, 'sport')).toEqual(['sport']);
    expect(matches(store, 'nothing/#')).toEqual([]);
  });

  it('applies the $ rule [MQTT-4.7.2-1]', () => {
    const store = new RetainedStore<number>();
    for (const t of ['$SYS/monitor/Clients', '$SYS', 'a/$b', 'x/monitor/Clients']) store.set(t, 1);
    expect(matches(store, '#')).toEqual(['a/$b', 'x/monitor/Clients']);
    expect(matches(store, '+/monitor/Clients')).toEqual(['x/monitor/Clients']);
    expect(matches(store, '+')).toEqual([]);
    expect(matches(store, '$SYS/#')).toEqual(['$SYS', '$SYS/monitor/Clients']);
    expect(matches(store, '$SYS/+/Clients')).toEqual(['$SYS/monitor/Clients']);
    expect(matches(store, 'a/+')).toEqual(['a/$b']);
  });

  it('yields the topics of one level in the order they were first retained', () => {
    const store = new RetainedStore<number>();
    for (let i = 0; i < 200; i++) store.set(`bench/ret/${i}`, i);
    store.set('bench/ret/5', 5); // a replacement keeps its place
    for (const filter of ['#', 'bench/#', 'bench/ret/+', '+/+/+']) {
      const seen: number[] = [];
      store.forEachMatch(filter, (_topic, m) => seen.push(m));
      expect(seen, filter).toEqual([...Array(200).keys()]);
    }
  });

  it('lists all entries', () => {
    const store = new RetainedStore<number>();
    store.set('a', 1);
    store.set('b/c', 2);
    store.set('a', 3);
    expect(new Map(store.entries())).toEqual(
      new Map([
        ['a', 3],
        ['b/c', 2],
      ]),
    );
    store.clear();
    expect(store.size).toBe(0);
    expect([...store.entries()]).toEqual([]);
    expect(matches(store, '#')).toEqual([]);
  });

  it('walks very deep topics without recursion', () => {
    const store = new RetainedStore<number>();
    const deep = Array.from({ length: 30_000 }, () => '').join('/');
    store.set(deep, 1);
    expect(matches(store, '#')).toEqual([deep]);
    expect(store.delete(deep)).toBe(true);
    expect(store.nodeCount).toBe(1);
  });

  it.each([1, 2, 3, 4, 5, 6])('forEachMatch equals brute force with topicMatches (seed %i)', (seed) => {
    const rng = mulberry32(seed);
    const store = new RetainedStore<number>();
    const model = new Map<string, number>();
    const check = () => {
      expect(store.size).toBe(model.size);
      for (let i = 0; i < 200; i++) {
        const filter = randomFilter(rng);
        const expected = [...model.keys()].filter((t) => topicMatches(filter, t)).sort();
        expect(matches(store, filter), filter).toEqual(expected);
      }
      for (const [t, v] of model) expect(store.get(t)).toBe(v);
    };
    for (let i = 0; i < 300; i++) {
      const topic = randomTopic(rng);
      const value = i;
      store.set(topic, value);
      model.set(topic, value);
    }
    check();
    for (let i = 0; i < 300; i++) {
      const topic = randomTopic(rng);
      if (rng() < 0.5) {
        expect(store.delete(topic)).toBe(model.delete(topic));
      } else {
        const value = int(rng, 3) === 0 ? undefined : i;
        store.set(topic, value);
        if (value === undefined) model.delete(topic);
        else model.set(topic, value);
      }
    }
    check();
    for (const topic of [...model.keys()]) store.delete(topic);
    expect(store.size).toBe(0);
    expect(store.nodeCount).toBe(1);
  });
});
