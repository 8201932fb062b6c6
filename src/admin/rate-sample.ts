/**
 * The shape of one second of broker activity, as the admin server sends it and the dashboard draws it (imported by
 * both: no imports of its own, so the browser build can take it).
 */
/** One second of broker activity. */
export interface RateSample {
  /** ms since the epoch. */
  t: number;
  messagesInPerSecond: number;
  messagesOutPerSecond: number;
  bytesInPerSecond: number;
  bytesOutPerSecond: number;
  droppedPerSecond: number;
  connections: number;
  subscriptions: number;
  retained: number;
  sessions: number;
}
