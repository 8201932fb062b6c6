/**
 * A Shared Subscription group (MQTT 5.0 §4.8.2): the sessions subscribed to the same `$share/{ShareName}/{filter}`.
 * A group is identified by ShareName + filter; the trie keeps one ShareGroup per ShareName at the filter's node.
 * Each matching message goes to exactly one member, chosen here by round-robin (the choice is the Server's, §4.8.2).
 */
import type { SubscriptionOptions } from './subscription-trie.js';

export interface ShareMember {
  readonly clientId: string;
  /** The member's own options: its granted QoS is respected for what it receives [MQTT-4.8.2-3]. */
  options: SubscriptionOptions;
}

export class ShareGroup {
  readonly name: string;
  /** The whole filter, `$share/{ShareName}/{filter}`: the group's name across a cluster. */
  readonly key: string;
  readonly #members: ShareMember[] = [];
  /** Index of the member to try first on the next pick. */
  #cursor = 0;

  constructor(name: string, key: string) {
    this.name = name;
    this.key = key;
  }

  get size(): number {
    return this.#members.length;
  }

  /** The members in round-robin order. */
  members(): readonly ShareMember[] {
    return this.#members;
  }

  /** Adds a member or replaces its options; returns true if it was not a member before. */
  upsert(clientId: string, options: SubscriptionOptions): boolean {
    const existing = this.#members.find((m) => m.clientId === clientId);
    if (existing) {
      existing.options = options;
      return false;
    }
    this.#members.push({ clientId, options });
    return true;
  }

  /** Removes a member; returns true if it was one. Keeps the rotation where it was for the others. */
  remove(clientId: string): boolean {
    const i = this.#members.findIndex((m) => m.clientId === clientId);
    if (i === -1) return false;
    this.#members.splice(i, 1);
    if (i < this.#cursor) this.#cursor--;
    if (this.#cursor >= this.#members.length) this.#cursor = 0;
    return true;
  }

  /**
   * Chooses the member that gets the next message: the next one in rotation for which `isAvailable` is true, or,
   * if none is (or no predicate is given), simply the next one in rotation. The group must not be empty.
   * No Local is not consulted: it is a Protocol Error on a Shared Subscription [MQTT-3.8.3-4].
   */
  pick(isAvailable?: (clientId: string) => boolean): ShareMember {
    const members = this.#members;
    const n = members.length;
    if (isAvailable) {
      for (let k = 0; k < n; k++) {
        const i = (this.#cursor + k) % n;
        const member = members[i]!;
        if (isAvailable(member.clientId)) {
          this.#cursor = (i + 1) % n;
          return member;
        }
      }
    }
    const member = members[this.#cursor]!;
    this.#cursor = (this.#cursor + 1) % n;
    return member;
  }
}
