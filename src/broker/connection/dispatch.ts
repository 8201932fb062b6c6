/**
 * Packet dispatcher: checks the packet is allowed in the connection's state, then calls its handler.
 * Handlers throw ProtocolViolation; Connection.fail turns it into CONNACK/DISCONNECT.
 */
import { type Packet, PacketType, ReasonCode } from '../../codec/index.js';
import { ProtocolViolation, protocolViolation } from '../errors.js';
import { type Connection, ConnectionState } from './connection.js';
import { handleAuth } from './handlers/auth.js';
import { handleConnect } from './handlers/connect.js';
import { handleDisconnect } from './handlers/disconnect.js';
import { handlePingreq } from './handlers/pingreq.js';
import { handlePuback } from './handlers/puback.js';
import { handlePubcomp } from './handlers/pubcomp.js';
import { handlePublish } from './handlers/publish.js';
import { handlePubrec } from './handlers/pubrec.js';
import { handlePubrel } from './handlers/pubrel.js';
import { handleSubscribe } from './handlers/subscribe.js';
import { handleUnsubscribe } from './handlers/unsubscribe.js';

export function dispatch(connection: Connection, packet: Packet): void | Promise<void> {
  if (connection.state !== ConnectionState.Connected) {
    if (packet.type === PacketType.CONNECT && connection.state === ConnectionState.AwaitingConnect) {
      return handleConnect(connection, packet);
    }
    if (packet.type === PacketType.AUTH && connection.authExchange !== undefined) {
      // The client's answer in an enhanced authentication exchange started by its CONNECT (§4.12).
      return handleAuth(connection, packet);
    }
    // [MQTT-3.1.0-1] the first packet from the client must be CONNECT.
    throw new ProtocolViolation(ReasonCode.ProtocolError, 'first packet must be CONNECT');
  }
  switch (packet.type) {
    case PacketType.PUBLISH: {
      const stats = connection.broker.stats;
      stats.messagesReceivedByQos[packet.qos]++;
      stats.payloadBytesReceivedByQos[packet.qos] += packet.payload.byteLength;
      return handlePublish(connection, packet);
    }
    case PacketType.PUBACK:
      return handlePuback(connection, packet);
    case PacketType.PUBREC:
      return handlePubrec(connection, packet);
    case PacketType.PUBREL:
      return handlePubrel(connection, packet);
    case PacketType.PUBCOMP:
      return handlePubcomp(connection, packet);
    case PacketType.SUBSCRIBE:
      return handleSubscribe(connection, packet);
    case PacketType.UNSUBSCRIBE:
      return handleUnsubscribe(connection, packet);
    case PacketType.PINGREQ:
      return handlePingreq(connection);
    case PacketType.DISCONNECT:
      return handleDisconnect(connection, packet);
    case PacketType.AUTH:
      return handleAuth(connection, packet);
    case PacketType.CONNECT:
      // [MQTT-3.1.0-2] a second CONNECT is a protocol violation.
      throw protocolViolation('second CONNECT');
    default:
      throw protocolViolation(`unexpected packet type ${packet.type} from a client`);
  }
}
