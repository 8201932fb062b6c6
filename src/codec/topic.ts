/**
 * Topic Names and Topic Filters (MQTT 5.0 §4.7, §4.8.2; MQTT 3.1.1 §4.7). Pure predicates on decoded strings; the
 * decoder and the encoder apply them, and the broker may reuse them.
 */

/** 65,535 bytes of UTF-8 can never hold more than 65,535 UTF-16 units, and always holds 21,845 (3 bytes each). */
const MAX_STRING_BYTES = 0xffff;
const SAFE_UNITS = 21_845;

/** True when `str` can go on the wire as an MQTT UTF-8 string: no U+0000, no lone surrogate, at most 65,535 bytes. */
export function isEncodableString(str: string): boolean {
  const n = str.length;
  if (n > MAX_STRING_BYTES) return false;
  let bytes = n;
  for (let i = 0; i < n; i++) {
    const c = str.charCodeAt(i);
    if (c < 0x80) {
      if (c === 0) return false;
    } else if (c < 0x800) bytes += 1;
    else if (c < 0xd800 || c > 0xdfff) bytes += 2;
    else {
      // Past the end charCodeAt gives NaN, which fails no range test: check the bound.
      const d = c < 0xdc00 && i + 1 < n ? str.charCodeAt(i + 1) : 0;
      if (d < 0xdc00 || d > 0xdfff) return false;
      bytes += 2;
      i++;
    }
  }
  return n <= SAFE_UNITS || bytes <= MAX_STRING_BYTES;
}

/**
 * A Topic Name as PUBLISH and the Will carry it: at least one character [MQTT-4.7.3-1], no wildcard `+` or `#`
 * [MQTT-3.3.2-2][MQTT-4.7.0-1], and encodable (no U+0000 [MQTT-4.7.3-2], at most 65,535 bytes [MQTT-4.7.3-3]).
 * (The zero-length Topic Name that MQTT 5.0 allows with a Topic Alias is handled by the codec, not here.)
 */
export function isValidTopicName(topic: string): boolean {
  if (topic.length === 0) return false;
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    if (c === 0x23 || c === 0x2b) return false;
  }
  return isEncodableString(topic);
}

/**
 * A Topic Filter: at least one character [MQTT-4.7.3-1]; `#` only on its own as the last level [MQTT-4.7.1-1]
 * (3.1.1: [MQTT-4.7.1-2]); `+` only as a whole level [MQTT-4.7.1-2] (3.1.1: [MQTT-4.7.1-3]); encodable. This is the
 * plain rule of §4.7: a `$share/...` filter is also checked as a Shared Subscription by the MQTT 5.0 codec.
 */
export function isValidTopicFilter(filter: string): boolean {
  const n = filter.length;
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const c = filter.charCodeAt(i);
    if (c === 0x23) {
      // '#': the whole last level.
      if (i !== n - 1 || (i > 0 && filter.charCodeAt(i - 1) !== 0x2f)) return false;
    } else if (c === 0x2b) {
      // '+': a whole level.
      if ((i > 0 && filter.charCodeAt(i - 1) !== 0x2f) || (i < n - 1 && filter.charCodeAt(i + 1) !== 0x2f))
        return false;
    }
  }
  return isEncodableString(filter);
}

export const SHARED_SUBSCRIPTION_PREFIX = '$share/';

/** True when `filter` is spelled as an MQTT 5.0 Shared Subscription (`$share/...`), valid or not. */
export function isSharedSubscription(filter: string): boolean {
  return filter.startsWith(SHARED_SUBSCRIPTION_PREFIX);
}

/**
 * Splits `$share/{ShareName}/{filter}` (MQTT 5.0 §4.8.2). Undefined when `filter` is not a Shared Subscription or is
 * an invalid one: the ShareName must be at least one character [MQTT-4.8.2-1], must not contain `/`, `+` or `#`, and
 * must be followed by `/` and a valid Topic Filter [MQTT-4.8.2-2].
 */
export function parseSharedSubscription(filter: string): { shareName: string; topicFilter: string } | undefined {
  if (!filter.startsWith(SHARED_SUBSCRIPTION_PREFIX)) return undefined;
  const start = SHARED_SUBSCRIPTION_PREFIX.length;
  const slash = filter.indexOf('/', start);
  if (slash <= start) return undefined;
  const shareName = filter.slice(start, slash);
  if (shareName.includes('+') || shareName.includes('#')) return undefined;
  const topicFilter = filter.slice(slash + 1);
  if (!isValidTopicFilter(topicFilter)) return undefined;
  return { shareName, topicFilter };
}
