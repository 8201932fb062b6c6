/**
 * Conformance matrix generator: writes docs/conformance.md from the statement lists in spec/ and the titles of the
 * tests under test/, so the matrix cannot drift from the tests.
 *
 *   npm run conformance            regenerate docs/conformance.md
 *   npm run conformance -- --check exit 1 if docs/conformance.md is stale or a test cites an unknown statement
 *
 * TAG CONVENTION. A test cites a normative statement by putting a tag in its title (or in the title of an enclosing
 * describe, which then applies to every test inside it):
 *
 *   [MQTT-x.y.z-n]         a statement of MQTT 5.0, numbered as in its Appendix B
 *   [3.1.1 MQTT-x.y.z-n]   a statement of MQTT 3.1.1, numbered as in its Appendix B
 *
 * The two specifications reuse the same ids for different statements, so the version must be explicit: the plain form
 * always means 5.0. A title may carry several tags, one per pair of brackets. Anything in square brackets that
 * contains "MQTT-" but is not one of these two forms is reported as a malformed tag.
 *
 * Titles are read from the source text with a small tokenizer, not by running the tests: `describe`/`suite` and
 * `it`/`test` calls, with their modifiers (`.only`, `.skip`, `.todo`, `.concurrent`, `.sequential`, `.fails`,
 * `.skipIf(...)`, `.runIf(...)`), and parametrised forms (`.each(table)`, `.for(table)`). The title must be a string
 * literal, a template literal without interpolation, or literals joined with `+`. A parametrised title is expanded
 * row by row when the table is a literal written in the call or in a `const` of the same file; otherwise the template
 * is kept, the tags written anywhere in the table's source are attributed to it, and the title is listed among the
 * titles that could not be parsed exactly. Nothing is skipped silently: every call the tokenizer cannot read is
 * listed in the generated file.
 *
 * Tests marked skip, todo or fails are listed but do not count as coverage.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export type Version = '5.0' | '3.1.1';
export type Party = 'server' | 'client' | 'both';

export const VERSIONS: readonly Version[] = ['5.0', '3.1.1'];

export interface Statement {
  id: string;
  section: string;
  party: Party;
  summary: string;
}

export type Statements = Record<Version, Statement[]>;
export type Reasons = Record<Version, Record<string, string>>;

export interface Tag {
  version: Version;
  /** Normalised id, e.g. `MQTT-3.1.2-24`. */
  id: string;
  /** The tag exactly as written, brackets included. */
  raw: string;
}

export type TestMode = 'run' | 'skip' | 'todo' | 'fails';

export interface TestEntry {
  /** Path relative to the project root, with forward slashes. */
  file: string;
  line: number;
  /** Enclosing describe titles and the test title, joined with ' > '. */
  title: string;
  tags: Tag[];
  mode: TestMode;
}

export interface ParseProblem {
  file: string;
  /** For the console only: the generated file leaves line numbers out so that edits elsewhere do not make it stale. */
  line: number;
  message: string;
  /** The source text concerned, on one line. */
  source?: string;
}

export interface MalformedTag {
  file: string;
  line: number;
  title: string;
  text: string;
}

export interface UnknownTag {
  file: string;
  line: number;
  title: string;
  tag: Tag;
  hint: string;
}

/** A title that talks about MQTT 3.1.1 but cites statements only in the plain form, which means 5.0. */
export interface VersionMismatch {
  file: string;
  line: number;
  title: string;
  tags: Tag[];
}

export interface ConformanceResult {
  markdown: string;
  tests: TestEntry[];
  problems: ParseProblem[];
  unknownTags: UnknownTag[];
  malformedTags: MalformedTag[];
  versionMismatches: VersionMismatch[];
  /** Problems with spec/not-covered.json: ids that are unknown or bind only the Client. */
  reasonErrors: string[];
  /** Everything that makes `--check` fail, one line each (the stale-file check aside). */
  errors: string[];
}

const TAG_PATTERN = /\[(?:(3\.1\.1) )?(MQTT-\d+(?:\.\d+)*-\d+)\]/g;
const TAG_CANDIDATE = /\[[^[\]]*MQTT-[^[\]]*\]/gi;
const STRICT_TAG = /^\[(?:3\.1\.1 )?MQTT-\d+(?:\.\d+)*-\d+\]$/;
/** "3.1.1" as a version number, outside tags. */
const MENTIONS_311 = /(?<![\d.])3\.1\.1(?![\d.-])/;

/** True if the title, tags removed, names MQTT 3.1.1 while every tag it carries is in the plain (5.0) form. */
export function looksLike311WithPlainTags(title: string, tags: Tag[]): boolean {
  if (tags.length === 0 || tags.some((t) => t.version === '3.1.1')) return false;
  return MENTIONS_311.test(title.replace(TAG_PATTERN, ' '));
}

export const STATEMENT_FILES: Record<Version, string> = {
  '5.0': 'spec/mqtt-v5.0-statements.json',
  '3.1.1': 'spec/mqtt-v3.1.1-statements.json',
};
export const REASONS_FILE = 'spec/not-covered.json';
export const OUTPUT_FILE = 'docs/conformance.md';

export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// ---------------------------------------------------------------------------------------------------------------
// Tags

/** Tags in a title, plus bracketed texts that look like tags but are not in either accepted form. */
export function extractTags(title: string): { tags: Tag[]; malformed: string[] } {
  const tags: Tag[] = [];
  for (const m of title.matchAll(TAG_PATTERN)) {
    tags.push({ version: m[1] === '3.1.1' ? '3.1.1' : '5.0', id: m[2] ?? '', raw: m[0] });
  }
  const malformed: string[] = [];
  for (const m of title.matchAll(TAG_CANDIDATE)) {
    if (!STRICT_TAG.test(m[0])) malformed.push(m[0]);
  }
  return { tags, malformed };
}

