import { type DisconnectPacket, ReasonCode } from '../../../codec/index.js';
import { protocolViolation } from '../../errors.js';
import type { Connection } from '../connection.js';

/**
 * DISCONNECT from the client (§3.14): the will is discarded [MQTT-3.1.2-10] unless 5.0 reason 0x04 (Disconnect
 * with Will Message); 5.0 may change Session Expiry Interval, but not from 0 to non-zero [MQTT-3.14.2-2].
 */
export function handleDisconnect(connection: Connection, packet: DisconnectPacket): void {
  const expiry = packet.properties?.sessionExpiryInterval;
  if (expiry !== undefined) {
    if (connection.sessionExpiryInterval === 0 && expiry !== 0) {
      throw protocolViolation('session expiry interval changed from 0 in DISCONNECT');
    }
    connection.sessionExpiryInterval = Math.min(expiry, connection.broker.options.maxSessionExpiryInterval);
  }
  if ((packet.reasonCode ?? 0) !== ReasonCode.DisconnectWithWillMessage) connection.will = undefined;
  connection.normalDisconnect = true;
  connection.close('client disconnected');
}
