import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/broker/store/memory.js';
import { startBroker } from '../helpers/broker.js';
import { delay, publish, RawClient, receive, subscribe, text } from '../helpers/raw-client.js';

describe('restart with a store', () => {
  it('a persistent session, its queued and unacknowledged messages and retained messages survive a restart', async () => {
    const store = new MemoryStore();
    const first = await startBroker({ store });
    const { client: sub } = await RawClient.connect(first.port, { clientId: 'durable', clean: false });
    await subscribe(sub, [{ topicFilter: 'd/#', qos: 1 }]);
    const { client: pub } = await RawClient.connect(first.port);
    await publish(pub, 'd/1', 'inflight', { qos: 1 });
    const unacked = await receive(sub, { ack: false });
    await sub.end();
    await publish(pub, 'd/2', 'queued', { qos: 1, packetId: 2 });
    await publish(pub, 'd/3', 'qos0 is not queued', { qos: 0 });
    await publish(pub, 'keep', 'retained', { qos: 1, packetId: 3, retain: true });
    await pub.end();
    await delay(20);
    await first.close();

    const second = await startBroker({ store });
    try {
      const { client: again, connack } = await RawClient.connect(second.port, { clientId: 'durable', clean: false });
      expect(connack.sessionPresent).toBe(true);
      const resent = await receive(again);
      expect([text(resent.payload), resent.dup, resent.packetId]).toEqual(['inflight', true, unacked.packetId]);
      expect(text((await receive(again)).payload)).toBe('queued');
      await again.expectNoPacket(200);
      const { client: late } = await RawClient.connect(second.port);
      await subscribe(late, ['keep']);
      expect(text((await receive(late)).payload)).toBe('retained');
      await late.end();
      // Delivered messages are gone from the store too.
      await again.disconnect();
      await delay(20);
      const state = await store.restore();
      expect(state.sessions.find((s) => s.clientId === 'durable')?.outgoing).toEqual([]);
    } finally {
      await second.close();
    }
  });

  it('a session that ended is deleted from the store', async () => {
    const store = new MemoryStore();
    const broker = await startBroker({ store });
    try {
      const { client } = await RawClient.connect(broker.port, { clientId: 'short', clean: true });
      await subscribe(client, ['x']);
      await client.disconnect();
      await delay(20);
      const state = await store.restore();
      expect(state.sessions.map((s) => s.clientId)).not.toContain('short');
      expect(client.closed).toBe(true);
    } finally {
      await broker.close();
    }
  });
});
