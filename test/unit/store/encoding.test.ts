import { describe, expect, it } from 'vitest';
import {
  decodeNumbers,
  decodeOutgoing,
  decodeProperties,
  decodeSession,
  encodeNumbers,
  encodeOutgoing,
  encodeProperties,
  encodeSession,
} from '../../../src/broker/store/encoding.js';
import { EVERY_PROPERTY, FULL_MESSAGE, plain } from './store-suite.js';

describe('store record encoding', () => {
  it('round-trips every JS number, not only the wire ranges', () => {
    const numbers = [0, 1, 63, 64, 127, 128, 2 ** 31, 2 ** 32, 2 ** 52, 2 ** 52 + 2, Number.MAX_SAFE_INTEGER];
    const odd = [-1, -0, 0.5, -1e-300, 1e300, 2 ** 53 + 2, Number.MAX_VALUE, Infinity, -Infinity, Number.NaN];
    const decoded = decodeNumbers(encodeNumbers([...numbers, ...odd]));
    expect(decoded).toHaveLength(numbers.length + odd.length);
    for (const [i, n] of [...numbers, ...odd].entries()) expect(Object.is(decoded[i], n)).toBe(true);
  });

  it('is compact for the common small values', () => {
    expect(encodeNumbers([0, 1, 63])).toHaveLength(4);
    expect(encodeSession({ clientId: 'c', protocolVersion: 5, expiryInterval: 60 })).toHaveLength(3);
    const record = {
      clientId: 'c',
      seq: 1,
      message: { topic: 't', payload: Buffer.from('hi'), qos: 1 as const, retain: false },
      qos: 1 as const,
      retain: false,
      status: 'queued' as const,
    };
    expect(encodeOutgoing(record).length).toBeLessThanOrEqual(8);
    expect(plain(decodeOutgoing('c', 1, encodeOutgoing(record)))).toStrictEqual(plain(record));
  });

  it('round-trips every property and keeps User Property order', () => {
    const decoded = decodeProperties(encodeProperties(EVERY_PROPERTY));
    expect(plain(decoded)).toStrictEqual(plain(EVERY_PROPERTY));
    expect(Object.keys(decoded).sort()).toEqual(Object.keys(EVERY_PROPERTY).sort());
    expect(decodeProperties(encodeProperties({}))).toEqual({});
    expect(decodeProperties(encodeProperties({ contentType: undefined, topicAlias: 3 }))).toEqual({ topicAlias: 3 });
  });

  it('refuses unknown property names, truncated records and unknown tags', () => {
    expect(() => encodeProperties({ nope: 1 } as never)).toThrow(/unknown message property 'nope'/);
    const encoded = encodeOutgoing({
      clientId: 'c',
      seq: 1,
      message: FULL_MESSAGE,
      qos: 2,
      retain: true,
      status: 'pubrec',
      packetId: 9,
    });
    expect(() => decodeOutgoing('c', 1, encoded.subarray(0, encoded.length - 1))).toThrow(/truncated store record/);
    expect(() => decodeProperties(Uint8Array.from([1, 0x7f, 0]))).toThrow(/unknown property tag 127/);
    expect(() => decodeSession('c', new Uint8Array(0))).toThrow(/truncated/);
    expect(() =>
      encodeOutgoing({ clientId: 'c', seq: 1, message: FULL_MESSAGE, qos: 2, retain: true, status: 'lost' as never }),
    ).toThrow(/unknown outgoing status 'lost'/);
  });

  it('returns binary values as copies, not views of the record', () => {
    const encoded = encodeProperties({ correlationData: Uint8Array.from([1, 2, 3]) });
    const decoded = decodeProperties(encoded);
    encoded.fill(0);
    expect([...decoded.correlationData!]).toEqual([1, 2, 3]);
  });
});
