import { afterEach, describe, expect, it } from 'vitest';
import { type Broker, createBroker } from '../../../src/broker/broker.js';
import type { Outgoing } from '../../../src/broker/message.js';
import type { BrokerOptions } from '../../../src/broker/options.js';
import { sendRetained } from '../../../src/broker/publish.js';
import type { Session, SessionLink, SessionPersistence } from '../../../src/broker/session/session.js';

class FakeLink implements SessionLink {
  writable = true;
  sent: { topic: string; packetId: number | undefined; retain: boolean; qos: number; dup: boolean }[] = [];
  sendPublish(o: Outgoing, packetId: number | undefined, dup: boolean): boolean {
    this.sent.push({ topic: o.message.topic, packetId, retain: o.retain, qos: o.qos, dup });
    return true;
  }
  sendPubrel(): void {}
}

const COUNT = 5_000;
const topics = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `r/${from + i}`);

let broker: Broker | undefined;
afterEach(async () => {
  await broker?.close();
  broker = undefined;
});

/** A broker holding COUNT retained QoS 1 messages on r/0 .. r/4999 and a connected session `c` (window 20). */
function setup(options: BrokerOptions = {}) {
  broker = createBroker({ sysInterval: 0, maxQueuedMessages: 10_000, ...options });
  for (let i = 0; i < COUNT; i++) broker.publishMessage(`r/${i}`, `m${i}`, { retain: true, qos: 1 });
  const session = broker.createSession('c');
  const link = new FakeLink();
  session.attach(link, 65_535, Date.now());
  const flushes: number[] = [];
  const flush = () => flushes.push(link.sent.length);
  return { broker, session, link, flushes, flush };
}

/** Acknowledges every PUBLISH sent so far, and those its acknowledgements release, until none is left in flight. */
function ackAll(session: Session, link: FakeLink, from = 0): void {
  for (let i = from; i < link.sent.length; i++) session.puback(link.sent[i]!.packetId!, Date.now());
}

