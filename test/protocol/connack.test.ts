/**
 * CONNECT validation, CONNACK, the Session at connect time and the server's DISCONNECT (MQTT 5.0 and 3.1.1 §3.1,
 * §3.2, §3.14, §4.12), on the wire.
 */
import { describe, expect, it } from 'vitest';
import { encode, MAX_PACKET_SIZE, PacketType, ReasonCode } from '../../src/codec/index.js';
import { withBroker } from '../helpers/broker.js';
import { useLiveBroker } from '../helpers/live-broker.js';
import {
  connectPacket,
  delay,
  persistentSession,
  publish,
  RawClient,
  rawConnect,
  rawString,
  receive,
  subscribe,
  text,
} from '../helpers/raw-client.js';

const live = useLiveBroker();
/** A broker whose authenticate hook refuses usernames "bad" and the client id "rejected-id". */
const guarded = useLiveBroker({
  hooks: {
    authenticate: async (ctx) => {
      if (ctx.clientId === 'rejected-id') return { reasonCode: ReasonCode.ClientIdentifierNotValid };
      return ctx.username !== 'bad';
    },
  },
});
const { connectWithConnack: connect, open } = live;
const persistent = persistentSession;

describe('CONNECT validation', () => {
  it('[3.1.1 MQTT-3.1.2-3] [3.1.1 MQTT-3.1.4-1] [3.1.1 MQTT-3.2.2-6] level 4: a CONNECT with the reserved flag set is closed without CONNACK', async () => {
    const client = await open(4);
    client.sendRaw(rawConnect(4, 0x03));
    await client.expectClose();
    expect(client.packets).toEqual([]);
  });

  it('[MQTT-3.1.2-3] [MQTT-3.1.4-1] [MQTT-3.2.2-6] [MQTT-3.2.2-7] [MQTT-3.2.2-8] level 5: a CONNECT with the reserved flag set gets CONNACK 0x81 Malformed Packet with Session Present 0, then close', async () => {
    const client = await open(5);
    client.sendRaw(rawConnect(5, 0x03));
    const connack = await client.expectPacket(PacketType.CONNACK);
    expect(connack.reasonCode).toBe(ReasonCode.MalformedPacket);
    expect(connack.sessionPresent).toBe(false);
    await client.expectClose();
    expect(client.packets).toEqual([]);
  });

  it.each([
    ['[3.1.1 MQTT-3.1.2-1]', 4],
    ['[MQTT-3.1.2-1]', 5],
  ] as const)(
    '%s level %d: a CONNECT with another protocol name is not processed: the connection is closed',
    async (_tag, version) => {
      const client = await open(version);
      client.sendRaw(rawConnect(version, 0x02, [], 'MQTX'));
      await client.expectClose();
      expect(client.packets).toEqual([]);
    },
  );

  it('[3.1.1 MQTT-3.1.2-22] [3.1.1 MQTT-3.1.4-1] level 4: a Password without a User Name is closed without CONNACK', async () => {
    const client = await open(4);
    client.sendRaw(rawConnect(4, 0x42, rawString('secret')));
    await client.expectClose();
    expect(client.packets).toEqual([]);
  });

  it('[3.1.1 MQTT-3.1.2-13] [3.1.1 MQTT-3.1.2-15] level 4: Will QoS or Will Retain set without the Will Flag is closed without CONNACK', async () => {
    for (const flags of [0x0a, 0x22]) {
      const client = await open(4);
      client.sendRaw(rawConnect(4, flags));
      await client.expectClose();
      expect(client.packets).toEqual([]);
    }
  });

  it('[MQTT-3.1.2-11] [MQTT-3.1.2-13] [MQTT-4.13.1-1] level 5: Will QoS or Will Retain set without the Will Flag gets CONNACK 0x81, then close', async () => {
    for (const flags of [0x0a, 0x22]) {
      const client = await open(5);
      client.sendRaw(rawConnect(5, flags));
      expect((await client.expectPacket(PacketType.CONNACK)).reasonCode).toBe(ReasonCode.MalformedPacket);
      await client.expectClose();
    }
  });

  it.each([
    ['[3.1.1 MQTT-3.1.3-5]', 4],
    ['[MQTT-3.1.3-5]', 5],
  ] as const)(
    '%s level %d: client ids of 1 to 23 ASCII letters and digits are accepted',
    async (_tag, protocolVersion) => {
      for (const clientId of ['Z', `abcXYZ0123456789abcdef${protocolVersion}`]) {
        const { connack } = await connect({ protocolVersion, clientId });
        expect(connack.reasonCode).toBe(0);
      }
    },
  );

  it('[3.1.1 MQTT-3.1.3-9] [3.1.1 MQTT-3.2.2-4] [3.1.1 MQTT-3.2.2-5] level 4: a client id the server rejects gets CONNACK 0x02 with Session Present 0, then close', async () => {
    const { client, connack } = await connect({ clientId: 'rejected-id' }, guarded.port);
    expect(connack.reasonCode).toBe(0x02);
    expect(connack.sessionPresent).toBe(false);
    await client.expectClose();
  });

  it('[MQTT-3.1.3-8] [MQTT-3.2.2-6] [MQTT-3.2.2-7] level 5: a client id the server rejects gets CONNACK 0x85 with Session Present 0, then close', async () => {
    const { client, connack } = await connect({ clientId: 'rejected-id', protocolVersion: 5 }, guarded.port);
    expect(connack.reasonCode).toBe(ReasonCode.ClientIdentifierNotValid);
    expect(connack.sessionPresent).toBe(false);
    await client.expectClose();
  });

  it.each([
    ['[3.1.1 MQTT-3.1.4-5]', 4],
    ['[MQTT-3.1.4-6] [MQTT-3.1.4-2]', 5],
  ] as const)(
    '%s level %d: after refusing a CONNECT the server processes nothing the client sent after it',
    async (_tags, protocolVersion) => {
      const topic = `after-refusal/${protocolVersion}`;
      const client = await open(protocolVersion, guarded.port);
      const publishAfter = {
        type: PacketType.PUBLISH,
        topic,
        payload: Buffer.from('must not be stored'),
        qos: 0,
        retain: true,
        dup: false,
      } as const;
      client.sendRaw(
        Buffer.concat([
          encode(connectPacket({ protocolVersion, username: 'bad' }), protocolVersion),
          encode(publishAfter, protocolVersion),
        ]),
      );
      const connack = await client.expectPacket(PacketType.CONNACK);
      expect(connack.reasonCode).toBe(protocolVersion === 5 ? ReasonCode.NotAuthorized : 0x05);
      await client.expectClose();
      expect(client.packets).toEqual([]);
      expect(guarded.broker.retained.get(topic)).toBeUndefined();
    },
  );

  it('[MQTT-3.2.2-12] level 5: a Will QoS above the Maximum QoS gets CONNACK 0x9B QoS not supported, then close', async () => {
    await withBroker({ maximumQoS: 1 }, async (own) => {
      const { client, connack } = await RawClient.connect(own.port, {
        protocolVersion: 5,
        will: { topic: 'w', payload: Buffer.from('x'), qos: 2, retain: false },
      });
      expect(connack.reasonCode).toBe(ReasonCode.QoSNotSupported);
      await client.expectClose();
    });
  });

  it('[MQTT-3.3.2-14] level 5: a will whose Response Topic has a wildcard gets CONNACK 0x82, then close', async () => {
    const { client, connack } = await connect({
      protocolVersion: 5,
      will: { topic: 'w', payload: Buffer.from('x'), qos: 0, retain: false, properties: { responseTopic: 'r/#' } },
    });
    expect(connack.reasonCode).toBe(ReasonCode.ProtocolError);
    await client.expectClose();
  });

  it('[MQTT-3.2.2-13] level 5: a Will Retain of 1 without retain support gets CONNACK 0x9A Retain not supported, then close', async () => {
    await withBroker({ retainAvailable: false }, async (own) => {
      const { client, connack } = await RawClient.connect(own.port, {
        protocolVersion: 5,
        will: { topic: 'w', payload: Buffer.from('x'), qos: 0, retain: true },
      });
      expect(connack.reasonCode).toBe(ReasonCode.RetainNotSupported);
      await client.expectClose();
    });
  });
});

