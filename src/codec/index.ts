/**
 * The Midge MQTT packet codec: one packet model for MQTT 3.1, 3.1.1 and 5.0, a streaming decoder and an encoder.
 * Isomorphic: works on Uint8Array, no Node-only API (Node's Buffer is used when present, for speed).
 */
export * from './constants.js';
export { type DecoderOptions, PacketDecoder } from './decoder.js';
export { encode, encodedLength, encodeInto } from './encoder.js';
export { PacketError } from './errors.js';
export type * from './packet.js';
export { isSharedSubscription, isValidTopicFilter, isValidTopicName, parseSharedSubscription } from './topic.js';
export { isValidUtf8 } from './utf8.js';
