/**
 * Converts between Midge's packet model and the object model of mqtt-packet (the codec of MQTT.js), the
 * reference implementation of the differential tests, and wraps mqtt-packet's parser and generator.
 *
 * The two models differ in ways that are not just renaming (`cmd` names, `messageId`, `keepalive`,
 * `protocolId`, `granted`, `unsubscriptions`, `nl`/`rap`/`rh`, `returnCode` before 5.0):
 *   - mqtt-packet holds the User Property as an object `{ name: value | value[] }`. It keeps the order of
 *     the values of one name, and the order of first appearance of names, but not the interleaving of
 *     different names ([a,1],[b,2],[a,3] comes back as [a,1],[a,3],[b,2]).
 *   - it reads the single-byte properties that are 0/1 flags as booleans;
 *   - it names the Subscription Identifier property `subscriptionIdentifier` (a number, or an array when
 *     the property is repeated) and Subscription Identifier Available `subscriptionIdentifiersAvailable`.
 * `mqttPacketCompatible()` rewrites a random packet into one both codecs can express; every restriction it
 * applies is documented at the line that applies it.
 */

import type * as Mqtt from 'mqtt-packet';
import mqttPacket from 'mqtt-packet';
import { PacketType, type ProtocolVersion, type QoS } from '../../../../src/codec/constants.js';
import type {
  AuthPacket,
  DisconnectPacket,
  Packet,
  Properties,
  PubAckLikePacket,
  Subscription,
  UserProperty,
  Will,
} from '../../../../src/codec/packet.js';

export type MqttPacket = Mqtt.Packet;

const CMD: Record<PacketType, Mqtt.PacketCmd> = {
  1: 'connect',
  2: 'connack',
  3: 'publish',
  4: 'puback',
  5: 'pubrec',
  6: 'pubrel',
  7: 'pubcomp',
  8: 'subscribe',
  9: 'suback',
  10: 'unsubscribe',
  11: 'unsuback',
  12: 'pingreq',
  13: 'pingresp',
  14: 'disconnect',
  15: 'auth',
};
const TYPE_OF_CMD = Object.fromEntries(Object.entries(CMD).map(([type, cmd]) => [cmd, Number(type)])) as Record<
  Mqtt.PacketCmd,
  PacketType
>;

/** Our property name → mqtt-packet's, where they differ. */
const RENAMED: Partial<Record<keyof Properties, string>> = {
  subscriptionIdentifiers: 'subscriptionIdentifier',
  subscriptionIdentifierAvailable: 'subscriptionIdentifiersAvailable',
};
const RENAMED_BACK: Record<string, keyof Properties> = Object.fromEntries(
  Object.entries(RENAMED).map(([ours, theirs]) => [theirs, ours as keyof Properties]),
);

/** Single-byte properties that mqtt-packet models as booleans (its property type 'byte'). */
const BOOLEAN_PROPERTIES = new Set<keyof Properties>([
  'payloadFormatIndicator',
  'requestProblemInformation',
  'requestResponseInformation',
  'retainAvailable',
  'wildcardSubscriptionAvailable',
  'subscriptionIdentifierAvailable',
  'sharedSubscriptionAvailable',
]);

type AnyRecord = Record<string, unknown>;
const buffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);

/**
 * Our properties → mqtt-packet's. mqtt-packet writes properties in the key order of this object, so the
 * keys are created in the order of `properties` itself (which is also the order our encoder writes them in,
 * see `PROPERTY_ORDER_NOTE` in differential.test.ts).
 */
