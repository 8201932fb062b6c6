/**
 * Packet Identifier allocation for packets the broker sends (§2.2.1): 1..65,535, never one that is still
 * in use [MQTT-2.2.1-3], handed out round-robin so a just-released id is not reused at once.
 */
export const MAX_PACKET_ID = 65_535;

export class PacketIdAllocator {
  private readonly inUse = new Set<number>();
  private last = 0;

  /** Number of ids currently in use. */
  get size(): number {
    return this.inUse.size;
  }

  /** The next free id, now marked in use; undefined if all 65,535 are in use. */
  allocate(): number | undefined {
    if (this.inUse.size >= MAX_PACKET_ID) return undefined;
    let id = this.last;
    do {
      id = id >= MAX_PACKET_ID ? 1 : id + 1;
    } while (this.inUse.has(id));
    this.last = id;
    this.inUse.add(id);
    return id;
  }

  /** Marks a specific id as in use (used when restoring a session). Returns false if it already was. */
  reserve(id: number): boolean {
    if (this.inUse.has(id)) return false;
    this.inUse.add(id);
    return true;
  }

  /** Frees an id; returns false if it was not in use. */
  release(id: number): boolean {
    return this.inUse.delete(id);
  }

  has(id: number): boolean {
    return this.inUse.has(id);
  }

  clear(): void {
    this.inUse.clear();
  }
}
