import { describe, expect, it } from 'vitest';
import { PacketType } from '../../src/codec/index.js';
import { withBroker } from '../helpers/broker.js';
import { useLiveBroker } from '../helpers/live-broker.js';
import { delay, persistentSession, publish, RawClient, receive, subscribe, text } from '../helpers/raw-client.js';

const live = useLiveBroker();
const { connectWithConnack: connect } = live;
const persistent = persistentSession;

describe('persistent sessions', () => {
  it('[3.1.1 MQTT-3.1.2-4] [3.1.1 MQTT-3.1.2-5] CleanSession=0 resumes the subscriptions and queues QoS 1/2 messages while offline', async () => {
    const { client: sub } = await connect({ clientId: 'persist-1', clean: false });
    await subscribe(sub, [{ topicFilter: 'p/1', qos: 1 }]);
    await sub.disconnect();
    const { client: pub } = await connect();
    await publish(pub, 'p/1', 'while offline', { qos: 1 });
    await publish(pub, 'p/1', 'qos0 offline', { qos: 0 });
    await publish(pub, 'p/1', 'second', { qos: 2, packetId: 2 });
    const { client: again, connack } = await connect({ clientId: 'persist-1', clean: false });
    expect(connack.sessionPresent).toBe(true);
    const first = await receive(again);
    expect(text(first.payload)).toBe('while offline');
    expect(text((await receive(again)).payload)).toBe('second');
    await again.expectNoPacket(200);
  });

  it('[3.1.1 MQTT-3.1.2-6] CleanSession=1 discards the previous session', async () => {
    const { client: sub } = await connect({ clientId: 'persist-2', clean: false });
    await subscribe(sub, [{ topicFilter: 'p/2', qos: 1 }]);
    await sub.disconnect();
    await connect({ clientId: 'persist-2', clean: true });
    const { client: pub } = await connect();
    await publish(pub, 'p/2', 'x', { qos: 1 });
    expect(live.broker.trie.subscriptionsOf('persist-2')?.size ?? 0).toBe(0);
  });

  it.each([
    ['[3.1.1 MQTT-4.4.0-1]', 4],
    ['[MQTT-4.4.0-1]', 5],
  ] as const)(
    '%s level %d: unacknowledged messages are resent on reconnect with their original packet ids',
    async (_tag, protocolVersion) => {
      const clientId = `persist-3-${protocolVersion}`;
      const { client: sub } = await connect({ clientId, ...persistent(protocolVersion) });
      await subscribe(sub, [{ topicFilter: 'p/3', qos: 2 }]);
      const { client: pub } = await connect({ protocolVersion });
      await publish(pub, 'p/3', 'one', { qos: 1 });
      await publish(pub, 'p/3', 'two', { qos: 2, packetId: 2 });
      const one = await receive(sub, { ack: false });
      const two = await receive(sub, { ack: false });
      sub.send({ type: PacketType.PUBREC, packetId: two.packetId! });
      await sub.expectPacket(PacketType.PUBREL);
      await sub.end();
      const { client: again } = await connect({ clientId, ...persistent(protocolVersion) });
      const resent = await again.expectPacket(PacketType.PUBLISH);
      expect(resent.packetId).toBe(one.packetId);
      expect(text(resent.payload)).toBe('one');
      const pubrel = await again.expectPacket(PacketType.PUBREL);
      expect(pubrel.packetId).toBe(two.packetId);
    },
  );

  it.each([
    ['[3.1.1 MQTT-3.3.1-1]', 4],
    ['[MQTT-3.3.1-1]', 5],
  ] as const)('%s level %d: a resent PUBLISH has DUP=1', async (_tag, protocolVersion) => {
    const clientId = `persist-4-${protocolVersion}`;
    const { client: sub } = await connect({ clientId, ...persistent(protocolVersion) });
    await subscribe(sub, [{ topicFilter: 'p/4', qos: 1 }]);
    const { client: pub } = await connect({ protocolVersion });
    await publish(pub, 'p/4', 'x', { qos: 1 });
    const first = await receive(sub, { ack: false });
    expect(first.dup).toBe(false);
    await sub.end();
    const { client: again } = await connect({ clientId, ...persistent(protocolVersion) });
    const resent = await receive(again);
    expect(resent.dup).toBe(true);
  });

  it('[MQTT-3.1.2-5] [MQTT-3.1.2-23] (5.0) a session with Session Expiry Interval > 0 keeps queued messages across a reconnect', async () => {
    const props = { sessionExpiryInterval: 30 };
    const { client: sub } = await connect({
      clientId: 'persist-5',
      clean: false,
      protocolVersion: 5,
      properties: props,
    });
    await subscribe(sub, [{ topicFilter: 'p/5', qos: 1 }]);
    await sub.disconnect();
    const { client: pub } = await connect({ protocolVersion: 5 });
    await publish(pub, 'p/5', 'x', { qos: 1 });
    const { client: again } = await connect({
      clientId: 'persist-5',
      clean: false,
      protocolVersion: 5,
      properties: props,
    });
    expect(text((await receive(again)).payload)).toBe('x');
  });

  it('[MQTT-4.13.1-1] (5.0) DISCONNECT may not change a Session Expiry Interval of 0 to non-zero: DISCONNECT 0x82', async () => {
    const { client } = await connect({ protocolVersion: 5 });
    client.send({ type: PacketType.DISCONNECT, properties: { sessionExpiryInterval: 100 } });
    const disconnect = await client.expectPacket(PacketType.DISCONNECT);
    expect(disconnect.reasonCode).toBe(0x82);
    await client.expectClose();
  });

  it('(5.0) DISCONNECT can set the Session Expiry Interval to 0 to end the session', async () => {
    const props = { sessionExpiryInterval: 30 };
    const { client } = await connect({ clientId: 'persist-6', clean: false, protocolVersion: 5, properties: props });
    client.send({ type: PacketType.DISCONNECT, properties: { sessionExpiryInterval: 0 } });
    await client.expectClose();
    await delay(50);
    expect(live.broker.sessions.has('persist-6')).toBe(false);
  });

  it('the offline queue is bounded by maxQueuedMessages', async () => {
    await withBroker({ maxQueuedMessages: 5 }, async (own) => {
      const { client: sub } = await RawClient.connect(own.port, { clientId: 'bounded', clean: false });
      await subscribe(sub, [{ topicFilter: 'b', qos: 1 }]);
      await sub.disconnect();
      const { client: pub } = await RawClient.connect(own.port);
      for (let i = 0; i < 10; i++) await publish(pub, 'b', String(i), { qos: 1, packetId: i + 1 });
      expect(own.broker.stats.messagesDropped).toBe(5);
      const { client: again } = await RawClient.connect(own.port, { clientId: 'bounded', clean: false });
      for (let i = 0; i < 5; i++) expect(text((await receive(again)).payload)).toBe(String(i));
      await again.expectNoPacket(200);
      await pub.end();
      await again.end();
    });
  });
});
