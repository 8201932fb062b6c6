/**
 * ACL files in Mosquitto's syntax, read and applied as Mosquitto 2.0 reads and applies them:
 *
 *   # comment                         blank lines and lines starting with # are ignored
 *   topic [read|write|readwrite|deny] <topic>     before any `user` line: rules of anonymous clients (no user name);
 *                                                 after `user <name>`: rules of that user. No access word = readwrite.
 *   user <name>                       the following `topic` lines are this user's (the name is the rest of the line)
 *   pattern [read|write|readwrite|deny] <topic>   rules of every client, wherever they are written; `%u` is the user
 *                                                 name, `%c` the client id (a pattern with %u never applies to a
 *                                                 client without user name)
 *
 * A check (read or write of one topic) goes, as in Mosquitto's default ACL check:
 *   1. writing to `$SYS/…` is denied;
 *   2. the client's own rules (its user's, or the anonymous ones): a matching `deny` refuses, then a matching rule
 *      granting the access allows;
 *   3. the patterns: refused outright if the user name or client id contains + or # (they would act as wildcards);
 *      a matching `deny` refuses, then a matching pattern granting the access allows;
 *   4. otherwise refused.
 * Rule topics are filters: `+` and `#` match as in subscriptions, and wildcards in the first level do not match
 * `$` topics (so `topic read #` does not grant `$SYS/…`).
 *
 * SUBSCRIBE (Midge's addition; Mosquitto 2.0 grants every SUBSCRIBE and filters only at delivery): a filter is
 * refused when no rule granting read could match any topic it matches, or when a `deny` rule covers all of it.
 * Delivery is checked for every message anyway (read access), so a granted wildcard filter never leaks a topic the
 * client may not read.
 */
import { readFileSync } from 'node:fs';
import { ConfigFileError } from './password-file.js';

export const AclAccess = { Deny: 0, Read: 1, Write: 2, ReadWrite: 3 } as const;
export type AclAccess = (typeof AclAccess)[keyof typeof AclAccess];

export interface AclRule {
  access: AclAccess;
  topic: string;
  /** Line in the file, for messages. */
  line: number;
}

const ACCESS_WORDS: Record<string, AclAccess> = {
  read: AclAccess.Read,
  write: AclAccess.Write,
  readwrite: AclAccess.ReadWrite,
  deny: AclAccess.Deny,
};

export interface AclDefinition {
  anonymous: AclRule[];
  users: Map<string, AclRule[]>;
  patterns: AclRule[];
}

/** Parses an ACL file's text; throws a ConfigFileError naming file:line for a line Mosquitto would refuse. */
export function parseAclFile(text: string, file = 'ACL file'): AclDefinition {
  const definition: AclDefinition = { anonymous: [], users: new Map(), patterns: [] };
  let current = definition.anonymous;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const space = line.search(/\s/);
    const keyword = space < 0 ? line : line.slice(0, space);
    const rest = space < 0 ? '' : line.slice(space + 1).trimStart();
    if (keyword === 'user') {
      if (rest === '') throw new ConfigFileError(file, i + 1, 'missing user name after "user"');
      let rules = definition.users.get(rest);
      if (rules === undefined) {
        rules = [];
        definition.users.set(rest, rules);
      }
      current = rules;
      continue;
    }
    if (keyword !== 'topic' && keyword !== 'pattern') {
      throw new ConfigFileError(file, i + 1, `invalid line (expected topic, pattern or user): ${line}`);
    }
    const wordEnd = rest.search(/\s/);
    const word = wordEnd < 0 ? rest : rest.slice(0, wordEnd);
    let access: AclAccess = AclAccess.ReadWrite;
    let topic = rest;
    if (Object.hasOwn(ACCESS_WORDS, word)) {
      access = ACCESS_WORDS[word]!;
      topic = wordEnd < 0 ? '' : rest.slice(wordEnd + 1).trimStart();
    }
    if (topic === '') throw new ConfigFileError(file, i + 1, `empty topic in "${keyword}" line`);
    if (!validFilter(topic)) throw new ConfigFileError(file, i + 1, `invalid topic filter: ${topic}`);
    (keyword === 'pattern' ? definition.patterns : current).push({ access, topic, line: i + 1 });
  }
  return definition;
}

function validFilter(filter: string): boolean {
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level === '#' && i !== levels.length - 1) return false;
    if (level.length > 1 && (level.includes('#') || level.includes('+'))) return false;
  }
  return true;
}

const isWildcard = (level: string) => level === '+' || level === '#';
const isDollar = (level: string) => level.charCodeAt(0) === 0x24;

