import type { PubackPacket } from '../../../codec/index.js';
import type { Connection } from '../connection.js';

/** PUBACK (§3.4): the QoS 1 delivery to this client is complete; an unknown id is ignored. */
export function handlePuback(connection: Connection, packet: PubackPacket): void {
  connection.session!.puback(packet.packetId, Date.now());
}
