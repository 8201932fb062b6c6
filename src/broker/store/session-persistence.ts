/**
 * Turns a session's QoS 1/2 message events into store operations (only for sessions that outlive their
 * connection: Session Expiry Interval > 0).
 */
import type { Outgoing } from '../message.js';
import { type InflightEntry, OutgoingState } from '../session/inflight.js';
import type { Session, SessionPersistence } from '../session/session.js';
import { toRecord } from '../will.js';
import type { OutgoingRecord, OutgoingStatus, StoreWriter } from './store.js';

const STATUS: Record<OutgoingState, OutgoingStatus> = {
  [OutgoingState.AwaitingPuback]: 'puback',
  [OutgoingState.AwaitingPubrec]: 'pubrec',
  [OutgoingState.AwaitingPubcomp]: 'pubcomp',
};

/** The store record of a message to one subscriber. */
export function outgoingRecord(
  clientId: string,
  seq: number,
  outgoing: Outgoing,
  status: OutgoingStatus,
  packetId?: number,
): OutgoingRecord {
  const result: OutgoingRecord = {
    clientId,
    seq,
    message: toRecord(outgoing.message),
    qos: outgoing.qos,
    retain: outgoing.retain,
    status,
  };
  if (outgoing.subscriptionIdentifiers !== undefined) result.subscriptionIdentifiers = outgoing.subscriptionIdentifiers;
  if (packetId !== undefined) result.packetId = packetId;
  return result;
}

function record(session: Session, outgoing: Outgoing, status: OutgoingStatus, packetId?: number): OutgoingRecord {
  return outgoingRecord(session.clientId, outgoing.seq!, outgoing, status, packetId);
}

export class StoreSessionPersistence implements SessionPersistence {
  constructor(private readonly writer: StoreWriter) {}

  queued(session: Session, outgoing: Outgoing): void {
    if (session.expiryInterval === 0) return;
    this.writer.push({ op: 'putOutgoing', record: record(session, outgoing, 'queued') });
  }

  inflight(session: Session, entry: InflightEntry): void {
    if (session.expiryInterval === 0) return;
    this.writer.push({
      op: 'putOutgoing',
      record: record(session, entry.outgoing, STATUS[entry.state], entry.packetId),
    });
  }

  done(session: Session, outgoing: Outgoing): void {
    if (session.expiryInterval === 0) return;
    this.writer.push({ op: 'deleteOutgoing', clientId: session.clientId, seq: outgoing.seq! });
  }
}
