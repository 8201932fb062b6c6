/**
 * CONNECT (§3.1): validate, authenticate (hook, possibly async), take over an existing connection, open or
 * resume the session, answer CONNACK with our limits, then resend/drain what the session holds.
 */
import { randomBytes } from 'node:crypto';
import {
  type ConnackPacket,
  type ConnectPacket,
  isValidTopicName,
  MAX_PACKET_SIZE,
  PacketType,
  type Properties,
  ReasonCode,
} from '../../../codec/index.js';
import { ProtocolViolation } from '../../errors.js';
import type { AuthenticateResult } from '../../hooks.js';
import { SESSION_NEVER_EXPIRES } from '../../session/session.js';
import { type Connection, ConnectionState } from '../connection.js';

export function handleConnect(connection: Connection, packet: ConnectPacket): void | Promise<void> {
  connection.clearConnectTimer();
  connection.state = ConnectionState.Connecting;
  connection.protocolVersion = packet.protocolVersion;
  const { broker } = connection;
  const { options } = broker;
  const props = packet.properties;

  if (props?.requestProblemInformation === 0) connection.problemInformation = false;
  // Known before any refusal, so that a refusing CONNACK respects it too [MQTT-3.2.2-19].
  if (props?.maximumPacketSize !== undefined) connection.clientMaximumPacketSize = props.maximumPacketSize;
  if (props?.authenticationMethod !== undefined) {
    // Enhanced authentication (AUTH exchange) is not supported.
    throw new ProtocolViolation(ReasonCode.BadAuthenticationMethod, 'authentication method not supported');
  }

  const will = packet.will;
  const willResponseTopic = will?.properties?.responseTopic;
  if (willResponseTopic !== undefined && !isValidTopicName(willResponseTopic)) {
    // [MQTT-3.3.2-14] the will is published with its Response Topic, which must not contain wildcards.
    throw new ProtocolViolation(ReasonCode.ProtocolError, 'the Will Response Topic must be a Topic Name');
  }
  if (will !== undefined && will.qos > options.maximumQoS) {
    // [MQTT-3.2.2-12] a Will QoS above the Maximum QoS we support: CONNACK 0x9B, then close.
    throw new ProtocolViolation(ReasonCode.QoSNotSupported, `will QoS ${will.qos} not supported`);
  }
  if (will?.retain === true && !options.retainAvailable) {
    // [MQTT-3.2.2-13] Will Retain 1 while retained messages are not supported: CONNACK 0x9A, then close.
    throw new ProtocolViolation(ReasonCode.RetainNotSupported, 'will retain not supported');
  }

  let clientId = packet.clientId;
  let assigned = false;
  if (clientId.length === 0) {
    if (packet.protocolVersion === 3) {
      // MQTT 3.1 requires a client id of 1..23 characters.
      throw new ProtocolViolation(ReasonCode.ClientIdentifierNotValid, 'empty client id (MQTT 3.1)');
    }
    if (packet.protocolVersion === 4 && !packet.clean) {
      // [MQTT-3.1.3-8] zero-length client id with CleanSession=0: CONNACK 0x02, then close.
      throw new ProtocolViolation(ReasonCode.ClientIdentifierNotValid, 'empty client id needs clean session');
    }
    // [MQTT-3.1.3-6] the server may assign a unique client id; 5.0 returns it in CONNACK [MQTT-3.2.2-16].
    clientId = options.clientIdPrefix + randomBytes(8).toString('hex');
    assigned = true;
  }
  connection.clientId = clientId;
  connection.username = packet.username;

  if (options.maxConnections > 0 && broker.clients.size >= options.maxConnections && !broker.clients.has(clientId)) {
    throw new ProtocolViolation(ReasonCode.ServerBusy, 'too many connections');
  }

  connection.identify();
  const authenticate = options.hooks?.authenticate;
  if (authenticate === undefined) {
    accept(connection, packet, assigned);
    return;
  }
  const result = authenticate({ ...connection.info!, password: packet.password, connect: packet });
  if (result instanceof Promise) {
    return result.then((answer) => afterAuthenticate(connection, packet, assigned, answer));
  }
  afterAuthenticate(connection, packet, assigned, result);
}

function afterAuthenticate(
  connection: Connection,
  packet: ConnectPacket,
  assigned: boolean,
  result: AuthenticateResult,
) {
  if (connection.state !== ConnectionState.Connecting) return;
  if (result === false) throw new ProtocolViolation(ReasonCode.NotAuthorized, 'not authorized');
  if (typeof result === 'object' && result.reasonCode !== undefined && result.reasonCode >= 0x80) {
    throw new ProtocolViolation(result.reasonCode as ReasonCode, 'authentication refused');
  }
  accept(connection, packet, assigned);
}

