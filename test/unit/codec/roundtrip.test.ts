/**
 * Round-trip properties of the codec, for MQTT 3.1, 3.1.1 and 5.0 and every packet type of each:
 *   - decode(encode(p)) is p, up to `normalize()` (the wire-equivalent forms of the model);
 *   - the encoding is canonical: encode(decode(encode(p))) is byte-identical to encode(p);
 *   - encodedLength(p) is exactly encode(p).length;
 *   - encodeInto(p) at a non-zero offset writes exactly encode(p)'s bytes there and touches nothing else.
 * The inputs are random legal packets (test/unit/codec/helpers/random-packets.ts): multi-byte UTF-8,
 * empty to ~70 KB payloads, every property each packet allows. A separate test checks that the generator
 * really covers every property, reason code and Remaining Length size, so the round trip proves something.
 *
 * Every test name carries the seed; replay a failure with `MIDGE_SEED=<seed> npx vitest run <this file>`.
 * `MIDGE_ROUNDTRIP_N` changes the number of packets per type and version (default 300).
 */
import { describe, expect, it } from 'vitest';
import {
  encode,
  encodedLength,
  encodeInto,
  type Packet,
  PacketDecoder,
  PacketError,
  type ProtocolVersion,
} from '../../../src/codec/index.js';
import {
  ALLOWED_PROPERTIES,
  baseSeed,
  CONNACK_V4_CODES,
  canonicalJson,
  createRng,
  deriveSeed,
  describeBytes,
  describePacket,
  normalize,
  PACKET_TYPE_NAMES,
  type PropertyContext,
  packetTypesFor,
  randomPacketOfType,
  SUBACK_V4_CODES,
  VERSIONS,
} from './helpers/random-packets.js';

const SEED = baseSeed();
const N = Number(process.env.MIDGE_ROUNDTRIP_N ?? 300);
const CROSS_N = Math.ceil(N / 2);

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean =>
  Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));

function decodeAll(bytes: Uint8Array, version: ProtocolVersion): { packets: Packet[]; buffered: number } {
  const decoder = new PacketDecoder({ protocolVersion: version });
  const packets: Packet[] = [];
  decoder.decode(bytes, (packet) => packets.push(packet));
  return { packets, buffered: decoder.buffered };
}

/** Checks every property for one packet. Failure messages are only built on failure (they are costly). */
function checkRoundTrip(packet: Packet, version: ProtocolVersion, offset: number, where: () => string): void {
  let bytes: Uint8Array;
  try {
    bytes = encode(packet, version);
  } catch (error) {
    expect.fail(`encode() threw ${String(error)}\n${where()}`);
  }

  const length = encodedLength(packet, version);
  if (length !== bytes.length) expect.fail(`encodedLength ${length}, encode ${bytes.length} bytes\n${where()}`);

  const slack = 7;
  const target = new Uint8Array(offset + bytes.length + slack).fill(0xa5);
  const result = encodeInto(packet, version, target, offset);
  const written = target.subarray(offset, offset + bytes.length);
  if (!sameBytes(written, bytes)) {
    expect.fail(`encodeInto wrote ${describeBytes(written)}, encode gave ${describeBytes(bytes)}\n${where()}`);
  }
  const outside = [...target.subarray(0, offset), ...target.subarray(offset + bytes.length)];
  if (!outside.every((b) => b === 0xa5)) expect.fail(`encodeInto wrote outside its packet\n${where()}`);
  if (result !== offset + bytes.length) {
    expect.fail(`encodeInto returned ${result}, not the end offset ${offset + bytes.length}\n${where()}`);
  }

  let decoded: { packets: Packet[]; buffered: number };
  try {
    decoded = decodeAll(bytes, version);
  } catch (error) {
    expect.fail(`decode() threw ${String(error)} on ${describeBytes(bytes)}\n${where()}`);
  }
  if (decoded.packets.length !== 1 || decoded.buffered !== 0) {
    expect.fail(
      `decoding ${describeBytes(bytes)} gave ${decoded.packets.length} packets, ${decoded.buffered} bytes left\n${where()}`,
    );
  }
  const back = decoded.packets[0] as Packet;
  const expected = normalize(packet, version);
  const actual = normalize(back, version);
  if (canonicalJson(actual) !== canonicalJson(expected)) {
    expect(actual, `decode(encode(p)) of ${describeBytes(bytes)}\n${where()}`).toEqual(expected);
  }
  if (version !== 5 && 'properties' in back && back.properties !== undefined) {
    expect.fail(`a level ${version} packet decoded with properties\n${where()}`);
  }

  const again = encode(back, version);
  if (!sameBytes(again, bytes)) {
    expect.fail(`re-encoding the decoded packet gave ${describeBytes(again)}, not ${describeBytes(bytes)}\n${where()}`);
  }
}

