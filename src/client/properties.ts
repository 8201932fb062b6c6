/**
 * The facade's MQTT 5.0 properties: the codec's camelCase properties, except that User Properties are an object
 * (`{ name: value | value[] }`, as MQTT.js has them) instead of the codec's ordered list of pairs. A name that
 * occurs several times becomes an array of its values, in wire order.
 */
import type { Properties as PacketProperties, UserProperty } from '../codec/index.js';

export type UserProperties = Record<string, string | string[]>;

export type Properties = Omit<PacketProperties, 'userProperties'> & { userProperties?: UserProperties };

/** `{ a: '1', b: ['2', '3'] }` → `[['a', '1'], ['b', '2'], ['b', '3']]`. */
export function toUserPropertyPairs(object: UserProperties): UserProperty[] {
  const pairs: UserProperty[] = [];
  for (const [name, value] of Object.entries(object)) {
    if (Array.isArray(value)) for (const v of value) pairs.push([name, String(v)]);
    else pairs.push([name, String(value)]);
  }
  return pairs;
}

/** The inverse of toUserPropertyPairs; a repeated name collects its values into an array. */
export function fromUserPropertyPairs(pairs: readonly UserProperty[]): UserProperties {
  const object: UserProperties = Object.create(null);
  for (const [name, value] of pairs) {
    const existing = object[name];
    if (existing === undefined) object[name] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else object[name] = [existing, value];
  }
  return object;
}

/** Facade properties → codec properties (undefined in, undefined out). */
export function toPacketProperties(properties: Properties | undefined): PacketProperties | undefined {
  if (properties === undefined) return undefined;
  const { userProperties, ...rest } = properties;
  if (userProperties === undefined) return rest;
  return { ...rest, userProperties: toUserPropertyPairs(userProperties) };
}

/** Codec properties → facade properties. */
export function fromPacketProperties(properties: PacketProperties | undefined): Properties | undefined {
  if (properties === undefined) return undefined;
  if (properties.userProperties === undefined) return properties as Properties;
  const { userProperties, ...rest } = properties;
  return { ...rest, userProperties: fromUserPropertyPairs(userProperties) };
}
