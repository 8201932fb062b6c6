/**
 * The decoder's output does not depend on how the byte stream is cut into chunks. For a stream of random
 * packets of every type (one protocol version at a time, starting with a CONNECT at that level), these
 * all yield the identical packet list, equal (up to `normalize()`) to the packets that were encoded:
 *   (a) the whole stream as one chunk;
 *   (b) every possible single split point: for each packet, the window [previous, packet, next] is split
 *       at each byte boundary inside that packet (its start included), so every split point of the stream is
 *       tried once, with both neighbouring packets in the two chunks;
 *   (c) one byte at a time;
 *   (d) random chunk sizes (several cuttings, chunks that are views into one larger buffer).
 *   (e) and, as PacketDecoder documents, an onPacket that throws loses no packet: the next call goes on.
 * Packets are only compared after the whole stream is fed, so a decoder that hands out views into a
 * buffer it later reuses is caught too. `buffered` never exceeds the bytes of the packet in progress and
 * is 0 after a complete stream.
 *
 * Replay a failure with `MIDGE_SEED=<seed printed in the test name>`.
 */
import { describe, expect, it } from 'vitest';
import { encode, type Packet, PacketDecoder, type ProtocolVersion } from '../../../src/codec/index.js';
import {
  baseSeed,
  canonicalJson,
  createRng,
  deriveSeed,
  describePacket,
  normalize,
  PACKET_TYPE_NAMES,
  type Rng,
  randomPacket,
  randomPacketOfType,
  VERSIONS,
} from './helpers/random-packets.js';

const SEED = baseSeed();
/** Packets in the stream of (a), (c), (d) and windows in (b). */
const STREAM_PACKETS = 300;
const SPLIT_PACKETS = 250;

interface Stream {
  packets: Packet[];
  encoded: Uint8Array[];
  /** Offset of each packet in `bytes`, plus the total length at the end. */
  offsets: number[];
  bytes: Uint8Array;
  /** canonicalJson of the normalised packets: the expected decoder output. */
  expected: string[];
}

function randomStream(
  rng: Rng,
  version: ProtocolVersion,
  count: number,
  maxPayloadSize: number,
  maxEncodedSize = Number.POSITIVE_INFINITY,
): Stream {
  const options = { maxPayloadSize, maxListLength: 4 };
  const packets: Packet[] = [];
  const encoded: Uint8Array[] = [];
  while (packets.length < count) {
    const packet =
      packets.length === 0 ? randomPacketOfType(rng, 1, version, options) : randomPacket(rng, version, options);
    const bytes = encode(packet, version);
    if (bytes.length > maxEncodedSize) continue;
    packets.push(packet);
    encoded.push(bytes);
  }
  const offsets = [0];
  for (const e of encoded) offsets.push((offsets.at(-1) ?? 0) + e.length);
  const bytes = new Uint8Array(offsets.at(-1) ?? 0);
  encoded.forEach((e, i) => {
    bytes.set(e, offsets[i]);
  });
  return { packets, encoded, offsets, bytes, expected: packets.map((p) => canonicalJson(normalize(p, version))) };
}

/** Feeds `chunks` to a fresh decoder; returns the canonical forms of what it yielded, computed at the end. */
function decodeChunks(chunks: Iterable<Uint8Array>, version: ProtocolVersion, checkBuffered?: Stream): string[] {
  const decoder = new PacketDecoder({ protocolVersion: version });
  const packets: Packet[] = [];
  let fed = 0;
  for (const chunk of chunks) {
    decoder.decode(chunk, (packet) => packets.push(packet));
    fed += chunk.length;
    if (checkBuffered !== undefined) {
      // The decoder may hold at most the bytes of the packet it has not finished yet.
      const start = checkBuffered.offsets[packets.length] ?? fed;
      if (decoder.buffered > fed - start) {
        expect.fail(`buffered is ${decoder.buffered} after ${fed} bytes, ${packets.length} packets out`);
      }
    }
  }
  if (decoder.buffered !== 0) expect.fail(`buffered is ${decoder.buffered} after a complete stream`);
  return packets.map((p) => canonicalJson(normalize(p, version)));
}

/**
 * Feeds `chunks` to a fresh decoder; returns the re-encoding of everything it yielded, computed at the end. Since
 * the encoding is canonical (roundtrip.test.ts), equal bytes mean equal packets; this is the cheap comparison for
 * the many decodings of (b).
 */
function reencodeChunks(chunks: Iterable<Uint8Array>, version: ProtocolVersion): Buffer {
  const decoder = new PacketDecoder({ protocolVersion: version });
  const packets: Packet[] = [];
  for (const chunk of chunks) decoder.decode(chunk, (packet) => packets.push(packet));
  if (decoder.buffered !== 0) expect.fail(`buffered is ${decoder.buffered} after a complete stream`);
  return Buffer.concat(packets.map((p) => encode(p, version)));
}

function expectSameList(actual: string[], stream: Stream, where: string): void {
  if (actual.length === stream.expected.length && actual.every((a, i) => a === stream.expected[i])) return;
  const i = actual.findIndex((a, j) => a !== stream.expected[j]);
  const at = i === -1 ? Math.min(actual.length, stream.expected.length) : i;
  expect.fail(
    `${where}: ${actual.length} packets decoded, ${stream.expected.length} expected; first difference at #${at}\n` +
      `expected ${stream.expected[at] === undefined ? 'nothing' : describePacket(stream.packets[at])}\n` +
      `actual   ${(actual[at] ?? 'nothing').slice(0, 2000)}`,
  );
}

