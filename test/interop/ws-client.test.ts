/**
 * WebSocket listener of the broker (src/transports/ws.ts) with our client, MQTT.js, and raw WebSocket frames:
 * many MQTT packets in one frame, one packet across frames, subprotocol negotiation.
 */
import mqtt from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Broker, createBroker } from '../../src/broker/index.js';
import { connect, type Message, type MqttClient } from '../../src/client/index.js';
import { encode, type Packet, PacketDecoder, PacketType } from '../../src/codec/index.js';
import { listenWebSocket, type WsListener } from '../../src/transports/ws.js';

let broker: Broker;
let listener: WsListener;
let url: string;
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  broker = createBroker({ sysInterval: 0 });
  await broker.ready;
  listener = await listenWebSocket(broker, { host: '127.0.0.1', port: 0 });
  url = `ws://127.0.0.1:${listener.address.port}/mqtt`;
});
afterAll(async () => {
  await broker.close();
  await listener.close();
});
afterEach(async () => {
  for (const close of closers.splice(0)) await close().catch(() => {});
});

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString();

function nextMessage(client: MqttClient, timeoutMs = 2000): Promise<Message> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no message')), timeoutMs);
    client.once('message', (_topic, _payload, message) => {
      clearTimeout(timer);
      resolve(message);
    });
  });
}

/** A raw WebSocket speaking MQTT: send frames of our choosing, read packets back. */
async function rawSocket(protocol = 'mqtt') {
  const socket = new WebSocket(url, protocol);
  closers.push(async () => socket.terminate());
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  const decoder = new PacketDecoder({ protocolVersion: 4 });
  const packets: Packet[] = [];
  socket.on('message', (data: Buffer) => decoder.decode(data, (p) => packets.push(p)));
  const waitFor = async (count: number) => {
    const deadline = Date.now() + 2000;
    while (packets.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    return packets;
  };
  return { socket, packets, waitFor };
}

describe.each([4, 5] as const)('over WebSocket, MQTT protocol version %i', (protocolVersion) => {
  it('our client connects over ws://, subscribes, and exchanges QoS 0, 1 and 2 messages', async () => {
    const client = await connect(url, { protocolVersion, reconnectPeriod: 0 });
    closers.push(() => client.end(true));
    await client.subscribe(`ws${protocolVersion}/+`, { qos: 2 });
    for (const qos of [0, 1, 2] as const) {
      const next = nextMessage(client);
      await client.publish(`ws${protocolVersion}/a`, `q${qos}`, { qos });
      const m = await next;
      expect([text(m.payload), m.qos]).toEqual([`q${qos}`, qos]);
    }
  });

  it('MQTT.js over ws:// exchanges messages with our client over ws://', async () => {
    const js = await mqtt.connectAsync(url, { protocolVersion, reconnectPeriod: 0 });
    closers.push(() => js.endAsync(true));
    const ours = await connect(url, { protocolVersion, reconnectPeriod: 0 });
    closers.push(() => ours.end(true));
    await ours.subscribe(`js-ws${protocolVersion}/#`, { qos: 1 });
    const next = nextMessage(ours);
    await js.publishAsync(`js-ws${protocolVersion}/x`, 'from mqtt.js', { qos: 1 });
    expect(text((await next).payload)).toBe('from mqtt.js');
    await js.subscribeAsync(`back${protocolVersion}`, { qos: 2 });
    const received = new Promise<string>((resolve) => js.once('message', (_t, payload) => resolve(payload.toString())));
    await ours.publish(`back${protocolVersion}`, 'from midge', { qos: 2 });
    expect(await received).toBe('from midge');
  });
});

describe('WebSocket framing', () => {
  it('accepts many MQTT packets in one WebSocket frame', async () => {
    const { socket, waitFor } = await rawSocket();
    const connectPacket = encode(
      {
        type: PacketType.CONNECT,
        protocolName: 'MQTT',
        protocolVersion: 4,
        clean: true,
        keepAlive: 30,
        clientId: 'raw1',
      },
      4,
    );
    const subscribe = encode(
      { type: PacketType.SUBSCRIBE, packetId: 1, subscriptions: [{ topicFilter: 'raw/one', qos: 0 }] },
      4,
    );
    const publish = encode(
      { type: PacketType.PUBLISH, topic: 'raw/one', payload: Buffer.from('x'), qos: 0, retain: false, dup: false },
      4,
    );
    socket.send(Buffer.concat([connectPacket, subscribe, publish]));
    const packets = await waitFor(3);
    expect(packets.map((p) => p.type)).toEqual([PacketType.CONNACK, PacketType.SUBACK, PacketType.PUBLISH]);
  });

  it('reassembles one MQTT packet sent across several WebSocket frames', async () => {
    const { socket, waitFor } = await rawSocket('mqttv3.1');
    expect(socket.protocol).toBe('mqttv3.1');
    const bytes = Buffer.concat([
      encode(
        {
          type: PacketType.CONNECT,
          protocolName: 'MQTT',
          protocolVersion: 4,
          clean: true,
          keepAlive: 30,
          clientId: 'raw2',
        },
        4,
      ),
      encode({ type: PacketType.SUBSCRIBE, packetId: 7, subscriptions: [{ topicFilter: 'raw/two', qos: 1 }] }, 4),
      encode(
        {
          type: PacketType.PUBLISH,
          topic: 'raw/two',
          payload: Buffer.alloc(3000, 0x61),
          qos: 1,
          packetId: 8,
          retain: false,
          dup: false,
        },
        4,
      ),
    ]);
    for (let i = 0; i < bytes.length; i += 7) socket.send(bytes.subarray(i, i + 7));
    const packets = await waitFor(4);
    expect(packets.map((p) => p.type).sort()).toEqual(
      [PacketType.CONNACK, PacketType.SUBACK, PacketType.PUBLISH, PacketType.PUBACK].sort(),
    );
    const echoed = packets.find((p) => p.type === PacketType.PUBLISH);
    expect(echoed?.type === PacketType.PUBLISH && echoed.payload.length).toBe(3000);
  });

  it('refuses a WebSocket that offers only subprotocols other than mqtt and mqttv3.1', async () => {
    const socket = new WebSocket(url, 'chat');
    const outcome = await new Promise<string>((resolve) => {
      socket.once('open', () => resolve('open'));
      socket.once('error', () => resolve('refused'));
    });
    socket.terminate();
    expect(outcome).toBe('refused');
  });
});
