/**
 * Differential tests against mqtt-packet (the codec of MQTT.js) for MQTT 3.1.1 and 5.0, on random packets
 * of every type restricted to what both codecs can express (see `mqttPacketCompatible()` in
 * helpers/mqtt-packet-adapter.ts for each restriction and why). For each packet p:
 *   - ours → theirs: mqtt-packet parses our encode(p) without error into p;
 *   - theirs → ours: our decoder reads mqtt-packet's generate(p) into p;
 *   - both encoders produce identical bytes, except where the specification leaves a choice and the two
 *     choose differently (listed in `legitimateDifference()`); there the decoded forms are compared instead,
 *     which the two tests above already do.
 * "Into p" means equal after `normalize()`. Replay a failure with `MIDGE_SEED=<seed in the test name>`.
 */
import { describe, expect, it } from 'vitest';
import { encode, type Packet, PacketDecoder, type ProtocolVersion } from '../../../src/codec/index.js';
import {
  fromMqttPacket,
  generateWithMqttPacket,
  mqttPacketCompatible,
  parseWithMqttPacket,
  toMqttPacket,
} from './helpers/mqtt-packet-adapter.js';
import {
  baseSeed,
  canonicalJson,
  createRng,
  deriveSeed,
  describeBytes,
  describePacket,
  normalize,
  PACKET_TYPE_NAMES,
  packetTypesFor,
  randomPacketOfType,
} from './helpers/random-packets.js';

const SEED = baseSeed();
const N = Number(process.env.MIDGE_DIFFERENTIAL_N ?? 200);
const DIFFERENTIAL_VERSIONS: readonly ProtocolVersion[] = [4, 5];

function samples(version: ProtocolVersion, type: Packet['type']): Packet[] {
  const rng = createRng(deriveSeed(SEED, 'differential', version, type));
  return Array.from({ length: N }, () => mqttPacketCompatible(randomPacketOfType(rng, type, version), version));
}

function decodeOne(bytes: Uint8Array, version: ProtocolVersion): Packet {
  const decoder = new PacketDecoder({ protocolVersion: version });
  const packets: Packet[] = [];
  decoder.decode(bytes, (p) => packets.push(p));
  if (packets.length !== 1 || decoder.buffered !== 0) {
    expect.fail(`${packets.length} packets decoded, ${decoder.buffered} bytes left from ${describeBytes(bytes)}`);
  }
  return packets[0] as Packet;
}

/** Equal up to normalize(); the (costly) message is only built on failure. */
function expectSame(actual: Packet, expected: Packet, version: ProtocolVersion, where: () => string): void {
  const a = normalize(actual, version);
  const e = normalize(expected, version);
  if (canonicalJson(a) !== canonicalJson(e)) expect(a, where()).toEqual(e);
}

/**
 * Why the two encoders may legitimately produce different bytes for `packet`, or undefined when they must
 * agree byte for byte.
 */
function legitimateDifference(packet: Packet, version: ProtocolVersion): string | undefined {
  if (version !== 5) return undefined;
  const properties = 'properties' in packet ? packet.properties : undefined;
  const hasProperties = Object.values(properties ?? {}).some((v) => v !== undefined);
  switch (packet.type) {
    case 14:
    case 15:
      // mqtt-packet always writes the Reason Code and the Property Length; 5.0 lets a sender omit the
      // Property Length without properties (§3.14.2.2.1, §3.15.2.2.1) and both when the code is 0x00.
      if (!hasProperties) return 'DISCONNECT/AUTH short form';
      return undefined;
    case 4:
    case 5:
    case 6:
    case 7:
      // With a Reason Code but no properties, mqtt-packet writes a Property Length of 0 (remaining length
      // 4); 5.0 lets a sender omit it (remaining length 3, §3.4.2.2.1).
      if (!hasProperties && (packet.reasonCode ?? 0) !== 0) return 'ack without Property Length';
      return undefined;
    default:
      return undefined;
  }
}

describe(`differential against mqtt-packet (MIDGE_SEED=${SEED})`, () => {
  for (const version of DIFFERENTIAL_VERSIONS) {
    describe(`MQTT protocol level ${version}`, () => {
      for (const type of packetTypesFor(version)) {
        const name = PACKET_TYPE_NAMES[type];
        const where = (i: number, p: Packet, extra = '') =>
          `MIDGE_SEED=${SEED}, level ${version}, ${name} case #${i}${extra}: ${describePacket(p)}`;

        it(`${name}: our encode → mqtt-packet parse × ${N}`, () => {
          samples(version, type).forEach((packet, i) => {
            const bytes = encode(packet, version);
            let parsed: ReturnType<typeof parseWithMqttPacket>;
            try {
              parsed = parseWithMqttPacket(bytes, version);
            } catch (error) {
              throw new Error(`mqtt-packet refused ${describeBytes(bytes)}: ${String(error)}\n${where(i, packet)}`);
            }
            if (parsed.length !== 1) expect.fail(`mqtt-packet read ${parsed.length} packets\n${where(i, packet)}`);
            const theirs = fromMqttPacket(parsed[0] as (typeof parsed)[0], version);
            expectSame(theirs, packet, version, () => where(i, packet, ` bytes ${describeBytes(bytes)}`));
          });
        });

        it(`${name}: mqtt-packet generate → our decode × ${N}`, () => {
          samples(version, type).forEach((packet, i) => {
            const bytes = generateWithMqttPacket(toMqttPacket(packet, version), version);
            let ours: Packet;
            try {
              ours = decodeOne(bytes, version);
            } catch (error) {
              throw new Error(`our decoder refused ${describeBytes(bytes)}: ${String(error)}\n${where(i, packet)}`);
            }
            expectSame(ours, packet, version, () => where(i, packet, ` bytes ${describeBytes(bytes)}`));
          });
        });

        it(`${name}: both encoders write the same bytes × ${N}`, () => {
          let identical = 0;
          samples(version, type).forEach((packet, i) => {
            const ours = encode(packet, version);
            const theirs = generateWithMqttPacket(toMqttPacket(packet, version), version);
            if (Buffer.from(ours).equals(theirs)) {
              identical++;
              return;
            }
            const reason = legitimateDifference(packet, version);
            if (reason === undefined) {
              expect.fail(`ours ${describeBytes(ours)}\ntheirs ${describeBytes(theirs)}\n${where(i, packet)}`);
            }
            // A legitimate difference: each decoder must still read the other's bytes as the same packet.
            expectSame(
              decodeOne(theirs, version),
              decodeOne(ours, version),
              version,
              () => `${reason}\n${where(i, packet)}`,
            );
          });
          expect(identical, 'no packet encoded identically').toBeGreaterThan(0);
        });
      }
    });
  }
});