describe('retained messages for a new subscription (sendRetained)', () => {
  it('sends the first in-flight window at once and flushes it; the rest is sent as the client acknowledges', () => {
    const { broker, session, link, flushes, flush } = setup();
    sendRetained(broker, session, 'r/#', 1, undefined, Date.now(), flush);
    expect(link.sent).toHaveLength(20);
    expect(flushes).toEqual([20]);
    expect(session.queuedCount).toBe(COUNT - 20);
    ackAll(session, link);
    expect(link.sent.map((s) => s.topic)).toEqual(topics(0, COUNT));
    expect(link.sent.every((s) => s.retain && s.qos === 1 && !s.dup)).toBe(true);
    expect(session.queuedCount).toBe(0);
    expect(session.inflightCount).toBe(0);
  });

  it("sends the retained messages of a second subscription after all of the first one's", () => {
    const { broker, session, link, flush } = setup();
    sendRetained(broker, session, 'r/#', 1, undefined, Date.now(), flush);
    sendRetained(broker, session, 'r/1', 0, 7, Date.now(), flush);
    ackAll(session, link);
    expect(link.sent.map((s) => s.topic)).toEqual([...topics(0, COUNT), 'r/1']);
    expect(link.sent[COUNT]).toMatchObject({ qos: 0, retain: true });
  });

  it('queues them at once, under the queue limit and its drop policy, when they do not all fit', () => {
    const { broker, session, link, flush } = setup({ maxQueuedMessages: 100 });
    sendRetained(broker, session, 'r/#', 1, undefined, Date.now(), flush);
    expect(link.sent).toHaveLength(20);
    expect(session.queuedCount).toBe(100);
    expect(broker.stats.droppedByReason['queue-full']).toBe(COUNT - 120);
    ackAll(session, link);
    expect(link.sent.map((s) => s.topic)).toEqual(topics(0, 120));
  });

  it('counts the retained messages still to send against the queue limit of live messages', () => {
    const { broker, session, link, flush } = setup({ maxQueuedMessages: COUNT });
    sendRetained(broker, session, 'r/#', 1, undefined, Date.now(), flush);
    for (let i = 0; i < 30; i++) broker.publishMessage('live', `l${i}`, { qos: 1 });
    expect(link.sent).toHaveLength(20);
    expect(broker.stats.droppedByReason['queue-full']).toBe(0); // 'live' has no subscriber
    broker.trie.subscribe('c', 'live', { qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 });
    for (let i = 0; i < 30; i++) broker.publishMessage('live', `l${i}`, { qos: 1 });
    expect(session.queuedCount).toBe(COUNT);
    expect(broker.stats.droppedByReason['queue-full']).toBe(10);
    ackAll(session, link);
    expect(link.sent.filter((s) => s.topic === 'live')).toHaveLength(20);
    expect(link.sent.filter((s) => s.topic !== 'live').map((s) => s.topic)).toEqual(topics(0, COUNT));
  });

  it('drops the rest as session-ended when the session ends in the middle, and sends nothing more', () => {
    const { broker, session, link, flush } = setup();
    sendRetained(broker, session, 'r/#', 1, undefined, Date.now(), flush);
    for (let i = 0; i < 10; i++) session.puback(link.sent[i]!.packetId!, Date.now());
    broker.endSession(session);
    expect(link.sent).toHaveLength(30);
    expect(session.queuedCount).toBe(0);
    expect(broker.stats.droppedByReason['session-ended']).toBe(COUNT - 10);
  });

  it('queues the rest when the session goes offline, and sends it once it is back', () => {
    const { broker, session, link, flush } = setup();
    sendRetained(broker, session, 'r/#', 1, undefined, Date.now(), flush);
    session.detach();
    expect(session.queuedCount).toBe(COUNT - 20);
    expect(session.queue.length).toBe(COUNT - 20);
    expect(session.inflightCount).toBe(20);
    const back = new FakeLink();
    session.attach(back, 65_535, Date.now());
    ackAll(session, back);
    expect(back.sent.slice(0, 20).every((s) => s.dup)).toBe(true);
    expect(back.sent.map((s) => s.topic)).toEqual(topics(0, COUNT));
    expect(link.sent).toHaveLength(20);
  });

  it('shows the messages still to send in the queue of the session (for a handoff, say)', () => {
    const { broker, session, flush } = setup();
    sendRetained(broker, session, 'r/#', 1, undefined, Date.now(), flush);
    expect([...session.queue].map((o) => o.message.topic)).toEqual(topics(20, COUNT));
    expect(session.queuedCount).toBe(COUNT - 20);
  });

  it('queues everything at once for a durable session (its queue is persisted)', () => {
    const { broker, session, link, flushes, flush } = setup();
    const queued: string[] = [];
    const persistence: SessionPersistence = {
      queued: (_s, o) => queued.push(o.message.topic),
      inflight() {},
      done() {},
    };
    session.persistence = persistence;
    session.expiryInterval = 60;
    sendRetained(broker, session, 'r/#', 1, undefined, Date.now(), flush);
    expect(link.sent).toHaveLength(20);
    expect(flushes).toEqual([20]);
    expect(queued).toEqual(topics(20, COUNT));
  });

  it('does not send a retained message that expired while it waited', () => {
    const { broker, session, link, flush } = setup();
    sendRetained(broker, session, 'r/#', 1, undefined, Date.now(), flush);
    const last = `r/${COUNT - 1}`;
    broker.retained.get(last)!.expiresAt = Date.now() - 1;
    ackAll(session, link);
    expect(link.sent.map((s) => s.topic)).toEqual(topics(0, COUNT - 1));
    expect(broker.stats.droppedByReason.expired).toBe(1);
  });

  it('sends QoS 0 retained messages without waiting for acknowledgements', () => {
    const { broker, session, link, flushes, flush } = setup();
    sendRetained(broker, session, 'r/#', 0, undefined, Date.now(), flush);
    expect(link.sent).toHaveLength(COUNT);
    expect(link.sent.every((s) => s.qos === 0 && s.packetId === undefined && s.retain)).toBe(true);
    expect(flushes).toEqual([]);
  });
});
