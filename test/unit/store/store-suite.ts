/**
 * The store conformance suite: every Store (memory, SQLite, Redis) runs it. It checks each operation against
 * explicit expectations, and random batches against the reference MemoryStore.
 *
 * Order that the interface does not promise is not checked (sessions, subscriptions, incoming ids, retained
 * messages, wills are compared sorted); outgoing records must come back ordered by seq. Binary values may come
 * back as any Uint8Array (a Buffer is one); a key whose value is undefined counts as absent.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SubscriptionOptions } from '../../../src/broker/routing/index.js';
import { MemoryStore } from '../../../src/broker/store/memory.js';
import type {
  MessageRecord,
  OutgoingRecord,
  OutgoingStatus,
  RestoredState,
  SessionRecord,
  Store,
  StoreOperation,
  WillRecord,
} from '../../../src/broker/store/store.js';
import type { Properties } from '../../../src/codec/index.js';

export interface StoreHarness {
  /** An opened store over empty storage. */
  store: Store;
  /** A new store over the same storage, opened (the previous one has been closed): a broker restart. */
  reopen: () => Promise<Store>;
  /** Closes every store of this harness that is still open and removes the storage. */
  cleanup: () => Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------------
// Fixtures

export const ALL_BYTES = Uint8Array.from({ length: 256 }, (_, i) => i);

/** Every MQTT 5 property, at boundary values. Required<>: a property added to the codec must be added here. */
export const EVERY_PROPERTY: Required<Properties> = {
  payloadFormatIndicator: 1,
  messageExpiryInterval: 0xffffffff,
  contentType: 'application/json; charset=utf-8 ✓',
  responseTopic: 'réponse/🛰/état',
  correlationData: ALL_BYTES,
  subscriptionIdentifiers: [1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, 268_435_455],
  sessionExpiryInterval: 0xfffffffe,
  assignedClientIdentifier: 'auto-Ωmega-0001',
  serverKeepAlive: 65_535,
  authenticationMethod: 'SCRAM-SHA-256',
  authenticationData: Uint8Array.from(ALL_BYTES).reverse(),
  requestProblemInformation: 0,
  willDelayInterval: 86_400,
  requestResponseInformation: 1,
  responseInformation: 'response/info',
  serverReference: 'other.example:1883',
  reasonString: '',
  receiveMaximum: 1,
  topicAliasMaximum: 0,
  topicAlias: 65_535,
  maximumQoS: 1,
  retainAvailable: 0,
  userProperties: [
    ['b', '2'],
    ['a', '1'],
    ['a', '0'],
    ['', ''],
    ['ключ', 'значение 🌍'],
    ['b', '2'],
  ],
  maximumPacketSize: 268_435_455,
  wildcardSubscriptionAvailable: 1,
  subscriptionIdentifierAvailable: 0,
  sharedSubscriptionAvailable: 1,
};

export const FULL_MESSAGE: MessageRecord = {
  topic: 'sensors/温度/🔥',
  payload: ALL_BYTES,
  qos: 2,
  retain: true,
  properties: EVERY_PROPERTY,
  publisherId: 'publisher-β',
  expiresAt: 1_900_000_000_123,
};

const OPTIONS: SubscriptionOptions = { qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 };

const msg = (topic: string, text = topic, extra: Partial<MessageRecord> = {}): MessageRecord => ({
  topic,
  payload: Buffer.from(text),
  qos: 1,
  retain: false,
  ...extra,
});

const session = (clientId: string, extra: Partial<SessionRecord> = {}): SessionRecord => ({
  clientId,
  protocolVersion: 5,
  expiryInterval: 3600,
  ...extra,
});

const outgoing = (clientId: string, seq: number, extra: Partial<OutgoingRecord> = {}): OutgoingRecord => ({
  clientId,
  seq,
  message: msg(`out/${seq}`),
  qos: 1,
  retain: false,
  status: 'queued',
  ...extra,
});

const putSession = (clientId: string, extra: Partial<SessionRecord> = {}): StoreOperation => ({
  op: 'putSession',
  session: session(clientId, extra),
});

const putSub = (clientId: string, topicFilter: string, options: SubscriptionOptions = OPTIONS): StoreOperation => ({
  op: 'putSubscription',
  clientId,
  subscription: { topicFilter, options },
});

const putOut = (clientId: string, seq: number, extra: Partial<OutgoingRecord> = {}): StoreOperation => ({
  op: 'putOutgoing',
  record: outgoing(clientId, seq, extra),
});

// ---------------------------------------------------------------------------------------------------------------
// Comparison