describe('CONNACK', () => {
  it.each([
    ['[3.1.1 MQTT-3.1.4-4] [3.1.1 MQTT-3.2.0-1]', 4],
    ['[MQTT-3.1.4-5] [MQTT-3.2.0-1] [MQTT-3.2.2-1]', 5],
  ] as const)(
    '%s level %d: an accepted CONNECT gets CONNACK 0x00 before anything else, flags bits 7-1 zero',
    async (_tags, protocolVersion) => {
      const clientId = `first-connack-${protocolVersion}`;
      const { client: sub } = await connect({ clientId, ...persistent(protocolVersion) });
      await subscribe(sub, [{ topicFilter: clientId, qos: 1 }]);
      await sub.disconnect();
      const { client: pub } = await connect({ protocolVersion });
      await publish(pub, clientId, 'queued', { qos: 1 });
      const again = await open(protocolVersion);
      again.send(connectPacket({ clientId, ...persistent(protocolVersion) }));
      const connack = await again.expectPacket(PacketType.CONNACK);
      expect(connack.reasonCode).toBe(0);
      expect(text((await receive(again)).payload)).toBe('queued');
      const bytes = Buffer.concat(again.chunks);
      expect(bytes[0]).toBe(0x20);
      expect(bytes[2]).toBe(0x01); // Session Present 1, bits 7-1 zero
      expect(bytes[3]).toBe(0x00);
    },
  );

  it('[MQTT-3.2.2-22] level 5: without a Server Keep Alive the client Keep Alive applies', async () => {
    await withBroker({ maxKeepAlive: 0 }, async (own) => {
      const { client, connack } = await RawClient.connect(own.port, { protocolVersion: 5, keepAlive: 1 });
      expect(connack.properties?.serverKeepAlive).toBeUndefined();
      const start = Date.now();
      expect((await client.expectPacket(PacketType.DISCONNECT, 3000)).reasonCode).toBe(ReasonCode.KeepAliveTimeout);
      expect(Date.now() - start).toBeGreaterThanOrEqual(1400);
    });
  });

  it('[MQTT-3.2.2-19] level 5: a refusing CONNACK leaves out its Reason String when it would exceed the client Maximum Packet Size', async () => {
    await withBroker({ maxConnections: 1 }, async (own) => {
      const first = await RawClient.connect(own.port);
      const { client, connack } = await RawClient.connect(own.port, {
        protocolVersion: 5,
        properties: { maximumPacketSize: 8 },
      });
      expect(connack.reasonCode).toBe(ReasonCode.ServerBusy);
      expect(connack.properties?.reasonString).toBeUndefined();
      expect(Buffer.concat(client.chunks).length).toBeLessThanOrEqual(8);
      await client.expectClose();
      const roomy = await RawClient.connect(own.port, { protocolVersion: 5 });
      expect(roomy.connack.properties?.reasonString).toBeDefined();
      await roomy.client.expectClose();
      await first.client.end();
    });
  });

  it('[MQTT-3.1.2-28] level 5: Request Response Information 0 gets no Response Information', async () => {
    const { connack } = await connect({ protocolVersion: 5, properties: { requestResponseInformation: 0 } });
    expect(connack.reasonCode).toBe(0);
    expect(connack.properties?.responseInformation).toBeUndefined();
  });

  it('[MQTT-4.12.0-6] level 5: without an Authentication Method the server sends no AUTH and no Authentication Method', async () => {
    const { client, connack } = await connect({ protocolVersion: 5 });
    expect(connack.properties?.authenticationMethod).toBeUndefined();
    expect(connack.properties?.authenticationData).toBeUndefined();
    client.send({ type: PacketType.PINGREQ });
    await client.expectPacket(PacketType.PINGRESP);
  });
});

