/**
 * The subscription trie: one node per topic-filter level, `+` and `#` children kept apart from the exact children,
 * so that matching a topic costs its levels and the matching subscriptions, not the unrelated ones.
 * Non-shared subscriptions (§4.8.1) sit in a per-node map keyed by client; shared ones (§4.8.2) in ShareGroups.
 */
import type { QoS } from '../../codec/constants.js';
import { ShareGroup } from './shared.js';
import {
  isDollarTopic,
  LEVEL_SEPARATOR,
  MULTI_LEVEL_WILDCARD,
  parseSharedFilter,
  SINGLE_LEVEL_WILDCARD,
} from './topic.js';

export interface SubscriptionOptions {
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: 0 | 1 | 2;
  subscriptionIdentifier?: number;
}

export interface Delivery {
  clientId: string;
  /** Highest QoS among this client's matching subscriptions (the publisher's QoS is applied by the caller). */
  qos: QoS;
  /** true if any matching subscription has Retain As Published. */
  retainAsPublished: boolean;
  /** All subscription identifiers of the matching subscriptions, if any had one ([MQTT-3.3.4-3]), else undefined. */
  subscriptionIdentifiers: number[] | undefined;
  /** The share group when this delivery comes from a shared subscription (then it is a separate delivery, even if the same client also matched non-shared filters). */
  shareGroup: string | undefined;
  /** With shareGroup: the whole `$share/{ShareName}/{filter}` of the group. */
  shareFilter?: string;
}

/** A client's entry in the per-client index; also its de-duplication slot while matching. */
interface ClientRecord {
  readonly clientId: string;
  /** Full filter (incl. `$share/g/`) → options. */
  readonly subscriptions: Map<string, SubscriptionOptions>;
  /** The match() call that last produced a Delivery for this client, and that Delivery. */
  epoch: number;
  delivery: Delivery | undefined;
}

interface Subscriber {
  readonly client: ClientRecord;
  options: SubscriptionOptions;
}

/** Larger than any level count, and a small integer for V8. */
const NO_MIN = 0x3fffffff;

class TrieNode {
  children: Map<string, TrieNode> | undefined = undefined;
  plus: TrieNode | undefined = undefined;
  hash: TrieNode | undefined = undefined;
  /** Non-shared subscriptions ending here, by client id. Undefined when empty, like the other fields. */
  subscribers: Map<string, Subscriber> | undefined = undefined;
  /** Shared subscriptions ending here, by ShareName. */
  groups: Map<string, ShareGroup> | undefined = undefined;
  /**
   * Bounds on the number of topic levels left after this node for which a filter through this node (ending here or
   * below) can match: a filter with k levels after this node matches exactly k, one ending in `#` at least k - 1.
   * match() does not enter a node whose bounds exclude the topic's remaining levels, so that e.g. the large `+`
   * subtree of many `+/x/y` filters is skipped for a 2-level topic. Widened on subscribe and never narrowed on
   * unsubscribe (a stale bound only skips less), reset when the node is pruned.
   */
  minRest = NO_MIN;
  maxRest = -1;
  /** The same bounds over the filters through the exact children, counted from those children: no lookup outside. */
  childMinRest = NO_MIN;
  childMaxRest = -1;

  isEmpty(): boolean {
    return !this.children && !this.plus && !this.hash && !this.subscribers && !this.groups;
  }
}

/** Told of every subscription added or removed (client × full filter); used by the cluster (none by default). */
export interface SubscriptionChangeObserver {
  subscriptionAdded(filter: string): void;
  subscriptionRemoved(filter: string): void;
}