/** Plain data: binary values (any Uint8Array) as tagged base64 (fast to compare), keys with undefined values dropped. */
export function plain(value: unknown): unknown {
  if (value instanceof Uint8Array)
    return { binary: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') {
    const result: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) if (v !== undefined) result[key] = plain(v);
    return result;
  }
  return value;
}

const byKey =
  <T>(key: (item: T) => string) =>
  (a: T, b: T): number => {
    const ka = key(a);
    const kb = key(b);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  };

/** The state with the orders the interface does not promise normalised (outgoing keeps its order). */
export function canonical(state: RestoredState): unknown {
  return plain({
    sessions: state.sessions
      .map((s) => ({
        ...s,
        subscriptions: [...s.subscriptions].sort(byKey((sub) => sub.topicFilter)),
        incoming: [...s.incoming].sort((a, b) => a - b),
      }))
      .sort(byKey((s) => s.clientId)),
    retained: [...state.retained].sort(byKey((m) => m.topic)),
    wills: [...state.wills].sort(byKey((w) => w.clientId)),
  });
}

const EMPTY: RestoredState = { sessions: [], retained: [], wills: [] };

interface ExpectedSession extends SessionRecord {
  subscriptions?: { topicFilter: string; options: SubscriptionOptions }[];
  outgoing?: OutgoingRecord[];
  incoming?: number[];
}

function state(
  sessions: ExpectedSession[] = [],
  retained: MessageRecord[] = [],
  wills: WillRecord[] = [],
): RestoredState {
  return {
    sessions: sessions.map((s) => ({ subscriptions: [], outgoing: [], incoming: [], ...s })),
    retained,
    wills,
  };
}

