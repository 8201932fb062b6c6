import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/broker/store/memory.js';
import type { StoreOperation } from '../../src/broker/store/store.js';
import { PacketType, ReasonCode } from '../../src/codec/index.js';
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

/** A MemoryStore that says it is durable and whose writes complete only when the test opens the gate. */
class GatedStore extends MemoryStore {
  private gate: Promise<void> = Promise.resolve();
  private openGate: () => void = () => {};

  constructor() {
    super({ durable: true });
  }

  close_(): void {
    this.gate = new Promise((resolve) => {
      this.openGate = resolve;
    });
  }

  open_(): void {
    this.openGate();
  }

  override async write(batch: readonly StoreOperation[]): Promise<void> {
    await this.gate;
    await super.write(batch);
  }
}

describe('durable store: acknowledge after commit', () => {
  it('PUBACK / PUBREC / PUBCOMP wait for the commit of the batch and keep the PUBLISH order', async () => {
    const store = new GatedStore();
    const broker = await startBroker({ store });
    try {
      const { client: sub } = await RawClient.connect(broker.port, { clientId: 'gated-sub', clean: false });
      await subscribe(sub, [{ topicFilter: 'g/#', qos: 2 }]);
      await sub.end();
      const { client: pub } = await RawClient.connect(broker.port, { clientId: 'gated-pub' });
      store.close_();
      const sent = [1, 2, 3, 4, 5, 6];
      for (const id of sent) {
        pub.send({
          type: PacketType.PUBLISH,
          topic: `g/${id}`,
          payload: Buffer.from(`m${id}`),
          qos: id % 2 === 0 ? 2 : 1,
          retain: id === 1,
          dup: false,
          packetId: id,
        });
        await delay(5); // separate event-loop turns: separate batches
      }
      await pub.expectNoPacket(150);
      const outgoingBefore = (await store.restore()).sessions.find((s) => s.clientId === 'gated-sub')?.outgoing;
      expect(outgoingBefore).toEqual([]);
      store.open_();
      const acks: [number, number][] = [];
      for (let i = 0; i < sent.length; i++) {
        const packet = await pub.nextPacket(2000);
        if (packet?.type !== PacketType.PUBACK && packet?.type !== PacketType.PUBREC) throw new Error('expected ack');
        acks.push([packet.type, packet.packetId]);
      }
      expect(acks).toEqual(sent.map((id) => [id % 2 === 0 ? PacketType.PUBREC : PacketType.PUBACK, id]));
      // When the acks went out, everything was in the store.
      const state = await store.restore();
      expect(state.sessions.find((s) => s.clientId === 'gated-sub')?.outgoing.map((o) => o.message.topic)).toEqual(
        sent.map((id) => `g/${id}`),
      );
      expect(state.retained.map((m) => m.topic)).toEqual(['g/1']);
      expect(state.sessions.find((s) => s.clientId === 'gated-pub')?.incoming.sort()).toEqual([2, 4, 6]);
      // PUBCOMP waits for the removal of the incoming id.
      store.close_();
      pub.send({ type: PacketType.PUBREL, packetId: 2 });
      await pub.expectNoPacket(100);
      store.open_();
      expect((await pub.expectPacket(PacketType.PUBCOMP)).packetId).toBe(2);
      expect((await store.restore()).sessions.find((s) => s.clientId === 'gated-pub')?.incoming.sort()).toEqual([4, 6]);
      await pub.end();
    } finally {
      store.open_();
      await broker.close();
    }
  });

  it('a failed commit: MQTT 5.0 PUBACK 0x80, MQTT 3.1.1 connection closed', async () => {
    const store = new MemoryStore({ durable: true });
    const broker = await startBroker({ store });
    try {
      const { client: sub } = await RawClient.connect(broker.port, { clientId: 'fail-sub', clean: false });
      await subscribe(sub, [{ topicFilter: 'f/#', qos: 1 }]);
      await sub.end();
      await delay(20);
      store.failWrites = true;
      const { client: v5 } = await RawClient.connect(broker.port, { clientId: 'fail-v5', protocolVersion: 5 });
      expect(await publish(v5, 'f/1', 'x', { qos: 1 })).toBe(ReasonCode.UnspecifiedError);
      // PUBREC 0x80 ends the exchange and frees the id: the same id is accepted (and routed) again later.
      expect(await publish(v5, 'f/2', 'x', { qos: 2, packetId: 7 })).toBe(ReasonCode.UnspecifiedError);
      store.failWrites = false;
      expect(await publish(v5, 'f/2', 'x', { qos: 2, packetId: 7 })).toBeUndefined();
      store.failWrites = true;
      const { client: v4 } = await RawClient.connect(broker.port, { clientId: 'fail-v4' });
      v4.send({
        type: PacketType.PUBLISH,
        topic: 'f/3',
        payload: Buffer.from('x'),
        qos: 1,
        retain: false,
        dup: false,
        packetId: 1,
      });
      await v4.expectClose(2000);
    } finally {
      store.failWrites = false;
      await broker.close();
    }
  });

  it('QoS 0 is not persisted for an offline session; a 3.1.1 CleanSession=0 session is stored as never expiring', async () => {
    const store = new MemoryStore({ durable: true });
    const broker = await startBroker({ store });
    try {
      const { client: sub } = await RawClient.connect(broker.port, { clientId: 'q0-sub', clean: false });
      await subscribe(sub, [{ topicFilter: 'q/#', qos: 2 }]);
      await sub.end();
      const { client: pub } = await RawClient.connect(broker.port);
      await publish(pub, 'q/0', 'zero', { qos: 0 });
      await publish(pub, 'q/1', 'one', { qos: 1 });
      await pub.end();
      await delay(20);
      const session = (await store.restore()).sessions.find((s) => s.clientId === 'q0-sub');
      expect(session?.expiryInterval).toBe(0xffff_ffff);
      expect(session?.disconnectedAt).toBeTypeOf('number');
      expect(session?.outgoing.map((o) => o.message.topic)).toEqual(['q/1']);
    } finally {
      await broker.close();
    }
  });

  it('restore applies maxQueuedMessages and maxRetainedMessages and drops a session that expired while down', async () => {
    const store = new MemoryStore();
    const message = (topic: string) => ({ topic, payload: Buffer.from('p'), qos: 1 as const, retain: false });
    const operations: StoreOperation[] = [
      {
        op: 'putSession',
        session: { clientId: 'kept', protocolVersion: 5, expiryInterval: 3600, disconnectedAt: Date.now() },
      },
      {
        op: 'putSession',
        session: { clientId: 'gone', protocolVersion: 5, expiryInterval: 1, disconnectedAt: Date.now() - 5000 },
      },
    ];
    for (let seq = 1; seq <= 5; seq++) {
      operations.push({
        op: 'putOutgoing',
        record: { clientId: 'kept', seq, message: message(`o/${seq}`), qos: 1, retain: false, status: 'queued' },
      });
    }
    for (let i = 0; i < 4; i++) operations.push({ op: 'putRetained', message: { ...message(`r/${i}`), retain: true } });
    await store.write(operations);
    const broker = await startBroker({ store, maxQueuedMessages: 3, maxRetainedMessages: 2 });
    try {
      expect(broker.broker.restoreSummary).toMatchObject({
        sessions: 1,
        expiredSessions: 1,
        queued: 3,
        droppedMessages: 2,
        retained: 2,
        droppedRetained: 2,
      });
      const { client: pub } = await RawClient.connect(broker.port);
      await publish(pub, 'r/new', 'x', { qos: 1, retain: true });
      expect(broker.broker.stats.retainedDropped).toBe(1);
      await publish(pub, 'r/0', 'replaced', { qos: 1, retain: true });
      expect(text(broker.broker.retained.get('r/0')!.payload)).toBe('replaced');
      await pub.end();
      await delay(20);
      const state = await store.restore();
      expect(state.sessions.map((s) => s.clientId)).toEqual(['kept']);
      expect(state.sessions[0]?.outgoing.map((o) => o.seq)).toEqual([1, 2, 3]);
      expect(state.retained.map((m) => m.topic).sort()).toEqual(['r/0', 'r/1']);
    } finally {
      await broker.close();
    }
  });
});

