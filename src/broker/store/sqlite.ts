/**
 * A Store in one SQLite file (better-sqlite3: synchronous, in-process; wrapped in the async Store interface).
 *
 * - WAL journal; `synchronous` NORMAL (default: a committed batch survives a crash of the process, the last
 *   batches may be lost on power failure) or FULL (the WAL is fsynced at every commit: a committed batch survives
 *   power failure too).
 * - One transaction per write() batch: a batch is applied entirely or not at all. Statements are prepared once.
 * - The file is marked as Midge's (`PRAGMA application_id`) and versioned (`PRAGMA user_version`); a file that is
 *   not an SQLite database, an SQLite database of another application, or a Midge store of a newer schema is
 *   refused with an error naming the file, and never modified.
 * - Messages are columns (topic, payload BLOB, qos, retain, publisher, expiry) plus the MQTT 5 properties as one
 *   BLOB in the compact encoding of ./encoding.ts (exact round trip: binary values, User Property order).
 * - Records under a session (subscriptions, outgoing, incoming ids) are written only while the session exists,
 *   as in the reference MemoryStore; deleteSession deletes them with it.
 */
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import type { ProtocolVersion, QoS } from '../../codec/index.js';
import type { SubscriptionOptions } from '../routing/index.js';
import {
  asBuffer,
  decodeNumbers,
  decodeProperties,
  encodeNumbers,
  encodeProperties,
  statusCode,
  statusName,
} from './encoding.js';
import type {
  MessageRecord,
  OutgoingRecord,
  RestoredSession,
  RestoredState,
  Store,
  StoreOperation,
  WillRecord,
} from './store.js';

/** The part of better-sqlite3's API used here (the package ships no types; @types/better-sqlite3 is not a dependency). */
interface Statement {
  run(...params: unknown[]): { changes: number };
  all(...params: unknown[]): unknown[];
  get(...params: unknown[]): unknown;
}

interface Database {
  prepare(sql: string): Statement;
  exec(sql: string): void;
  pragma(sql: string, options?: { simple?: boolean }): unknown;
  transaction<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void;
  close(): void;
}

type DatabaseConstructor = new (path: string, options?: { timeout?: number }) => Database;

const require = createRequire(import.meta.url);

export interface SqliteStoreOptions {
  /** The database file; missing directories are created. */
  path: string;
  /** NORMAL (default) or FULL: see the module comment. */
  synchronous?: 'NORMAL' | 'FULL';
}

/** 'Midg' in ASCII: marks the file as a Midge store. */
export const SQLITE_APPLICATION_ID = 0x4d696467;
export const SQLITE_SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE sessions (
  client_id TEXT NOT NULL PRIMARY KEY,
  protocol_version INTEGER NOT NULL,
  expiry_interval INTEGER NOT NULL,
  disconnected_at INTEGER
) WITHOUT ROWID;

CREATE TABLE subscriptions (
  client_id TEXT NOT NULL,
  topic_filter TEXT NOT NULL,
  qos INTEGER NOT NULL,
  no_local INTEGER NOT NULL,
  retain_as_published INTEGER NOT NULL,
  retain_handling INTEGER NOT NULL,
  subscription_identifier INTEGER,
  PRIMARY KEY (client_id, topic_filter)
) WITHOUT ROWID;

CREATE TABLE outgoing (
  client_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  status INTEGER NOT NULL,
  packet_id INTEGER,
  qos INTEGER NOT NULL,
  retain INTEGER NOT NULL,
  subscription_identifiers BLOB,
  topic TEXT NOT NULL,
  payload BLOB NOT NULL,
  message_qos INTEGER NOT NULL,
  message_retain INTEGER NOT NULL,
  properties BLOB,
  publisher_id TEXT,
  expires_at INTEGER,
  PRIMARY KEY (client_id, seq)
);

CREATE TABLE incoming (
  client_id TEXT NOT NULL,
  packet_id INTEGER NOT NULL,
  PRIMARY KEY (client_id, packet_id)
) WITHOUT ROWID;

CREATE TABLE retained (
  topic TEXT NOT NULL PRIMARY KEY,
  payload BLOB NOT NULL,
  qos INTEGER NOT NULL,
  retain INTEGER NOT NULL,
  properties BLOB,
  publisher_id TEXT,
  expires_at INTEGER
);

