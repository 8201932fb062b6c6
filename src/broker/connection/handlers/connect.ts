/**
 * CONNECT (§3.1): validate, apply the connect limits (rate per address, authentication back-off), authenticate (the
 * authenticate hook, possibly async, or an MQTT 5.0 enhanced authentication exchange, §4.12), authorize the will's
 * topic, take over an existing connection, open or resume the session, answer CONNACK with our limits, then
 * resend/drain what the session holds. The connect timeout runs until CONNACK, so authentication is bounded by it.
 */
import { randomBytes } from 'node:crypto';
import {
  type ConnackPacket,
  type ConnectPacket,
  isValidTopicName,
  MAX_PACKET_SIZE,
  PacketType,
  type Properties,
  type PublishPacket,
  ReasonCode,
} from '../../../codec/index.js';
import { ProtocolViolation } from '../../errors.js';
import type {
  AuthenticateContext,
  AuthenticateResult,
  AuthorizePublishResult,
  EnhancedAuthExchange,
  EnhancedAuthStep,
} from '../../hooks.js';
import { PublishRateLimiter } from '../../limits.js';
import { SESSION_NEVER_EXPIRES } from '../../session/session.js';
import { topicWithinLimits } from '../../topic-limits.js';
import { type Connection, ConnectionState } from '../connection.js';

