import { describe, expect, it } from 'vitest';
import { PacketType, ReasonCode } from '../../src/codec/index.js';
import { startBroker, withBroker } from '../helpers/broker.js';
import { useLiveBroker } from '../helpers/live-broker.js';
import { connectPacket, delay, RawClient } from '../helpers/raw-client.js';

const live = useLiveBroker({ connectTimeout: 1, maxKeepAlive: 0 });
const { connectWithConnack: connect } = live;

describe('CONNECT', () => {
  it.each([
    ['[3.1.1 MQTT-3.1.0-1] [3.1.1 MQTT-4.8.0-1]', 4],
    ['[MQTT-3.1.0-1] [MQTT-4.13.1-1]', 5],
  ] as const)(
    '%s level %d: the first packet must be CONNECT, else the connection is closed',
    async (_tags, version) => {
      const client = await live.open(version);
      client.send({ type: PacketType.PINGREQ });
      await client.expectClose();
      expect(client.packets).toEqual([]);
    },
  );

  it('[3.1.1 MQTT-3.1.0-2] a second CONNECT is a protocol violation: the connection is closed', async () => {
    const { client } = await connect();
    client.send(connectPacket());
    await client.expectClose();
  });

  it('[MQTT-3.1.0-2] [MQTT-3.2.0-2] [MQTT-4.13.1-1] (5.0) a second CONNECT gets DISCONNECT 0x82 Protocol Error, then close', async () => {
    const { client } = await connect({ protocolVersion: 5 });
    client.send(connectPacket({ protocolVersion: 5 }));
    const disconnect = await client.expectPacket(PacketType.DISCONNECT);
    expect(disconnect.reasonCode).toBe(ReasonCode.ProtocolError);
    await client.expectClose();
  });

  it('[3.1.1 MQTT-3.1.2-2] an unsupported protocol level gets CONNACK 0x01, then close', async () => {
    const client = await live.open();
    // CONNECT, "MQTT", level 6, clean, keep alive 0, client id "a"
    client.sendRaw([0x10, 13, 0, 4, 0x4d, 0x51, 0x54, 0x54, 6, 0x02, 0, 0, 0, 1, 0x61]);
    const connack = await client.expectPacket(PacketType.CONNACK);
    expect(connack.reasonCode).toBe(0x01);
    await client.expectClose();
  });

  it('[3.1.1 MQTT-3.1.3-8] [3.1.1 MQTT-3.2.2-4] [3.1.1 MQTT-3.2.2-5] a zero-length client id with CleanSession=0 gets CONNACK 0x02 with Session Present 0, then close', async () => {
    const { client, connack } = await connect({ clientId: '', clean: false });
    expect(connack.reasonCode).toBe(0x02);
    expect(connack.sessionPresent).toBe(false);
    await client.expectClose();
  });

  it('[3.1.1 MQTT-3.1.3-6] a zero-length client id with CleanSession=1 is accepted with an assigned id', async () => {
    const { connack } = await connect({ clientId: '', clean: true });
    expect(connack.reasonCode).toBe(0);
  });

  it('[MQTT-3.2.2-16] [MQTT-3.1.3-6] [MQTT-3.1.3-7] (5.0) a zero-length client id is assigned one, returned in Assigned Client Identifier', async () => {
    const { connack } = await connect({ clientId: '', protocolVersion: 5 });
    expect(connack.reasonCode).toBe(0);
    expect(connack.properties?.assignedClientIdentifier).toMatch(/^midge-/);
  });

  it('MQTT 3.1 (MQIsdp) clients are accepted, and an empty client id is rejected with 0x02', async () => {
    const { connack } = await connect({ protocolVersion: 3, clientId: 'v31' });
    expect(connack.reasonCode).toBe(0);
    const refused = await connect({ protocolVersion: 3, clientId: '' });
    expect(refused.connack.reasonCode).toBe(0x02);
    await refused.client.expectClose();
  });

  it('MQTT 3.1 client ids longer than 23 characters are accepted (as Mosquitto does)', async () => {
    const { connack } = await connect({ protocolVersion: 3, clientId: 'x'.repeat(40) });
    expect(connack.reasonCode).toBe(0);
  });

  it('closes a connection that sends no CONNECT within the connect timeout', async () => {
    const client = await live.open();
    await client.expectClose(3000);
  });

  it('[3.1.1 MQTT-3.1.4-2] a second connection with the same client id closes the first', async () => {
    const first = await connect({ clientId: 'takeover-311' });
    const second = await connect({ clientId: 'takeover-311' });
    expect(second.connack.reasonCode).toBe(0);
    await first.client.expectClose();
    second.client.send({ type: PacketType.PINGREQ });
    await second.client.expectPacket(PacketType.PINGRESP);
  });

  it('[MQTT-3.1.4-3] (5.0) the existing connection gets DISCONNECT 0x8E Session taken over, then close', async () => {
    const first = await connect({ clientId: 'takeover-5', protocolVersion: 5 });
    await connect({ clientId: 'takeover-5', protocolVersion: 5 });
    const disconnect = await first.client.expectPacket(PacketType.DISCONNECT);
    expect(disconnect.reasonCode).toBe(ReasonCode.SessionTakenOver);
    await first.client.expectClose();
  });

  it('[3.1.1 MQTT-3.2.2-1] CleanSession=1 gives Session Present 0 and return code 0', async () => {
    await (await connect({ clientId: 'sp1', clean: false })).client.end();
    await delay(50);
    const { connack } = await connect({ clientId: 'sp1', clean: true });
    expect(connack.sessionPresent).toBe(false);
    expect(connack.reasonCode).toBe(0);
  });

  it('[3.1.1 MQTT-3.2.2-2] CleanSession=0 with a stored session gives Session Present 1', async () => {
    const first = await connect({ clientId: 'sp2', clean: false });
    expect(first.connack.sessionPresent).toBe(false);
    await first.client.disconnect();
    const { connack } = await connect({ clientId: 'sp2', clean: false });
    expect(connack.sessionPresent).toBe(true);
  });

  it('[3.1.1 MQTT-3.2.2-3] CleanSession=0 without a stored session gives Session Present 0', async () => {
    const { connack } = await connect({ clientId: 'sp3-new', clean: false });
    expect(connack.sessionPresent).toBe(false);
  });

  it('[MQTT-3.2.2-2] (5.0) Clean Start=1 gives Session Present 0 even if a session existed', async () => {
    const props = { sessionExpiryInterval: 60 };
    const first = await connect({ clientId: 'sp5', clean: false, protocolVersion: 5, properties: props });
    await first.client.disconnect();
    const { connack } = await connect({ clientId: 'sp5', clean: true, protocolVersion: 5 });
    expect(connack.sessionPresent).toBe(false);
  });

  it('[MQTT-3.2.2-3] (5.0) Clean Start=0 with a stored session gives Session Present 1', async () => {
    const props = { sessionExpiryInterval: 60 };
    const first = await connect({ clientId: 'sp6', clean: false, protocolVersion: 5, properties: props });
    await first.client.disconnect();
    const { connack } = await connect({ clientId: 'sp6', clean: false, protocolVersion: 5, properties: props });
    expect(connack.sessionPresent).toBe(true);
  });

  it('(5.0) a session with Session Expiry Interval 0 ends when the connection closes', async () => {
    const first = await connect({ clientId: 'sp7', clean: false, protocolVersion: 5 });
    await first.client.disconnect();
    await delay(50);
    const { connack } = await connect({ clientId: 'sp7', clean: false, protocolVersion: 5 });
    expect(connack.sessionPresent).toBe(false);
  });

  it('[MQTT-4.1.0-2] (5.0) a session is removed once its Session Expiry Interval has passed', async () => {
    const props = { sessionExpiryInterval: 1 };
    const first = await connect({ clientId: 'sp8', clean: false, protocolVersion: 5, properties: props });
    await first.client.disconnect();
    await delay(1300);
    const { connack } = await connect({ clientId: 'sp8', clean: false, protocolVersion: 5, properties: props });
    expect(connack.sessionPresent).toBe(false);
  });

  it.each([
    ['[3.1.1 MQTT-3.12.4-1]', 4],
    ['[MQTT-3.12.4-1]', 5],
  ] as const)('%s level %d: PINGREQ is answered with PINGRESP', async (_tag, protocolVersion) => {
    const { client } = await connect({ protocolVersion });
    client.send({ type: PacketType.PINGREQ });
    await client.expectPacket(PacketType.PINGRESP);
  });

  it('(5.0) CONNACK announces the broker limits', async () => {
    const { connack } = await connect({ protocolVersion: 5 });
    expect(connack.properties?.receiveMaximum).toBe(20);
    expect(connack.properties?.topicAliasMaximum).toBe(10);
  });

  it('[MQTT-4.12.0-1] (5.0) an Authentication Method is refused with CONNACK 0x8C Bad authentication method', async () => {
    const { client, connack } = await connect({
      protocolVersion: 5,
      properties: { authenticationMethod: 'SCRAM-SHA-1' },
    });
    expect(connack.reasonCode).toBe(ReasonCode.BadAuthenticationMethod);
    await client.expectClose();
  });
});

