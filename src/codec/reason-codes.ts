/**
 * Which Reason Codes each packet may carry (MQTT 5.0 §3.x.2.1 tables; 3.1.1 CONNACK return codes and SUBACK return
 * codes). The sender "MUST use one of" them (e.g. [MQTT-3.4.2-1]); a receiver seeing another value treats it as
 * data the protocol does not allow: Protocol Error 0x82 in MQTT 5.0, Malformed Packet 0x81 in 3.1/3.1.1 (which has
 * no such distinction: the connection is closed either way).
 */
import { PacketType, type ProtocolVersion, ReasonCode } from './constants.js';
import { PacketError } from './errors.js';

const codes = (...list: number[]): Uint8Array => {
  const table = new Uint8Array(256);
  for (const c of list) table[c] = 1;
  return table;
};

const V5: (Uint8Array | undefined)[] = [];
V5[PacketType.CONNACK] = codes(
  0x00,
  0x80,
  0x81,
  0x82,
  0x83,
  0x84,
  0x85,
  0x86,
  0x87,
  0x88,
  0x89,
  0x8a,
  0x8c,
  0x90,
  0x95,
  0x97,
  0x99,
  0x9a,
  0x9b,
  0x9c,
  0x9d,
  0x9f,
);
V5[PacketType.PUBACK] = codes(0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99);
V5[PacketType.PUBREC] = V5[PacketType.PUBACK];
V5[PacketType.PUBREL] = codes(0x00, 0x92);
V5[PacketType.PUBCOMP] = V5[PacketType.PUBREL];
V5[PacketType.SUBACK] = codes(0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2);
V5[PacketType.UNSUBACK] = codes(0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91);
V5[PacketType.DISCONNECT] = codes(
  0x00,
  0x04,
  0x80,
  0x81,
  0x82,
  0x83,
  0x87,
  0x89,
  0x8b,
  0x8d,
  0x8e,
  0x8f,
  0x90,
  0x93,
  0x94,
  0x95,
  0x96,
  0x97,
  0x98,
  0x99,
  0x9a,
  0x9b,
  0x9c,
  0x9d,
  0x9e,
  0x9f,
  0xa0,
  0xa1,
  0xa2,
);
V5[PacketType.AUTH] = codes(0x00, 0x18, 0x19);

const V4: (Uint8Array | undefined)[] = [];
V4[PacketType.CONNACK] = codes(0, 1, 2, 3, 4, 5); // 3.1.1 §3.2.2.3; 6-255 reserved
V4[PacketType.SUBACK] = codes(0x00, 0x01, 0x02, 0x80); // [MQTT-3.9.3-2]

const NAMES = ['', '', 'CONNACK', '', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP', '', 'SUBACK', '', 'UNSUBACK'];

/** True when `code` may be sent in a packet of `type` under `version`. */
export function isValidReasonCode(type: number, code: number, version: ProtocolVersion): boolean {
  const table = (version === 5 ? V5 : V4)[type];
  return table !== undefined && table[code] === 1;
}

/** Throws unless `code` may be sent in a packet of `type` under `version`. */
export function checkReasonCode(type: number, code: number, version: ProtocolVersion): void {
  if (isValidReasonCode(type, code, version)) return;
  const name = type === PacketType.DISCONNECT ? 'DISCONNECT' : type === PacketType.AUTH ? 'AUTH' : NAMES[type];
  const shown = typeof code === 'number' ? `0x${code.toString(16).padStart(2, '0')}` : String(code);
  throw new PacketError(
    version === 5 ? ReasonCode.ProtocolError : ReasonCode.MalformedPacket,
    `${shown} is not a ${version === 5 ? 'Reason Code' : 'return code'} a ${name} may carry`,
  );
}