function accept(connection: Connection, packet: ConnectPacket, assigned: boolean): void {
  const { broker, clientId } = connection;
  const { options } = broker;
  const v5 = packet.protocolVersion === 5;
  const props = packet.properties;
  const now = Date.now();

  // An existing connection with this client id is closed: 3.1.1 [MQTT-3.1.4-2]; 5.0 [MQTT-3.1.4-3] sends it
  // DISCONNECT 0x8E Session taken over first.
  const existing = broker.clients.get(clientId);
  if (existing !== undefined && existing !== connection) {
    existing.disconnect(ReasonCode.SessionTakenOver, 'session taken over');
  }

  // Session Expiry: 3.1.1 CleanSession=0 never expires, =1 ends with the connection; 5.0 from the property.
  let expiry = v5 ? (props?.sessionExpiryInterval ?? 0) : packet.clean ? 0 : SESSION_NEVER_EXPIRES;
  let expiryChanged = false;
  if (expiry > options.maxSessionExpiryInterval) {
    expiry = options.maxSessionExpiryInterval;
    expiryChanged = true;
  }
  connection.sessionExpiryInterval = expiry;

  let session = broker.sessions.get(clientId);
  let sessionPresent = false;
  if (session !== undefined && packet.clean) {
    // Clean Session / Clean Start = 1: discard the existing session (3.1.1 [MQTT-3.1.2-6], 5.0 [MQTT-3.1.2-4]).
    broker.endSession(session);
    session = undefined;
  }
  if (session === undefined) {
    session = broker.createSession(clientId);
  } else {
    // [MQTT-3.2.2-2] resumed session: Session Present = 1; its delayed will is cancelled [MQTT-3.1.3-9].
    sessionPresent = true;
    broker.wills.cancel(clientId);
  }
  session.expiryInterval = expiry;
  connection.session = session;
  connection.will = packet.will;

  // Keep Alive, possibly overridden by Server Keep Alive (5.0 only: 3.1.1 cannot tell the client).
  let keepAlive = packet.keepAlive;
  let serverKeepAlive: number | undefined;
  if (v5 && options.maxKeepAlive > 0 && (keepAlive === 0 || keepAlive > options.maxKeepAlive)) {
    keepAlive = options.maxKeepAlive;
    serverKeepAlive = keepAlive;
  }
  connection.keepAlive = keepAlive;
  if (v5) {
    connection.receiveMaximum = props?.receiveMaximum ?? 65_535;
    connection.clientMaximumPacketSize = props?.maximumPacketSize ?? MAX_PACKET_SIZE;
  }

  const connack: ConnackPacket = { type: PacketType.CONNACK, sessionPresent, reasonCode: ReasonCode.Success };
  if (v5) {
    const properties: Properties = {};
    if (options.maxInflight < 65_535) properties.receiveMaximum = options.maxInflight;
    if (options.maxPacketSize < MAX_PACKET_SIZE) properties.maximumPacketSize = options.maxPacketSize;
    if (options.topicAliasMaximum > 0) properties.topicAliasMaximum = options.topicAliasMaximum;
    if (!options.retainAvailable) properties.retainAvailable = 0;
    if (options.maximumQoS < 2) properties.maximumQoS = options.maximumQoS;
    if (serverKeepAlive !== undefined) properties.serverKeepAlive = serverKeepAlive;
    if (assigned) properties.assignedClientIdentifier = clientId;
    if (expiryChanged) properties.sessionExpiryInterval = expiry;
    if (Object.keys(properties).length > 0) connack.properties = properties;
  }
  connection.state = ConnectionState.Connected;
  broker.clients.set(clientId, connection);
  broker.stats.connections++;
  broker.stats.connectionsTotal++;
  connection.send(connack);
  connection.startKeepAlive();
  broker.storeWriter?.push({
    op: 'putSession',
    session: { clientId, protocolVersion: packet.protocolVersion, expiryInterval: expiry },
  });
  session.attach(connection, connection.receiveMaximum, now);
  broker.logger?.debug({ clientId, protocolVersion: packet.protocolVersion, sessionPresent }, 'client connected');
  if (broker.listenerCount('clientConnected') > 0) broker.emit('clientConnected', connection.info!, sessionPresent);
}
