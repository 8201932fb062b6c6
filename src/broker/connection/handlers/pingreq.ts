import { PacketType } from '../../../codec/index.js';
import type { Connection } from '../connection.js';

/** PINGREQ (§3.12): answer PINGRESP [MQTT-3.12.4-1]. */
export function handlePingreq(connection: Connection): void {
  connection.send({ type: PacketType.PINGRESP });
}