describe('incoming QoS 2 ids across a restart', () => {
  it('a PUBLISH resent after the restart, before PUBREL, is acknowledged but not delivered again', async () => {
    const store = new MemoryStore({ durable: true });
    const first = await startBroker({ store });
    const { client: sub } = await RawClient.connect(first.port, { clientId: 'q2-sub', clean: false });
    await subscribe(sub, [{ topicFilter: 'once/#', qos: 1 }]);
    await sub.disconnect();
    const { client: pub } = await RawClient.connect(first.port, { clientId: 'q2-pub', clean: false });
    const packet = {
      type: PacketType.PUBLISH,
      topic: 'once/x',
      payload: Buffer.from('exactly once'),
      qos: 2,
      retain: false,
      dup: false,
      packetId: 42,
    } as const;
    pub.send(packet);
    expect((await pub.expectPacket(PacketType.PUBREC)).packetId).toBe(42);
    await pub.end();
    await first.close();

    const second = await startBroker({ store });
    try {
      expect(second.broker.restoreSummary?.incoming).toBe(1);
      const { client: again, connack } = await RawClient.connect(second.port, { clientId: 'q2-pub', clean: false });
      expect(connack.sessionPresent).toBe(true);
      again.send({ ...packet, dup: true });
      expect((await again.expectPacket(PacketType.PUBREC)).packetId).toBe(42);
      again.send({ type: PacketType.PUBREL, packetId: 42 });
      expect((await again.expectPacket(PacketType.PUBCOMP)).packetId).toBe(42);
      await again.disconnect();
      const { client: sub2 } = await RawClient.connect(second.port, { clientId: 'q2-sub', clean: false });
      expect(text((await receive(sub2)).payload)).toBe('exactly once');
      await sub2.expectNoPacket(200);
      await sub2.disconnect();
    } finally {
      await second.close();
    }
  });
});
