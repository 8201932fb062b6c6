/**
 * Packet Identifier allocation for packets the broker sends (§2.2.1): 1..65,535, never one that is still
 * in use [MQTT-2.2.1-3], handed out round-robin so a just-released id is not reused at once.
 */
export const MAX_PACKET_ID = 65_535;

export class PacketIdAllocator {
  /** Created on the first allocation (an idle session never needs it). */
  private inUse: Set<number> | undefined;
  private last = 0;

  /** Number of ids currently in use. */
  get size(): number {
    return this.inUse === undefined ? 0 : this.inUse.size;
  }

  /** The next free id, now marked in use; undefined if all 65,535 are in use. */
  allocate(): number | undefined {
    if (this.inUse === undefined) this.inUse = new Set();
    const inUse = this.inUse;
    if (inUse.size >= MAX_PACKET_ID) return undefined;
    let id = this.last;
    do {
      id = id >= MAX_PACKET_ID ? 1 : id + 1;
    } while (inUse.has(id));
    this.last = id;
    inUse.add(id);
    return id;
  }

  /** Marks a specific id as in use (used when restoring a session). Returns false if it already was. */
  reserve(id: number): boolean {
    if (this.inUse === undefined) this.inUse = new Set();
    if (this.inUse.has(id)) return false;
    this.inUse.add(id);
    return true;
  }

  /** Frees an id; returns false if it was not in use. */
  release(id: number): boolean {
    return this.inUse?.delete(id) === true;
  }

  has(id: number): boolean {
    return this.inUse?.has(id) === true;
  }

  clear(): void {
    this.inUse = undefined;
  }
}
