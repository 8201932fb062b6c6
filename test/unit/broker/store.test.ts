import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../src/broker/store/memory.js';
import { type StoreOperation, StoreWriter } from '../../../src/broker/store/store.js';

const message = (topic: string) => ({ topic, payload: new Uint8Array([0x70]), qos: 1 as const, retain: false });
const options = { qos: 1 as const, noLocal: false, retainAsPublished: false, retainHandling: 0 as const };

describe('MemoryStore', () => {
  it('restores what was written: sessions with subscriptions, outgoing messages in order, incoming ids', async () => {
    const store = new MemoryStore();
    await store.write([
      { op: 'putSession', session: { clientId: 'c', protocolVersion: 5, expiryInterval: 60 } },
      { op: 'putSubscription', clientId: 'c', subscription: { topicFilter: 'a/#', options } },
      {
        op: 'putOutgoing',
        record: { clientId: 'c', seq: 2, message: message('b'), qos: 1, retain: false, status: 'queued' },
      },
      {
        op: 'putOutgoing',
        record: { clientId: 'c', seq: 1, message: message('a'), qos: 1, retain: false, status: 'puback', packetId: 7 },
      },
      { op: 'putIncoming', clientId: 'c', packetId: 3 },
    ]);
    const state = await store.restore();
    expect(state.sessions).toHaveLength(1);
    const session = state.sessions[0]!;
    expect(session.subscriptions).toEqual([{ topicFilter: 'a/#', options }]);
    expect(session.outgoing.map((o) => o.seq)).toEqual([1, 2]);
    expect(session.outgoing[0]?.packetId).toBe(7);
    expect(session.incoming).toEqual([3]);
  });

  it('replaces an outgoing record with the same sequence number and deletes by sequence number', async () => {
    const store = new MemoryStore();
    const record = { clientId: 'c', seq: 1, message: message('a'), qos: 1 as const, retain: false };
    await store.write([
      { op: 'putSession', session: { clientId: 'c', protocolVersion: 4, expiryInterval: 0xffffffff } },
      { op: 'putOutgoing', record: { ...record, status: 'queued' } },
      { op: 'putOutgoing', record: { ...record, status: 'puback', packetId: 1 } },
    ]);
    expect((await store.restore()).sessions[0]?.outgoing).toEqual([{ ...record, status: 'puback', packetId: 1 }]);
    await store.write([{ op: 'deleteOutgoing', clientId: 'c', seq: 1 }]);
    expect((await store.restore()).sessions[0]?.outgoing).toEqual([]);
  });

  it('deleting a session deletes everything under it', async () => {
    const store = new MemoryStore();
    await store.write([
      { op: 'putSession', session: { clientId: 'c', protocolVersion: 5, expiryInterval: 10 } },
      { op: 'putSubscription', clientId: 'c', subscription: { topicFilter: 'x', options } },
      { op: 'deleteSession', clientId: 'c' },
    ]);
    expect((await store.restore()).sessions).toEqual([]);
  });

  it('keeps one retained message per topic and one delayed will per client', async () => {
    const store = new MemoryStore();
    await store.write([
      { op: 'putRetained', message: message('t') },
      { op: 'putRetained', message: { ...message('t'), payload: Buffer.from('new') } },
      { op: 'putRetained', message: message('u') },
      { op: 'deleteRetained', topic: 'u' },
      { op: 'putWill', will: { clientId: 'c', message: message('w'), publishAt: 1 } },
      { op: 'putWill', will: { clientId: 'c', message: message('w2'), publishAt: 2 } },
    ]);
    const state = await store.restore();
    expect(state.retained.map((m) => Buffer.from(m.payload).toString())).toEqual(['new']);
    expect(state.wills.map((w) => w.message.topic)).toEqual(['w2']);
  });

  it('restore returns copies, not the live state', async () => {
    const store = new MemoryStore();
    await store.write([{ op: 'putSession', session: { clientId: 'c', protocolVersion: 5, expiryInterval: 10 } }]);
    const first = await store.restore();
    first.sessions[0]!.expiryInterval = 99;
    expect((await store.restore()).sessions[0]?.expiryInterval).toBe(10);
  });
});

describe('StoreWriter', () => {
  it('collects the operations of one event-loop turn into one write', async () => {
    const batches: StoreOperation[][] = [];
    const writer = new StoreWriter(
      {
        durable: false,
        open: async () => {},
        close: async () => {},
        restore: async () => ({ sessions: [], retained: [], wills: [] }),
        write: async (batch) => {
          batches.push([...batch]);
        },
      },
      () => {},
    );
    writer.push({ op: 'deleteRetained', topic: 'a' });
    writer.push({ op: 'deleteRetained', topic: 'b' });
    await new Promise((resolve) => setImmediate(resolve));
    writer.push({ op: 'deleteRetained', topic: 'c' });
    await writer.flush();
    expect(batches.map((b) => b.length)).toEqual([2, 1]);
  });

  it('reports a failed write instead of throwing', async () => {
    const errors: Error[] = [];
    const writer = new StoreWriter(
      {
        durable: false,
        open: async () => {},
        close: async () => {},
        restore: async () => ({ sessions: [], retained: [], wills: [] }),
        write: async () => {
          throw new Error('disk full');
        },
      },
      (error) => errors.push(error),
    );
    writer.push({ op: 'deleteRetained', topic: 'a' });
    await writer.flush();
    expect(errors.map((e) => e.message)).toEqual(['disk full']);
  });

  it('barrier(): one promise per batch, settling in batch order, rejecting only for its own failed batch', async () => {
    const pending: { batch: StoreOperation[]; resolve: () => void; reject: (error: Error) => void }[] = [];
    const errors: Error[] = [];
    const writer = new StoreWriter(
      {
        durable: true,
        open: async () => {},
        close: async () => {},
        restore: async () => ({ sessions: [], retained: [], wills: [] }),
        write: (batch) =>
          new Promise<void>((resolve, reject) => {
            pending.push({ batch: [...batch], resolve, reject });
          }),
      },
      (error) => errors.push(error),
    );
    const events: string[] = [];
    const track = (name: string, promise: Promise<void>) =>
      promise.then(
        () => events.push(`${name} ok`),
        (error: Error) => events.push(`${name} failed: ${error.message}`),
      );
    writer.push({ op: 'deleteRetained', topic: 'a' });
    const first = writer.barrier();
    expect(writer.barrier()).toBe(first);
    const firstDone = track('first', first);
    await new Promise((resolve) => setImmediate(resolve));
    writer.push({ op: 'deleteRetained', topic: 'b' });
    const secondDone = track('second', writer.barrier());
    await new Promise((resolve) => setImmediate(resolve));
    writer.push({ op: 'deleteRetained', topic: 'c' });
    const thirdDone = track('third', writer.barrier());
    await new Promise((resolve) => setImmediate(resolve));
    expect(pending.map((p) => p.batch.length)).toEqual([1, 1, 1]);
    // The second batch is committed first and the third fails: still reported in batch order.
    pending[1]!.resolve();
    pending[2]!.reject(new Error('disk full'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(events).toEqual([]);
    pending[0]!.resolve();
    await Promise.all([firstDone, secondDone, thirdDone]);
    expect(events).toEqual(['first ok', 'second ok', 'third failed: disk full']);
    expect(errors.map((e) => e.message)).toEqual(['disk full']);
    // Nothing collected: waits for nothing, never rejects for an earlier failure.
    await expect(writer.barrier()).resolves.toBeUndefined();
  });
});
