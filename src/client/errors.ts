/**
 * Typed errors of the Midge client. Every error that comes from the wire carries the MQTT 5.0 Reason Code
 * (`reasonCode`); a 3.1.1 CONNACK return code is mapped to its 5.0 equivalent and also kept raw (`returnCode`).
 */
import { ConnectReturnCode, ReasonCode } from '../codec/index.js';

/** Base class: `instanceof MqttClientError` catches everything the client throws or rejects with. */
export class MqttClientError extends Error {
  override name = 'MqttClientError';
}

/** 3.1.1 CONNACK return code → the MQTT 5.0 Reason Code that means the same. */
export function returnCodeToReasonCode(returnCode: number): number {
  switch (returnCode) {
    case ConnectReturnCode.ConnectionAccepted:
      return ReasonCode.Success;
    case ConnectReturnCode.UnacceptableProtocolVersion:
      return ReasonCode.UnsupportedProtocolVersion;
    case ConnectReturnCode.IdentifierRejected:
      return ReasonCode.ClientIdentifierNotValid;
    case ConnectReturnCode.ServerUnavailable:
      return ReasonCode.ServerUnavailable;
    case ConnectReturnCode.BadUserNameOrPassword:
      return ReasonCode.BadUserNameOrPassword;
    case ConnectReturnCode.NotAuthorized:
      return ReasonCode.NotAuthorized;
    default:
      return ReasonCode.UnspecifiedError;
  }
}

const hex = (code: number): string => `0x${code.toString(16).padStart(2, '0')}`;

/** The broker answered CONNECT with a failure CONNACK. */
export class ConnectionRefusedError extends MqttClientError {
  override name = 'ConnectionRefusedError';
  constructor(
    /** MQTT 5.0 Reason Code (a 3.1.1 return code mapped, e.g. 0x05 Not authorized → 0x87). */
    readonly reasonCode: number,
    /** The raw CONNACK return code under MQTT 3.1/3.1.1; undefined under 5.0. */
    readonly returnCode: number | undefined,
    readonly reasonString?: string,
  ) {
    super(
      `connection refused: ${returnCode === undefined ? `reason code ${hex(reasonCode)}` : `return code ${returnCode} (${hex(reasonCode)})`}${reasonString ? `: ${reasonString}` : ''}`,
    );
  }
}

/** A PUBLISH the broker refused (PUBACK/PUBREC reason ≥ 0x80), or one the client refused to send. */
export class PublishError extends MqttClientError {
  override name = 'PublishError';
  constructor(
    readonly reasonCode: number,
    message: string,
    readonly reasonString?: string,
  ) {
    super(`${message} (${hex(reasonCode)})${reasonString ? `: ${reasonString}` : ''}`);
  }
}

/** An UNSUBSCRIBE or SUBSCRIBE that failed as a whole (never a per-filter refusal: those are results). */
export class SubscribeError extends MqttClientError {
  override name = 'SubscribeError';
  constructor(
    readonly reasonCode: number,
    message: string,
  ) {
    super(`${message} (${hex(reasonCode)})`);
  }
}

/** Something did not happen in time: `operation` says what (connect, ping, request). */
export class TimeoutError extends MqttClientError {
  override name = 'TimeoutError';
  constructor(
    readonly operation: 'connect' | 'ping' | 'request',
    readonly timeoutMs: number,
  ) {
    super(`${operation} timed out after ${timeoutMs} ms`);
  }
}

/** The broker sent DISCONNECT (MQTT 5.0 carries a reason code; 3.1.1 brokers never send it). */
export class DisconnectedError extends MqttClientError {
  override name = 'DisconnectedError';
  constructor(
    readonly reasonCode: number,
    readonly reasonString?: string,
  ) {
    super(`disconnected by the broker (${hex(reasonCode)})${reasonString ? `: ${reasonString}` : ''}`);
  }
}

/** The operation was abandoned because the client was ended (`end()`), or was never connected. */
export class ClientClosedError extends MqttClientError {
  override name = 'ClientClosedError';
  constructor(message = 'the client is closed') {
    super(message);
  }
}

/** The offline queue (publishes made while disconnected) is full: the new publish is refused. */
export class QueueFullError extends MqttClientError {
  override name = 'QueueFullError';
  constructor(readonly limit: number) {
    super(`the offline queue is full (${limit} packets)`);
  }
}

/** The transport failed (socket error, connection refused, ...). `cause` holds the underlying error. */
export class TransportError extends MqttClientError {
  override name = 'TransportError';
}

/** The broker broke the protocol (a malformed packet, an unknown packet id, an invalid topic alias). */
export class ProtocolError extends MqttClientError {
  override name = 'ProtocolError';
  constructor(
    readonly reasonCode: number,
    message: string,
  ) {
    super(message);
  }
}
