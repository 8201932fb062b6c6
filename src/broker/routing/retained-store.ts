/**
 * Retained messages (MQTT 5.0 §3.3.1.3), one per topic name, indexed twice: a Map by topic name for get/set/delete,
 * and a trie of topic levels so that a new subscription's filter finds its retained messages without scanning
 * them all (`sensors/+/temp` visits the `sensors` subtree's second level only; `#` yields a subtree).
 */
import { LEVEL_SEPARATOR, MULTI_LEVEL_WILDCARD, SINGLE_LEVEL_WILDCARD } from './topic.js';

class RetainedNode<M> {
  children: Map<string, RetainedNode<M>> | undefined = undefined;
  /** The full topic name when a message is retained at this node, else undefined. */
  topic: string | undefined = undefined;
  message: M | undefined = undefined;
  readonly parent: RetainedNode<M> | undefined;
  readonly key: string;

  constructor(parent: RetainedNode<M> | undefined, key: string) {
    this.parent = parent;
    this.key = key;
  }
}

/** Marks a stack entry of forEachMatch whose whole subtree matches (below a `#`). */
const SUBTREE = -1;

export class RetainedStore<M> {
  readonly #root = new RetainedNode<M>(undefined, '');
  readonly #byTopic = new Map<string, RetainedNode<M>>();
  #nodeCount = 1;

  get size(): number {
    return this.#byTopic.size;
  }

  /** Number of trie nodes, the root included (for tests: 1 once the store is empty). */
  get nodeCount(): number {
    return this.#nodeCount;
  }

  /** Stores/replaces the retained message of a topic; `undefined` deletes it (an empty retained payload is the caller's delete). */
  set(topic: string, message: M | undefined): void {
    if (message === undefined) {
      this.delete(topic);
      return;
    }
    let node = this.#byTopic.get(topic);
    if (!node) {
      node = this.#root;
      for (const level of topic.split(LEVEL_SEPARATOR)) {
        node.children ??= new Map();
        let child = node.children.get(level);
        if (!child) {
          child = new RetainedNode<M>(node, level);
          node.children.set(level, child);
          this.#nodeCount++;
        }
        node = child;
      }
      node.topic = topic;
      this.#byTopic.set(topic, node);
    }
    node.message = message;
  }

  get(topic: string): M | undefined {
    return this.#byTopic.get(topic)?.message;
  }

  /** Deletes the retained message of a topic and prunes the emptied trie nodes; returns true if there was one. */
  delete(topic: string): boolean {
    let node = this.#byTopic.get(topic);
    if (!node) return false;
    this.#byTopic.delete(topic);
    node.topic = undefined;
    node.message = undefined;
    while (node.parent && node.topic === undefined && !node.children) {
      const parent: RetainedNode<M> = node.parent;
      parent.children!.delete(node.key);
      if (parent.children!.size === 0) parent.children = undefined;
      this.#nodeCount--;
      node = parent;
    }
    return true;
  }

  /** Removes every retained message. */
  clear(): void {
    this.#byTopic.clear();
    this.#root.children = undefined;
    this.#nodeCount = 1;
  }

  /**
   * Calls fn for every retained message whose topic matches filter, with the rules of topicMatches:
   * a filter starting with `+` or `#` skips the root's `$` levels [MQTT-4.7.2-1]; `#` matches its parent level and
   * the whole subtree (§4.7.1.2); `+` matches one level, an empty one included (§4.7.1.3). Iterative (no recursion
   * limit on deep topics). fn may modify the store; messages it adds may or may not be visited.
   */
  forEachMatch(filter: string, fn: (topic: string, message: M) => void): void {
    const f = filter.split(LEVEL_SEPARATOR);
    const nodes: RetainedNode<M>[] = [this.#root];
    const depths: number[] = [0];
    for (;;) {
      const node = nodes.pop();
      if (!node) return;
      const depth = depths.pop()!;
      if (depth === SUBTREE || depth === f.length) {
        if (node.topic !== undefined) fn(node.topic, node.message as M);
        if (depth === SUBTREE && node.children) pushChildren(node.children, SUBTREE, false, nodes, depths);
        continue;
      }
      const level = f[depth]!;
      if (level === MULTI_LEVEL_WILDCARD || level === SINGLE_LEVEL_WILDCARD) {
        if (level === MULTI_LEVEL_WILDCARD && node.topic !== undefined) fn(node.topic, node.message as M);
        if (!node.children) continue;
        const next = level === MULTI_LEVEL_WILDCARD ? SUBTREE : depth + 1;
        pushChildren(node.children, next, depth === 0 /* [MQTT-4.7.2-1] */, nodes, depths);
      } else {
        const child = node.children?.get(level);
        if (child) {
          nodes.push(child);
          depths.push(depth + 1);
        }
      }
    }
  }

  /** All (topic, message) pairs, for persistence. */
  *entries(): IterableIterator<[string, M]> {
    for (const [topic, node] of this.#byTopic) yield [topic, node.message as M];
  }
}

/**
 * Pushes children onto the walk's stack in reverse, so that they are popped — and their messages delivered — in the
 * order their topics were first retained (a subscriber to `#` then sees one publisher's retained topics in the order
 * they were published, as Mosquitto delivers them).
 */
function pushChildren<M>(
  children: Map<string, RetainedNode<M>>,
  depth: number,
  skipDollar: boolean,
  nodes: RetainedNode<M>[],
  depths: number[],
): void {
  const start = nodes.length;
  for (const child of children.values()) {
    if (skipDollar && child.key.charCodeAt(0) === 0x24) continue;
    nodes.push(child);
    depths.push(depth);
  }
  for (let i = start, j = nodes.length - 1; i < j; i++, j--) {
    const n = nodes[i]!;
    nodes[i] = nodes[j]!;
    nodes[j] = n;
  }
}
