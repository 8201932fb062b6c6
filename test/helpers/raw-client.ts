/**
 * A tiny raw MQTT client for protocol tests: real TCP to 127.0.0.1, our codec, explicit packets, bounded waits.
 */
import net from 'node:net';
import {
  type ConnackPacket,
  type ConnectPacket,
  encode,
  type Packet,
  PacketDecoder,
  PacketType,
  type Properties,
  type ProtocolVersion,
  type Subscription,
} from '../../src/codec/index.js';

type PacketOf<T extends PacketType> = Extract<Packet, { type: T }>;

export class RawClient {
  readonly packets: Packet[] = [];
  /** Every byte received, in order, for assertions on the exact encoding. */
  readonly chunks: Buffer[] = [];
  closed = false;
  private readonly decoder: PacketDecoder;
  private waiters: (() => void)[] = [];
  decodeError: Error | undefined;

  private constructor(
    readonly socket: net.Socket,
    public protocolVersion: ProtocolVersion,
  ) {
    this.decoder = new PacketDecoder({ protocolVersion });
    socket.on('data', (chunk) => {
      this.chunks.push(chunk);
      try {
        this.decoder.decode(chunk, (packet) => this.packets.push(packet));
      } catch (error) {
        this.decodeError = error as Error;
      }
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  /** Opens a TCP connection (no MQTT traffic yet). */
  static async open(port: number, protocolVersion: ProtocolVersion = 4): Promise<RawClient> {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawClient(socket, protocolVersion);
  }

  /** Opens a connection, sends CONNECT and waits for CONNACK. */
  static async connect(
    port: number,
    connect: ConnectOptions = {},
  ): Promise<{ client: RawClient; connack: ConnackPacket }> {
    const protocolVersion = connect.protocolVersion ?? 4;
    const client = await RawClient.open(port, protocolVersion);
    client.send(connectPacket(connect));
    const connack = await client.expectPacket(PacketType.CONNACK);
    return { client, connack };
  }

  send(packet: Packet): void {
    this.socket.write(encode(packet, this.protocolVersion));
  }

  sendRaw(bytes: Uint8Array | number[]): void {
    this.socket.write(Uint8Array.from(bytes));
  }

  /** Waits for the next packet (consumed in order); fails if it is of another type or none comes in time. */
  async expectPacket<T extends PacketType>(type: T, timeoutMs = 2000): Promise<PacketOf<T>> {
    const packet = await this.nextPacket(timeoutMs);
    if (packet === undefined) {
      throw new Error(
        `expected packet type ${type}, got ${this.closed ? 'connection closed' : 'nothing'} in ${timeoutMs} ms`,
      );
    }
    if (packet.type !== type) throw new Error(`expected packet type ${type}, got ${JSON.stringify(packet)}`);
    return packet as PacketOf<T>;
  }

  /** The next packet, or undefined if the connection closes or nothing comes within timeoutMs. */
  async nextPacket(timeoutMs = 2000): Promise<Packet | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (this.packets.length === 0) {
      if (this.closed || Date.now() >= deadline) return undefined;
      await this.wait(deadline - Date.now());
    }
    return this.packets.shift();
  }

  /** Asserts no packet arrives within ms. */
  async expectNoPacket(ms = 300): Promise<void> {
    const packet = await this.nextPacket(ms);
    if (packet !== undefined) throw new Error(`expected no packet, got ${JSON.stringify(packet)}`);
  }

  /** Waits for the broker to close the connection; packets received before the close are kept. */
  async expectClose(timeoutMs = 2000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() >= deadline) throw new Error(`connection not closed within ${timeoutMs} ms`);
      await this.wait(deadline - Date.now());
    }
  }

  /** Sends DISCONNECT and closes the socket. */
  async disconnect(reasonCode?: number): Promise<void> {
    if (!this.closed) this.send({ type: PacketType.DISCONNECT, reasonCode });
    await this.end();
  }

  /** Closes the socket without DISCONNECT (an abnormal close: the will is published). */
  async end(): Promise<void> {
    if (this.closed) return;
    this.socket.destroy();
    await this.expectClose();
  }

  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, Math.max(1, ms));
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.waiters.push(done);
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

/** A packet from raw parts: the first byte (type and flags) and the body; the Remaining Length is computed. */
export function rawPacket(firstByte: number, body: number[]): number[] {
  const length: number[] = [];
  let n = body.length;
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    length.push(byte);
  } while (n > 0);
  return [firstByte, ...length, ...body];
}