/** Does rule filter `rule` match topic name `topic` (both split into levels)? */
function matches(rule: string[], topic: string[]): boolean {
  if (isWildcard(rule[0]!) && isDollar(topic[0]!)) return false;
  for (let i = 0; i < rule.length; i++) {
    const level = rule[i]!;
    if (level === '#') return true;
    if (i >= topic.length) return false;
    if (level !== '+' && level !== topic[i]) return false;
  }
  return rule.length === topic.length;
}

/** Does rule filter `rule` match every topic subscription filter `filter` matches? */
function covers(rule: string[], filter: string[]): boolean {
  if (isWildcard(rule[0]!) && isDollar(filter[0]!)) return false;
  for (let i = 0; i < rule.length; i++) {
    const level = rule[i]!;
    if (level === '#') return true;
    if (i >= filter.length || filter[i] === '#') return false;
    if (level === '+') continue;
    if (level !== filter[i]) return false;
  }
  return rule.length === filter.length;
}

/** Is there a topic that both filters match? */
function intersects(a: string[], b: string[]): boolean {
  if ((isWildcard(a[0]!) && isDollar(b[0]!)) || (isWildcard(b[0]!) && isDollar(a[0]!))) return false;
  for (let i = 0; ; i++) {
    if (i === a.length && i === b.length) return true;
    if (i === a.length) return b[i] === '#';
    if (i === b.length) return a[i] === '#';
    const x = a[i]!;
    const y = b[i]!;
    if (x === '#' || y === '#') return true;
    if (x !== '+' && y !== '+' && x !== y) return false;
  }
}

interface ResolvedRule {
  access: AclAccess;
  levels: string[];
}

/** The rules that apply to one client, in Mosquitto's order of evaluation. */
interface ClientRules {
  own: ResolvedRule[];
  /** undefined = patterns deny everything (user name or client id with + or #). */
  patterns: ResolvedRule[] | undefined;
}

const split = (rule: AclRule): ResolvedRule => ({ access: rule.access, levels: rule.topic.split('/') });

export class AclFile {
  private readonly userRules = new Map<string, ResolvedRule[]>();
  private readonly anonymousRules: ResolvedRule[];

  constructor(readonly definition: AclDefinition) {
    this.anonymousRules = definition.anonymous.map(split);
    for (const [user, rules] of definition.users) this.userRules.set(user, rules.map(split));
  }

  static load(path: string): AclFile {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      throw new ConfigFileError(path, 0, `cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
    return new AclFile(parseAclFile(text, path));
  }

  /** Resolves the rules of one client (patterns substituted); callers may keep the result for the connection. */
  rulesFor(username: string | undefined, clientId: string): ClientRules {
    const own = username === undefined ? this.anonymousRules : (this.userRules.get(username) ?? []);
    const patterns = this.definition.patterns;
    if (patterns.length === 0) return { own, patterns: [] };
    if (/[+#]/.test(clientId) || (username !== undefined && /[+#]/.test(username))) return { own, patterns: undefined };
    const resolved: ResolvedRule[] = [];
    for (const pattern of patterns) {
      if (username === undefined && pattern.topic.includes('%u')) continue;
      const topic = pattern.topic.replaceAll('%c', clientId).replaceAll('%u', username ?? '');
      resolved.push({ access: pattern.access, levels: topic.split('/') });
    }
    return { own, patterns: resolved };
  }

  /** May the client read (receive) or write (publish) `topic`? */
  check(rules: ClientRules, topic: string, access: typeof AclAccess.Read | typeof AclAccess.Write): boolean {
    const levels = topic.split('/');
    if (access === AclAccess.Write && levels[0] === '$SYS') return false;
    const own = evaluate(rules.own, (r) => matches(r, levels), access);
    if (own !== undefined) return own;
    if (rules.patterns === undefined) return false;
    return evaluate(rules.patterns, (r) => matches(r, levels), access) ?? false;
  }

  /** May the client subscribe to `filter` (see the file comment)? */
  checkSubscribe(rules: ClientRules, filter: string): boolean {
    const levels = filter.split('/');
    const lists = rules.patterns === undefined ? [rules.own] : [rules.own, rules.patterns];
    for (const list of lists) {
      for (const rule of list) if (rule.access === AclAccess.Deny && covers(rule.levels, levels)) return false;
    }
    for (const list of lists) {
      for (const rule of list) {
        if ((rule.access & AclAccess.Read) !== 0 && intersects(rule.levels, levels)) return true;
      }
    }
    return false;
  }
}

/** true / false when a rule of the list decides, undefined when none applies. */
function evaluate(rules: ResolvedRule[], match: (levels: string[]) => boolean, access: number): boolean | undefined {
  for (const rule of rules) if (rule.access === AclAccess.Deny && match(rule.levels)) return false;
  for (const rule of rules) if ((rule.access & access) !== 0 && match(rule.levels)) return true;
  return undefined;
}