export class SubscriptionTrie {
  /** Cluster hook: undefined unless a cluster is configured (src/broker/cluster/). */
  observer: SubscriptionChangeObserver | undefined = undefined;
  /**
   * Cluster: when set, match() delivers to the share groups whose `$share/{ShareName}/{filter}` it accepts only (the
   * other groups' message goes to a member on another node). Set around one match by the cluster; undefined otherwise.
   */
  shareFilter: ((key: string) => boolean) | undefined = undefined;
  readonly #root = new TrieNode();
  readonly #clients = new Map<string, ClientRecord>();
  #size = 0;
  #nodeCount = 1;
  #epoch = 0;
  // Scratch space for match(), reused to avoid allocating per call. match() runs no foreign code while using it.
  readonly #levels: string[] = [];
  readonly #stackNodes: TrieNode[] = [];
  readonly #stackDepths: number[] = [];
  readonly #groupScratch: ShareGroup[] = [];

  /** Number of subscriptions (each client×filter counts once). */
  get size(): number {
    return this.#size;
  }

  /** Number of trie nodes, the root included (for tests: 1 once every subscription is gone). */
  get nodeCount(): number {
    return this.#nodeCount;
  }

  /** Number of clients with at least one subscription. */
  get clientCount(): number {
    return this.#clients.size;
  }

  /** Adds or replaces (same client + same full filter string incl. `$share/g/`) a subscription. Returns true if it did not exist before. */
  subscribe(clientId: string, filter: string, options: SubscriptionOptions): boolean {
    const opts: SubscriptionOptions = { ...options };
    const shared = parseSharedFilter(filter);
    const levels = (shared ? shared.filter : filter).split(LEVEL_SEPARATOR);
    const m = levels.length;
    const multi = levels[m - 1] === MULTI_LEVEL_WILDCARD;
    let node = this.#root;
    for (let depth = 1; depth <= m; depth++) {
      const parent = node;
      const level = levels[depth - 1]!;
      node = this.#child(parent, level);
      const rest = m - depth;
      const min = multi ? rest - 1 : rest;
      const max = multi ? NO_MIN : rest;
      if (min < node.minRest) node.minRest = min;
      if (max > node.maxRest) node.maxRest = max;
      if (level !== SINGLE_LEVEL_WILDCARD && level !== MULTI_LEVEL_WILDCARD) {
        if (min < parent.childMinRest) parent.childMinRest = min;
        if (max > parent.childMaxRest) parent.childMaxRest = max;
      }
    }

    let client = this.#clients.get(clientId);
    if (!client) {
      client = { clientId, subscriptions: new Map(), epoch: 0, delivery: undefined };
      this.#clients.set(clientId, client);
    }
    const isNew = !client.subscriptions.has(filter);
    client.subscriptions.set(filter, opts);
    if (isNew) {
      this.#size++;
      this.observer?.subscriptionAdded(filter); // cluster hook
    }

    if (shared) {
      node.groups ??= new Map();
      let group = node.groups.get(shared.group);
      if (!group) {
        group = new ShareGroup(shared.group, filter);
        node.groups.set(shared.group, group);
      }
      group.upsert(clientId, opts);
    } else {
      node.subscribers ??= new Map();
      const existing = node.subscribers.get(clientId);
      // Replacing keeps the one subscription per client and filter (§4.8.1, [MQTT-3.8.4-3]).
      if (existing) existing.options = opts;
      else node.subscribers.set(clientId, { client, options: opts });
    }
    return isNew;
  }

  /** Returns true if it existed. Empties and prunes trie nodes so memory does not grow with churn. */
  unsubscribe(clientId: string, filter: string): boolean {
    const client = this.#clients.get(clientId);
    if (!client?.subscriptions.delete(filter)) return false;
    this.#remove(clientId, filter);
    this.#size--;
    if (client.subscriptions.size === 0) this.#clients.delete(clientId);
    this.observer?.subscriptionRemoved(filter); // cluster hook
    return true;
  }

  /** Removes every subscription of the client; returns how many. Uses the per-client index, not a trie scan. */
  unsubscribeAll(clientId: string): number {
    const client = this.#clients.get(clientId);
    if (!client) return 0;
    this.#clients.delete(clientId);
    const count = client.subscriptions.size;
    // The map is left as it was: a caller may still hold it (from subscriptionsOf) to move the session.
    for (const filter of client.subscriptions.keys()) this.#remove(clientId, filter);
    this.#size -= count;
    const observer = this.observer; // cluster hook
    if (observer !== undefined) for (const filter of client.subscriptions.keys()) observer.subscriptionRemoved(filter);
    return count;
  }