/** A deterministic PRNG (mulberry32). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

// ---------------------------------------------------------------------------------------------------------------

export function runStoreSuite(name: string, makeStore: () => Promise<StoreHarness>): void {
  describe(`Store conformance: ${name}`, () => {
    let harness: StoreHarness;
    let store: Store;

    beforeEach(async () => {
      harness = await makeStore();
      store = harness.store;
    });

    afterEach(async () => {
      await harness.cleanup();
    });

    /** A broker restart: close the store, open a new one over the same storage. */
    const restart = async (): Promise<Store> => {
      await store.close();
      store = await harness.reopen();
      return store;
    };

    const expectState = async (expected: RestoredState): Promise<void> => {
      expect(canonical(await store.restore())).toStrictEqual(canonical(expected));
    };

    /** Checks the state now and again after a restart. */
    const expectPersisted = async (expected: RestoredState): Promise<void> => {
      await expectState(expected);
      await restart();
      await expectState(expected);
    };

    it('an empty store restores to an empty state, also after a restart', async () => {
      const restored = await store.restore();
      expect(restored).toStrictEqual(EMPTY);
      await store.write([]);
      await restart();
      expect(await store.restore()).toStrictEqual(EMPTY);
    });

    describe('sessions', () => {
      it('puts, replaces and deletes a session', async () => {
        await store.write([putSession('a'), putSession('b', { protocolVersion: 4 })]);
        await expectState(state([session('a'), session('b', { protocolVersion: 4 })]));
        await store.write([putSession('a', { expiryInterval: 10, disconnectedAt: 1_700_000_000_000 })]);
        await expectState(
          state([
            session('a', { expiryInterval: 10, disconnectedAt: 1_700_000_000_000 }),
            session('b', { protocolVersion: 4 }),
          ]),
        );
        // Replacing with disconnectedAt absent clears it.
        await store.write([putSession('a', { expiryInterval: 20 })]);
        await store.write([{ op: 'deleteSession', clientId: 'b' }]);
        await expectPersisted(state([session('a', { expiryInterval: 20 })]));
      });

      it('keeps every session field exactly', async () => {
        const sessions: SessionRecord[] = [
          { clientId: 'v3', protocolVersion: 3, expiryInterval: 0 },
          { clientId: 'v4', protocolVersion: 4, expiryInterval: 0xffffffff, disconnectedAt: 0 },
          { clientId: 'v5', protocolVersion: 5, expiryInterval: 1, disconnectedAt: 8_640_000_000_000_000 },
        ];
        await store.write(sessions.map((s) => ({ op: 'putSession', session: s })));
        await expectPersisted(state(sessions));
      });

      it('replacing a session keeps its subscriptions, outgoing messages and incoming ids', async () => {
        await store.write([
          putSession('a'),
          putSub('a', 'x/#'),
          putOut('a', 1),
          { op: 'putIncoming', clientId: 'a', packetId: 9 },
        ]);
        await store.write([putSession('a', { protocolVersion: 4, disconnectedAt: 5 })]);
        await expectPersisted(
          state([
            {
              ...session('a', { protocolVersion: 4, disconnectedAt: 5 }),
              subscriptions: [{ topicFilter: 'x/#', options: OPTIONS }],
              outgoing: [outgoing('a', 1)],
              incoming: [9],
            },
          ]),
        );
      });

      it('deleteSession deletes its subscriptions, outgoing messages and incoming ids, and nothing else', async () => {
        const will: WillRecord = { clientId: 'a', message: msg('will/a'), publishAt: 1 };
        await store.write([
          putSession('a'),
          putSub('a', 'x/#'),
          putSub('a', 'y'),
          putOut('a', 1),
          putOut('a', 2, { status: 'puback', packetId: 1 }),
          { op: 'putIncoming', clientId: 'a', packetId: 3 },
          { op: 'putWill', will },
          { op: 'putRetained', message: msg('a/retained', 'r', { publisherId: 'a' }) },
          putSession('b'),
          putSub('b', 'x/#'),
          putOut('b', 1),
          { op: 'putIncoming', clientId: 'b', packetId: 3 },
        ]);
        await store.write([{ op: 'deleteSession', clientId: 'a' }]);
        const remaining = state(
          [
            {
              ...session('b'),
              subscriptions: [{ topicFilter: 'x/#', options: OPTIONS }],
              outgoing: [outgoing('b', 1)],
              incoming: [3],
            },
          ],
          [msg('a/retained', 'r', { publisherId: 'a' })],
          [will],
        );
        await expectPersisted(remaining);
        // A new session under the same id starts empty.
        await store.write([putSession('a')]);
        await expectPersisted(state([session('a'), ...remaining.sessions], remaining.retained, remaining.wills));
      });

      it('delete then put of a session in one batch leaves an empty session', async () => {
        await store.write([putSession('a'), putSub('a', 'x'), putOut('a', 1)]);
        await store.write([
          { op: 'deleteSession', clientId: 'a' },
          putSession('a', { expiryInterval: 7 }),
          putSub('a', 'y'),
        ]);
        await expectPersisted(
          state([{ ...session('a', { expiryInterval: 7 }), subscriptions: [{ topicFilter: 'y', options: OPTIONS }] }]),
        );
      });

      it('writes nothing under a session that does not exist (as the reference store)', async () => {
        await store.write([
          putSub('ghost', 'x'),
          putOut('ghost', 1),
          { op: 'putIncoming', clientId: 'ghost', packetId: 1 },
          putSession('gone'),
          { op: 'deleteSession', clientId: 'gone' },
          putSub('gone', 'x'),
          putOut('gone', 1),
          { op: 'putIncoming', clientId: 'gone', packetId: 1 },
        ]);
        await store.write([
          putSub('ghost', 'y'),
          putOut('ghost', 2),
          { op: 'putIncoming', clientId: 'ghost', packetId: 2 },
        ]);
        await expectState(EMPTY);
        await store.write([putSession('ghost'), putSession('gone')]);
        await expectPersisted(state([session('ghost'), session('gone')]));
      });
    });

    describe('subscriptions', () => {
      it('puts, replaces and deletes subscriptions with every option exactly', async () => {
        const variants: { topicFilter: string; options: SubscriptionOptions }[] = [
          { topicFilter: 'a', options: { qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 } },
          { topicFilter: 'a/+/b', options: { qos: 1, noLocal: true, retainAsPublished: false, retainHandling: 1 } },
          { topicFilter: '#', options: { qos: 2, noLocal: false, retainAsPublished: true, retainHandling: 2 } },
          {
            topicFilter: '$share/group/x/#',
            options: { qos: 2, noLocal: true, retainAsPublished: true, retainHandling: 2, subscriptionIdentifier: 1 },
          },
          {
            topicFilter: '$SYS/broker/#',
            options: {
              qos: 1,
              noLocal: false,
              retainAsPublished: true,
              retainHandling: 0,
              subscriptionIdentifier: 268_435_455,
            },
          },
          { topicFilter: 'ünï/cødé/🚀/+', options: { ...OPTIONS, subscriptionIdentifier: 128 } },
          { topicFilter: '/', options: OPTIONS },
        ];
        await store.write([putSession('c'), ...variants.map((v) => putSub('c', v.topicFilter, v.options))]);
        await expectState(state([{ ...session('c'), subscriptions: variants }]));

        const replaced = { qos: 0 as const, noLocal: true, retainAsPublished: true, retainHandling: 1 as const };
        await store.write([
          putSub('c', 'a', replaced),
          putSub('c', '$share/group/x/#', OPTIONS), // the identifier goes away
          { op: 'deleteSubscription', clientId: 'c', topicFilter: '#' },
        ]);
        const expected = variants
          .filter((v) => v.topicFilter !== '#')
          .map((v) =>
            v.topicFilter === 'a'
              ? { topicFilter: 'a', options: replaced }
              : v.topicFilter === '$share/group/x/#'
                ? { topicFilter: v.topicFilter, options: OPTIONS }
                : v,
          );
        await expectPersisted(state([{ ...session('c'), subscriptions: expected }]));
      });

      it('keeps the subscriptions of each client apart', async () => {
        await store.write([
          putSession('a'),
          putSession('b'),
          putSub('a', 'same'),
          putSub('b', 'same', { ...OPTIONS, qos: 2 }),
        ]);
        await store.write([{ op: 'deleteSubscription', clientId: 'a', topicFilter: 'same' }]);
        await expectPersisted(
          state([
            session('a'),
            { ...session('b'), subscriptions: [{ topicFilter: 'same', options: { ...OPTIONS, qos: 2 } }] },
          ]),
        );
      });
    });

    describe('outgoing', () => {
      it('restores outgoing records ordered by seq, whatever the order they were written in', async () => {
        const seqs = [5, 1, 1000, 0, 42, 2 ** 31, 7, 2 ** 32 + 1, Number.MAX_SAFE_INTEGER, 10, 9, 100];
        await store.write([putSession('a'), ...seqs.slice(0, 6).map((seq) => putOut('a', seq))]);
        await store.write(seqs.slice(6).map((seq) => putOut('a', seq)));
        const sorted = [...seqs].sort((x, y) => x - y);
        await expectPersisted(state([{ ...session('a'), outgoing: sorted.map((seq) => outgoing('a', seq)) }]));
      });

      it('replaces by (client, seq) through every status, and deletes by (client, seq)', async () => {
        await store.write([putSession('a'), putSession('b'), putOut('a', 1), putOut('a', 2), putOut('b', 1)]);
        const statuses: [OutgoingStatus, number | undefined][] = [
          ['puback', 1],
          ['pubrec', 65_535],
          ['pubcomp', 65_535],
          ['queued', undefined],
        ];
        for (const [status, packetId] of statuses) {
          const extra: Partial<OutgoingRecord> = { status, qos: 2 };
          if (packetId !== undefined) extra.packetId = packetId;
          await store.write([putOut('a', 1, extra)]);
          await expectState(
            state([
              { ...session('a'), outgoing: [outgoing('a', 1, extra), outgoing('a', 2)] },
              { ...session('b'), outgoing: [outgoing('b', 1)] },
            ]),
          );
        }
        await store.write([{ op: 'deleteOutgoing', clientId: 'a', seq: 1 }]);
        await expectPersisted(
          state([
            { ...session('a'), outgoing: [outgoing('a', 2)] },
            { ...session('b'), outgoing: [outgoing('b', 1)] },
          ]),
        );
      });

      it('keeps every outgoing field exactly', async () => {
        const records: OutgoingRecord[] = [
          {
            clientId: 'a',
            seq: 1,
            message: FULL_MESSAGE,
            qos: 1,
            retain: true,
            subscriptionIdentifiers: [1, 268_435_455, 1],
            status: 'puback',
            packetId: 1,
          },
          {
            clientId: 'a',
            seq: 2,
            message: msg('x', '', { qos: 0 }),
            qos: 0,
            retain: false,
            subscriptionIdentifiers: [],
            status: 'queued',
          },
          { clientId: 'a', seq: 3, message: FULL_MESSAGE, qos: 2, retain: false, status: 'pubrec', packetId: 65_535 },
          {
            clientId: 'a',
            seq: 4,
            message: msg('y', 'z', { qos: 2 }),
            qos: 2,
            retain: false,
            status: 'pubcomp',
            packetId: 2,
          },
        ];
        await store.write([
          putSession('a'),
          ...records.map((record): StoreOperation => ({ op: 'putOutgoing', record })),
        ]);
        await expectPersisted(state([{ ...session('a'), outgoing: records }]));
      });
    });

    describe('incoming QoS 2 ids', () => {
      it('puts (idempotently) and deletes incoming packet ids per client', async () => {
        await store.write([
          putSession('a'),
          putSession('b'),
          { op: 'putIncoming', clientId: 'a', packetId: 1 },
          { op: 'putIncoming', clientId: 'a', packetId: 65_535 },
          { op: 'putIncoming', clientId: 'a', packetId: 1 },
          { op: 'putIncoming', clientId: 'a', packetId: 300 },
          { op: 'putIncoming', clientId: 'b', packetId: 1 },
        ]);
        await expectState(
          state([
            { ...session('a'), incoming: [1, 300, 65_535] },
            { ...session('b'), incoming: [1] },
          ]),
        );
        await store.write([
          { op: 'deleteIncoming', clientId: 'a', packetId: 1 },
          { op: 'putIncoming', clientId: 'b', packetId: 1 },
        ]);
        await expectPersisted(
          state([
            { ...session('a'), incoming: [300, 65_535] },
            { ...session('b'), incoming: [1] },
          ]),
        );
      });
    });

    describe('retained messages', () => {
      it('keeps one message per topic: put, replace, delete', async () => {
        await store.write([
          { op: 'putRetained', message: msg('t', 'first') },
          { op: 'putRetained', message: msg('t', 'second', { qos: 2, retain: true }) },
          { op: 'putRetained', message: msg('u') },
          { op: 'putRetained', message: msg('v') },
        ]);
        await store.write([{ op: 'deleteRetained', topic: 'u' }]);
        await expectPersisted(state([], [msg('t', 'second', { qos: 2, retain: true }), msg('v')]));
      });

      it('keeps every message field and every MQTT 5 property exactly', async () => {
        const messages: MessageRecord[] = [
          FULL_MESSAGE,
          { topic: 'minimal', payload: new Uint8Array(0), qos: 0, retain: false },
          { topic: 'empty-properties', payload: Buffer.from('p'), qos: 1, retain: true, properties: {} },
          {
            topic: 'user-properties-only',
            payload: Buffer.from('p'),
            qos: 1,
            retain: true,
            properties: {
              userProperties: [
                ['z', '1'],
                ['a', '2'],
                ['z', '0'],
              ],
            },
          },
          { topic: 'expiry-only', payload: Buffer.from('p'), qos: 2, retain: true, expiresAt: 0 },
          { topic: 'publisher-only', payload: Buffer.from('p'), qos: 0, retain: true, publisherId: '' },
          {
            topic: 'binary-properties',
            payload: new Uint8Array([0]),
            qos: 1,
            retain: true,
            properties: { correlationData: new Uint8Array(0), authenticationData: new Uint8Array([0, 0xff]) },
          },
        ];
        await store.write(messages.map((message): StoreOperation => ({ op: 'putRetained', message })));
        await expectPersisted(state([], messages));
        // Nothing absent comes back as present (e.g. properties: {} where there were none).
        const minimal = (await store.restore()).retained.find((m) => m.topic === 'minimal')!;
        expect(Object.keys(minimal).sort()).toEqual(['payload', 'qos', 'retain', 'topic']);
        expect(minimal.payload).toBeInstanceOf(Uint8Array);
        expect(minimal.payload.length).toBe(0);
        const full = (await store.restore()).retained.find((m) => m.topic === FULL_MESSAGE.topic)!;
        expect(full.properties?.userProperties).toEqual(EVERY_PROPERTY.userProperties);
        expect(full.properties?.correlationData).toBeInstanceOf(Uint8Array);
      });
    });

    describe('wills', () => {
      it('keeps one will per client: put, replace, delete, every field exactly', async () => {
        const a1: WillRecord = { clientId: 'a', message: msg('will/a', 'one'), publishAt: 1 };
        const a2: WillRecord = { clientId: 'a', message: FULL_MESSAGE, publishAt: 1_900_000_000_000 };
        const b: WillRecord = { clientId: 'b', message: msg('will/b', '', { qos: 0 }), publishAt: 0 };
        const c: WillRecord = { clientId: 'c', message: msg('will/c'), publishAt: 5 };
        await store.write([
          { op: 'putWill', will: a1 },
          { op: 'putWill', will: b },
          { op: 'putWill', will: c },
        ]);
        await store.write([
          { op: 'putWill', will: a2 },
          { op: 'deleteWill', clientId: 'c' },
        ]);
        await expectPersisted(state([], [], [a2, b]));
      });
    });

    describe('binary and unicode', () => {
      it('round-trips payloads of every byte value, empty payloads and views into larger buffers', async () => {
        const backing = new Uint8Array(1000).fill(0xee);
        backing.set([1, 2, 3], 500);
        const view = new Uint8Array(backing.buffer, 500, 3);
        const bufferView = Buffer.from(backing.buffer, 499, 5);
        const big = Uint8Array.from({ length: 256 * 1024 }, (_, i) => (i * 7919) & 0xff);
        const messages: MessageRecord[] = [
          msg('all-bytes', '', { payload: ALL_BYTES }),
          msg('all-bytes-reversed', '', { payload: Uint8Array.from(ALL_BYTES).reverse() }),
          msg('empty', '', { payload: new Uint8Array(0) }),
          msg('empty-buffer', '', { payload: Buffer.alloc(0) }),
          msg('view', '', { payload: view }),
          msg('buffer-view', '', { payload: bufferView }),
          msg('zeros', '', { payload: new Uint8Array(64) }),
          msg('big', '', { payload: big }),
          msg('invalid-utf8', '', { payload: new Uint8Array([0xc3, 0x28, 0xa0, 0xa1, 0xf0, 0x28, 0x8c, 0xbc]) }),
        ];
        await store.write([
          putSession('a'),
          ...messages.map((message): StoreOperation => ({ op: 'putRetained', message })),
          ...messages.map((message, i) => putOut('a', i, { message })),
        ]);
        await expectPersisted(
          state([{ ...session('a'), outgoing: messages.map((message, i) => outgoing('a', i, { message })) }], messages),
        );
        const restored = await store.restore();
        const viewed = restored.retained.find((m) => m.topic === 'view')!;
        expect([...viewed.payload]).toEqual([1, 2, 3]);
        expect([...restored.retained.find((m) => m.topic === 'buffer-view')!.payload]).toEqual([0xee, 1, 2, 3, 0xee]);
      });

      it('round-trips unicode and special characters in client ids, topics, filters and strings', async () => {
        const ids = [
          'ünï-cødé',
          '客户端/1',
          'emoji-🦆🦆',
          'a:b:c',
          'star*?[x]',
          'quote\'"`',
          'percent%_\\',
          ' ',
          'zwj-👩‍💻',
          'rtl-שלום',
        ];
        const topics = [
          '日本/東京/天気',
          '🚀/🌕',
          'a/b/c/d/e/f/g',
          ' spaces / in / topic ',
          'x/%_*?[]',
          '/leading',
          'trailing/',
          'éé/e\u0301',
        ];
        await store.write(
          ids.flatMap((id, i): StoreOperation[] => [
            putSession(id),
            putSub(id, topics[i % topics.length]!),
            putSub(id, `${topics[(i + 1) % topics.length]!}/#`),
            putOut(id, i, { message: msg(topics[i % topics.length]!, id, { publisherId: id }) }),
            { op: 'putIncoming', clientId: id, packetId: i + 1 },
            { op: 'putWill', will: { clientId: id, message: msg(topics[i % topics.length]!, id), publishAt: i } },
          ]),
        );
        await store.write(topics.map((topic): StoreOperation => ({ op: 'putRetained', message: msg(topic, topic) })));
        const expected = state(
          ids.map((id, i) => ({
            ...session(id),
            subscriptions: [
              { topicFilter: topics[i % topics.length]!, options: OPTIONS },
              { topicFilter: `${topics[(i + 1) % topics.length]!}/#`, options: OPTIONS },
            ],
            outgoing: [outgoing(id, i, { message: msg(topics[i % topics.length]!, id, { publisherId: id }) })],
            incoming: [i + 1],
          })),
          topics.map((topic) => msg(topic, topic)),
          ids.map((id, i) => ({ clientId: id, message: msg(topics[i % topics.length]!, id), publishAt: i })),
        );
        await expectPersisted(expected);
        // Deleting by those keys works too.
        await store.write([
          ...ids.map((clientId): StoreOperation => ({ op: 'deleteSession', clientId })),
          ...ids.map((clientId): StoreOperation => ({ op: 'deleteWill', clientId })),
          ...topics.map((topic): StoreOperation => ({ op: 'deleteRetained', topic })),
        ]);
        await expectPersisted(EMPTY);
      });
    });

    describe('batches', () => {
      it('applies a batch of 10,000 operations in one write', async () => {
        const batch: StoreOperation[] = [];
        const expected: ExpectedSession[] = [];
        for (let c = 0; c < 100; c++) {
          const id = `client-${c}`;
          batch.push(putSession(id));
          const s: ExpectedSession = { ...session(id), subscriptions: [], outgoing: [], incoming: [] };
          for (let i = 0; i < 10; i++) {
            batch.push(putSub(id, `t/${c}/${i}`));
            s.subscriptions!.push({ topicFilter: `t/${c}/${i}`, options: OPTIONS });
          }
          for (let seq = 0; seq < 60; seq++) {
            batch.push(putOut(id, seq));
            s.outgoing!.push(outgoing(id, seq));
          }
          for (let p = 1; p <= 5; p++) {
            batch.push({ op: 'putIncoming', clientId: id, packetId: p });
            s.incoming!.push(p);
          }
          expected.push(s);
        }
        const retained: MessageRecord[] = [];
        while (batch.length < 10_000) {
          const message = msg(`retained/${batch.length}`);
          batch.push({ op: 'putRetained', message });
          retained.push(message);
        }
        expect(batch).toHaveLength(10_000);
        await store.write(batch);
        await expectPersisted(state(expected, retained));
      });

      it('applies the operations of a batch in order', async () => {
        await store.write([
          { op: 'putRetained', message: msg('t', '1') },
          { op: 'deleteRetained', topic: 't' },
          { op: 'putRetained', message: msg('t', '2') },
          { op: 'putRetained', message: msg('u', '1') },
          { op: 'deleteRetained', topic: 'u' },
          putSession('a'),
          putOut('a', 1, { status: 'puback', packetId: 1 }),
          { op: 'deleteOutgoing', clientId: 'a', seq: 1 },
          putOut('a', 1, { status: 'pubrec', packetId: 2 }),
          { op: 'putIncoming', clientId: 'a', packetId: 4 },
          { op: 'deleteIncoming', clientId: 'a', packetId: 4 },
          putSub('a', 'f'),
          { op: 'deleteSubscription', clientId: 'a', topicFilter: 'f' },
          putSub('a', 'f', { ...OPTIONS, qos: 0 }),
          { op: 'putWill', will: { clientId: 'a', message: msg('w'), publishAt: 1 } },
          { op: 'deleteWill', clientId: 'a' },
        ]);
        await expectPersisted(
          state(
            [
              {
                ...session('a'),
                subscriptions: [{ topicFilter: 'f', options: { ...OPTIONS, qos: 0 } }],
                outgoing: [outgoing('a', 1, { status: 'pubrec', packetId: 2 })],
              },
            ],
            [msg('t', '2')],
          ),
        );
      });

      it('applies interleaved batches written without waiting in the order they were written', async () => {
        const writes: Promise<void>[] = [];
        writes.push(store.write([putSession('a'), putOut('a', 1), { op: 'putRetained', message: msg('t', '1') }]));
        writes.push(store.write([putOut('a', 1, { status: 'puback', packetId: 1 }), putOut('a', 2)]));
        writes.push(
          store.write([
            { op: 'putRetained', message: msg('t', '2') },
            { op: 'deleteOutgoing', clientId: 'a', seq: 2 },
          ]),
        );
        writes.push(store.write([putSession('b'), putSub('b', 'x'), { op: 'deleteRetained', topic: 't' }]));
        writes.push(store.write([{ op: 'putRetained', message: msg('t', '3') }, putOut('a', 3)]));
        writes.push(store.write([{ op: 'deleteSession', clientId: 'b' }]));
        for (let i = 0; i < 50; i++)
          writes.push(store.write([putOut('a', 10 + i), { op: 'deleteOutgoing', clientId: 'a', seq: 9 + i }]));
        await Promise.all(writes);
        await expectPersisted(
          state(
            [
              {
                ...session('a'),
                outgoing: [outgoing('a', 1, { status: 'puback', packetId: 1 }), outgoing('a', 3), outgoing('a', 59)],
              },
            ],
            [msg('t', '3')],
          ),
        );
      });
    });

    it('deleting what does not exist is a no-op', async () => {
      const deletes: StoreOperation[] = [
        { op: 'deleteSession', clientId: 'nobody' },
        { op: 'deleteSubscription', clientId: 'nobody', topicFilter: 'x' },
        { op: 'deleteOutgoing', clientId: 'nobody', seq: 1 },
        { op: 'deleteIncoming', clientId: 'nobody', packetId: 1 },
        { op: 'deleteRetained', topic: 'nothing' },
        { op: 'deleteWill', clientId: 'nobody' },
        { op: 'deleteSubscription', clientId: 'a', topicFilter: 'x' },
        { op: 'deleteOutgoing', clientId: 'a', seq: 1 },
        { op: 'deleteIncoming', clientId: 'a', packetId: 1 },
        { op: 'deleteWill', clientId: 'a' },
      ];
      await store.write(deletes);
      await expectState(EMPTY);
      await store.write([putSession('a'), putSub('a', 'y'), { op: 'putRetained', message: msg('r') }]);
      await store.write(deletes);
      await store.write(deletes);
      await store.write([
        { op: 'deleteSession', clientId: 'a' },
        { op: 'deleteSession', clientId: 'a' },
      ]);
      await store.write([{ op: 'deleteSession', clientId: 'a' }]);
      await expectPersisted(state([], [msg('r')]));
    });

    it('restore() returns new objects each time, and can be called again', async () => {
      await store.write([putSession('a'), putSub('a', 'x'), putOut('a', 1), { op: 'putRetained', message: msg('r') }]);
      const first = await store.restore();
      first.sessions[0]!.expiryInterval = 1;
      first.sessions[0]!.subscriptions.pop();
      first.sessions[0]!.outgoing[0]!.message.payload = new Uint8Array([9]);
      first.retained.pop();
      await expectState(
        state(
          [{ ...session('a'), subscriptions: [{ topicFilter: 'x', options: OPTIONS }], outgoing: [outgoing('a', 1)] }],
          [msg('r')],
        ),
      );
    });

    it('keeps working after a restart, and across several', async () => {
      await store.write([putSession('a'), putOut('a', 1)]);
      await restart();
      await store.write([putOut('a', 2), putSub('a', 'x'), { op: 'putIncoming', clientId: 'a', packetId: 1 }]);
      await restart();
      await store.write([{ op: 'deleteOutgoing', clientId: 'a', seq: 1 }, putSession('b')]);
      await expectPersisted(
        state([
          {
            ...session('a'),
            subscriptions: [{ topicFilter: 'x', options: OPTIONS }],
            outgoing: [outgoing('a', 2)],
            incoming: [1],
          },
          session('b'),
        ]),
      );
    });

    it('matches the reference store on random batches', async () => {
      const reference = new MemoryStore();
      const next = random(0x6d696467);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
      const clients = ['a', 'b', 'c:1', 'ü', ''];
      const filters = ['x', 'x/+', '#', '$share/g/x'];
      const messages: MessageRecord[] = [
        FULL_MESSAGE,
        msg('m/1'),
        msg('m/2', '', { properties: { userProperties: [['k', 'v']] } }),
        msg(''),
      ];
      const statuses: OutgoingStatus[] = ['queued', 'puback', 'pubrec', 'pubcomp'];
      const operation = (): StoreOperation => {
        const clientId = pick(clients);
        switch (Math.floor(next() * 12)) {
          case 0:
            return putSession(clientId, {
              expiryInterval: Math.floor(next() * 100),
              protocolVersion: pick([3, 4, 5] as const),
            });
          case 1:
            return next() < 0.3 ? { op: 'deleteSession', clientId } : putSession(clientId);
          case 2:
            return putSub(clientId, pick(filters), {
              ...OPTIONS,
              qos: pick([0, 1, 2] as const),
              noLocal: next() < 0.5,
            });
          case 3:
            return { op: 'deleteSubscription', clientId, topicFilter: pick(filters) };
          case 4:
          case 5: {
            const status = pick(statuses);
            const extra: Partial<OutgoingRecord> = { status, message: pick(messages) };
            if (status !== 'queued') extra.packetId = 1 + Math.floor(next() * 5);
            return putOut(clientId, Math.floor(next() * 20), extra);
          }
          case 6:
            return { op: 'deleteOutgoing', clientId, seq: Math.floor(next() * 20) };
          case 7:
            return { op: 'putIncoming', clientId, packetId: 1 + Math.floor(next() * 5) };
          case 8:
            return { op: 'deleteIncoming', clientId, packetId: 1 + Math.floor(next() * 5) };
          case 9:
            return { op: 'putRetained', message: { ...pick(messages), topic: pick(['r/1', 'r/2', 'r/ü']) } };
          case 10:
            return next() < 0.5
              ? { op: 'deleteRetained', topic: pick(['r/1', 'r/2', 'r/ü']) }
              : { op: 'deleteWill', clientId };
          default:
            return { op: 'putWill', will: { clientId, message: pick(messages), publishAt: Math.floor(next() * 1e12) } };
        }
      };
      for (let round = 0; round < 40; round++) {
        const batch = Array.from({ length: 1 + Math.floor(next() * 80) }, operation);
        await Promise.all([store.write(batch), reference.write(batch)]);
        if (round % 10 === 9) {
          expect(canonical(await store.restore())).toStrictEqual(canonical(await reference.restore()));
          await restart();
        }
      }
      expect(canonical(await store.restore())).toStrictEqual(canonical(await reference.restore()));
    });
  });
}