describe('keep alive', () => {
  it('[3.1.1 MQTT-3.1.2-24] the broker closes the connection after 1.5 x Keep Alive without a packet', async () => {
    const { client } = await connect({ keepAlive: 1 });
    const start = Date.now();
    await client.expectClose(3000);
    const elapsed = Date.now() - start;
    expect(elapsed).toBeGreaterThanOrEqual(1400);
  });

  it('[MQTT-3.1.2-22] (5.0) the broker sends DISCONNECT 0x8D Keep alive timeout after 1.5 x Keep Alive of silence', async () => {
    const { client } = await connect({ keepAlive: 1, protocolVersion: 5 });
    const disconnect = await client.expectPacket(PacketType.DISCONNECT, 3000);
    expect(disconnect.reasonCode).toBe(ReasonCode.KeepAliveTimeout);
    await client.expectClose();
  });

  it('a client that keeps sending PINGREQ within the keep alive stays connected', async () => {
    const { client } = await connect({ keepAlive: 1 });
    for (let i = 0; i < 4; i++) {
      await delay(600);
      client.send({ type: PacketType.PINGREQ });
      await client.expectPacket(PacketType.PINGRESP);
    }
    expect(client.closed).toBe(false);
  });
});

describe('limits', () => {
  it('(5.0) Server Keep Alive is sent when the client asks for more than maxKeepAlive, or for 0', async () => {
    await withBroker({ maxKeepAlive: 30 }, async (limited) => {
      const { client, connack } = await RawClient.connect(limited.port, { protocolVersion: 5, keepAlive: 600 });
      expect(connack.properties?.serverKeepAlive).toBe(30);
      await client.end();
      const zero = await RawClient.connect(limited.port, { protocolVersion: 5, keepAlive: 0 });
      expect(zero.connack.properties?.serverKeepAlive).toBe(30);
      await zero.client.end();
    });
  });

  it('maxConnections refuses further clients with CONNACK 0x89 (5.0) / 0x03 (3.1.1)', async () => {
    await withBroker({ maxConnections: 1 }, async (limited) => {
      const first = await RawClient.connect(limited.port);
      const v5 = await RawClient.connect(limited.port, { protocolVersion: 5 });
      expect(v5.connack.reasonCode).toBe(ReasonCode.ServerBusy);
      await v5.client.expectClose();
      const v4 = await RawClient.connect(limited.port);
      expect(v4.connack.reasonCode).toBe(0x03);
      await v4.client.expectClose();
      await first.client.end();
    });
  });

  it('broker.close() sends DISCONNECT 0x8B Server shutting down to MQTT 5.0 clients', async () => {
    const own = await startBroker();
    const { client } = await RawClient.connect(own.port, { protocolVersion: 5 });
    const closing = own.close();
    const disconnect = await client.expectPacket(PacketType.DISCONNECT);
    expect(disconnect.reasonCode).toBe(ReasonCode.ServerShuttingDown);
    await client.expectClose();
    await closing;
  });
});

