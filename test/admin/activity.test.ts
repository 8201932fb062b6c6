import { describe, expect, it } from 'vitest';
import { TopicActivity } from '../../src/admin/activity.js';
import { createMessage } from '../../src/broker/message.js';

const message = (topic: string, payload: string) =>
  createMessage(topic, new TextEncoder().encode(payload), 0, false, undefined, 'c1', Date.now());

describe('TopicActivity', () => {
  it('lists a topic seen since the last tick, with its preview, before any tick', () => {
    const activity = new TopicActivity(10, 4);
    activity.record(message('a/b', 'hello'));
    const [entry] = activity.list(1_000);
    expect(entry).toMatchObject({ topic: 'a/b', count: 1, rate: 0, size: 5, truncated: true, lastAt: 1_000 });
  });

  it('keeps at most maxTopics topics, evicting the least recently active', () => {
    const activity = new TopicActivity(2);
    activity.record(message('t/1', 'x'));
    activity.tick(Date.now());
    activity.record(message('t/2', 'x'));
    activity.record(message('t/3', 'x'));
    expect(activity.list().map((t) => t.topic)).toEqual(['t/2', 't/3']);
  });
});
