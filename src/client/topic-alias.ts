/**
 * MQTT 5.0 Topic Aliases (§3.3.2.3.4). Both maps live for one network connection only [MQTT-3.3.2-7]:
 * the client makes new ones on every (re)connection.
 */
import { ReasonCode } from '../codec/index.js';
import { ProtocolError } from './errors.js';

/**
 * Outgoing aliases. With automatic assignment, each new topic gets the next free alias (1..maximum); when all are
 * taken, the least recently used one is reassigned. The first PUBLISH of a topic carries topic + alias, the next
 * ones the alias and an empty topic.
 */
export class TopicAliasSender {
  /** topic → alias, in least-recently-used-first order (a Map keeps insertion order; a hit re-inserts). */
  private readonly aliases = new Map<string, number>();

  constructor(
    /** The broker's Topic Alias Maximum (0: aliases not allowed). */
    readonly maximum: number,
  ) {}

  /**
   * Which alias to use for `topic`, and whether the topic must be sent with it (a new or reassigned alias) or may
   * be left out (the broker already knows the alias). Undefined when aliases are disabled.
   */
  assign(topic: string): { alias: number; sendTopic: boolean } | undefined {
    if (this.maximum <= 0) return undefined;
    const known = this.aliases.get(topic);
    if (known !== undefined) {
      this.aliases.delete(topic);
      this.aliases.set(topic, known);
      return { alias: known, sendTopic: false };
    }
    let alias: number;
    if (this.aliases.size < this.maximum) {
      alias = this.aliases.size + 1;
    } else {
      const [oldest, reused] = this.aliases.entries().next().value as [string, number];
      this.aliases.delete(oldest);
      alias = reused;
    }
    this.aliases.set(topic, alias);
    return { alias, sendTopic: true };
  }

  /** A topic alias the user chose explicitly: remember it so automatic assignment does not reuse it badly. */
  explicit(topic: string, alias: number): void {
    if (alias < 1 || alias > this.maximum) {
      throw new ProtocolError(ReasonCode.TopicAliasInvalid, `topic alias ${alias} is outside 1..${this.maximum}`);
    }
    for (const [t, a] of this.aliases) if (a === alias) this.aliases.delete(t);
    this.aliases.set(topic, alias);
  }
}

/** Incoming aliases: the broker sets them (topic + alias) and then uses them (empty topic + alias). */
export class TopicAliasReceiver {
  private readonly topics = new Map<number, string>();

  constructor(
    /** The Topic Alias Maximum this client announced in CONNECT (0: the broker must not use aliases). */
    readonly maximum: number,
  ) {}

  /**
   * Resolves the topic of an incoming PUBLISH: records `alias → topic` when both are present, looks the topic up
   * when only the alias is. Throws ProtocolError 0x94 (alias 0 or above our maximum) or 0x82 (unknown alias).
   */
  resolve(topic: string, alias: number | undefined): string {
    if (alias === undefined) return topic;
    if (alias < 1 || alias > this.maximum) {
      throw new ProtocolError(ReasonCode.TopicAliasInvalid, `topic alias ${alias} is outside 1..${this.maximum}`);
    }
    if (topic !== '') {
      this.topics.set(alias, topic);
      return topic;
    }
    const known = this.topics.get(alias);
    if (known === undefined) {
      throw new ProtocolError(ReasonCode.ProtocolError, `topic alias ${alias} was used before it was set`);
    }
    return known;
  }
}
