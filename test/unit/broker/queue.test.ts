import { describe, expect, it } from 'vitest';
import { MessageQueue } from '../../../src/broker/session/queue.js';
import { outgoing } from './fixtures.js';

describe('MessageQueue', () => {
  it('should return messages in the order they were queued', () => {
    const queue = new MessageQueue(10);
    for (const t of ['a', 'b', 'c']) queue.push(outgoing(1, t));
    expect([queue.shift(), queue.shift(), queue.shift()].map((o) => o?.message.topic)).toEqual(['a', 'b', 'c']);
    expect(queue.shift()).toBeUndefined();
    expect(queue.length).toBe(0);
  });

  it('when full should drop an arriving qos0 message', () => {
    const queue = new MessageQueue(1);
    queue.push(outgoing(1, 'a'));
    expect(queue.push(outgoing(0, 'b')).queued).toBe(false);
    expect(queue.length).toBe(1);
  });

  it('when full should evict the oldest qos0 message to make room for a qos1 message', () => {
    const queue = new MessageQueue(3);
    queue.push(outgoing(1, 'a'));
    queue.push(outgoing(0, 'b'));
    queue.push(outgoing(0, 'c'));
    const result = queue.push(outgoing(1, 'd'));
    expect(result.queued).toBe(true);
    expect(result.evicted?.message.topic).toBe('b');
    expect([...queue].map((o) => o.message.topic)).toEqual(['a', 'c', 'd']);
  });

  it('when full of qos1/2 messages should drop the arriving message', () => {
    const queue = new MessageQueue(2);
    queue.push(outgoing(1, 'a'));
    queue.push(outgoing(2, 'b'));
    expect(queue.push(outgoing(2, 'c'))).toEqual({ queued: false, evicted: undefined });
    expect([...queue].map((o) => o.message.topic)).toEqual(['a', 'b']);
  });

  it('should count reserved slots (messages waiting elsewhere) as taken', () => {
    const queue = new MessageQueue(3);
    queue.push(outgoing(0, 'a'), 2);
    expect(queue.push(outgoing(0, 'b'), 2).queued).toBe(false);
    const result = queue.push(outgoing(1, 'c'), 2);
    expect(result.evicted?.message.topic).toBe('a');
    expect([...queue].map((o) => o.message.topic)).toEqual(['c']);
  });

  it('should remove only qos0 messages when a session goes offline', () => {
    const queue = new MessageQueue(10);
    queue.push(outgoing(0, 'a'));
    queue.push(outgoing(1, 'b'));
    queue.push(outgoing(0, 'c'));
    expect(queue.removeQos0().map((o) => o.message.topic)).toEqual(['a', 'c']);
    expect([...queue].map((o) => o.message.topic)).toEqual(['b']);
  });

  it('should stay correct through many pushes and shifts (compaction)', () => {
    const queue = new MessageQueue(5000);
    for (let i = 0; i < 3000; i++) queue.push(outgoing(1, String(i)));
    for (let i = 0; i < 2500; i++) expect(queue.shift()?.message.topic).toBe(String(i));
    expect(queue.length).toBe(500);
    expect(queue.peek()?.message.topic).toBe('2500');
  });
});
