/**
 * AUTH (§3.15, §4.12): the client's side of an enhanced authentication exchange.
 *   - during CONNECT (an exchange is running): AUTH 0x18 Continue authentication with the CONNECT's method; its
 *     Authentication Data goes to the exchange's next step (connect.ts sends the AUTH / CONNACK that follows);
 *   - once connected: AUTH 0x19 Re-authenticate with the connection's method starts a new exchange (§4.12.1); success
 *     is answered with AUTH 0x00, a failure with DISCONNECT (its reason code, default 0x87), then close
 *     [MQTT-4.12.1-2]. A re-authentication may not change the user name (it fails if it would).
 * An AUTH when the CONNECT had no Authentication Method, with another method, or with a reason code that does not fit
 * is a Protocol Error (DISCONNECT 0x82 / CONNACK 0x82).
 */
import { type AuthPacket, PacketType, ReasonCode } from '../../../codec/index.js';
import { isValidReasonCode } from '../../../codec/reason-codes.js';
import { ProtocolViolation, protocolViolation } from '../../errors.js';
import type { EnhancedAuthStep } from '../../hooks.js';
import { type Connection, ConnectionState } from '../connection.js';
import { runAuthStep } from './connect.js';

export function handleAuth(connection: Connection, packet: AuthPacket): void | Promise<void> {
  const method = connection.authMethod;
  if (method === undefined) throw protocolViolation('AUTH without an authentication method');
  if (packet.properties?.authenticationMethod !== method) {
    throw protocolViolation('AUTH with another authentication method than the CONNECT');
  }
  const reasonCode = packet.reasonCode ?? ReasonCode.Success;
  const data = packet.properties?.authenticationData;
  if (connection.state !== ConnectionState.Connected) {
    if (reasonCode !== ReasonCode.ContinueAuthentication) throw protocolViolation('AUTH during CONNECT must be 0x18');
    return runAuthStep(connection, connection.authExchange!, data);
  }
  // Re-authentication.
  let exchange = connection.authExchange;
  if (reasonCode === ReasonCode.ReAuthenticate) {
    if (exchange !== undefined) throw protocolViolation('re-authentication already in progress');
    exchange = connection.broker.options.hooks?.enhancedAuth?.(method, {
      ...connection.info!,
      password: undefined,
      connect: connection.pendingConnect!.packet,
      certificate: connection.peer?.certificate,
      certificateIdentity: connection.peer?.certificateIdentity,
    });
    if (exchange === undefined) throw new ProtocolViolation(ReasonCode.BadAuthenticationMethod, 'method unavailable');
    connection.authExchange = exchange;
  } else if (reasonCode !== ReasonCode.ContinueAuthentication || exchange === undefined) {
    throw protocolViolation('unexpected AUTH');
  }
  const step = exchange.step(data);
  if (step instanceof Promise) return step.then((answer) => afterReauthStep(connection, answer));
  afterReauthStep(connection, step);
}

function afterReauthStep(connection: Connection, step: EnhancedAuthStep): void {
  if (connection.state !== ConnectionState.Connected) return;
  const authenticationMethod = connection.authMethod!;
  if (step.result === 'continue') {
    connection.send({
      type: PacketType.AUTH,
      reasonCode: ReasonCode.ContinueAuthentication,
      properties: { authenticationMethod, authenticationData: step.data },
    });
    return;
  }
  connection.authExchange = undefined;
  if (step.result === 'success' && (step.username === undefined || step.username === connection.username)) {
    connection.send({
      type: PacketType.AUTH,
      reasonCode: ReasonCode.Success,
      properties: { authenticationMethod, authenticationData: step.data },
    });
    return;
  }
  connection.broker.stats.authFailures++;
  const wanted = step.result === 'failure' ? (step.reasonCode ?? ReasonCode.NotAuthorized) : ReasonCode.NotAuthorized;
  // A CONNACK-only code (0x86 Bad user name or password) cannot go in a DISCONNECT: 0x87 Not authorized instead.
  const reasonCode = isValidReasonCode(PacketType.DISCONNECT, wanted, 5) ? wanted : ReasonCode.NotAuthorized;
  // [MQTT-4.12.1-2] failed re-authentication: DISCONNECT with a reason code, then close.
  throw new ProtocolViolation(reasonCode as ReasonCode, 're-authentication failed');
}
