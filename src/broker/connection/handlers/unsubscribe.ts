import { PacketType, ReasonCode, type UnsubscribePacket } from '../../../codec/index.js';
import type { Connection } from '../connection.js';

/**
 * UNSUBSCRIBE (§3.10): remove each filter of this client [MQTT-3.10.4-1] and answer UNSUBACK even if none
 * existed [MQTT-3.10.4-5]; 5.0 has one reason code per filter, 0x11 No subscription existed.
 */
export function handleUnsubscribe(connection: Connection, packet: UnsubscribePacket): void {
  const { broker, clientId } = connection;
  const reasonCodes: number[] = [];
  for (const filter of packet.topicFilters) {
    const removed = broker.trie.unsubscribe(clientId, filter);
    if (removed) broker.storeWriter?.push({ op: 'deleteSubscription', clientId, topicFilter: filter });
    reasonCodes.push(removed ? ReasonCode.Success : ReasonCode.NoSubscriptionExisted);
  }
  connection.send({
    type: PacketType.UNSUBACK,
    packetId: packet.packetId,
    reasonCodes: connection.protocolVersion === 5 ? reasonCodes : undefined,
  });
}
