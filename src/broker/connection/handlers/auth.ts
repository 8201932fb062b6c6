import type { AuthPacket } from '../../../codec/index.js';
import { protocolViolation } from '../../errors.js';
import type { Connection } from '../connection.js';

/**
 * AUTH (§3.15): enhanced authentication is not supported, so no CONNECT carried an Authentication Method and
 * any AUTH is a Protocol Error; the connection sends DISCONNECT 0x82.
 */
export function handleAuth(_connection: Connection, _packet: AuthPacket): void {
  throw protocolViolation('AUTH without an authentication method');
}