describe('the Session at connect time', () => {
  it.each([
    ['[3.1.1 MQTT-3.1.4-3] [3.1.1 MQTT-3.1.2-6]', 4],
    ['[MQTT-3.1.2-4] [MQTT-3.1.4-4]', 5],
  ] as const)(
    '%s level %d: a clean start discards the stored subscriptions and queued messages',
    async (_tags, protocolVersion) => {
      const clientId = `clean-${protocolVersion}`;
      const { client: sub } = await connect({ clientId, ...persistent(protocolVersion) });
      await subscribe(sub, [{ topicFilter: clientId, qos: 1 }]);
      await sub.disconnect();
      const { client: pub } = await connect({ protocolVersion });
      await publish(pub, clientId, 'queued', { qos: 1 });
      const { client: again, connack } = await connect({ clientId, protocolVersion, clean: true });
      expect(connack.sessionPresent).toBe(false);
      await again.expectNoPacket(200);
      await publish(pub, clientId, 'live', { qos: 1, packetId: 2 });
      await again.expectNoPacket(200);
    },
  );

  it('[MQTT-3.1.2-6] level 5: Clean Start 0 without a session creates one, which the next connection resumes', async () => {
    const props = { sessionExpiryInterval: 60 };
    const { client, connack } = await connect({
      clientId: 'new-session-5',
      protocolVersion: 5,
      clean: false,
      properties: props,
    });
    expect(connack.sessionPresent).toBe(false);
    await subscribe(client, [{ topicFilter: 'new-session', qos: 1 }]);
    await client.disconnect();
    const again = await connect({ clientId: 'new-session-5', protocolVersion: 5, clean: false, properties: props });
    expect(again.connack.sessionPresent).toBe(true);
    const { client: pub } = await connect({ protocolVersion: 5 });
    await publish(pub, 'new-session', 'x', { qos: 1 });
    expect(text((await receive(again.client)).payload)).toBe('x');
  });

  it.each([
    ['[3.1.1 MQTT-3.1.3-2]', 4],
    ['[MQTT-3.1.3-2]', 5],
  ] as const)(
    '%s level %d: the client id selects the session: each client resumes only its own messages',
    async (_tag, protocolVersion) => {
      for (const id of ['a', 'b']) {
        const { client } = await connect({
          clientId: `owner-${id}-${protocolVersion}`,
          ...persistent(protocolVersion),
        });
        await subscribe(client, [{ topicFilter: `owner/${id}`, qos: 1 }]);
        await client.disconnect();
      }
      const { client: pub } = await connect({ protocolVersion });
      await publish(pub, 'owner/a', 'for a', { qos: 1 });
      await publish(pub, 'owner/b', 'for b', { qos: 1, packetId: 2 });
      const { client: a } = await connect({ clientId: `owner-a-${protocolVersion}`, ...persistent(protocolVersion) });
      expect(text((await receive(a)).payload)).toBe('for a');
      await a.expectNoPacket(200);
      const { client: b } = await connect({ clientId: `owner-b-${protocolVersion}`, ...persistent(protocolVersion) });
      expect(text((await receive(b)).payload)).toBe('for b');
    },
  );

  it('[3.1.1 MQTT-3.1.2-7] level 4: retained messages survive the end of the session that published them', async () => {
    const { client: pub } = await connect({ clientId: 'retain-owner', clean: true });
    await publish(pub, 'survives/end', 'kept', { qos: 1, retain: true });
    await pub.disconnect();
    await delay(20);
    expect(live.broker.sessions.has('retain-owner')).toBe(false);
    const { client: sub } = await connect();
    await subscribe(sub, ['survives/end']);
    expect(text((await receive(sub)).payload)).toBe('kept');
  });

  it('[MQTT-4.1.0-1] level 5: session state is kept while the connection is open, even past its Session Expiry Interval', async () => {
    const { client } = await connect({ protocolVersion: 5, properties: { sessionExpiryInterval: 1 } });
    await subscribe(client, [{ topicFilter: 'still/here', qos: 1 }]);
    await delay(1300);
    const { client: pub } = await connect({ protocolVersion: 5 });
    await publish(pub, 'still/here', 'x', { qos: 1 });
    expect(text((await receive(client)).payload)).toBe('x');
  });

  it('[3.1.1 MQTT-4.1.0-1] [3.1.1 MQTT-4.1.0-2] level 4: a clean session lasts as long as its connection', async () => {
    const { client } = await connect({ clean: true });
    await subscribe(client, [{ topicFilter: 'clean/lasting', qos: 1 }]);
    await delay(100);
    const { client: pub } = await connect();
    await publish(pub, 'clean/lasting', 'x', { qos: 1 });
    expect(text((await receive(client)).payload)).toBe('x');
  });
});

