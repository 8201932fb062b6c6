/** Topic filter matching on the client side (§4.7), used by `client.messages(filter)` and request/response. */

/** `$share/{group}/{filter}` → `{filter}`: a shared subscription delivers messages of its inner filter. */
export function stripShare(filter: string): string {
  if (!filter.startsWith('$share/')) return filter;
  const slash = filter.indexOf('/', 7);
  return slash < 0 ? filter : filter.slice(slash + 1);
}

/**
 * True when `topic` matches `filter`. `+` matches one level, a trailing `#` the parent and every level below it;
 * a topic starting with `$` is not matched by a filter starting with a wildcard [MQTT-4.7.2-1].
 */
export function topicMatches(filter: string, topic: string): boolean {
  const f = stripShare(filter);
  if (f === topic) return true;
  if (topic.startsWith('$') && (f.startsWith('+') || f.startsWith('#'))) return false;
  const fl = f.split('/');
  const tl = topic.split('/');
  for (let i = 0; i < fl.length; i++) {
    const level = fl[i];
    if (level === '#') return true;
    if (i >= tl.length) return false;
    if (level !== '+' && level !== tl[i]) return false;
  }
  return fl.length === tl.length;
}