/** A length-prefixed MQTT string from text (UTF-8) or from raw bytes. */
export function rawString(value: string | number[]): number[] {
  const bytes = typeof value === 'string' ? [...Buffer.from(value)] : value;
  return [bytes.length >> 8, bytes.length & 0xff, ...bytes];
}

/** CONNECT bytes with the given Connect Flags (protocol name "MQTT" unless given), keep alive 0, client id "raw". */
export function rawConnect(level: number, flags: number, rest: number[] = [], name = 'MQTT'): number[] {
  return rawPacket(0x10, [
    ...rawString(name),
    level,
    flags,
    0,
    0,
    ...(level === 5 ? [0] : []),
    ...rawString('raw'),
    ...rest,
  ]);
}

export type ConnectOptions = Partial<Omit<ConnectPacket, 'type'>>;

export function connectPacket(connect: ConnectOptions = {}): ConnectPacket {
  const protocolVersion = connect.protocolVersion ?? 4;
  return {
    type: PacketType.CONNECT,
    protocolName: protocolVersion === 3 ? 'MQIsdp' : 'MQTT',
    protocolVersion,
    clean: true,
    keepAlive: 0,
    clientId: `raw-${Math.random().toString(16).slice(2, 10)}`,
    ...connect,
  };
}

/** CONNECT options for a session that outlives the connection: CleanSession=0 (3.1.1), Session Expiry 60 s (5.0). */
export const persistentSession = (protocolVersion: 4 | 5): ConnectOptions =>
  protocolVersion === 5
    ? { protocolVersion, clean: false, properties: { sessionExpiryInterval: 60 } }
    : { protocolVersion, clean: false };

/** Sleeps ms milliseconds. */
export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** SUBSCRIBE one or more filters and wait for the SUBACK; returns its reason codes. */
export async function subscribe(
  client: RawClient,
  filters: (string | Subscription)[],
  options: { packetId?: number; subscriptionIdentifier?: number } = {},
): Promise<number[]> {
  const packetId = options.packetId ?? 1;
  client.send({
    type: PacketType.SUBSCRIBE,
    packetId,
    subscriptions: filters.map((f) => (typeof f === 'string' ? { topicFilter: f, qos: 2 } : f)),
    properties:
      options.subscriptionIdentifier !== undefined
        ? { subscriptionIdentifiers: [options.subscriptionIdentifier] }
        : undefined,
  });
  const suback = await client.expectPacket(PacketType.SUBACK);
  if (suback.packetId !== packetId) throw new Error(`SUBACK for packet id ${suback.packetId}, expected ${packetId}`);
  return suback.reasonCodes;
}

/** PUBLISH from a client, completing the QoS 1/2 handshake; returns the PUBACK/PUBREC reason code. */
export async function publish(
  client: RawClient,
  topic: string,
  payload: string | Uint8Array,
  options: { qos?: 0 | 1 | 2; retain?: boolean; packetId?: number; properties?: Properties } = {},
): Promise<number | undefined> {
  const qos = options.qos ?? 0;
  const packetId = qos > 0 ? (options.packetId ?? 1) : undefined;
  client.send({
    type: PacketType.PUBLISH,
    topic,
    payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
    qos,
    retain: options.retain ?? false,
    dup: false,
    packetId,
    properties: options.properties,
  });
  if (qos === 1) return (await client.expectPacket(PacketType.PUBACK)).reasonCode;
  if (qos === 2) {
    const pubrec = await client.expectPacket(PacketType.PUBREC);
    client.send({ type: PacketType.PUBREL, packetId: packetId! });
    await client.expectPacket(PacketType.PUBCOMP);
    return pubrec.reasonCode;
  }
  return undefined;
}

/** Waits for the next PUBLISH, acknowledges it per its QoS (unless ack is false) and returns it. */
export async function receive(client: RawClient, options: { ack?: boolean; timeoutMs?: number } = {}) {
  const packet = await client.expectPacket(PacketType.PUBLISH, options.timeoutMs ?? 2000);
  if (options.ack !== false) {
    if (packet.qos === 1) client.send({ type: PacketType.PUBACK, packetId: packet.packetId! });
    if (packet.qos === 2) {
      client.send({ type: PacketType.PUBREC, packetId: packet.packetId! });
      await client.expectPacket(PacketType.PUBREL);
      client.send({ type: PacketType.PUBCOMP, packetId: packet.packetId! });
    }
  }
  return packet;
}

export const text = (payload: Uint8Array): string => Buffer.from(payload).toString();
