/**
 * Abuse limits, 3.1.1 and 5.0, raw packets and MQTT.js: connections per address, connect rate per address, publish
 * rate per client (messages and bytes), subscriptions per client, topic length and levels, and the connect timeout.
 */
import net from 'node:net';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { BrokerOptions } from '../../src/broker/options.js';
import { PacketType } from '../../src/codec/index.js';
import { type StartedBroker, startBroker } from '../helpers/broker.js';
import { delay, publish, RawClient, subscribe } from '../helpers/raw-client.js';

let broker: StartedBroker | undefined;
afterEach(async () => {
  await broker?.close();
  broker = undefined;
});
async function start(options: BrokerOptions) {
  broker = await startBroker(options);
  return broker.port;
}

describe.each([4, 5] as const)('limits, level %i', (protocolVersion) => {
  const v5 = protocolVersion === 5;

  it('maxConnectionsPerIp: a socket beyond the limit is closed at once; a slot frees when a client leaves', async () => {
    const port = await start({ maxConnectionsPerIp: 2 });
    const a = await RawClient.connect(port, { protocolVersion });
    const b = await RawClient.open(port, protocolVersion); // counted before CONNECT
    const c = await RawClient.open(port, protocolVersion);
    await c.expectClose();
    expect(broker!.broker.stats.connectionsLimited).toBe(1);
    await a.client.disconnect();
    await delay(50);
    const d = await RawClient.connect(port, { protocolVersion });
    expect(d.connack.reasonCode).toBe(0);
    await b.end();
    await d.client.disconnect();
  });

  it(`connectRatePerIp: CONNECTs beyond the rate get ${v5 ? 'CONNACK 0x9F Connection rate exceeded' : 'CONNACK 0x03'}`, async () => {
    const port = await start({ connectRatePerIp: 3 });
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const { client, connack } = await RawClient.connect(port, { protocolVersion });
      codes.push(connack.reasonCode);
      await client.end();
    }
    expect(codes).toEqual([0, 0, 0, v5 ? 0x9f : 0x03, v5 ? 0x9f : 0x03]);
    await delay(400); // one token back (3/s)
    const { connack } = await RawClient.connect(port, { protocolVersion });
    expect(connack.reasonCode).toBe(0);
  });

  it(`publishRate: beyond it ${v5 ? 'DISCONNECT 0x96 Message rate too high' : 'the connection is closed'}`, async () => {
    const port = await start({ publishRate: 5 });
    const { client } = await RawClient.connect(port, { protocolVersion });
    for (let i = 0; i < 10; i++) await publish(client, 't', 'x');
    if (v5) expect((await client.expectPacket(PacketType.DISCONNECT)).reasonCode).toBe(0x96);
    await client.expectClose();
    expect(broker!.broker.stats.publishesLimited).toBe(1);
  });

  it('publishByteRate: bytes per second are limited the same way', async () => {
    const port = await start({ publishByteRate: 1000 });
    const { client } = await RawClient.connect(port, { protocolVersion });
    const big = Buffer.alloc(40_000);
    await publish(client, 't', big); // within the 64 KiB burst
    await publish(client, 't', big);
    if (v5) expect((await client.expectPacket(PacketType.DISCONNECT)).reasonCode).toBe(0x96);
    await client.expectClose();
  });

  it(`maxSubscriptionsPerClient: further filters get ${v5 ? '0x97 Quota exceeded' : '0x80'}; re-subscribing an existing one works`, async () => {
    const port = await start({ maxSubscriptionsPerClient: 2 });
    const { client } = await RawClient.connect(port, { protocolVersion });
    expect(await subscribe(client, ['a', 'b', 'c'])).toEqual([2, 2, v5 ? 0x97 : 0x80]);
    expect(await subscribe(client, ['a'], { packetId: 2 })).toEqual([2]);
    expect(broker!.broker.stats.subscriptionsDenied).toBe(1);
  });

  it('maxTopicLength and maxTopicLevels: a PUBLISH is refused, a filter gets SUBACK failure, a will CONNACK refusal', async () => {
    const port = await start({ maxTopicLength: 20, maxTopicLevels: 3 });
    const { client } = await RawClient.connect(port, { protocolVersion });
    expect(await subscribe(client, ['a/b/c', 'a/b/c/d', 'x'.repeat(21), '#'])).toEqual([
      2,
      v5 ? 0x8f : 0x80,
      v5 ? 0x8f : 0x80,
      2,
    ]);
    expect(await publish(client, 'a/b/c/d', 'x', { qos: 1 })).toBe(v5 ? 0x90 : undefined);
    expect(await publish(client, 'é'.repeat(11), 'x', { qos: 1, packetId: 2 })).toBe(v5 ? 0x90 : undefined); // 22 bytes
    await publish(client, 'a/b/c', 'ok', { qos: 0 });
    expect((await client.expectPacket(PacketType.PUBLISH)).topic).toBe('a/b/c');
    await client.expectNoPacket(200);
    const will = await RawClient.open(port, protocolVersion);
    will.send({
      type: PacketType.CONNECT,
      protocolName: 'MQTT',
      protocolVersion,
      clean: true,
      keepAlive: 0,
      clientId: 'w',
      will: { topic: 'a/b/c/d/e', payload: Buffer.from('x'), qos: 0, retain: false },
    });
    if (v5) expect((await will.expectPacket(PacketType.CONNACK)).reasonCode).toBe(0x90);
    await will.expectClose();
  });

  it('connectTimeout: a socket that never sends CONNECT is closed', async () => {
    const port = await start({ connectTimeout: 1 });
    const silent = await RawClient.open(port, protocolVersion);
    const started = Date.now();
    await silent.expectClose(3000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(800);
  });
});

