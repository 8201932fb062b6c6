/**
 * Sessions moving between nodes without losing or doubling messages (docs/cluster.md, "Sessions").
 *
 * When node A hands a session over to node B (a takeover, or A dead and adopted by B), messages for that client
 * still reach A for a moment: the other nodes learn of B's subscriptions asynchronously, and A's stream may hold
 * entries it has not read yet. So:
 *
 * - A keeps the session's subscriptions for a grace period, behind a {@link ForwardingSession} that sends every
 *   message it gets to B's stream as a *direct* entry for that client;
 * - every message crossing nodes carries an id (origin node + its sequence number, codec.ts), and B, for the same
 *   grace period, remembers which ids it delivered to the moved session, by either path, and drops the second copy
 *   ({@link SessionMoves.accept}, installed as BrokerCore.deliveryFilter only meanwhile);
 * - direct entries that reach B before the session is installed there wait (bounded) until it is.
 */
import type { BrokerCore } from '../core.js';
import type { Message, Outgoing } from '../message.js';
import { Session } from '../session/session.js';

/** A message's id in the cluster. */
export interface MessageId {
  origin: string;
  seq: number;
  key: string;
}

/** Longest a forwarding session lives (waiting for a lagging stream reader). */
const MAX_FORWARDING_MS = 60_000;
/** Messages kept per moving client while it is not installed yet, and for how long. */
const EARLY_LIMIT = 100_000;
const EARLY_TTL_MS = 30_000;

/** On the old node: a session that moved, whose messages go on to its new node for a grace period. */
export class ForwardingSession extends Session {
  constructor(
    broker: BrokerCore,
    clientId: string,
    private readonly forward: (outgoing: Outgoing) => void,
  ) {
    super(clientId, broker.sessionOptions, broker);
  }

  override deliver(outgoing: Outgoing): void {
    this.forward(outgoing);
  }
}

interface Inbound {
  seen: Set<string>;
  timer: NodeJS.Timeout;
}

interface Early {
  items: { outgoing: Outgoing; key: string }[];
  timer: NodeJS.Timeout;
}

export class SessionMoves {
  private readonly ids = new WeakMap<Message, MessageId>();
  private seq = 0;
  /** Sessions that moved here recently → the ids of the messages delivered to them since. */
  private readonly inbound = new Map<string, Inbound>();
  /** Direct entries for sessions not installed here yet. */
  private readonly early = new Map<string, Early>();
  /** Forwarding sessions alive on this node. */
  private forwarding = 0;

  constructor(
    private readonly broker: BrokerCore,
    private readonly nodeId: string,
    private readonly graceMs: number,
    /** When this node's stream reader was last caught up (ms since the epoch). */
    private readonly caughtUpAt: () => number,
  ) {}

  /** True while ids must be kept for every message (a session moved here or away recently). */
  get active(): boolean {
    return this.inbound.size > 0 || this.forwarding > 0;
  }

  /** The next sequence number of a message published on this node. */
  nextSeq(): number {
    return ++this.seq;
  }

  idOf(message: Message): MessageId | undefined {
    return this.ids.get(message);
  }

  remember(message: Message, origin: string, seq: number): MessageId {
    const id = { origin, seq, key: `${origin}#${seq}` };
    this.ids.set(message, id);
    return id;
  }

  /** The message's id, given one (as published on this node) if it has none. */
  ensureId(message: Message): MessageId {
    return this.ids.get(message) ?? this.remember(message, this.nodeId, this.nextSeq());
  }

  /** BrokerCore.deliveryFilter while sessions moved here recently: the first copy of a message passes. */
  readonly accept = (clientId: string, message: Message): boolean => {
    const inbound = this.inbound.get(clientId);
    if (inbound === undefined) return true;
    const id = this.ids.get(message);
    if (id === undefined) return true;
    if (inbound.seen.has(id.key)) return false;
    inbound.seen.add(id.key);
    return true;
  };

  /** A session is about to move here: track its deliveries for twice the grace period. */
  expectInbound(clientId: string): void {
    const existing = this.inbound.get(clientId);
    if (existing !== undefined) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.inbound.delete(clientId);
      if (this.inbound.size === 0) this.broker.deliveryFilter = undefined;
    }, this.graceMs * 2);
    timer.unref();
    this.inbound.set(clientId, { seen: existing?.seen ?? new Set(), timer });
    this.broker.deliveryFilter = this.accept;
  }

  /** A direct entry for `clientId` (forwarded by its old node, or left in a dead node's stream). */
  deliverDirect(clientId: string, outgoing: Outgoing, key: string): void {
    const session = this.broker.sessions.get(clientId);
    if (session === undefined) {
      this.keepEarly(clientId, outgoing, key);
      return;
    }
    const inbound = this.inbound.get(clientId);
    if (inbound !== undefined) {
      if (inbound.seen.has(key)) return;
      inbound.seen.add(key);
    }
    session.deliver(outgoing);
  }

  private keepEarly(clientId: string, outgoing: Outgoing, key: string): void {
    let early = this.early.get(clientId);
    if (early === undefined) {
      const timer = setTimeout(() => this.early.delete(clientId), EARLY_TTL_MS);
      timer.unref();
      early = { items: [], timer };
      this.early.set(clientId, early);
    }
    if (early.items.length < EARLY_LIMIT) early.items.push({ outgoing, key });
  }

  /** The session of `clientId` is installed here: what came for it before is delivered now. */
  installed(clientId: string): void {
    const early = this.early.get(clientId);
    if (early === undefined) return;
    this.early.delete(clientId);
    clearTimeout(early.timer);
    for (const { outgoing, key } of early.items) this.deliverDirect(clientId, outgoing, key);
  }

  /**
   * Replaces the local session of `clientId` (already snapshotted and released) by a forwarding one that sends what
   * it gets to `forward` (to its new node) for the grace period, then drops its subscriptions.
   */
  forwardTo(clientId: string, forward: (outgoing: Outgoing) => void): void {
    const broker = this.broker;
    const session = new ForwardingSession(broker, clientId, forward);
    broker.sessions.set(clientId, session);
    this.forwarding++;
    const since = Date.now();
    const end = () => {
      // Not before this node has read its stream up to what was sent to it during the grace period (a reader that
      // lags would route such a message after the stub is gone), but not forever either.
      const now = Date.now();
      if (this.caughtUpAt() < since + this.graceMs && now - since < MAX_FORWARDING_MS) {
        setTimeout(end, 1000).unref();
        return;
      }
      this.forwarding--;
      if (broker.sessions.get(clientId) !== session) return;
      broker.sessions.delete(clientId);
      broker.trie.unsubscribeAll(clientId);
    };
    setTimeout(end, this.graceMs).unref();
  }

  stop(): void {
    for (const inbound of this.inbound.values()) clearTimeout(inbound.timer);
    this.inbound.clear();
    for (const early of this.early.values()) clearTimeout(early.timer);
    this.early.clear();
    this.broker.deliveryFilter = undefined;
  }
}
