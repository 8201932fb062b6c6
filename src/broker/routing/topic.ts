/**
 * Topic names, topic filters and shared-subscription filters (MQTT 5.0 §4.7 and §4.8.2, MQTT 3.1.1 §4.7).
 *
 * Filters and names reaching this module have already been validated by the codec: `#` is alone in the last level
 * ([MQTT-4.7.1-1]), `+` occupies a whole level ([MQTT-4.7.1-2]), names hold no wildcard and nothing is empty
 * ([MQTT-4.7.3-1]). Spec ids are those of MQTT 5.0 (3.1.1 numbers the two wildcard rules 4.7.1-2 and 4.7.1-3).
 */

/** The literal that starts a Shared Subscription's Topic Filter ([MQTT-4.8.2-1]). */
export const SHARE_PREFIX = '$share/';

/** Topic level separator, `/`. */
export const LEVEL_SEPARATOR = '/';
/** Multi-level wildcard, `#` (§4.7.1.2). */
export const MULTI_LEVEL_WILDCARD = '#';
/** Single-level wildcard, `+` (§4.7.1.3). */
export const SINGLE_LEVEL_WILDCARD = '+';

/**
 * Splits a `$share/{ShareName}/{filter}` filter; undefined if not shared. (Validation is done by the codec already:
 * ShareName is at least one character [MQTT-4.8.2-1], holds no `/`, `+` or `#` and is followed by `/` and a filter
 * [MQTT-4.8.2-2].) A `$share/…` string without a second `/` is malformed and is returned as not shared.
 */
export function parseSharedFilter(filter: string): { group: string; filter: string } | undefined {
  if (!filter.startsWith(SHARE_PREFIX)) return undefined;
  const slash = filter.indexOf(LEVEL_SEPARATOR, SHARE_PREFIX.length);
  if (slash === -1) return undefined;
  return { group: filter.slice(SHARE_PREFIX.length, slash), filter: filter.slice(slash + 1) };
}

/** true if a topic name starts with `$` (server-specific topics such as `$SYS/…`, §4.7.2). */
export function isDollarTopic(topic: string): boolean {
  return topic.charCodeAt(0) === 0x24;
}

/**
 * Reference matcher: does topic name match filter. Deliberately simple (it splits both strings); the trie and the
 * retained store are the fast paths and are tested against this function.
 * - [MQTT-4.7.2-1]: a filter starting with `+` or `#` does not match a topic name starting with `$`;
 * - `#` matches the parent level and any number of child levels: `sport/#` matches `sport` (§4.7.1.2);
 * - `+` matches exactly one level, which may be empty: `+/+` matches `/finance`, `+` does not (§4.7.1.3).
 */
export function topicMatches(filter: string, topic: string): boolean {
  const first = filter.charCodeAt(0);
  if (isDollarTopic(topic) && (first === 0x2b || first === 0x23)) return false; // [MQTT-4.7.2-1]
  const f = filter.split(LEVEL_SEPARATOR);
  const t = topic.split(LEVEL_SEPARATOR);
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === MULTI_LEVEL_WILDCARD) return true; // the rest, possibly nothing (parent level)
    if (i >= t.length) return false;
    if (level !== SINGLE_LEVEL_WILDCARD && level !== t[i]) return false;
  }
  return f.length === t.length;
}