/** Sort key for `MQTT-x.y.z-n`: the numbers in order, so ids compare in the specification's section order. */
export function idKey(id: string): number[] {
  const m = /^MQTT-(\d+(?:\.\d+)*)-(\d+)$/.exec(id);
  if (!m) return [];
  return [...(m[1] ?? '').split('.').map(Number), Number(m[2])];
}

export function compareIds(a: string, b: string): number {
  const ka = idKey(a);
  const kb = idKey(b);
  for (let i = 0; i < Math.max(ka.length, kb.length); i++) {
    const d = (ka[i] ?? -1) - (kb[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Tokenizer: enough of TypeScript to find calls, strings and brackets. Comments are dropped; regular expression
// literals and template literals are consumed whole, so brackets and quotes inside them do not confuse the parser.

type Token =
  | { kind: 'id'; value: string; start: number; end: number }
  | { kind: 'str'; value: string; start: number; end: number }
  /** A template literal with substitutions; `value` is its static text with `…` in place of each substitution. */
  | { kind: 'tpl'; value: string; start: number; end: number }
  | { kind: 'num'; value: string; start: number; end: number }
  | { kind: 'regex'; start: number; end: number }
  | { kind: 'punc'; value: string; start: number; end: number };

const MULTI_PUNCTUATORS = ['...', '===', '!==', '=>', '==', '!=', '<=', '>=', '?.', '??', '&&', '||', '**'];
const REGEX_AFTER_KEYWORDS = new Set([
  'return',
  'typeof',
  'case',
  'do',
  'else',
  'in',
  'of',
  'new',
  'delete',
  'void',
  'throw',
  'instanceof',
  'yield',
  'await',
]);

class TokenizeError extends Error {}

function isIdStart(c: string): boolean {
  return /[A-Za-z_$]/.test(c) || c > '\x7f';
}

function isIdPart(c: string): boolean {
  return /[\w$]/.test(c) || c > '\x7f';
}

class Tokenizer {
  private pos = 0;
  private last: Token | undefined;

  constructor(private readonly src: string) {}

  all(): Token[] {
    const out: Token[] = [];
    for (let t = this.next(); t; t = this.next()) out.push(t);
    return out;
  }

  next(): Token | undefined {
    this.skipTrivia();
    const { src } = this;
    if (this.pos >= src.length) return undefined;
    const start = this.pos;
    const c = src[start] ?? '';
    let token: Token;
    if (c === "'" || c === '"') {
      token = { kind: 'str', value: this.readQuoted(c), start, end: this.pos };
    } else if (c === '`') {
      const { text, interpolated } = this.readTemplate();
      token = { kind: interpolated ? 'tpl' : 'str', value: text, start, end: this.pos };
    } else if (/\d/.test(c) || (c === '.' && /\d/.test(src[start + 1] ?? ''))) {
      this.pos++;
      while (this.pos < src.length && /[\w.]/.test(src[this.pos] ?? '')) this.pos++;
      token = { kind: 'num', value: src.slice(start, this.pos), start, end: this.pos };
    } else if (isIdStart(c)) {
      this.pos++;
      while (this.pos < src.length && isIdPart(src[this.pos] ?? '')) this.pos++;
      token = { kind: 'id', value: src.slice(start, this.pos), start, end: this.pos };
    } else if (c === '/' && this.regexAllowed() && this.tryRegex()) {
      token = { kind: 'regex', start, end: this.pos };
    } else {
      const multi = MULTI_PUNCTUATORS.find((p) => src.startsWith(p, start));
      this.pos += multi ? multi.length : 1;
      token = { kind: 'punc', value: multi ?? c, start, end: this.pos };
    }
    this.last = token;
    return token;
  }

  private skipTrivia(): void {
    const { src } = this;
    while (this.pos < src.length) {
      const c = src[this.pos] ?? '';
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\ufeff' || c === '\u00a0') {
        this.pos++;
      } else if (src.startsWith('//', this.pos)) {
        const nl = src.indexOf('\n', this.pos);
        this.pos = nl < 0 ? src.length : nl + 1;
      } else if (src.startsWith('/*', this.pos)) {
        const endComment = src.indexOf('*/', this.pos + 2);
        if (endComment < 0) throw new TokenizeError('unterminated block comment');
        this.pos = endComment + 2;
      } else {
        return;
      }
    }
  }

  private regexAllowed(): boolean {
    const t = this.last;
    if (!t) return true;
    if (t.kind === 'id') return REGEX_AFTER_KEYWORDS.has(t.value);
    if (t.kind === 'punc') return t.value !== ')' && t.value !== ']';
    return false;
  }

  /** Consumes a regular expression literal; returns false (consuming nothing) if none ends on this line. */
  private tryRegex(): boolean {
    const { src } = this;
    let i = this.pos + 1;
    let inClass = false;
    while (i < src.length) {
      const c = src[i];
      if (c === '\n' || c === '\r') return false;
      if (c === '\\') {
        i += 2;
        continue;
      }
      if (c === '[') inClass = true;
      else if (c === ']') inClass = false;
      else if (c === '/' && !inClass) break;
      i++;
    }
    if (i >= src.length) return false;
    i++;
    while (i < src.length && /[a-z]/i.test(src[i] ?? '')) i++;
    this.pos = i;
    return true;
  }

  private readEscape(): string {
    const { src } = this;
    const c = src[this.pos] ?? '';
    this.pos++;
    switch (c) {
      case 'n':
        return '\n';
      case 't':
        return '\t';
      case 'r':
        return '\r';
      case 'b':
        return '\b';
      case 'f':
        return '\f';
      case 'v':
        return '\v';
      case '0':
        return '\0';
      case '\r':
        if (src[this.pos] === '\n') this.pos++;
        return '';
      case '\n':
      case '\u2028':
      case '\u2029':
        return '';
      case 'x': {
        const hex = src.slice(this.pos, this.pos + 2);
        this.pos += 2;
        return String.fromCodePoint(Number.parseInt(hex, 16));
      }
      case 'u': {
        if (src[this.pos] === '{') {
          const close = src.indexOf('}', this.pos);
          const hex = src.slice(this.pos + 1, close);
          this.pos = close + 1;
          return String.fromCodePoint(Number.parseInt(hex, 16));
        }
        const hex = src.slice(this.pos, this.pos + 4);
        this.pos += 4;
        return String.fromCharCode(Number.parseInt(hex, 16));
      }
      default:
        return c;
    }
  }

  private readQuoted(quote: string): string {
    const { src } = this;
    this.pos++;
    let out = '';
    while (this.pos < src.length) {
      const c = src[this.pos] ?? '';
      if (c === quote) {
        this.pos++;
        return out;
      }
      if (c === '\n') break;
      if (c === '\\') {
        this.pos++;
        out += this.readEscape();
      } else {
        out += c;
        this.pos++;
      }
    }
    throw new TokenizeError('unterminated string literal');
  }

  /** Consumes a template literal; returns its cooked static text, with `…` standing for each substitution. */
  private readTemplate(): { text: string; interpolated: boolean } {
    const { src } = this;
    this.pos++;
    let out = '';
    let interpolated = false;
    while (this.pos < src.length) {
      const c = src[this.pos] ?? '';
      if (c === '`') {
        this.pos++;
        return { text: out, interpolated };
      }
      if (c === '\\') {
        this.pos++;
        out += this.readEscape();
      } else if (c === '$' && src[this.pos + 1] === '{') {
        interpolated = true;
        out += '…';
        this.pos += 2;
        this.last = { kind: 'punc', value: '{', start: this.pos - 1, end: this.pos };
        let depth = 1;
        while (depth > 0) {
          const t = this.next();
          if (!t) throw new TokenizeError('unterminated template substitution');
          if (t.kind === 'punc' && t.value === '{') depth++;
          else if (t.kind === 'punc' && t.value === '}') depth--;
        }
      } else {
        out += c;
        this.pos++;
      }
    }
    throw new TokenizeError('unterminated template literal');
  }
}

export function tokenize(src: string): Token[] {
  return new Tokenizer(src).all();
}

// ---------------------------------------------------------------------------------------------------------------
// Literal evaluation, for the tables of `.each` / `.for`

type Literal = string | number | boolean | null | undefined | Literal[] | { [key: string]: Literal };

class NotLiteral extends Error {}

function isPunc(t: Token | undefined, value: string): boolean {
  return t?.kind === 'punc' && t.value === value;
}

/** Evaluates tokens[from..to) as one literal value; throws NotLiteral for anything else. */
function evaluateLiteral(tokens: Token[], from: number, to: number): Literal {
  let i = from;
  const peek = (): Token | undefined => (i < to ? tokens[i] : undefined);
  const value = (): Literal => {
    const t = peek();
    if (!t) throw new NotLiteral();
    i++;
    if (t.kind === 'str') return t.value;
    if (t.kind === 'num') {
      const n = Number(t.value.replace(/_/g, ''));
      if (Number.isNaN(n)) throw new NotLiteral();
      return n;
    }
    if (t.kind === 'id') {
      if (t.value === 'true') return true;
      if (t.value === 'false') return false;
      if (t.value === 'null') return null;
      if (t.value === 'undefined') return undefined;
      if (t.value === 'NaN') return Number.NaN;
      if (t.value === 'Infinity') return Number.POSITIVE_INFINITY;
      throw new NotLiteral();
    }
    if (isPunc(t, '-')) {
      const v = value();
      if (typeof v !== 'number') throw new NotLiteral();
      return -v;
    }
    if (isPunc(t, '[')) {
      const items: Literal[] = [];
      while (!isPunc(peek(), ']')) {
        items.push(value());
        if (isPunc(peek(), ',')) i++;
        else if (!isPunc(peek(), ']')) throw new NotLiteral();
      }
      i++;
      return items;
    }
    if (isPunc(t, '{')) {
      const obj: { [key: string]: Literal } = {};
      while (!isPunc(peek(), '}')) {
        const k = peek();
        if (!k || (k.kind !== 'id' && k.kind !== 'str' && k.kind !== 'num')) throw new NotLiteral();
        i++;
        if (!isPunc(peek(), ':')) throw new NotLiteral();
        i++;
        obj[k.value] = value();
        if (isPunc(peek(), ',')) i++;
        else if (!isPunc(peek(), '}')) throw new NotLiteral();
      }
      i++;
      return obj;
    }
    throw new NotLiteral();
  };
  const result = value();
  // Allow a trailing `as const`.
  const a = peek();
  if (a?.kind === 'id' && a.value === 'as') {
    i++;
    const c = peek();
    if (c?.kind === 'id' && c.value === 'const') i++;
    else throw new NotLiteral();
  }
  if (i !== to) throw new NotLiteral();
  return result;
}

function display(v: Literal): string {
  if (typeof v === 'string') return `'${v}'`;
  if (v === undefined) return 'undefined';
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return JSON.stringify(v);
}

function plain(v: Literal): string {
  if (typeof v === 'string') return v;
  return display(v);
}

/** An approximation of vitest's formatTitle: printf placeholders, %# / %$ indexes and $key for object rows. */
export function formatEachTitle(template: string, row: Literal, index: number): string {
  const items: Literal[] = Array.isArray(row) ? row : [row];
  let t = template;
  if (t.includes('%#') || t.includes('%$')) {
    t = t
      .replace(/%%/g, '\u0000')
      .replace(/%#/g, String(index))
      .replace(/%\$/g, String(index + 1))
      .replace(/\u0000/g, '%%');
  }
  let next = 0;
  t = t.replace(/%[sdifjoOc%]/g, (spec) => {
    if (spec === '%%') return '%';
    if (next >= items.length) return spec;
    const v = items[next++];
    switch (spec) {
      case '%d':
      case '%i':
        return typeof v === 'number' ? String(spec === '%i' ? Math.trunc(v) : v) : 'NaN';
      case '%f':
        return typeof v === 'number' ? String(v) : 'NaN';
      case '%j':
        return JSON.stringify(v) ?? 'undefined';
      case '%o':
      case '%O':
        return display(v as Literal);
      case '%c':
        return '';
      default:
        return plain(v as Literal);
    }
  });
  const first = items[0];
  const isObjectRow = typeof first === 'object' && first !== null && !Array.isArray(first);
  return t.replace(/\$([$\w.]+)/g, (whole, key: string) => {
    const isIndex = /^\d+$/.test(key);
    if (!isObjectRow && !isIndex) return whole;
    let v: Literal = isObjectRow && !isIndex ? first : items;
    for (const part of key.split('.')) {
      if (typeof v === 'object' && v !== null) v = (v as Record<string, Literal>)[part];
      else v = undefined;
    }
    return display(v);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Test extraction

const DESCRIBE_NAMES = new Set(['describe', 'suite']);
const TEST_NAMES = new Set(['it', 'test']);
const PLAIN_MODIFIERS = new Set(['only', 'skip', 'todo', 'concurrent', 'sequential', 'fails', 'shuffle']);
const CALL_MODIFIERS = new Set(['skipIf', 'runIf']);
const TABLE_MODIFIERS = new Set(['each', 'for']);
const NOT_A_CALL_BEFORE = new Set([
  'function',
  'const',
  'let',
  'var',
  'class',
  'interface',
  'type',
  'import',
  'export',
]);

interface Scope {
  titles: string[];
  tags: Tag[];
  mode: TestMode;
  /** Bracket depth just inside the call's parentheses; the scope ends when the depth drops below it. */
  depth: number;
}

interface PendingScope {
  parenIndex: number;
  scope: Omit<Scope, 'depth'>;
}

function lineOf(src: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < src.length; i++) if (src.charCodeAt(i) === 10) line++;
  return line;
}

/** Index of the token closing the bracket opened at `open`, or -1. */
function matching(tokens: Token[], open: number): number {
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    const t = tokens[i];
    if (t?.kind !== 'punc') continue;
    if (t.value === '(' || t.value === '[' || t.value === '{') depth++;
    else if (t.value === ')' || t.value === ']' || t.value === '}') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

/** Index just past a TypeScript type argument list starting at `open` (a `<`), or `open` if there is none. */
function skipTypeArguments(tokens: Token[], open: number): number {
  if (!isPunc(tokens[open], '<')) return open;
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    const t = tokens[i];
    if (t?.kind !== 'punc') continue;
    if (t.value === '<') depth++;
    else if (t.value === '>') {
      depth--;
      if (depth === 0) return i + 1;
    } else if (t.value === ';' || t.value === '{' || t.value === '}') return open;
  }
  return open;
}

/** End (exclusive) of the argument starting at `from`, i.e. the index of the next top-level `,` or closing bracket. */
function argumentEnd(tokens: Token[], from: number): number {
  let depth = 0;
  for (let i = from; i < tokens.length; i++) {
    const t = tokens[i];
    if (t?.kind !== 'punc') continue;
    if (t.value === '(' || t.value === '[' || t.value === '{') depth++;
    else if (t.value === ')' || t.value === ']' || t.value === '}') {
      if (depth === 0) return i;
      depth--;
    } else if ((t.value === ',' || t.value === ';') && depth === 0) return i;
  }
  return tokens.length;
}

/** The initializer tokens [from, to) of `const|let|var name = ...` in the file, if there is exactly one. */
function findDeclaration(tokens: Token[], name: string): { from: number; to: number } | undefined {
  const found: { from: number; to: number }[] = [];
  for (let i = 0; i + 1 < tokens.length; i++) {
    const t = tokens[i];
    const n = tokens[i + 1];
    if (t?.kind !== 'id' || !['const', 'let', 'var'].includes(t.value)) continue;
    if (n?.kind !== 'id' || n.value !== name) continue;
    // Skip an optional type annotation up to the `=` at depth 0.
    let j = i + 2;
    let depth = 0;
    for (; j < tokens.length; j++) {
      const u = tokens[j];
      if (u?.kind !== 'punc') continue;
      if (u.value === '(' || u.value === '[' || u.value === '{' || u.value === '<') depth++;
      else if (u.value === ')' || u.value === ']' || u.value === '}' || u.value === '>') depth--;
      else if (u.value === '=' && depth === 0) break;
      else if ((u.value === ';' || u.value === ',') && depth === 0) break;
    }
    if (!isPunc(tokens[j], '=')) continue;
    const from = j + 1;
    let to = argumentEnd(tokens, from);
    if (isPunc(tokens[from], '[') || isPunc(tokens[from], '{')) {
      // Without semicolons the statement has no visible end: take the bracketed literal and an `as const`.
      const close = matching(tokens, from);
      if (close >= 0) {
        to = close + 1;
        const a = tokens[to];
        const c = tokens[to + 1];
        if (a?.kind === 'id' && a.value === 'as' && c?.kind === 'id' && c.value === 'const') to += 2;
      }
    }
    found.push({ from, to });
  }
  return found.length === 1 ? found[0] : undefined;
}

function mergeMode(outer: TestMode, inner: TestMode): TestMode {
  return outer === 'run' ? inner : outer;
}

/** Extracts every test of one file, with the titles of its enclosing describes. */
export function extractTests(src: string, file: string): { tests: TestEntry[]; problems: ParseProblem[] } {
  const tests: TestEntry[] = [];
  const problems: ParseProblem[] = [];
  let tokens: Token[];
  try {
    tokens = tokenize(src);
  } catch (e) {
    problems.push({ file, line: 1, message: `could not tokenize the file: ${(e as Error).message}` });
    return { tests, problems };
  }
  /** Source text of tokens [from, to) on one line, cut to `max` characters. */
  const snippet = (from: number, to: number, max: number): string => {
    const a = tokens[from];
    const b = tokens[Math.max(from, to - 1)];
    const text = a && b && to > from ? src.slice(a.start, b.end) : '';
    const oneLine = text.replace(/\s+/g, ' ').trim();
    return oneLine.length > max ? `${oneLine.slice(0, max - 3)}...` : oneLine;
  };
  /** The text of the string and template literals among tokens [from, to), where tags may be written. */
  const literalText = (from: number, to: number): string => {
    const parts: string[] = [];
    for (let k = from; k < to; k++) {
      const u = tokens[k];
      if (u?.kind === 'str' || u?.kind === 'tpl') parts.push(u.value);
    }
    return parts.join(' ');
  };

  const stack: Scope[] = [];
  const pending: PendingScope[] = [];
  let depth = 0;

  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (!t) continue;
    if (t.kind === 'punc') {
      if (t.value === '(' || t.value === '[' || t.value === '{') {
        depth++;
        const p = pending.at(-1);
        if (p && p.parenIndex === i) {
          pending.pop();
          stack.push({ ...p.scope, depth });
        }
      } else if (t.value === ')' || t.value === ']' || t.value === '}') {
        depth--;
        while (stack.length > 0 && (stack.at(-1)?.depth ?? 0) > depth) stack.pop();
      }
      continue;
    }
    if (t.kind !== 'id' || (!DESCRIBE_NAMES.has(t.value) && !TEST_NAMES.has(t.value))) continue;
    const prev = tokens[i - 1];
    if (isPunc(prev, '.') || isPunc(prev, '?.')) continue;
    if (prev?.kind === 'id' && NOT_A_CALL_BEFORE.has(prev.value)) continue;

    const isDescribe = DESCRIBE_NAMES.has(t.value);
    const line = lineOf(src, t.start);
    let mode: TestMode = 'run';
    let table: { from: number; to: number; tagged: boolean } | undefined;
    let j = i + 1;
    let recognised = true;
    while (isPunc(tokens[j], '.')) {
      const m = tokens[j + 1];
      if (m?.kind !== 'id') {
        recognised = false;
        break;
      }
      if (PLAIN_MODIFIERS.has(m.value)) {
        if (m.value === 'skip' || m.value === 'todo' || m.value === 'fails') mode = mergeMode(mode, m.value);
        j += 2;
      } else if (CALL_MODIFIERS.has(m.value) && isPunc(tokens[j + 2], '(')) {
        const close = matching(tokens, j + 2);
        if (close < 0) {
          recognised = false;
          break;
        }
        j = close + 1;
      } else if (TABLE_MODIFIERS.has(m.value)) {
        const k = skipTypeArguments(tokens, j + 2);
        const open = tokens[k];
        if (open?.kind === 'tpl' || open?.kind === 'str') {
          // Tagged-template table: it.each`a | b ${x} | ${y}`
          table = { from: k, to: k + 1, tagged: true };
          j = k + 1;
        } else if (isPunc(open, '(')) {
          const close = matching(tokens, k);
          if (close < 0) {
            recognised = false;
            break;
          }
          table = { from: k + 1, to: close, tagged: false };
          j = close + 1;
        } else {
          recognised = false;
          break;
        }
      } else {
        recognised = false;
        break;
      }
    }
    if (!recognised) {
      // `test.extend(...)`, `it.name` and the like: not a test declaration.
      continue;
    }
    if (!isPunc(tokens[j], '(')) continue; // a reference to describe/it/test, not a call
    const parenIndex = j;
    const argFrom = j + 1;
    const argTo = argumentEnd(tokens, argFrom);

    // The title: string literals, possibly joined with '+'.
    let title: string | undefined;
    if (argTo > argFrom) {
      let acc = '';
      let ok = true;
      for (let k = argFrom; k < argTo; k++) {
        const u = tokens[k];
        const expectString = (k - argFrom) % 2 === 0;
        if (expectString && u?.kind === 'str') acc += u.value;
        else if (!expectString && isPunc(u, '+')) continue;
        else {
          ok = false;
          break;
        }
      }
      if (ok && (argTo - argFrom) % 2 === 1) title = acc;
    }
    const kind = isDescribe ? 'describe' : 'test';
    const extraTags: Tag[] = [];
    if (title === undefined) {
      const found = extractTags(literalText(argFrom, argTo)).tags;
      extraTags.push(...found);
      problems.push({
        file,
        line,
        source: snippet(argFrom, argTo, 100) || '(no argument)',
        message:
          `${kind} title is not a plain string literal; ` +
          (found.length > 0
            ? `the tags in its string parts (${found.map((f) => f.raw).join(', ')}) are attributed to it`
            : 'no tags in its string parts'),
      });
    }

    // Expand parametrised titles.
    let titles: string[] = [title ?? snippet(argFrom, argTo, 200)];
    if (table && title !== undefined) {
      let rows: Literal[] | undefined;
      let tableSource = { from: table.from, to: table.to };
      let why = '';
      if (table.tagged) {
        why = 'its table is a tagged template literal';
      } else {
        const only = table.to === table.from + 1 ? tokens[table.from] : undefined;
        if (only?.kind === 'id') {
          const decl = findDeclaration(tokens, only.value);
          if (decl) tableSource = decl;
          else why = `its table \`${only.value}\` is not a single const/let/var of this file`;
        }
        if (!why) {
          try {
            const v = evaluateLiteral(tokens, tableSource.from, tableSource.to);
            if (Array.isArray(v)) rows = v;
            else why = 'its table is not an array';
          } catch (e) {
            if (!(e instanceof NotLiteral)) throw e;
            why = 'its table is not a literal';
          }
        }
      }
      if (rows) {
        titles = rows.map((row, index) => formatEachTitle(title, row, index));
      } else {
        const found = extractTags(literalText(tableSource.from, tableSource.to)).tags;
        extraTags.push(...found);
        problems.push({
          file,
          line,
          message:
            `parametrised ${kind} '${title}' was not expanded because ${why}; ` +
            (found.length > 0
              ? `the tags found in its table (${found.map((f) => f.raw).join(', ')}) are attributed to the template`
              : 'no tags were found in its table'),
        });
      }
    }

    if (isDescribe) {
      pending.push({ parenIndex, scope: { titles, tags: extraTags, mode } });
      continue;
    }
    // Cartesian product of the enclosing describe titles (a describe.each has several) and this test's titles.
    let prefixes: string[] = [''];
    for (const s of stack) {
      prefixes = prefixes.flatMap((p) => s.titles.map((st) => (p ? `${p} > ${st}` : st)));
    }
    const inheritedTags = stack.flatMap((s) => s.tags);
    const inheritedMode = stack.reduce<TestMode>((m, s) => mergeMode(m, s.mode), 'run');
    for (const p of prefixes) {
      for (const own of titles) {
        const full = p ? `${p} > ${own}` : own;
        const seen = new Set<string>();
        const tags = [...extractTags(full).tags, ...inheritedTags, ...extraTags].filter((tag) => {
          const key = `${tag.version} ${tag.id}`;
          if (seen.has(key)) return false;
          seen.add(key);
          return true;
        });
        tests.push({ file, line, title: full, tags, mode: mergeMode(inheritedMode, mode) });
      }
    }
  }
  return { tests, problems };
}

// ---------------------------------------------------------------------------------------------------------------
// Inputs

function toPosix(p: string): string {
  return p.split(sep).join('/');
}

/** Every `*.test.ts` under `dir`, relative to root, sorted. */
export function findTestFiles(root: string, dir = 'test'): string[] {
  const out: string[] = [];
  const walk = (abs: string): void => {
    let names: string[];
    try {
      names = readdirSync(abs);
    } catch {
      return;
    }
    for (const name of names) {
      if (name === 'node_modules' || name.startsWith('.')) continue;
      const p = join(abs, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (name.endsWith('.test.ts')) out.push(toPosix(relative(root, p)));
    }
  };
  walk(join(root, dir));
  return out.sort();
}

function isStatement(v: unknown): v is Statement {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return (
    typeof o.id === 'string' &&
    typeof o.section === 'string' &&
    typeof o.summary === 'string' &&
    (o.party === 'server' || o.party === 'client' || o.party === 'both')
  );
}

export function loadStatements(root: string): Statements {
  const load = (version: Version): Statement[] => {
    const file = STATEMENT_FILES[version];
    const data: unknown = JSON.parse(readFileSync(join(root, file), 'utf8'));
    if (!Array.isArray(data)) throw new Error(`${file}: expected an array`);
    return data.map((v, i) => {
      if (!isStatement(v)) throw new Error(`${file}: entry ${i} is not {id, section, party, summary}`);
      return { id: v.id, section: v.section, party: v.party, summary: v.summary };
    });
  };
  return { '5.0': load('5.0'), '3.1.1': load('3.1.1') };
}

export function loadReasons(root: string): Reasons {
  const data = JSON.parse(readFileSync(join(root, REASONS_FILE), 'utf8')) as Partial<Record<Version, unknown>>;
  const pick = (version: Version): Record<string, string> => {
    const v = data[version] ?? {};
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${REASONS_FILE}: "${version}"`);
    const out: Record<string, string> = {};
    for (const [id, reason] of Object.entries(v)) {
      if (typeof reason !== 'string') throw new Error(`${REASONS_FILE}: "${version}"."${id}" is not a string`);
      out[id] = reason;
    }
    return out;
  };
  return { '5.0': pick('5.0'), '3.1.1': pick('3.1.1') };
}

// ---------------------------------------------------------------------------------------------------------------
// Rendering

function cell(text: string): string {
  return text.replace(/\s+/g, ' ').replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/</g, '&lt;');
}

/** A code span; one containing backticks is delimited by a longer run of them, as CommonMark allows. */
function code(text: string): string {
  const flat = text.replace(/\s+/g, ' ').replace(/\|/g, '\\|');
  const runs = flat.match(/`+/g) ?? [];
  const fence = '`'.repeat(Math.max(0, ...runs.map((r) => r.length)) + 1);
  return fence.length > 1 ? `${fence} ${flat} ${fence}` : `${fence}${flat}${fence}`;
}

const VERSION_TITLES: Record<Version, string> = { '5.0': 'MQTT 5.0', '3.1.1': 'MQTT 3.1.1' };

function testRef(t: TestEntry): string {
  const mark = t.mode === 'run' ? '' : ` _(${t.mode}: not counted)_`;
  return `${code(t.file)}: ${cell(t.title)}${mark}`;
}

export interface Inputs {
  statements: Statements;
  reasons: Reasons;
  /** Test files: path relative to the root and contents. */
  files: { file: string; source: string }[];
}

export function readInputs(root: string = projectRoot): Inputs {
  return {
    statements: loadStatements(root),
    reasons: loadReasons(root),
    files: findTestFiles(root).map((file) => ({ file, source: readFileSync(join(root, file), 'utf8') })),
  };
}

export function generate(inputs: Inputs): ConformanceResult {
  const { statements, reasons } = inputs;
  const tests: TestEntry[] = [];
  const problems: ParseProblem[] = [];
  const malformedTags: MalformedTag[] = [];
  for (const { file, source } of inputs.files) {
    const r = extractTests(source, file);
    tests.push(...r.tests);
    problems.push(...r.problems);
  }
  const versionMismatches: VersionMismatch[] = [];
  for (const t of tests) {
    for (const text of extractTags(t.title).malformed)
      malformedTags.push({ file: t.file, line: t.line, title: t.title, text });
    if (looksLike311WithPlainTags(t.title, t.tags))
      versionMismatches.push({ file: t.file, line: t.line, title: t.title, tags: t.tags });
  }

  const byId: Record<Version, Map<string, Statement>> = {
    '5.0': new Map(statements['5.0'].map((s) => [s.id, s])),
    '3.1.1': new Map(statements['3.1.1'].map((s) => [s.id, s])),
  };
  const covering: Record<Version, Map<string, TestEntry[]>> = { '5.0': new Map(), '3.1.1': new Map() };
  const unknownTags: UnknownTag[] = [];
  const clientCitations: { test: TestEntry; tag: Tag }[] = [];
  for (const t of tests) {
    for (const tag of t.tags) {
      const s = byId[tag.version].get(tag.id);
      if (!s) {
        const other: Version = tag.version === '5.0' ? '3.1.1' : '5.0';
        let hint = '';
        if (byId[other].has(tag.id)) {
          hint =
            other === '3.1.1'
              ? `${tag.id} exists only in MQTT 3.1.1: write [3.1.1 ${tag.id}]`
              : `${tag.id} exists only in MQTT 5.0: write [${tag.id}]`;
        } else if (tag.id === 'MQTT-4.2-1') {
          hint = 'the body of MQTT 5.0 says [MQTT-4.2-1]; Appendix B numbers it MQTT-4.2.0-1';
        } else {
          hint = `no such statement in MQTT ${tag.version}`;
        }
        unknownTags.push({ file: t.file, line: t.line, title: t.title, tag, hint });
        continue;
      }
      if (s.party === 'client') clientCitations.push({ test: t, tag });
      const list = covering[tag.version].get(tag.id) ?? [];
      list.push(t);
      covering[tag.version].set(tag.id, list);
    }
  }

  const reasonErrors: string[] = [];
  const staleReasons: string[] = [];
  for (const version of VERSIONS) {
    for (const id of Object.keys(reasons[version]).sort(compareIds)) {
      const s = byId[version].get(id);
      if (!s)
        reasonErrors.push(
          `${REASONS_FILE}: "${version}" gives a reason for ${id}, which is not a statement of MQTT ${version}`,
        );
      else if (s.party === 'client')
        reasonErrors.push(
          `${REASONS_FILE}: "${version}" gives a reason for ${id}, which binds only the Client and is not listed`,
        );
      else if ((covering[version].get(id) ?? []).some((t) => t.mode === 'run'))
        staleReasons.push(`MQTT ${version} ${id}`);
    }
  }

  const out: string[] = [];
  const push = (...lines: string[]): void => {
    out.push(...lines);
  };
  push(
    '# Conformance matrix',
    '',
    '<!-- Generated by scripts/conformance.ts from spec/*.json and the test titles under test/. Do not edit: run `npm run conformance`. -->',
    '',
    'Every normative statement of MQTT 5.0 and MQTT 3.1.1 that binds the Server (or both Client and Server, the',
    'sender or the receiver of a packet either side can send), with the tests that cover it or the reason it is not',
    'covered. Statements that bind only the Client are left out of the tables.',
    '',
    '## Tag convention',
    '',
    'A test cites a statement by a tag in its title, or in the title of an enclosing `describe` (which then applies',
    'to every test inside):',
    '',
    '- `[MQTT-x.y.z-n]` cites MQTT 5.0, numbered as in its Appendix B;',
    '- `[3.1.1 MQTT-x.y.z-n]` cites MQTT 3.1.1, numbered as in its Appendix B.',
    '',
    'The two specifications reuse ids for different statements, so the plain form always means 5.0. A title may carry',
    'several tags, one per pair of brackets. A tag that names no statement of the version it cites is an error (see',
    '[Errors](#errors)), and so is a bracketed text containing `MQTT-` in any other form. Tests marked `skip`, `todo`',
    'or `fails` are listed but do not count as coverage. A statement that no test covers needs a reason in',
    '`spec/not-covered.json`; without one it is shown as **not yet covered**.',
    '',
    'Statements are classified by whom they bind: _server_ when the text names the Server or an action only the Server',
    'performs; _client_ when it names the Client or constrains only what a Client sends (CONNECT, SUBSCRIBE, UNSUBSCRIBE',
    'contents); _both_ when it names both, the sender or receiver of a packet either side may send, or a rule of the',
    'data formats or of the topic and filter language (which the Server must parse and validate).',
    '',
    '## Summary',
    '',
    '| Version | All statements | Client only (left out) | Server side | Covered by a test | Not covered, with a reason | Not yet covered |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  const tables: string[] = [];
  for (const version of VERSIONS) {
    const all = statements[version];
    const serverSide = all.filter((s) => s.party !== 'client');
    let covered = 0;
    let withReason = 0;
    let notYet = 0;
    tables.push(
      '',
      `## ${VERSION_TITLES[version]}`,
      '',
      `Source: Appendix B of ${VERSION_TITLES[version]} (OASIS Standard); ids and order as listed there, summaries paraphrased. Tags: ${
        version === '5.0' ? '`[MQTT-x.y.z-n]`' : '`[3.1.1 MQTT-x.y.z-n]`'
      }.`,
      '',
      '| Id | Section | Binds | Summary | Tests or reason |',
      '| --- | --- | --- | --- | --- |',
    );
    for (const s of serverSide) {
      const list = covering[version].get(s.id) ?? [];
      const counted = list.filter((t) => t.mode === 'run');
      const reason = reasons[version][s.id];
      let status: string;
      if (counted.length > 0) {
        covered++;
        status = list.map(testRef).join('<br>');
        if (reason !== undefined) status += '<br>_(a stale reason for this id is still in spec/not-covered.json)_';
      } else if (reason !== undefined) {
        withReason++;
        status = `Not covered: ${cell(reason)}`;
        if (list.length > 0) status += `<br>${list.map(testRef).join('<br>')}`;
      } else {
        notYet++;
        status = '**not yet covered**';
        if (list.length > 0) status += `<br>${list.map(testRef).join('<br>')}`;
      }
      tables.push(`| ${s.id} | ${cell(s.section)} | ${s.party} | ${cell(s.summary)} | ${status} |`);
    }
    push(
      `| ${VERSION_TITLES[version]} | ${all.length} | ${all.length - serverSide.length} | ${serverSide.length} | ${covered} | ${withReason} | ${notYet} |`,
    );
  }
  push(...tables);

  push('', '## Errors', '');
  const errorLines: string[] = [];
  for (const u of unknownTags) {
    errorLines.push(`- Unknown tag ${code(u.tag.raw)} in ${code(u.file)}: ${cell(u.title)} (${cell(u.hint)}).`);
  }
  for (const m of malformedTags) {
    errorLines.push(
      `- Malformed tag ${code(m.text)} in ${code(m.file)}: ${cell(m.title)} (write \`[MQTT-x.y.z-n]\` or \`[3.1.1 MQTT-x.y.z-n]\`, one id per pair of brackets).`,
    );
  }
  for (const v of versionMismatches) {
    errorLines.push(
      `- Plain tags ${v.tags.map((t) => code(t.raw)).join(', ')} in a title about MQTT 3.1.1, ${code(v.file)}: ${cell(v.title)} (the plain form cites MQTT 5.0; cite 3.1.1 statements as \`[3.1.1 MQTT-x.y.z-n]\`, and a test of both versions with both forms).`,
    );
  }
  for (const r of reasonErrors) errorLines.push(`- ${cell(r)}`);
  if (errorLines.length === 0) push('None: every tag names a known statement of the version it cites.');
  else
    push(
      'Tags in test titles that name no statement of the version they cite, or that cite the wrong version, and other errors. These make `npm run conformance -- --check` fail:',
      '',
      ...errorLines,
    );

  push('', '## Warnings', '');
  const warningLines: string[] = [];
  for (const p of problems) {
    warningLines.push(`- ${code(p.file)}: ${cell(p.message)}${p.source ? `: ${code(p.source)}` : ''}`);
  }
  for (const s of staleReasons)
    warningLines.push(`- ${s} is covered by a test but still has a reason in ${code(REASONS_FILE)}.`);
  if (warningLines.length === 0) push('None: every test title was read exactly.');
  else push('Titles the generator could not read exactly, and stale reasons:', '', ...warningLines);

  push('', '## Tests citing client-only statements', '');
  if (clientCitations.length === 0) {
    push('None.');
  } else {
    push(
      'These statements bind only the Client, so they are not in the tables above; the Server reaction to a Client that',
      'breaks them is usually another statement (for 5.0, MQTT-4.13.1-1 or the Server side of the same packet).',
      '',
    );
    for (const c of clientCitations) push(`- ${code(c.tag.raw)}: ${testRef(c.test)}`);
  }
  push('');

  const errors = [
    ...unknownTags.map((u) => `${u.file}:${u.line}: unknown tag ${u.tag.raw} in '${u.title}' (${u.hint})`),
    ...malformedTags.map((m) => `${m.file}:${m.line}: malformed tag ${m.text} in '${m.title}'`),
    ...versionMismatches.map(
      (v) =>
        `${v.file}:${v.line}: plain tags ${v.tags.map((t) => t.raw).join(' ')} in a title about MQTT 3.1.1: '${v.title}'`,
    ),
    ...reasonErrors,
  ];
  return {
    markdown: out.join('\n'),
    tests,
    problems,
    unknownTags,
    malformedTags,
    versionMismatches,
    reasonErrors,
    errors,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Command line

function main(argv: string[]): number {
  const check = argv.includes('--check');
  const result = generate(readInputs(projectRoot));
  const target = join(projectRoot, OUTPUT_FILE);
  for (const p of result.problems) {
    console.warn(`warning: ${p.file}:${p.line}: ${p.message}${p.source ? `: ${p.source}` : ''}`);
  }
  for (const e of result.errors) console.error(`error: ${e}`);
  if (check) {
    let current: string | undefined;
    try {
      current = readFileSync(target, 'utf8');
    } catch {
      current = undefined;
    }
    const stale = current !== result.markdown;
    if (stale) console.error(`error: ${OUTPUT_FILE} is out of date: run npm run conformance`);
    if (stale || result.errors.length > 0) return 1;
    console.log(`${OUTPUT_FILE} is up to date (${result.tests.length} tests read).`);
    return 0;
  }
  writeFileSync(target, result.markdown);
  console.log(
    `wrote ${OUTPUT_FILE} (${result.tests.length} tests read, ${result.errors.length} errors, ${result.problems.length} warnings)`,
  );
  // Writing succeeds even with errors: they are recorded in the file, and `--check` is the gate.
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