describe('publishRateAction reject (MQTT 5.0)', () => {
  it('over the rate: QoS 1 gets PUBACK 0x97 Quota exceeded, QoS 0 is dropped, the connection stays', async () => {
    const port = await start({ publishRate: 2, publishRateAction: 'reject' });
    const { client } = await RawClient.connect(port, { protocolVersion: 5 });
    await subscribe(client, ['t']);
    const codes: (number | undefined)[] = [];
    for (let i = 1; i <= 4; i++) {
      client.send({
        type: PacketType.PUBLISH,
        topic: 'u',
        payload: Buffer.from('x'),
        qos: 1,
        packetId: i,
        retain: false,
        dup: false,
      });
      codes.push((await client.expectPacket(PacketType.PUBACK)).reasonCode);
    }
    expect(codes).toEqual([0x10, 0x10, 0x97, 0x97]);
    await publish(client, 't', 'dropped');
    await client.expectNoPacket(200);
    client.send({ type: PacketType.PINGREQ });
    await client.expectPacket(PacketType.PINGRESP);
  });

  it('MQTT.js sees the 0x96 disconnect', async () => {
    const port = await start({ publishRate: 1 });
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, reconnectPeriod: 0 });
    const disconnected = new Promise<number | undefined>((resolve) =>
      client.once('disconnect', (p) => resolve(p.reasonCode)),
    );
    for (let i = 0; i < 5; i++) client.publish('t', 'x');
    expect(await disconnected).toBe(0x96);
    client.end(true);
  });
});

describe('sockets', () => {
  it('maxConnectionsPerIp counts raw TCP sockets, so a flood of idle sockets cannot starve others past the limit', async () => {
    const port = await start({ maxConnectionsPerIp: 5 });
    const sockets = await Promise.all(
      Array.from(
        { length: 8 },
        () =>
          new Promise<net.Socket>((resolve) => {
            const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
            socket.on('error', () => {});
          }),
      ),
    );
    await delay(100);
    expect(broker!.broker.connections.size).toBe(5);
    for (const socket of sockets) socket.destroy();
  });
});