export function toMqttProperties(properties: Properties | undefined): AnyRecord | undefined {
  if (properties === undefined) return undefined;
  const out: AnyRecord = {};
  for (const [name, value] of Object.entries(properties) as [keyof Properties, unknown][]) {
    if (value === undefined) continue;
    const theirName = RENAMED[name] ?? name;
    if (name === 'userProperties') {
      const pairs = value as UserProperty[];
      if (pairs.length === 0) continue;
      const grouped: Record<string, string | string[]> = Object.create(null);
      for (const [k, v] of pairs) {
        const existing = grouped[k];
        if (existing === undefined) grouped[k] = v;
        else if (Array.isArray(existing)) existing.push(v);
        else grouped[k] = [existing, v];
      }
      out[theirName] = grouped;
    } else if (name === 'subscriptionIdentifiers') {
      const ids = value as number[];
      if (ids.length === 0) continue;
      out[theirName] = ids.length === 1 ? ids[0] : [...ids];
    } else if (BOOLEAN_PROPERTIES.has(name)) {
      out[theirName] = value !== 0;
    } else if (value instanceof Uint8Array) {
      out[theirName] = buffer(value);
    } else {
      out[theirName] = value;
    }
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** mqtt-packet's properties → ours. */
export function fromMqttProperties(properties: unknown): Properties | undefined {
  if (properties === undefined || properties === null) return undefined;
  const out: AnyRecord = {};
  for (const [theirName, value] of Object.entries(properties as AnyRecord)) {
    if (value === undefined) continue;
    const name = RENAMED_BACK[theirName] ?? (theirName as keyof Properties);
    if (name === 'userProperties') {
      const pairs: UserProperty[] = [];
      for (const [k, v] of Object.entries(value as Record<string, string | string[]>)) {
        for (const one of Array.isArray(v) ? v : [v]) pairs.push([k, one]);
      }
      out[name] = pairs;
    } else if (name === 'subscriptionIdentifiers') {
      out[name] = Array.isArray(value) ? [...(value as number[])] : [value as number];
    } else if (typeof value === 'boolean') {
      out[name] = value ? 1 : 0;
    } else {
      out[name] = value;
    }
  }
  return Object.keys(out).length > 0 ? (out as Properties) : undefined;
}

function withProperties(out: AnyRecord, properties: Properties | undefined, version: ProtocolVersion): AnyRecord {
  if (version !== 5) return out;
  const theirs = toMqttProperties(properties);
  if (theirs !== undefined) out.properties = theirs;
  return out;
}

/** Our packet → mqtt-packet's object model, for `generate(object, { protocolVersion })`. */
export function toMqttPacket(packet: Packet, version: ProtocolVersion): MqttPacket {
  const cmd = CMD[packet.type];
  const v5 = version === 5;
  switch (packet.type) {
    case PacketType.CONNECT: {
      const out: AnyRecord = {
        cmd,
        protocolId: packet.protocolName,
        protocolVersion: packet.protocolVersion,
        clean: packet.clean,
        keepalive: packet.keepAlive,
        clientId: packet.clientId,
      };
      if (packet.username !== undefined) out.username = packet.username;
      if (packet.password !== undefined) out.password = buffer(packet.password);
      if (packet.will !== undefined) {
        const will: AnyRecord = {
          topic: packet.will.topic,
          payload: buffer(packet.will.payload),
          qos: packet.will.qos,
          retain: packet.will.retain,
        };
        out.will = withProperties(will, packet.will.properties, version);
      }
      return withProperties(out, packet.properties, version) as unknown as MqttPacket;
    }
    case PacketType.CONNACK: {
      const out: AnyRecord = { cmd, sessionPresent: packet.sessionPresent };
      if (v5) out.reasonCode = packet.reasonCode;
      else out.returnCode = packet.reasonCode;
      return withProperties(out, packet.properties, version) as unknown as MqttPacket;
    }
    case PacketType.PUBLISH: {
      const out: AnyRecord = {
        cmd,
        topic: packet.topic,
        payload: buffer(packet.payload),
        qos: packet.qos,
        dup: packet.dup,
        retain: packet.retain,
      };
      if (packet.packetId !== undefined) out.messageId = packet.packetId;
      return withProperties(out, packet.properties, version) as unknown as MqttPacket;
    }
    case PacketType.PUBACK:
    case PacketType.PUBREC:
    case PacketType.PUBREL:
    case PacketType.PUBCOMP: {
      const out: AnyRecord = { cmd, messageId: packet.packetId };
      // mqtt-packet writes `Buffer.from([reasonCode])`, so an absent code must be spelled 0.
      if (v5) out.reasonCode = packet.reasonCode ?? 0;
      return withProperties(out, packet.properties, version) as unknown as MqttPacket;
    }
    case PacketType.SUBSCRIBE: {
      const out: AnyRecord = {
        cmd,
        messageId: packet.packetId,
        subscriptions: packet.subscriptions.map((s) => {
          const sub: AnyRecord = { topic: s.topicFilter, qos: s.qos };
          if (v5) {
            sub.nl = s.noLocal ?? false;
            sub.rap = s.retainAsPublished ?? false;
            sub.rh = s.retainHandling ?? 0;
          }
          return sub;
        }),
      };
      return withProperties(out, packet.properties, version) as unknown as MqttPacket;
    }
    case PacketType.SUBACK:
      return withProperties(
        { cmd, messageId: packet.packetId, granted: [...packet.reasonCodes] },
        packet.properties,
        version,
      ) as unknown as MqttPacket;
    case PacketType.UNSUBSCRIBE:
      return withProperties(
        { cmd, messageId: packet.packetId, unsubscriptions: [...packet.topicFilters] },
        packet.properties,
        version,
      ) as unknown as MqttPacket;
    case PacketType.UNSUBACK: {
      const out: AnyRecord = { cmd, messageId: packet.packetId };
      if (v5) out.granted = [...(packet.reasonCodes ?? [])];
      return withProperties(out, packet.properties, version) as unknown as MqttPacket;
    }
    case PacketType.PINGREQ:
    case PacketType.PINGRESP:
      return { cmd } as MqttPacket;
    case PacketType.DISCONNECT:
    case PacketType.AUTH: {
      const out: AnyRecord = { cmd };
      if (v5) out.reasonCode = packet.reasonCode ?? 0;
      return withProperties(out, packet.properties, version) as unknown as MqttPacket;
    }
  }
}

const bytes = (value: unknown): Uint8Array => {
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  throw new Error(`expected binary data, got ${typeof value}`);
};

/** mqtt-packet's parsed object → our packet. */
export function fromMqttPacket(object: MqttPacket, version: ProtocolVersion): Packet {
  const o = object as unknown as AnyRecord;
  const type = TYPE_OF_CMD[object.cmd];
  const v5 = version === 5;
  const properties = v5 ? fromMqttProperties(o.properties) : undefined;
  const withProps = <T extends Packet>(packet: T): T => {
    if (properties !== undefined) (packet as { properties?: Properties }).properties = properties;
    return packet;
  };
  switch (type) {
    case PacketType.CONNECT: {
      const protocolVersion = o.protocolVersion as ProtocolVersion;
      const packet: Packet = {
        type,
        protocolName: o.protocolId as string,
        protocolVersion,
        clean: o.clean as boolean,
        keepAlive: o.keepalive as number,
        clientId: o.clientId as string,
      };
      if (o.username !== undefined) packet.username = o.username as string;
      if (o.password !== undefined) packet.password = bytes(o.password);
      if (o.will !== undefined) {
        const w = o.will as AnyRecord;
        const will: Will = {
          topic: w.topic as string,
          payload: bytes(w.payload),
          qos: w.qos as QoS,
          retain: !!w.retain,
        };
        const willProperties = protocolVersion === 5 ? fromMqttProperties(w.properties) : undefined;
        if (willProperties !== undefined) will.properties = willProperties;
        packet.will = will;
      }
      const connectProperties = protocolVersion === 5 ? fromMqttProperties(o.properties) : undefined;
      if (connectProperties !== undefined) packet.properties = connectProperties;
      return packet;
    }
    case PacketType.CONNACK:
      return withProps({
        type,
        sessionPresent: o.sessionPresent as boolean,
        reasonCode: (v5 ? o.reasonCode : o.returnCode) as number,
      });
    case PacketType.PUBLISH: {
      const qos = o.qos as QoS;
      const packet: Packet = {
        type,
        topic: o.topic as string,
        payload: bytes(o.payload),
        qos,
        retain: o.retain as boolean,
        dup: o.dup as boolean,
      };
      if (qos > 0) packet.packetId = o.messageId as number;
      return withProps(packet);
    }
    case PacketType.PUBACK:
    case PacketType.PUBREC:
    case PacketType.PUBREL:
    case PacketType.PUBCOMP: {
      const packet: PubAckLikePacket<typeof type> = { type, packetId: o.messageId as number };
      if (v5 && o.reasonCode !== undefined) packet.reasonCode = o.reasonCode as number;
      return withProps(packet);
    }
    case PacketType.SUBSCRIBE:
      return withProps({
        type,
        packetId: o.messageId as number,
        subscriptions: (o.subscriptions as AnyRecord[]).map((s) => {
          const sub: Subscription = { topicFilter: s.topic as string, qos: s.qos as QoS };
          if (v5) {
            sub.noLocal = s.nl as boolean;
            sub.retainAsPublished = s.rap as boolean;
            sub.retainHandling = s.rh as 0 | 1 | 2;
          }
          return sub;
        }),
      });
    case PacketType.SUBACK:
      return withProps({ type, packetId: o.messageId as number, reasonCodes: [...(o.granted as number[])] });
    case PacketType.UNSUBSCRIBE:
      return withProps({ type, packetId: o.messageId as number, topicFilters: [...(o.unsubscriptions as string[])] });
    case PacketType.UNSUBACK: {
      const packet: Packet = { type, packetId: o.messageId as number };
      if (v5) packet.reasonCodes = [...((o.granted as number[] | undefined) ?? [])];
      return withProps(packet);
    }
    case PacketType.PINGREQ:
    case PacketType.PINGRESP:
      return { type };
    case PacketType.DISCONNECT:
    case PacketType.AUTH: {
      const packet: DisconnectPacket | AuthPacket = { type };
      if (v5 && o.reasonCode !== undefined) packet.reasonCode = o.reasonCode as number;
      return withProps(packet);
    }
  }
}

/** Parses a byte string with mqtt-packet; throws mqtt-packet's first error. */
export function parseWithMqttPacket(data: Uint8Array, version: ProtocolVersion): MqttPacket[] {
  const parser = mqttPacket.parser({ protocolVersion: version });
  const packets: MqttPacket[] = [];
  let error: unknown;
  parser.on('packet', (p) => packets.push(p));
  parser.on('error', (e) => {
    error ??= e;
  });
  const left = parser.parse(buffer(data));
  if (error !== undefined) throw error;
  if (left !== 0) throw new Error(`mqtt-packet left ${left} bytes unparsed`);
  return packets;
}

/** Encodes with mqtt-packet (which reports invalid packets by throwing from its accumulator). */
export function generateWithMqttPacket(packet: MqttPacket, version: ProtocolVersion): Uint8Array {
  return mqttPacket.generate(packet, { protocolVersion: version });
}

// ---------------------------------------------------------------------------------------------------------------
// What both codecs can express
// ---------------------------------------------------------------------------------------------------------------

/** An array index is ordered before every other key of a JS object, whatever the insertion order. */
const isArrayIndexKey = (name: string): boolean => /^(0|[1-9]\d*)$/.test(name) && Number(name) < 2 ** 32 - 1;

function compatibleUserProperties(pairs: readonly UserProperty[]): UserProperty[] {
  // Restriction 1: mqtt-packet stores the User Property as an object keyed by name, so all values of one
  // name must be contiguous and names must come in order of first appearance; we regroup them that way.
  // Restriction 2: a name that is an array index ("0", "42") would be moved to the front of that object by
  // JavaScript's key ordering, so such names get a prefix.
  const groups = new Map<string, string[]>();
  for (const [rawName, value] of pairs) {
    const name = isArrayIndexKey(rawName) ? `k${rawName}` : rawName;
    const values = groups.get(name);
    if (values === undefined) groups.set(name, [value]);
    else values.push(value);
  }
  const out: UserProperty[] = [];
  for (const [name, values] of groups) {
    // Restriction 3: mqtt-packet's parser tests `if (result[name])` to detect a repeated name, so an empty
    // first value of a repeated name is overwritten by the second one; such a first value gets a character.
    if (values.length > 1 && values[0] === '') values[0] = '-';
    for (const value of values) out.push([name, value]);
  }
  return out;
}

function compatibleProperties(properties: Properties | undefined): Properties | undefined {
  if (properties?.userProperties === undefined) return properties;
  return { ...properties, userProperties: compatibleUserProperties(properties.userProperties) };
}

/** A copy of `packet` restricted to what both Midge and mqtt-packet can express in `version`. */
export function mqttPacketCompatible(packet: Packet, version: ProtocolVersion): Packet {
  const p = structuredClone(packet) as Packet;
  if ('properties' in p && p.properties !== undefined) p.properties = compatibleProperties(p.properties);
  switch (p.type) {
    case PacketType.CONNECT:
      // Restriction 4: mqtt-packet's generate() refuses a Password without a User Name in every version
      // ("Username is required to use password"); 5.0 allows it [MQTT-3.1.2-19], so we add an empty one.
      if (version === 5 && p.password !== undefined && p.username === undefined) p.username = '';
      // Restriction 5: mqtt-packet refuses a zero-byte Client Identifier without Clean Start, which 5.0
      // allows (the Server assigns one); we set Clean Start.
      if (version === 5 && p.clientId === '') p.clean = true;
      if (p.will?.properties !== undefined) p.will.properties = compatibleProperties(p.will.properties);
      break;
    case PacketType.AUTH:
      // Restriction 6: mqtt-packet's parser always reads a Reason Code, so it rejects the 0-length AUTH that
      // 5.0 allows for Success without properties (§3.15.2.1); we give such packets a property.
      if ((p.reasonCode ?? 0) === 0 && (p.properties === undefined || Object.keys(p.properties).length === 0)) {
        p.properties = { reasonString: 'restricted: mqtt-packet cannot parse a 0-length AUTH' };
      }
      break;
    default:
      break;
  }
  return p;
}