export function handleConnect(connection: Connection, packet: ConnectPacket): void | Promise<void> {
  connection.state = ConnectionState.Connecting;
  connection.protocolVersion = packet.protocolVersion;
  const { broker } = connection;
  const { options } = broker;
  const props = packet.properties;

  if (props?.requestProblemInformation === 0) connection.problemInformation = false;
  // Known before any refusal, so that a refusing CONNACK respects it too [MQTT-3.2.2-19].
  if (props?.maximumPacketSize !== undefined) connection.clientMaximumPacketSize = props.maximumPacketSize;

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
  if (will !== undefined && !topicWithinLimits(will.topic, options.maxTopicLength, options.maxTopicLevels)) {
    throw new ProtocolViolation(ReasonCode.TopicNameInvalid, 'will topic longer or deeper than allowed');
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

  const now = Date.now();
  if (options.connectRatePerIp > 0 && !broker.addressLimits.connectAllowed(connection.remoteAddress, now)) {
    broker.stats.connectionsLimited++;
    throw new ProtocolViolation(ReasonCode.ConnectionRateExceeded, 'connect rate exceeded');
  }
  if (broker.authBackoff.size > 0 && broker.authBackoff.blocked(connection.remoteAddress, now) > 0) {
    // Password guessing back-off: refused without looking at the credentials (docs/security.md).
    broker.stats.connectionsLimited++;
    throw new ProtocolViolation(ReasonCode.ConnectionRateExceeded, 'too many failed authentications, retry later');
  }

  const identity = connection.peer?.certificateIdentity;
  if (identity !== undefined) {
    // use_identity_as_username: the certificate's CN is the user name, whatever the CONNECT said.
    if (identity === '') throw new ProtocolViolation(ReasonCode.NotAuthorized, 'client certificate without CN');
    connection.username = identity;
  }
  connection.identify();
  const hooks = options.hooks;
  const method = props?.authenticationMethod;
  if (method !== undefined) {
    // [MQTT-4.12.0-1] a method we do not support: CONNACK 0x8C Bad authentication method, then close.
    const exchange = hooks?.enhancedAuth?.(method, authenticateContext(connection, packet));
    if (exchange === undefined) {
      broker.stats.authFailures++;
      throw new ProtocolViolation(ReasonCode.BadAuthenticationMethod, 'authentication method not supported');
    }
    connection.authMethod = method;
    connection.authExchange = exchange;
    connection.pendingConnect = { packet, assigned };
    return runAuthStep(connection, exchange, props?.authenticationData);
  }
  const authenticate = hooks?.authenticate;
  if (authenticate === undefined) return authorizeWill(connection, packet, assigned);
  const result = authenticate(authenticateContext(connection, packet));
  if (result instanceof Promise) {
    return result.then((answer) => afterAuthenticate(connection, packet, assigned, answer));
  }
  return afterAuthenticate(connection, packet, assigned, result);
}

function authenticateContext(connection: Connection, packet: ConnectPacket): AuthenticateContext {
  return {
    ...connection.info!,
    password: packet.password,
    connect: packet,
    certificate: connection.peer?.certificate,
    certificateIdentity: connection.peer?.certificateIdentity,
  };
}

/** A refused authentication: counted, and charged to the address for the back-off. */
function authenticationFailed(connection: Connection, reasonCode: number, message: string): never {
  const { broker } = connection;
  broker.stats.authFailures++;
  broker.authBackoff.failed(connection.remoteAddress, Date.now());
  broker.logger?.info({ clientId: connection.clientId, username: connection.username, reasonCode }, message);
  throw new ProtocolViolation(reasonCode as ReasonCode, message);
}

function afterAuthenticate(
  connection: Connection,
  packet: ConnectPacket,
  assigned: boolean,
  result: AuthenticateResult,
): void | Promise<void> {
  if (connection.state !== ConnectionState.Connecting) return;
  if (result === false) authenticationFailed(connection, ReasonCode.NotAuthorized, 'not authorized');
  if (typeof result === 'object' && result.reasonCode !== undefined && result.reasonCode >= 0x80) {
    authenticationFailed(connection, result.reasonCode, 'authentication refused');
  }
  return authorizeWill(connection, packet, assigned);
}

/** Runs one step of the CONNECT's enhanced authentication exchange with the client's Authentication Data. */
export function runAuthStep(
  connection: Connection,
  exchange: EnhancedAuthExchange,
  data: Uint8Array | undefined,
): void | Promise<void> {
  const step = exchange.step(data);
  if (step instanceof Promise) return step.then((answer) => afterAuthStep(connection, answer));
  return afterAuthStep(connection, step);
}

function afterAuthStep(connection: Connection, step: EnhancedAuthStep): void | Promise<void> {
  if (connection.state !== ConnectionState.Connecting) return;
  const pending = connection.pendingConnect!;
  switch (step.result) {
    case 'continue':
      // [MQTT-4.12.0-2] AUTH 0x18 Continue authentication; [MQTT-4.12.0-5] with the CONNECT's method.
      connection.send({
        type: PacketType.AUTH,
        reasonCode: ReasonCode.ContinueAuthentication,
        properties: { authenticationMethod: connection.authMethod!, authenticationData: step.data },
      });
      return;
    case 'success':
      connection.authExchange = undefined; // pendingConnect is kept: a re-authentication's context shows it
      connection.connackAuthData = step.data;
      if (step.username !== undefined && step.username !== connection.username) {
        connection.username = step.username;
        connection.identify();
      }
      return authorizeWill(connection, pending.packet, pending.assigned);
    case 'failure':
      // [MQTT-4.12.0-4] a CONNACK with a reason code of 0x80 or above, then close.
      connection.authExchange = undefined;
      return authenticationFailed(
        connection,
        step.reasonCode ?? ReasonCode.NotAuthorized,
        step.reason ?? 'authentication failed',
      );
  }
}

/** The will's topic needs write access (authorizePublish), checked now as Mosquitto 2.0 does: refused → CONNACK 0x87. */
function authorizeWill(connection: Connection, packet: ConnectPacket, assigned: boolean): void | Promise<void> {
  const { broker } = connection;
  if (broker.authBackoff.size > 0) broker.authBackoff.succeeded(connection.remoteAddress);
  const will = packet.will;
  const authorize = broker.options.hooks?.authorizePublish;
  if (will === undefined || authorize === undefined) return accept(connection, packet, assigned);
  const willPacket: PublishPacket = {
    type: PacketType.PUBLISH,
    topic: will.topic,
    payload: will.payload,
    qos: will.qos,
    retain: will.retain,
    dup: false,
    packetId: will.qos > 0 ? 1 : undefined,
    properties: will.properties as PublishPacket['properties'],
  };
  const verdict = authorize(connection.info!, willPacket);
  if (verdict instanceof Promise)
    return verdict.then((answer) => afterWillVerdict(connection, packet, assigned, answer));
  return afterWillVerdict(connection, packet, assigned, verdict);
}

function afterWillVerdict(
  connection: Connection,
  packet: ConnectPacket,
  assigned: boolean,
  verdict: AuthorizePublishResult,
): void | Promise<void> {
  if (connection.state !== ConnectionState.Connecting) return;
  if (verdict === false || (typeof verdict === 'number' && verdict >= 0x80)) {
    connection.broker.stats.publishUnauthorized++;
    throw new ProtocolViolation(ReasonCode.NotAuthorized, 'will topic not authorized');
  }
  return accept(connection, packet, assigned);
}

/**
 * In a cluster, the session's owner is settled first (cluster/sessions.ts): the node that had it disconnects the
 * old connection and hands the session over (installed here when the client resumes it). Later packets of this
 * connection wait meanwhile (a handler's Promise holds them).
 */
function accept(connection: Connection, packet: ConnectPacket, assigned: boolean): void | Promise<void> {
  const { broker, clientId } = connection;
  const cluster = broker.cluster;
  if (cluster === undefined) return acceptNow(connection, packet, assigned);
  return cluster.claimSession(clientId, packet.clean).then(() => {
    if (connection.state !== ConnectionState.Connecting) return;
    acceptNow(connection, packet, assigned);
  });
}

function acceptNow(connection: Connection, packet: ConnectPacket, assigned: boolean): void {
  connection.clearConnectTimer();
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
    if (connection.authMethod !== undefined) {
      // [MQTT-4.12.0-5] the successful CONNACK repeats the CONNECT's Authentication Method.
      properties.authenticationMethod = connection.authMethod;
      if (connection.connackAuthData !== undefined) properties.authenticationData = connection.connackAuthData;
      connection.connackAuthData = undefined;
    }
    if (Object.keys(properties).length > 0) connack.properties = properties;
  }
  connection.setReadCheck(options.hooks?.authorizeRead);
  if (options.publishRate > 0 || options.publishByteRate > 0) {
    connection.publishLimiter = new PublishRateLimiter(options.publishRate, options.publishByteRate, now);
  }
  connection.state = ConnectionState.Connected;
  broker.clients.set(clientId, connection);
  broker.stats.connections++;
  broker.stats.connectionsTotal++;
  connection.send(connack);
  connection.startKeepAlive();
  broker.cluster?.clientConnected(clientId, packet.will);
  broker.storeWriter?.push({
    op: 'putSession',
    session: { clientId, protocolVersion: packet.protocolVersion, expiryInterval: expiry },
  });
  session.attach(connection, connection.receiveMaximum, now);
  broker.logger?.debug({ clientId, protocolVersion: packet.protocolVersion, sessionPresent }, 'client connected');
  if (broker.listenerCount('clientConnected') > 0) broker.emit('clientConnected', connection.info!, sessionPresent);
}
