import { ReasonCode } from '../codec/constants.js';

/**
 * A client broke a rule of the protocol after its packet decoded. Like the codec's PacketError it carries the
 * MQTT 5.0 Reason Code for the DISCONNECT (or CONNACK); the connection turns it into bytes in one place.
 */
export class ProtocolViolation extends Error {
  override readonly name = 'ProtocolViolation';

  constructor(
    readonly reasonCode: ReasonCode,
    message: string,
  ) {
    super(message);
  }
}

export const protocolViolation = (message: string): ProtocolViolation =>
  new ProtocolViolation(ReasonCode.ProtocolError, message);
