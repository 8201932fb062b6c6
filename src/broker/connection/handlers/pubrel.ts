import { PacketType, type PubrelPacket, ReasonCode } from '../../../codec/index.js';
import { sendAck } from '../../store/durable-acks.js';
import type { Connection } from '../connection.js';

/** PUBREL (§3.6): release the stored QoS 2 packet id and answer PUBCOMP [MQTT-4.3.3-11] (5.0: 0x92 if unknown). */
export function handlePubrel(connection: Connection, packet: PubrelPacket): void {
  const known = connection.session!.incoming.pubrel(packet.packetId);
  if (known)
    connection.broker.storeWriter?.push({
      op: 'deleteIncoming',
      clientId: connection.clientId,
      packetId: packet.packetId,
    });
  const reasonCode = !known && connection.protocolVersion === 5 ? ReasonCode.PacketIdentifierNotFound : undefined;
  // With a durable store, after the removal of the id is committed (else a crash could make a new PUBLISH
  // reusing it look like a resend).
  sendAck(connection, { type: PacketType.PUBCOMP, packetId: packet.packetId, reasonCode });
}