describe(`codec round trip (MIDGE_SEED=${SEED})`, () => {
  for (const version of VERSIONS) {
    describe(`MQTT protocol level ${version}`, () => {
      for (const type of packetTypesFor(version)) {
        const name = PACKET_TYPE_NAMES[type];
        it(`${name} × ${N}`, () => {
          const rng = createRng(deriveSeed(SEED, 'roundtrip', version, type));
          for (let i = 0; i < N; i++) {
            const packet = randomPacketOfType(rng, type, version);
            const offset = rng.int(1, 9);
            checkRoundTrip(
              packet,
              version,
              offset,
              () => `MIDGE_SEED=${SEED}, level ${version}, ${name} case #${i}: ${describePacket(packet)}`,
            );
          }
        });
      }
    });
  }
});

describe(`5.0 packets encoded for 3.1.1 and 3.1 (MIDGE_SEED=${SEED})`, () => {
  // What the encoder documents: fields that exist only in 5.0 are not written for 3.1/3.1.1, so decoding gives the
  // packet as normalize(p, level) sees it. What 3.1.1 cannot say at all (a zero-length Topic Name, 5.0-only reason
  // codes) must be refused with a PacketError rather than written. CONNECT is left out: it is always encoded for
  // its own Protocol Level.
  const v4Codes = (type: number): readonly number[] => (type === 2 ? CONNACK_V4_CODES : SUBACK_V4_CODES);
  for (const target of [4, 3] as const) {
    for (const type of packetTypesFor(4).filter((t) => t !== 1)) {
      it(`${PACKET_TYPE_NAMES[type]} × ${CROSS_N} at level ${target}`, () => {
        const rng = createRng(deriveSeed(SEED, 'cross-version', target, type));
        for (let i = 0; i < CROSS_N; i++) {
          const packet = randomPacketOfType(rng, type, 5);
          const where = () => `MIDGE_SEED=${SEED}, level 5 → ${target}, case #${i}: ${describePacket(packet)}`;
          const inexpressible =
            (packet.type === 3 && packet.topic === '') ||
            (packet.type === 2 && !v4Codes(2).includes(packet.reasonCode)) ||
            (packet.type === 9 && packet.reasonCodes.some((c) => !v4Codes(9).includes(c)));
          if (inexpressible) {
            let threw: unknown;
            try {
              encode(packet, target);
            } catch (error) {
              threw = error;
            }
            if (!(threw instanceof PacketError))
              expect.fail(`encode() did not refuse it: ${String(threw)}\n${where()}`);
            continue;
          }
          checkRoundTrip(packet, target, 1, where);
        }
      });
    }
  }
});

