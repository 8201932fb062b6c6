/** maxTopicLength (UTF-8 bytes) and maxTopicLevels for topic names and filters; 0 = no limit. */
export function topicWithinLimits(topic: string, maxLength: number, maxLevels: number): boolean {
  // A string of n UTF-16 units has at most 3n UTF-8 bytes: measured only when it could exceed the limit.
  if (maxLength > 0 && topic.length * 3 > maxLength && Buffer.byteLength(topic) > maxLength) return false;
  if (maxLevels > 0) {
    let levels = 1;
    for (let i = 0; i < topic.length; i++) if (topic.charCodeAt(i) === 0x2f && ++levels > maxLevels) return false;
  }
  return true;
}