CREATE TABLE wills (
  client_id TEXT NOT NULL PRIMARY KEY,
  publish_at INTEGER NOT NULL,
  topic TEXT NOT NULL,
  payload BLOB NOT NULL,
  qos INTEGER NOT NULL,
  retain INTEGER NOT NULL,
  properties BLOB,
  publisher_id TEXT,
  expires_at INTEGER
);
`;

const SESSION_EXISTS = 'WHERE EXISTS (SELECT 1 FROM sessions WHERE client_id = ?)';

const SQL = {
  putSession: `INSERT INTO sessions (client_id, protocol_version, expiry_interval, disconnected_at) VALUES (?, ?, ?, ?)
    ON CONFLICT (client_id) DO UPDATE SET protocol_version = excluded.protocol_version,
      expiry_interval = excluded.expiry_interval, disconnected_at = excluded.disconnected_at`,
  deleteSession: 'DELETE FROM sessions WHERE client_id = ?',
  deleteSessionSubscriptions: 'DELETE FROM subscriptions WHERE client_id = ?',
  deleteSessionOutgoing: 'DELETE FROM outgoing WHERE client_id = ?',
  deleteSessionIncoming: 'DELETE FROM incoming WHERE client_id = ?',
  putSubscription: `INSERT OR REPLACE INTO subscriptions (client_id, topic_filter, qos, no_local, retain_as_published,
    retain_handling, subscription_identifier) SELECT ?, ?, ?, ?, ?, ?, ? ${SESSION_EXISTS}`,
  deleteSubscription: 'DELETE FROM subscriptions WHERE client_id = ? AND topic_filter = ?',
  putOutgoing: `INSERT OR REPLACE INTO outgoing (client_id, seq, status, packet_id, qos, retain, subscription_identifiers,
    topic, payload, message_qos, message_retain, properties, publisher_id, expires_at)
    SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? ${SESSION_EXISTS}`,
  deleteOutgoing: 'DELETE FROM outgoing WHERE client_id = ? AND seq = ?',
  putIncoming: `INSERT OR IGNORE INTO incoming (client_id, packet_id) SELECT ?, ? ${SESSION_EXISTS}`,
  deleteIncoming: 'DELETE FROM incoming WHERE client_id = ? AND packet_id = ?',
  putRetained: `INSERT OR REPLACE INTO retained (topic, payload, qos, retain, properties, publisher_id, expires_at)
    VALUES (?, ?, ?, ?, ?, ?, ?)`,
  deleteRetained: 'DELETE FROM retained WHERE topic = ?',
  putWill: `INSERT OR REPLACE INTO wills (client_id, publish_at, topic, payload, qos, retain, properties, publisher_id,
    expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  deleteWill: 'DELETE FROM wills WHERE client_id = ?',
  sessions: 'SELECT client_id, protocol_version, expiry_interval, disconnected_at FROM sessions',
  subscriptions: `SELECT client_id, topic_filter, qos, no_local, retain_as_published, retain_handling,
    subscription_identifier FROM subscriptions`,
  outgoing: `SELECT client_id, seq, status, packet_id, qos, retain, subscription_identifiers, topic, payload, message_qos,
    message_retain, properties, publisher_id, expires_at FROM outgoing ORDER BY client_id, seq`,
  incoming: 'SELECT client_id, packet_id FROM incoming',
  retained: 'SELECT topic, payload, qos, retain, properties, publisher_id, expires_at FROM retained',
  wills: 'SELECT client_id, publish_at, topic, payload, qos, retain, properties, publisher_id, expires_at FROM wills',
} as const;

type Statements = { -readonly [K in keyof typeof SQL]: Statement };

/** The message columns, in the order of the statements above. */
function messageParams(message: MessageRecord): unknown[] {
  return [
    message.topic,
    asBuffer(message.payload),
    message.qos,
    message.retain ? 1 : 0,
    message.properties === undefined ? null : encodeProperties(message.properties),
    message.publisherId ?? null,
    message.expiresAt ?? null,
  ];
}

interface MessageRow {
  topic: string;
  payload: Buffer | null;
  qos: number;
  retain: number;
  properties: Buffer | null;
  publisher_id: string | null;
  expires_at: number | null;
}

function toMessage(row: MessageRow): MessageRecord {
  const message: MessageRecord = {
    topic: row.topic,
    payload: row.payload ?? Buffer.alloc(0),
    qos: row.qos as QoS,
    retain: row.retain !== 0,
  };
  if (row.properties !== null) message.properties = decodeProperties(row.properties);
  if (row.publisher_id !== null) message.publisherId = row.publisher_id;
  if (row.expires_at !== null) message.expiresAt = row.expires_at;
  return message;
}

interface SessionRow {
  client_id: string;
  protocol_version: number;
  expiry_interval: number;
  disconnected_at: number | null;
}

interface SubscriptionRow {
  client_id: string;
  topic_filter: string;
  qos: number;
  no_local: number;
  retain_as_published: number;
  retain_handling: number;
  subscription_identifier: number | null;
}

