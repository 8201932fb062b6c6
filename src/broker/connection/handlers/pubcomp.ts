import type { PubcompPacket } from '../../../codec/index.js';
import type { Connection } from '../connection.js';

/** PUBCOMP (§3.7): the QoS 2 delivery to this client is complete; an unknown id is ignored. */
export function handlePubcomp(connection: Connection, packet: PubcompPacket): void {
  connection.session!.pubcomp(packet.packetId, Date.now());
}