describe('will', () => {
  it('[3.1.1 MQTT-3.1.2-12] level 4: without the Will Flag nothing is published when the connection ends abnormally', async () => {
    const { client: sub } = await connect();
    await subscribe(sub, ['#']);
    while ((await sub.nextPacket(100)) !== undefined); // retained messages of earlier tests
    const { client } = await connect();
    await client.end();
    await sub.expectNoPacket(300);
  });

  it('[MQTT-3.1.3-10] level 5: the Will Payload Format Indicator and Content Type reach the subscriber unchanged', async () => {
    const { client: sub } = await connect({ protocolVersion: 5 });
    await subscribe(sub, ['will/format']);
    const { client } = await connect({
      protocolVersion: 5,
      will: {
        topic: 'will/format',
        payload: Buffer.from('gone'),
        qos: 1,
        retain: false,
        properties: { payloadFormatIndicator: 1, contentType: 'text/plain' },
      },
    });
    await client.end();
    const received = await receive(sub);
    expect(received.properties?.payloadFormatIndicator).toBe(1);
    expect(received.properties?.contentType).toBe('text/plain');
  });
});

describe('DISCONNECT from the server', () => {
  it('[MQTT-3.14.0-1] level 5: no DISCONNECT before a CONNACK, nor after a refusing one', async () => {
    const early = await open(5);
    early.send({ type: PacketType.PINGREQ });
    await early.expectClose();
    expect(early.packets).toEqual([]);
    const { client, connack } = await connect({ protocolVersion: 5, username: 'bad' }, guarded.port);
    expect(connack.reasonCode).toBe(ReasonCode.NotAuthorized);
    await client.expectClose();
    expect(client.packets).toEqual([]);
  });

  it('[MQTT-3.14.2-1] [MQTT-3.14.2-2] level 5: a server DISCONNECT has a Disconnect reason code and no Session Expiry Interval', async () => {
    const props = { sessionExpiryInterval: 60 };
    const { client: first } = await connect({ clientId: 'taken', protocolVersion: 5, clean: false, properties: props });
    await connect({ clientId: 'taken', protocolVersion: 5, clean: false, properties: props });
    const disconnect = await first.expectPacket(PacketType.DISCONNECT);
    expect(disconnect.reasonCode).toBe(ReasonCode.SessionTakenOver);
    expect(disconnect.properties?.sessionExpiryInterval).toBeUndefined();
  });

  it('[MQTT-3.14.4-1] [MQTT-3.14.4-2] [MQTT-4.13.2-1] level 5: after its DISCONNECT the server sends nothing more and closes', async () => {
    const { client } = await connect({ protocolVersion: 5 });
    await subscribe(client, [{ topicFilter: 'after/disconnect', qos: 0 }]);
    const { client: pub } = await connect({ protocolVersion: 5 });
    client.send(connectPacket({ protocolVersion: 5 }));
    for (let i = 0; i < 20; i++) await publish(pub, 'after/disconnect', String(i));
    const packets: number[] = [];
    await client.expectClose();
    for (const packet of client.packets) packets.push(packet.type);
    const at = packets.indexOf(PacketType.DISCONNECT);
    expect(at).toBeGreaterThanOrEqual(0);
    expect(packets.slice(at + 1)).toEqual([]);
  });

  it('[MQTT-3.14.2-3] level 5: a server DISCONNECT leaves out its Reason String when it would exceed the client Maximum Packet Size', async () => {
    const { client } = await connect({ protocolVersion: 5, properties: { maximumPacketSize: 16 } });
    client.send(connectPacket({ protocolVersion: 5 }));
    const disconnect = await client.expectPacket(PacketType.DISCONNECT);
    expect(disconnect.reasonCode).toBe(ReasonCode.ProtocolError);
    expect(disconnect.properties?.reasonString).toBeUndefined();
    const bytes = Buffer.concat(client.chunks);
    const disconnectBytes = bytes.subarray(bytes[1]! + 2); // after the CONNACK (Remaining Length < 128)
    expect(disconnectBytes[0]).toBe(0xe0);
    expect(disconnectBytes.length).toBeLessThanOrEqual(16);
    await client.expectClose();
    const { client: roomy } = await connect({ protocolVersion: 5, properties: { maximumPacketSize: MAX_PACKET_SIZE } });
    roomy.send(connectPacket({ protocolVersion: 5 }));
    expect((await roomy.expectPacket(PacketType.DISCONNECT)).properties?.reasonString).toBe('second CONNECT');
  });
});