  /** The client's subscriptions (full filter → options), a live view; undefined if it has none. */
  subscriptionsOf(clientId: string): ReadonlyMap<string, SubscriptionOptions> | undefined {
    return this.#clients.get(clientId)?.subscriptions;
  }

  /**
   * Deliveries for a message published to `topic` by `publisherId` (a fresh array the caller may keep):
   * - non-shared: at most ONE Delivery per client however many of its filters overlap [MQTT-3.3.4-2]: the max QoS,
   *   all identifiers; a subscription with noLocal is skipped when clientId === publisherId [MQTT-3.8.3-3];
   * - shared: per matching share group (ShareName + filter), exactly ONE member chosen by round-robin among members
   *   for which `isAvailable(clientId)` is true (all members if none is, or no predicate is given).
   * Walks the trie level by level (exact child, `+` child, `#` child) with an explicit stack, so the cost is the
   * topic's levels and the matching subscriptions; a child none of whose filters can match the number of levels left
   * is not entered (TrieNode.minRest/maxRest). `isAvailable` runs after the walk and must not modify the trie.
   */
  match(topic: string, publisherId?: string, isAvailable?: (clientId: string) => boolean): Delivery[] {
    const levels = this.#levels;
    const n = splitInto(topic, levels);
    const epoch = ++this.#epoch;
    const out: Delivery[] = [];
    const groups = this.#groupScratch;
    if (groups.length !== 0) groups.length = 0;
    // [MQTT-4.7.2-1]: filters starting with a wildcard do not match `$` topics, so at the root skip `+` and `#`.
    const dollar = isDollarTopic(topic);

    const nodes = this.#stackNodes;
    const depths = this.#stackDepths;
    nodes[0] = this.#root;
    depths[0] = 0;
    let sp = 1;
    while (sp > 0) {
      sp--;
      const node = nodes[sp]!;
      const depth = depths[sp]!;
      const wild = depth !== 0 || !dollar;
      // `#` matches the remaining levels, including none: `a/#` matches `a` (§4.7.1.2).
      if (node.hash && wild) this.#collect(node.hash, out, epoch, publisherId);
      if (depth === n) {
        this.#collect(node, out, epoch, publisherId);
        continue;
      }
      const rest = n - depth - 1;
      // A child is entered only if a filter through it can match the levels left (see TrieNode.minRest).
      if (node.children !== undefined && rest >= node.childMinRest && rest <= node.childMaxRest) {
        const child = node.children.get(levels[depth]!);
        if (child !== undefined && rest >= child.minRest && rest <= child.maxRest) {
          nodes[sp] = child;
          depths[sp++] = depth + 1;
        }
      }
      const plus = node.plus;
      if (plus !== undefined && wild && rest >= plus.minRest && rest <= plus.maxRest) {
        nodes[sp] = plus;
        depths[sp++] = depth + 1;
      }
    }
    if (n > 1024) {
      // Do not keep the scratch of one very deep topic alive.
      levels.length = 0;
      nodes.length = 0;
      depths.length = 0;
    }

    if (groups.length > 0) {
      // Copied before calling out: isAvailable is foreign code.
      for (const group of groups.splice(0)) {
        const member = group.pick(isAvailable);
        const o = member.options;
        out.push({
          clientId: member.clientId,
          qos: o.qos,
          retainAsPublished: o.retainAsPublished,
          // A separate copy carries only its own subscription's identifier [MQTT-3.3.4-5].
          subscriptionIdentifiers: o.subscriptionIdentifier === undefined ? undefined : [o.subscriptionIdentifier],
          shareGroup: group.name,
          shareFilter: group.key,
        });
      }
    }
    return out;
  }

