/**
 * The persistent in-flight store: outgoing QoS 1/2 flows that must survive a client restart. The session writes
 * through it (a PUBLISH when it is first sent, the PUBREL that replaces it when PUBREC comes, a delete when the flow
 * completes); a new client given the same store resends them after connecting, with DUP=1 [MQTT-4.4.0-1].
 * Packets are stored as the codec encodes them, so a store holds bytes, not a schema of its own.
 */

export interface InflightStore {
  /** The stored packets (encoded PUBLISH or PUBREL), in the order they were first stored. */
  load(): Promise<Uint8Array[]>;
  /** Stores (or replaces) the packet of flow `packetId`. */
  put(packetId: number, packet: Uint8Array): void;
  /** Forgets flow `packetId`. */
  delete(packetId: number): void;
  /** Writes what is pending and releases the store. */
  close(): Promise<void>;
}

/** Keeps flows in memory: they survive a new MqttClient in the same process (not a process restart). */
export class MemoryInflightStore implements InflightStore {
  private readonly flows = new Map<number, Uint8Array>();

  async load(): Promise<Uint8Array[]> {
    return [...this.flows.values()];
  }

  put(packetId: number, packet: Uint8Array): void {
    this.flows.set(packetId, packet.slice());
  }

  delete(packetId: number): void {
    this.flows.delete(packetId);
  }

  async close(): Promise<void> {}
}
