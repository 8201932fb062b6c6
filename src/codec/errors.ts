import { ReasonCode } from './constants.js';

/**
 * The one error the codec throws: a packet that breaks a rule of the specification. It carries the
 * MQTT 5.0 Reason Code the receiver must answer with (in a DISCONNECT or CONNACK for 5.0; a 3.1.1
 * receiver closes the connection), so the broker maps every protocol error to the wire in one place.
 */
export class PacketError extends Error {
  override readonly name = 'PacketError';

  constructor(
    /** MalformedPacket (0x81), ProtocolError (0x82), PacketTooLarge (0x95), TopicNameInvalid (0x90), ... */
    readonly reasonCode: ReasonCode,
    message: string,
  ) {
    super(message);
  }
}

export const malformed = (message: string): PacketError => new PacketError(ReasonCode.MalformedPacket, message);
export const protocolError = (message: string): PacketError => new PacketError(ReasonCode.ProtocolError, message);
