/**
 * One packet model for MQTT 3.1, 3.1.1 and 5.0. Fields that exist only in MQTT 5.0 are optional, so code
 * above the codec never branches on the protocol version to read a packet. Binary data is a Uint8Array
 * (a Node Buffer is one), so the model is the same in Node and in the browser.
 */
import type { PacketType, ProtocolVersion, QoS } from './constants.js';

/** A UTF-8 String Pair (§1.5.7), as carried by the User Property. */
export type UserProperty = readonly [name: string, value: string];

/**
 * MQTT 5.0 properties (§2.2.2.2), named as the specification names them, in camelCase. Which of them a
 * packet may carry is checked by the codec; the model itself is one shape for every packet.
 */
export interface Properties {
  /** 0x01, PUBLISH and Will: 0 = unspecified bytes, 1 = UTF-8 encoded character data. */
  payloadFormatIndicator?: number;
  /** 0x02, PUBLISH and Will, seconds. */
  messageExpiryInterval?: number;
  /** 0x03, PUBLISH and Will. */
  contentType?: string;
  /** 0x08, PUBLISH and Will. */
  responseTopic?: string;
  /** 0x09, PUBLISH and Will. */
  correlationData?: Uint8Array;
  /**
   * 0x0B. In SUBSCRIBE: exactly one value (1..268,435,455). In PUBLISH sent to a client: one per matching
   * subscription that had an identifier (the property may appear several times), in wire order.
   */
  subscriptionIdentifiers?: number[];
  /** 0x11, CONNECT, CONNACK, DISCONNECT, seconds. */
  sessionExpiryInterval?: number;
  /** 0x12, CONNACK. */
  assignedClientIdentifier?: string;
  /** 0x13, CONNACK, seconds. */
  serverKeepAlive?: number;
  /** 0x15, CONNECT, CONNACK, AUTH. */
  authenticationMethod?: string;
  /** 0x16, CONNECT, CONNACK, AUTH. */
  authenticationData?: Uint8Array;
  /** 0x17, CONNECT: 0 or 1. */
  requestProblemInformation?: number;
  /** 0x18, Will, seconds. */
  willDelayInterval?: number;
  /** 0x19, CONNECT: 0 or 1. */
  requestResponseInformation?: number;
  /** 0x1A, CONNACK. */
  responseInformation?: string;
  /** 0x1C, CONNACK, DISCONNECT. */
  serverReference?: string;
  /** 0x1F, CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, DISCONNECT, AUTH. */
  reasonString?: string;
  /** 0x21, CONNECT, CONNACK: 1..65,535. */
  receiveMaximum?: number;
  /** 0x22, CONNECT, CONNACK. */
  topicAliasMaximum?: number;
  /** 0x23, PUBLISH: 1..65,535. */
  topicAlias?: number;
  /** 0x24, CONNACK: 0 or 1. */
  maximumQoS?: number;
  /** 0x25, CONNACK: 0 or 1. */
  retainAvailable?: number;
  /** 0x26, every packet that has properties; repeatable, order preserved [MQTT-3.3.2-17]. */
  userProperties?: UserProperty[];
  /** 0x27, CONNECT, CONNACK: 1..268,435,455 (never 0). */
  maximumPacketSize?: number;
  /** 0x28, CONNACK: 0 or 1. */
  wildcardSubscriptionAvailable?: number;
  /** 0x29, CONNACK: 0 or 1. */
  subscriptionIdentifierAvailable?: number;
  /** 0x2A, CONNACK: 0 or 1. */
  sharedSubscriptionAvailable?: number;
}

/** The Will Message carried by CONNECT (§3.1.3.2). */
export interface Will {
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
  /** MQTT 5.0 Will Properties. */
  properties?: Properties;
}