interface OutgoingRow {
  client_id: string;
  seq: number;
  status: number;
  packet_id: number | null;
  qos: number;
  retain: number;
  subscription_identifiers: Buffer | null;
  topic: string;
  payload: Buffer | null;
  message_qos: number;
  message_retain: number;
  properties: Buffer | null;
  publisher_id: string | null;
  expires_at: number | null;
}

interface IncomingRow {
  client_id: string;
  packet_id: number;
}

interface WillRow extends MessageRow {
  client_id: string;
  publish_at: number;
}

export class SqliteStore implements Store {
  /** A committed batch outlives the process (see the module comment for power loss). */
  readonly durable = true;
  readonly path: string;
  readonly synchronous: 'NORMAL' | 'FULL';
  private db: Database | undefined;
  private statements: Statements | undefined;
  private applyBatch: ((batch: readonly StoreOperation[]) => void) | undefined;

  constructor(options: SqliteStoreOptions) {
    if (typeof options.path !== 'string' || options.path === '') throw new TypeError('SqliteStore: path is required');
    const synchronous = options.synchronous ?? 'NORMAL';
    if (synchronous !== 'NORMAL' && synchronous !== 'FULL') {
      throw new TypeError(`SqliteStore: synchronous must be 'NORMAL' or 'FULL', got '${String(synchronous)}'`);
    }
    this.path = resolve(options.path);
    this.synchronous = synchronous;
  }

  async open(): Promise<void> {
    if (this.db !== undefined) throw new Error(`SQLite store ${this.path} is already open`);
    mkdirSync(dirname(this.path), { recursive: true });
    const BetterSqlite3 = require('better-sqlite3') as DatabaseConstructor;
    let db: Database;
    try {
      db = new BetterSqlite3(this.path, { timeout: 5000 });
    } catch (error) {
      throw new Error(`cannot open SQLite store ${this.path}: ${(error as Error).message}`, { cause: error });
    }
    try {
      this.prepareSchema(db);
      const statements = {} as Statements;
      for (const [name, sql] of Object.entries(SQL)) statements[name as keyof Statements] = db.prepare(sql);
      this.statements = statements;
      this.applyBatch = db.transaction((batch: readonly StoreOperation[]) => {
        for (const operation of batch) this.apply(statements, operation);
      });
      this.db = db;
    } catch (error) {
      db.close();
      throw error;
    }
  }

  /** Checks that the file is a Midge store of a version this code reads (creating the schema in a new file). */
  private prepareSchema(db: Database): void {
    let applicationId: number;
    let version: number;
    try {
      applicationId = db.pragma('application_id', { simple: true }) as number;
      version = db.pragma('user_version', { simple: true }) as number;
    } catch (error) {
      throw new Error(`${this.path} is not a Midge store: ${(error as Error).message}`, { cause: error });
    }
    if (applicationId === 0 && version === 0) {
      const objects = db.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'").get() as {
        n: number;
      };
      if (objects.n > 0) {
        throw new Error(`${this.path} is not a Midge store: it is an SQLite database of another application`);
      }
    } else if (applicationId !== SQLITE_APPLICATION_ID) {
      throw new Error(
        `${this.path} is not a Midge store: it is an SQLite database of another application ` +
          `(application_id 0x${applicationId.toString(16)})`,
      );
    } else if (version > SQLITE_SCHEMA_VERSION) {
      throw new Error(
        `${this.path} was written by a newer version of Midge (store schema version ${version}; ` +
          `this version reads up to ${SQLITE_SCHEMA_VERSION})`,
      );
    } else if (version < 1) {
      throw new Error(`${this.path} is a Midge store with an invalid schema version ${version}`);
    }

    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (String(mode).toLowerCase() !== 'wal') {
      throw new Error(`cannot enable WAL mode on SQLite store ${this.path} (journal_mode is '${String(mode)}')`);
    }
    db.pragma(`synchronous = ${this.synchronous}`);