  #collect(node: TrieNode, out: Delivery[], epoch: number, publisherId: string | undefined): void {
    if (node.groups) {
      const only = this.shareFilter;
      for (const group of node.groups.values())
        if (only === undefined || only(group.key)) this.#groupScratch.push(group);
    }
    if (!node.subscribers) return;
    for (const sub of node.subscribers.values()) {
      const o = sub.options;
      const client = sub.client;
      if (o.noLocal && client.clientId === publisherId) continue; // [MQTT-3.8.3-3]
      const id = o.subscriptionIdentifier;
      if (client.epoch !== epoch) {
        const delivery: Delivery = {
          clientId: client.clientId,
          qos: o.qos,
          retainAsPublished: o.retainAsPublished,
          subscriptionIdentifiers: id === undefined ? undefined : [id],
          shareGroup: undefined,
        };
        client.epoch = epoch;
        client.delivery = delivery;
        out.push(delivery);
      } else {
        // Overlapping subscriptions of one client: one message, the maximum QoS [MQTT-3.3.4-2], and every
        // Subscription Identifier [MQTT-3.3.4-3], [MQTT-3.3.4-4].
        const delivery = client.delivery!;
        if (o.qos > delivery.qos) delivery.qos = o.qos;
        if (o.retainAsPublished) delivery.retainAsPublished = true;
        if (id !== undefined) {
          if (delivery.subscriptionIdentifiers) delivery.subscriptionIdentifiers.push(id);
          else delivery.subscriptionIdentifiers = [id];
        }
      }
    }
  }

  #child(node: TrieNode, level: string): TrieNode {
    if (level === SINGLE_LEVEL_WILDCARD) {
      node.plus ??= this.#newNode();
      return node.plus;
    }
    if (level === MULTI_LEVEL_WILDCARD) {
      node.hash ??= this.#newNode();
      return node.hash;
    }
    node.children ??= new Map();
    let child = node.children.get(level);
    if (!child) {
      child = this.#newNode();
      node.children.set(level, child);
    }
    return child;
  }

  #newNode(): TrieNode {
    this.#nodeCount++;
    return new TrieNode();
  }

  /** Removes the client's subscription from the trie (the index is the caller's) and prunes emptied nodes. */
  #remove(clientId: string, filter: string): void {
    const shared = parseSharedFilter(filter);
    const levels = (shared ? shared.filter : filter).split(LEVEL_SEPARATOR);
    const path: TrieNode[] = [this.#root];
    let node: TrieNode | undefined = this.#root;
    for (const level of levels) {
      node =
        level === SINGLE_LEVEL_WILDCARD
          ? node.plus
          : level === MULTI_LEVEL_WILDCARD
            ? node.hash
            : node.children?.get(level);
      if (!node) return;
      path.push(node);
    }
    if (shared) {
      const group = node.groups?.get(shared.group);
      if (group?.remove(clientId) && group.size === 0) {
        node.groups!.delete(shared.group);
        if (node.groups!.size === 0) node.groups = undefined;
      }
    } else if (node.subscribers?.delete(clientId) && node.subscribers.size === 0) {
      node.subscribers = undefined;
    }
    for (let i = path.length - 1; i > 0 && path[i]!.isEmpty(); i--) {
      const parent = path[i - 1]!;
      const level = levels[i - 1]!;
      if (level === SINGLE_LEVEL_WILDCARD) parent.plus = undefined;
      else if (level === MULTI_LEVEL_WILDCARD) parent.hash = undefined;
      else {
        parent.children!.delete(level);
        if (parent.children!.size === 0) {
          parent.children = undefined;
          parent.childMinRest = NO_MIN;
          parent.childMaxRest = -1;
        }
      }
      this.#nodeCount--;
    }
  }
}

/** Splits a topic into `out` (reused), returning the number of levels. Faster than split() for the match loop. */
function splitInto(topic: string, out: string[]): number {
  let n = 0;
  let start = 0;
  for (;;) {
    const slash = topic.indexOf(LEVEL_SEPARATOR, start);
    if (slash === -1) {
      out[n++] = topic.slice(start);
      return n;
    }
    out[n++] = topic.slice(start, slash);
    start = slash + 1;
  }
}
