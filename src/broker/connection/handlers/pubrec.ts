import type { PubrecPacket } from '../../../codec/index.js';
import type { Connection } from '../connection.js';

/** PUBREC (§3.5): answer PUBREL [MQTT-4.3.3-4]; a failure reason code (5.0) ends the exchange. */
export function handlePubrec(connection: Connection, packet: PubrecPacket): void {
  const pubrel = connection.session!.pubrec(packet.packetId, packet.reasonCode ?? 0, Date.now());
  if (pubrel !== undefined) connection.sendPubrel(packet.packetId, pubrel);
}