export interface ConnectPacket {
  type: typeof PacketType.CONNECT;
  /** "MQTT" for 3.1.1 and 5.0, "MQIsdp" for 3.1. */
  protocolName: string;
  protocolVersion: ProtocolVersion;
  /** Clean Session (3.1, 3.1.1) or Clean Start (5.0). */
  clean: boolean;
  keepAlive: number;
  clientId: string;
  username?: string;
  password?: Uint8Array;
  will?: Will;
  properties?: Properties;
}

export interface ConnackPacket {
  type: typeof PacketType.CONNACK;
  sessionPresent: boolean;
  /** A ConnectReturnCode in 3.1/3.1.1, a ReasonCode in 5.0. */
  reasonCode: number;
  properties?: Properties;
}

export interface PublishPacket {
  type: typeof PacketType.PUBLISH;
  /** Empty only in MQTT 5.0 when a Topic Alias property stands for the name. */
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
  dup: boolean;
  /** Present (1..65,535) if and only if qos > 0 [MQTT-2.2.1-2]. */
  packetId?: number;
  properties?: Properties;
}

/** PUBACK, PUBREC, PUBREL and PUBCOMP share one shape. */
export interface PubAckLikePacket<T extends 4 | 5 | 6 | 7> {
  type: T;
  packetId: number;
  /** MQTT 5.0 only; absent means Success (0x00). */
  reasonCode?: number;
  properties?: Properties;
}
export type PubackPacket = PubAckLikePacket<typeof PacketType.PUBACK>;
export type PubrecPacket = PubAckLikePacket<typeof PacketType.PUBREC>;
export type PubrelPacket = PubAckLikePacket<typeof PacketType.PUBREL>;
export type PubcompPacket = PubAckLikePacket<typeof PacketType.PUBCOMP>;

/** One Topic Filter of a SUBSCRIBE with its Subscription Options (§3.8.3.1). */
export interface Subscription {
  topicFilter: string;
  qos: QoS;
  /** MQTT 5.0 No Local. */
  noLocal?: boolean;
  /** MQTT 5.0 Retain As Published. */
  retainAsPublished?: boolean;
  /** MQTT 5.0 Retain Handling: 0 send on subscribe, 1 only if the subscription is new, 2 never. */
  retainHandling?: 0 | 1 | 2;
}

export interface SubscribePacket {
  type: typeof PacketType.SUBSCRIBE;
  packetId: number;
  subscriptions: Subscription[];
  properties?: Properties;
}

export interface SubackPacket {
  type: typeof PacketType.SUBACK;
  packetId: number;
  /** Granted QoS (0, 1, 2) or a failure code (0x80 in 3.1.1; a ReasonCode >= 0x80 in 5.0), one per filter. */
  reasonCodes: number[];
  properties?: Properties;
}

export interface UnsubscribePacket {
  type: typeof PacketType.UNSUBSCRIBE;
  packetId: number;
  topicFilters: string[];
  properties?: Properties;
}

export interface UnsubackPacket {
  type: typeof PacketType.UNSUBACK;
  packetId: number;
  /** MQTT 5.0 only: one per topic filter. */
  reasonCodes?: number[];
  properties?: Properties;
}

export interface PingreqPacket {
  type: typeof PacketType.PINGREQ;
}

export interface PingrespPacket {
  type: typeof PacketType.PINGRESP;
}

export interface DisconnectPacket {
  type: typeof PacketType.DISCONNECT;
  /** MQTT 5.0 only; absent means Normal disconnection (0x00). */
  reasonCode?: number;
  properties?: Properties;
}

/** MQTT 5.0 only. */
export interface AuthPacket {
  type: typeof PacketType.AUTH;
  /** Absent means Success (0x00). */
  reasonCode?: number;
  properties?: Properties;
}

export type Packet =
  | ConnectPacket
  | ConnackPacket
  | PublishPacket
  | PubackPacket
  | PubrecPacket
  | PubrelPacket
  | PubcompPacket
  | SubscribePacket
  | SubackPacket
  | UnsubscribePacket
  | UnsubackPacket
  | PingreqPacket
  | PingrespPacket
  | DisconnectPacket
  | AuthPacket;
