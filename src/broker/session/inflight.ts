/**
 * The QoS 1 and QoS 2 state machines of one session, without I/O: each method takes an event (a
 * packet received, a message to send) and returns what must be sent or what completed.
 *
 * Outgoing (broker → client), §4.3.2 / §4.3.3:
 *   QoS 1: PUBLISH ─► AwaitingPuback ─(PUBACK)─► done
 *   QoS 2: PUBLISH ─► AwaitingPubrec ─(PUBREC)─► send PUBREL ─► AwaitingPubcomp ─(PUBCOMP)─► done
 * Incoming QoS 2 (client → broker), method B of §4.3.3: the packet id is stored on the first PUBLISH
 * (which is delivered once), a resent PUBLISH with that id is acknowledged but not delivered again, and
 * PUBREL releases the id.
 */
import type { Outgoing } from '../message.js';
import { PacketIdAllocator } from './packet-ids.js';

export const OutgoingState = {
  AwaitingPuback: 1,
  AwaitingPubrec: 2,
  AwaitingPubcomp: 3,
} as const;
export type OutgoingState = (typeof OutgoingState)[keyof typeof OutgoingState];

export interface InflightEntry {
  packetId: number;
  outgoing: Outgoing;
  state: OutgoingState;
}

/** What to do after a PUBREC. */
export interface PubrecResult {
  /** Send a PUBREL with this reason code (0x00, or 0x92 Packet Identifier not found), or nothing. */
  pubrel: number | undefined;
  /** The message whose delivery ended (a PUBREC with a failure reason code ends it, MQTT 5.0 §4.3.3). */
  completed: InflightEntry | undefined;
}

/** Shared by every window with nothing in flight (most idle sessions): the map is created on the first send. */
const NO_ENTRIES: ReadonlyMap<number, InflightEntry> = new Map();

export class OutgoingInflight {
  private entries: Map<number, InflightEntry> | undefined;
  readonly packetIds = new PacketIdAllocator();

  /** @param limit the send quota: min(client's Receive Maximum, broker's maxInflight) [MQTT-3.3.4-9]. */
  constructor(public limit: number) {}

  get size(): number {
    return this.entries === undefined ? 0 : this.entries.size;
  }

  /** True if no further QoS 1/2 PUBLISH may be sent until one is acknowledged [MQTT-3.3.4-9]. */
  get full(): boolean {
    return this.size >= this.limit || this.packetIds.size >= 65_535;
  }

  get(packetId: number): InflightEntry | undefined {
    return this.entries?.get(packetId);
  }

  /** Starts delivery of a QoS 1/2 message; undefined if the window is full. */
  start(outgoing: Outgoing): InflightEntry | undefined {
    if (outgoing.qos === 0 || this.size >= this.limit) return undefined;
    const packetId = this.packetIds.allocate();
    if (packetId === undefined) return undefined;
    const entry: InflightEntry = {
      packetId,
      outgoing,
      state: outgoing.qos === 1 ? OutgoingState.AwaitingPuback : OutgoingState.AwaitingPubrec,
    };
    if (this.entries === undefined) this.entries = new Map();
    this.entries.set(packetId, entry);
    return entry;
  }

  /** Puts back an entry restored from a store (its packet id must be free). */
  restore(entry: InflightEntry): boolean {
    if (!this.packetIds.reserve(entry.packetId)) return false;
    if (this.entries === undefined) this.entries = new Map();
    this.entries.set(entry.packetId, entry);
    return true;
  }

  /** PUBACK received: the completed entry, or undefined if the id was not awaiting a PUBACK. */
  puback(packetId: number): InflightEntry | undefined {
    const entry = this.entries?.get(packetId);
    if (entry === undefined || entry.state !== OutgoingState.AwaitingPuback) return undefined;
    this.remove(packetId);
    return entry;
  }

  /** PUBREC received. */
  pubrec(packetId: number, reasonCode = 0): PubrecResult {
    const entry = this.entries?.get(packetId);
    if (entry === undefined || entry.state === OutgoingState.AwaitingPuback) {
      // Unknown id: answer PUBREL 0x92 (Packet Identifier not found) so the client can release its state.
      return { pubrel: 0x92, completed: undefined };
    }
    if (reasonCode >= 0x80) {
      // A PUBREC with a failure reason code ends the exchange; the id is free again (MQTT 5.0 §4.3.3).
      this.remove(packetId);
      return { pubrel: undefined, completed: entry };
    }
    entry.state = OutgoingState.AwaitingPubcomp;
    return { pubrel: 0x00, completed: undefined };
  }

  /** PUBCOMP received: the completed entry, or undefined if the id was not awaiting a PUBCOMP. */
  pubcomp(packetId: number): InflightEntry | undefined {
    const entry = this.entries?.get(packetId);
    if (entry === undefined || entry.state !== OutgoingState.AwaitingPubcomp) return undefined;
    this.remove(packetId);
    return entry;
  }

  /** Abandons an entry in any state (e.g. the PUBLISH could not be sent at all). */
  abort(packetId: number): InflightEntry | undefined {
    const entry = this.entries?.get(packetId);
    if (entry !== undefined) this.remove(packetId);
    return entry;
  }

  /**
   * Everything to resend on reconnect, in the order first sent [MQTT-4.4.0-1]: PUBLISH with DUP=1 for
   * entries not yet PUBREC'd [MQTT-3.3.1-1], PUBREL for those awaiting PUBCOMP.
   */
  pending(): IterableIterator<InflightEntry> {
    return (this.entries ?? NO_ENTRIES).values();
  }

  clear(): InflightEntry[] {
    const entries = this.entries;
    if (entries === undefined || entries.size === 0) return [];
    const all = [...entries.values()];
    this.entries = undefined;
    this.packetIds.clear();
    return all;
  }

  private remove(packetId: number): void {
    this.entries!.delete(packetId);
    this.packetIds.release(packetId);
  }
}

/** Incoming QoS 2 packet ids awaiting PUBREL (method B of §4.3.3). */
const NO_IDS: ReadonlySet<number> = new Set();

export class IncomingQos2 {
  /** Created on the first QoS 2 PUBLISH received. */
  private ids: Set<number> | undefined;

  get size(): number {
    return this.ids === undefined ? 0 : this.ids.size;
  }

  /**
   * A QoS 2 PUBLISH arrived: true if it is new and must be delivered, false if it is a resend of one
   * already received and not yet released [MQTT-4.3.3-9].
   */
  publish(packetId: number): boolean {
    if (this.ids === undefined) this.ids = new Set();
    else if (this.ids.has(packetId)) return false;
    this.ids.add(packetId);
    return true;
  }

  /** PUBREL arrived: releases the id; false if it was unknown (MQTT 5.0 answers PUBCOMP 0x92). */
  pubrel(packetId: number): boolean {
    return this.ids?.delete(packetId) === true;
  }

  has(packetId: number): boolean {
    return this.ids?.has(packetId) === true;
  }

  values(): IterableIterator<number> {
    return (this.ids ?? NO_IDS).values();
  }

  clear(): void {
    this.ids = undefined;
  }
}