describe('authentication hook', () => {
  it('a refused client gets CONNACK 0x86 (5.0) / 0x04 (3.1.1) and is closed', async () => {
    await withBroker(
      {
        hooks: {
          authenticate: async (ctx) =>
            ctx.username === 'good' ? true : { reasonCode: ReasonCode.BadUserNameOrPassword },
        },
      },
      async (auth) => {
        const ok = await RawClient.connect(auth.port, { username: 'good' });
        expect(ok.connack.reasonCode).toBe(0);
        await ok.client.end();
        const bad5 = await RawClient.connect(auth.port, { username: 'bad', protocolVersion: 5 });
        expect(bad5.connack.reasonCode).toBe(ReasonCode.BadUserNameOrPassword);
        await bad5.client.expectClose();
        const bad4 = await RawClient.connect(auth.port, { username: 'bad' });
        expect(bad4.connack.reasonCode).toBe(0x04);
        await bad4.client.expectClose();
      },
    );
  });

  it('packets sent right after CONNECT wait for an asynchronous authenticate and keep their order', async () => {
    await withBroker(
      {
        hooks: { authenticate: () => new Promise((resolve) => setTimeout(() => resolve(true), 100)) },
      },
      async (auth) => {
        const client = await RawClient.open(auth.port);
        client.send(connectPacket());
        client.send({ type: PacketType.PINGREQ });
        await client.expectPacket(PacketType.CONNACK);
        await client.expectPacket(PacketType.PINGRESP);
        await client.end();
      },
    );
  });
});