function* oneByteAtATime(bytes: Uint8Array): Generator<Uint8Array> {
  for (let i = 0; i < bytes.length; i++) yield bytes.subarray(i, i + 1);
}

function* randomChunks(rng: Rng, bytes: Uint8Array): Generator<Uint8Array> {
  const mean = rng.pick([2, 7, 40, 300, 5000]);
  let i = 0;
  while (i < bytes.length) {
    const size = rng.bool(0.1) ? 0 : rng.int(1, 2 * mean);
    yield bytes.subarray(i, i + size);
    i += size;
  }
}

describe(`decoding is independent of chunking (MIDGE_SEED=${SEED})`, () => {
  for (const version of VERSIONS) {
    describe(`MQTT protocol level ${version}`, () => {
      it(`(a) one chunk, (c) one byte at a time, (d) random chunks: ${STREAM_PACKETS} packets`, () => {
        const rng = createRng(deriveSeed(SEED, 'split-stream', version));
        const stream = randomStream(rng, version, STREAM_PACKETS, 20_000);
        const where = `MIDGE_SEED=${SEED}, level ${version}, ${stream.bytes.length}-byte stream`;

        expectSameList(decodeChunks([stream.bytes], version), stream, `${where}, one chunk`);
        expectSameList(decodeChunks(oneByteAtATime(stream.bytes), version, stream), stream, `${where}, byte by byte`);
        for (let trial = 0; trial < 20; trial++) {
          const chunks = [...randomChunks(rng, stream.bytes)];
          expectSameList(decodeChunks(chunks, version, stream), stream, `${where}, random chunks trial ${trial}`);
        }
      });

      it('(e) an onPacket that throws loses nothing: the rest is decoded by the next call', () => {
        // PacketDecoder documents that an exception from onPacket propagates and the bytes after that packet are
        // kept for the next decode() call; so random throws, in random chunkings, still give the whole list.
        const rng = createRng(deriveSeed(SEED, 'split-throw', version));
        const stream = randomStream(rng, version, 100, 2000);
        class Thrown extends Error {}
        for (let trial = 0; trial < 10; trial++) {
          const decoder = new PacketDecoder({ protocolVersion: version });
          const packets: Packet[] = [];
          const onPacket = (packet: Packet): void => {
            packets.push(packet);
            if (rng.bool(0.2)) throw new Thrown();
          };
          const feed = (chunk: Uint8Array): boolean => {
            try {
              decoder.decode(chunk, onPacket);
              return true;
            } catch (error) {
              if (!(error instanceof Thrown)) throw error;
              return false;
            }
          };
          for (const chunk of randomChunks(rng, stream.bytes)) feed(chunk);
          let calls = 0;
          while (!feed(new Uint8Array(0))) if (++calls > stream.packets.length) expect.fail('never finishes');
          if (decoder.buffered !== 0) expect.fail(`buffered is ${decoder.buffered} after a complete stream`);
          expectSameList(
            packets.map((p) => canonicalJson(normalize(p, version))),
            stream,
            `MIDGE_SEED=${SEED}, level ${version}, throwing onPacket, trial ${trial}`,
          );
        }
      });

      it(`(b) every single split point of ${SPLIT_PACKETS} packets of up to 400 bytes, with their neighbours`, () => {
        const rng = createRng(deriveSeed(SEED, 'split-every', version));
        const stream = randomStream(rng, version, SPLIT_PACKETS, 200, 400);
        for (let k = 0; k < stream.packets.length; k++) {
          const first = Math.max(0, k - 1);
          const last = Math.min(stream.packets.length - 1, k + 1);
          const window = stream.bytes.subarray(stream.offsets[first], stream.offsets[last + 1]);
          const expected: Stream = {
            ...stream,
            packets: stream.packets.slice(first, last + 1),
            expected: stream.expected.slice(first, last + 1),
          };
          const where = (cut: number) =>
            `MIDGE_SEED=${SEED}, level ${version}, packets #${first}..#${last} ` +
            `(${PACKET_TYPE_NAMES[stream.packets[k]?.type ?? 1]} at #${k}) split at byte ${cut} of ${window.length}`;
          const windowBuffer = Buffer.from(window);
          // The split points inside packet k (its start included): over all k, every split point of the stream.
          const from = (stream.offsets[k] ?? 0) - (stream.offsets[first] ?? 0);
          const to = from + (stream.encoded[k]?.length ?? 0) - (k === stream.packets.length - 1 ? 0 : 1);
          for (let cut = from; cut <= to; cut++) {
            const chunks = [window.subarray(0, cut), window.subarray(cut)];
            if (!reencodeChunks(chunks, version).equals(windowBuffer)) {
              // Show the difference packet by packet.
              expectSameList(decodeChunks(chunks, version), expected, where(cut));
              expect.fail(`the packets decoded re-encode differently\n${where(cut)}`);
            }
          }
          expectSameList(decodeChunks([window], version), expected, where(window.length));
        }
      });
    });
  }
});
