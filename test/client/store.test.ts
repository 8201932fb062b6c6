/** The persistent in-flight store: QoS 1/2 flows survive a client restart. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Broker, createBroker } from '../../src/broker/index.js';
import { connect, FileInflightStore, MemoryInflightStore, type MqttClient } from '../../src/client/index.js';
import { ClientSession } from '../../src/client/session.js';
import { PacketType } from '../../src/codec/index.js';
import { startProxy } from './helpers/proxy.js';

let dir: string;
let broker: Broker;
let port: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'midge-client-store-'));
  broker = createBroker({ sysInterval: 0 });
  port = (await broker.listen({ host: '127.0.0.1', port: 0 })).port;
});
afterAll(async () => {
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the session tells the store about every flow change', () => {
  it('stores a QoS 2 PUBLISH when sent, replaces it with PUBREL on PUBREC, and forgets it on PUBCOMP', () => {
    const persist = { put: vi.fn(), delete: vi.fn() };
    const session = new ClientSession({ persist });
    session.connack({ type: PacketType.CONNACK, sessionPresent: false, reasonCode: 0 });
    session.publish(
      { type: PacketType.PUBLISH, topic: 't', payload: new Uint8Array(), qos: 2, retain: false, dup: false },
      { resolve() {}, reject() {} },
    );
    expect(persist.put).toHaveBeenLastCalledWith(1, expect.objectContaining({ type: PacketType.PUBLISH }));
    session.handle({ type: PacketType.PUBREC, packetId: 1 });
    expect(persist.put).toHaveBeenLastCalledWith(1, { type: PacketType.PUBREL, packetId: 1 });
    session.handle({ type: PacketType.PUBCOMP, packetId: 1 });
    expect(persist.delete).toHaveBeenCalledWith(1);
  });

  it('a restored flow is resent after CONNACK: PUBLISH with DUP=1, or PUBREL', () => {
    const session = new ClientSession();
    session.restore([
      {
        type: PacketType.PUBLISH,
        topic: 'a',
        payload: new Uint8Array(),
        qos: 1,
        retain: false,
        dup: false,
        packetId: 4,
      },
      { type: PacketType.PUBREL, packetId: 9 },
    ]);
    const out = session.connack({ type: PacketType.CONNACK, sessionPresent: true, reasonCode: 0 });
    expect(out).toEqual([
      expect.objectContaining({ type: PacketType.PUBLISH, packetId: 4, dup: true }),
      { type: PacketType.PUBREL, packetId: 9 },
    ]);
  });
});

describe('FileInflightStore', () => {
  it('keeps the live flows across instances, in order, and compacts the log', async () => {
    const path = join(dir, 'unit.log');
    const a = new FileInflightStore(path);
    expect(await a.load()).toEqual([]);
    a.put(1, new Uint8Array([1]));
    a.put(2, new Uint8Array([2]));
    a.put(3, new Uint8Array([3]));
    a.delete(2);
    a.put(1, new Uint8Array([11])); // PUBREL replacing the PUBLISH
    await a.close();
    const b = new FileInflightStore(path);
    expect((await b.load()).map((bytes) => [...bytes])).toEqual([[3], [11]]);
    await b.close();
  });
});

describe.each([
  ['a file store', () => new FileInflightStore(join(dir, `flows-${Date.now()}.log`))],
  ['a memory store', () => new MemoryInflightStore()],
] as const)('client restart with %s', (_name, makeStore) => {
  it.each([4, 5] as const)('resends QoS 1 and 2 messages a crashed client never got acknowledged (v%i)', async (v) => {
    const topic = `store/${v}/${Date.now()}`;
    const sub = await connect({ host: '127.0.0.1', port, protocolVersion: v, reconnectPeriod: 0 });
    await sub.subscribe(topic, { qos: 2 });
    const got: string[] = [];
    sub.on('message', (_t, payload) => got.push(Buffer.from(payload).toString()));
    const proxy = await startProxy(port);
    const store = makeStore();
    const clientId = `store-${v}-${Date.now()}`;
    const session = v === 5 ? { clean: false, properties: { sessionExpiryInterval: 60 } } : { clean: false };
    let first: MqttClient | undefined;
    try {
      first = await connect({ host: '127.0.0.1', port: proxy.port, protocolVersion: v, clientId, store, ...session });
      proxy.pause(); // nothing reaches the broker any more
      const lost = [first.publish(topic, 'one', { qos: 1 }), first.publish(topic, 'two', { qos: 2 })];
      await new Promise((resolve) => setTimeout(resolve, 20));
      await first.end(true); // the process "crashes"
      await Promise.allSettled(lost);
      const path = store instanceof FileInflightStore ? store.path : undefined;
      const again = path === undefined ? store : new FileInflightStore(path);
      const second = await connect({ host: '127.0.0.1', port, protocolVersion: v, clientId, store: again, ...session });
      const deadline = Date.now() + 3000;
      while (got.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(got.sort()).toEqual(['one', 'two']);
      expect((await again.load()).length).toBe(0); // both flows completed
      await second.end();
    } finally {
      await proxy.close();
      await sub.end(true);
    }
  });
});