    if (version === 0) {
      db.transaction(() => {
        db.exec(SCHEMA);
        db.pragma(`application_id = ${SQLITE_APPLICATION_ID}`);
        db.pragma(`user_version = ${SQLITE_SCHEMA_VERSION}`);
      })();
    }
    // Migrations from older schema versions go here (version < SQLITE_SCHEMA_VERSION).
  }

  private opened(): { db: Database; statements: Statements } {
    if (this.db === undefined || this.statements === undefined) {
      throw new Error(`SQLite store ${this.path} is not open`);
    }
    return { db: this.db, statements: this.statements };
  }

  async close(): Promise<void> {
    const db = this.db;
    this.db = undefined;
    this.statements = undefined;
    this.applyBatch = undefined;
    db?.close();
  }

  async write(batch: readonly StoreOperation[]): Promise<void> {
    this.opened();
    if (batch.length === 0) return;
    this.applyBatch!(batch);
  }

  private apply(s: Statements, operation: StoreOperation): void {
    switch (operation.op) {
      case 'putSession': {
        const { clientId, protocolVersion, expiryInterval, disconnectedAt } = operation.session;
        s.putSession.run(clientId, protocolVersion, expiryInterval, disconnectedAt ?? null);
        return;
      }
      case 'deleteSession':
        s.deleteSessionSubscriptions.run(operation.clientId);
        s.deleteSessionOutgoing.run(operation.clientId);
        s.deleteSessionIncoming.run(operation.clientId);
        s.deleteSession.run(operation.clientId);
        return;
      case 'putSubscription': {
        const { clientId, subscription } = operation;
        const o = subscription.options;
        s.putSubscription.run(
          clientId,
          subscription.topicFilter,
          o.qos,
          o.noLocal ? 1 : 0,
          o.retainAsPublished ? 1 : 0,
          o.retainHandling,
          o.subscriptionIdentifier ?? null,
          clientId,
        );
        return;
      }
      case 'deleteSubscription':
        s.deleteSubscription.run(operation.clientId, operation.topicFilter);
        return;
      case 'putOutgoing': {
        const r = operation.record;
        s.putOutgoing.run(
          r.clientId,
          r.seq,
          statusCode(r.status),
          r.packetId ?? null,
          r.qos,
          r.retain ? 1 : 0,
          r.subscriptionIdentifiers === undefined ? null : encodeNumbers(r.subscriptionIdentifiers),
          ...messageParams(r.message),
          r.clientId,
        );
        return;
      }
      case 'deleteOutgoing':
        s.deleteOutgoing.run(operation.clientId, operation.seq);
        return;
      case 'putIncoming':
        s.putIncoming.run(operation.clientId, operation.packetId, operation.clientId);
        return;
      case 'deleteIncoming':
        s.deleteIncoming.run(operation.clientId, operation.packetId);
        return;
      case 'putRetained':
        s.putRetained.run(...messageParams(operation.message));
        return;
      case 'deleteRetained':
        s.deleteRetained.run(operation.topic);
        return;
      case 'putWill': {
        const { clientId, publishAt, message } = operation.will;
        s.putWill.run(clientId, publishAt, ...messageParams(message));
        return;
      }
      case 'deleteWill':
        s.deleteWill.run(operation.clientId);
        return;
      default:
        throw new TypeError(`unknown store operation '${(operation as { op: unknown }).op}'`);
    }
  }

  async restore(): Promise<RestoredState> {
    const { statements: s } = this.opened();
    const sessions = new Map<string, RestoredSession>();
    for (const row of s.sessions.all() as SessionRow[]) {
      const session: RestoredSession = {
        clientId: row.client_id,
        protocolVersion: row.protocol_version as ProtocolVersion,
        expiryInterval: row.expiry_interval,
        subscriptions: [],
        outgoing: [],
        incoming: [],
      };
      if (row.disconnected_at !== null) session.disconnectedAt = row.disconnected_at;
      sessions.set(row.client_id, session);
    }
    for (const row of s.subscriptions.all() as SubscriptionRow[]) {
      const options: SubscriptionOptions = {
        qos: row.qos as QoS,
        noLocal: row.no_local !== 0,
        retainAsPublished: row.retain_as_published !== 0,
        retainHandling: row.retain_handling as 0 | 1 | 2,
      };
      if (row.subscription_identifier !== null) options.subscriptionIdentifier = row.subscription_identifier;
      sessions.get(row.client_id)?.subscriptions.push({ topicFilter: row.topic_filter, options });
    }
    for (const row of s.outgoing.all() as OutgoingRow[]) {
      const record: OutgoingRecord = {
        clientId: row.client_id,
        seq: row.seq,
        message: toMessage({
          topic: row.topic,
          payload: row.payload,
          qos: row.message_qos,
          retain: row.message_retain,
          properties: row.properties,
          publisher_id: row.publisher_id,
          expires_at: row.expires_at,
        }),
        qos: row.qos as QoS,
        retain: row.retain !== 0,
        status: statusName(row.status),
      };
      if (row.subscription_identifiers !== null) {
        record.subscriptionIdentifiers = decodeNumbers(row.subscription_identifiers);
      }
      if (row.packet_id !== null) record.packetId = row.packet_id;
      sessions.get(row.client_id)?.outgoing.push(record);
    }
    for (const row of s.incoming.all() as IncomingRow[]) sessions.get(row.client_id)?.incoming.push(row.packet_id);
    const retained = (s.retained.all() as MessageRow[]).map(toMessage);
    const wills = (s.wills.all() as WillRow[]).map(
      (row): WillRecord => ({ clientId: row.client_id, message: toMessage(row), publishAt: row.publish_at }),
    );
    return { sessions: [...sessions.values()], retained, wills };
  }
}