describe('Remaining Length at the boundaries of its 1-, 2-, 3- and 4-byte forms', () => {
  // A PUBLISH to topic "a" at QoS 0 has a Remaining Length of 3 + payload (3.1.1) or 4 + payload (5.0, with the
  // Property Length byte), so these payload sizes land exactly on 127/128, 16,383/16,384 and 2,097,151/2,097,152.
  for (const version of VERSIONS) {
    for (const remainingLength of [0, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152]) {
      const overhead = version === 5 ? 4 : 3;
      if (remainingLength < overhead) continue;
      it(`level ${version}: Remaining Length ${remainingLength}`, () => {
        const payload = Buffer.alloc(remainingLength - overhead, 'MQTT\u00e9\u4e2d'); // a repeating pattern
        const packet: Packet = { type: 3, topic: 'a', payload, qos: 0, retain: false, dup: false };
        const bytes = encode(packet, version);
        const lengthBytes =
          remainingLength < 128 ? 1 : remainingLength < 16_384 ? 2 : remainingLength < 2_097_152 ? 3 : 4;
        expect(bytes.length).toBe(1 + lengthBytes + remainingLength);
        checkRoundTrip(packet, version, 3, () => `level ${version}, Remaining Length ${remainingLength}`);
      });
    }
    it(`level ${version}: Remaining Length 0 (PINGREQ)`, () => {
      expect([...encode({ type: 12 }, version)]).toEqual([0xc0, 0x00]);
      checkRoundTrip({ type: 12 }, version, 1, () => `level ${version} PINGREQ`);
    });
  }
});

/**
 * The round trip is only as good as its inputs: over the same number of packets, the generator must produce
 * every property each packet type allows, repeated User Properties and Subscription Identifiers, every
 * QoS, and payloads that need a 1-, 2- and 3-byte Remaining Length.
 */
describe(`random packet generator coverage (MIDGE_SEED=${SEED})`, () => {
  const contextOf: Partial<Record<Packet['type'], PropertyContext>> = {
    1: 'connect',
    2: 'connack',
    3: 'publish',
    4: 'puback',
    5: 'puback',
    6: 'puback',
    7: 'puback',
    8: 'subscribe',
    9: 'suback',
    10: 'unsubscribe',
    11: 'unsuback',
    14: 'disconnect',
    15: 'auth',
  };

  for (const type of packetTypesFor(5)) {
    const context = contextOf[type];
    if (context === undefined) continue;
    it(`level 5 ${PACKET_TYPE_NAMES[type]} covers every allowed property`, () => {
      const rng = createRng(deriveSeed(SEED, 'roundtrip', 5, type));
      const seen = new Set<string>();
      const willSeen = new Set<string>();
      let repeatedUserPropertyName = false;
      for (let i = 0; i < N; i++) {
        const packet = randomPacketOfType(rng, type, 5);
        const properties = 'properties' in packet ? packet.properties : undefined;
        for (const key of Object.keys(properties ?? {})) seen.add(key);
        const names = properties?.userProperties?.map(([k]) => k) ?? [];
        if (new Set(names).size < names.length) repeatedUserPropertyName = true;
        if (packet.type === 1) for (const key of Object.keys(packet.will?.properties ?? {})) willSeen.add(key);
      }
      expect([...seen].sort()).toEqual([...ALLOWED_PROPERTIES[context]].sort());
      expect(repeatedUserPropertyName).toBe(true);
      if (type === 1) expect([...willSeen].sort()).toEqual([...ALLOWED_PROPERTIES.will].sort());
    });
  }

  for (const version of VERSIONS) {
    it(`level ${version} PUBLISH covers every QoS and 1-, 2- and 3-byte Remaining Lengths`, () => {
      const rng = createRng(deriveSeed(SEED, 'roundtrip', version, 3));
      const qos = new Set<number>();
      const lengthBytes = new Set<number>();
      let multipleSubscriptionIds = false;
      for (let i = 0; i < N; i++) {
        const packet = randomPacketOfType(rng, 3, version);
        if (packet.type !== 3) continue;
        qos.add(packet.qos);
        const remaining = encodedLength(packet, version) - 1;
        lengthBytes.add(remaining <= 127 + 1 ? 1 : remaining <= 16_383 + 2 ? 2 : 3);
        if ((packet.properties?.subscriptionIdentifiers?.length ?? 0) > 1) multipleSubscriptionIds = true;
      }
      expect([...qos].sort()).toEqual([0, 1, 2]);
      expect([...lengthBytes].sort()).toEqual([1, 2, 3]);
      if (version === 5) expect(multipleSubscriptionIds).toBe(true);
    });
  }
});
