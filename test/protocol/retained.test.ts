import { describe, expect, it } from 'vitest';
import { withBroker } from '../helpers/broker.js';
import { useLiveBroker } from '../helpers/live-broker.js';
import { publish, RawClient, receive, subscribe, text } from '../helpers/raw-client.js';

const live = useLiveBroker();
const { connect } = live;

describe('retained messages', () => {
  it.each([
    ['[3.1.1 MQTT-3.3.1-5] [3.1.1 MQTT-3.3.1-6]', 4],
    ['[MQTT-3.3.1-5]', 5],
  ] as const)(
    '%s level %d: a PUBLISH with RETAIN=1 is stored with its QoS and replaces the previous retained message of the topic',
    async (_tags, protocolVersion) => {
      const topic = `r/replace/${protocolVersion}`;
      const pub = await connect({ protocolVersion });
      await publish(pub, topic, 'first', { retain: true, qos: 1 });
      await publish(pub, topic, 'second', { retain: true, qos: 2, packetId: 2 });
      const sub = await connect({ protocolVersion });
      await subscribe(sub, [topic]);
      const received = await receive(sub);
      expect([text(received.payload), received.qos]).toEqual(['second', 2]);
      await sub.expectNoPacket(200);
    },
  );

  it('[3.1.1 MQTT-3.3.1-8] a retained message sent because of a new subscription has RETAIN=1', async () => {
    const pub = await connect();
    await publish(pub, 'r/flag', 'x', { retain: true, qos: 1 });
    const sub = await connect();
    await subscribe(sub, ['r/+']);
    const received = await receive(sub);
    expect(received.retain).toBe(true);
    expect(received.topic).toBe('r/flag');
  });

  it.each([
    ['[3.1.1 MQTT-3.3.1-10]', 4],
    ['[MQTT-3.3.1-6]', 5],
  ] as const)(
    '%s level %d: a retained PUBLISH with an empty payload is forwarded and removes the retained message',
    async (_tag, protocolVersion) => {
      const topic = `r/delete/${protocolVersion}`;
      const pub = await connect({ protocolVersion });
      await publish(pub, topic, 'x', { retain: true, qos: 1 });
      const live = await connect({ protocolVersion });
      await subscribe(live, [topic]);
      await receive(live);
      await publish(pub, topic, '', { retain: true, qos: 1 });
      expect((await receive(live)).payload.length).toBe(0);
      const late = await connect({ protocolVersion });
      await subscribe(late, [topic]);
      await late.expectNoPacket(200);
    },
  );

  it.each([
    ['[3.1.1 MQTT-3.3.1-11]', 4],
    ['[MQTT-3.3.1-7]', 5],
  ] as const)('%s level %d: a retained message with an empty payload is not stored', async (_tag, protocolVersion) => {
    const pub = await connect({ protocolVersion });
    await publish(pub, `r/empty/${protocolVersion}`, '', { retain: true, qos: 1 });
    expect(live.broker.retained.get(`r/empty/${protocolVersion}`)).toBeUndefined();
    const sub = await connect({ protocolVersion });
    await subscribe(sub, [`r/empty/${protocolVersion}`]);
    await sub.expectNoPacket(200);
  });

  it.each([
    ['[3.1.1 MQTT-3.3.1-12]', 4],
    ['[MQTT-3.3.1-8]', 5],
  ] as const)(
    '%s level %d: a PUBLISH with RETAIN=0 does not remove or replace the retained message',
    async (_tag, protocolVersion) => {
      const topic = `r/keep/${protocolVersion}`;
      const pub = await connect({ protocolVersion });
      await publish(pub, topic, 'kept', { retain: true, qos: 1 });
      await publish(pub, topic, 'not retained', { retain: false, qos: 1 });
      await publish(pub, topic, '', { retain: false, qos: 1 });
      await publish(pub, `${topic}/other`, 'not retained', { retain: false, qos: 1 });
      expect(live.broker.retained.get(`${topic}/other`)).toBeUndefined();
      const sub = await connect({ protocolVersion });
      await subscribe(sub, [topic]);
      expect(text((await receive(sub)).payload)).toBe('kept');
    },
  );

  it('[3.1.1 MQTT-3.3.1-7] a retained QoS 0 message replaces the retained message', async () => {
    const pub = await connect();
    await publish(pub, 'r/q0', 'one', { retain: true, qos: 1 });
    await publish(pub, 'r/q0', 'two', { retain: true, qos: 0 });
    const sub = await connect();
    await subscribe(sub, ['r/q0']);
    const received = await receive(sub);
    expect(text(received.payload)).toBe('two');
    expect(received.qos).toBe(0);
  });

  it('[MQTT-3.3.1-9] (5.0) Retain Handling 0 sends the retained messages on every subscribe', async () => {
    const pub = await connect({ protocolVersion: 5 });
    await publish(pub, 'rh/0', 'x', { retain: true, qos: 1 });
    const sub = await connect({ protocolVersion: 5 });
    await subscribe(sub, [{ topicFilter: 'rh/0', qos: 1, retainHandling: 0 }]);
    await receive(sub);
    await subscribe(sub, [{ topicFilter: 'rh/0', qos: 1, retainHandling: 0 }], { packetId: 2 });
    expect((await receive(sub)).retain).toBe(true);
  });

  it('[MQTT-3.3.1-10] (5.0) Retain Handling 1 sends the retained messages only if the subscription is new', async () => {
    const pub = await connect({ protocolVersion: 5 });
    await publish(pub, 'rh/1', 'x', { retain: true, qos: 1 });
    const sub = await connect({ protocolVersion: 5 });
    await subscribe(sub, [{ topicFilter: 'rh/1', qos: 1, retainHandling: 1 }]);
    await receive(sub);
    await subscribe(sub, [{ topicFilter: 'rh/1', qos: 1, retainHandling: 1 }], { packetId: 2 });
    await sub.expectNoPacket(200);
  });

  it('[MQTT-3.3.1-11] (5.0) Retain Handling 2 never sends retained messages on subscribe', async () => {
    const pub = await connect({ protocolVersion: 5 });
    await publish(pub, 'rh/2', 'x', { retain: true, qos: 1 });
    const sub = await connect({ protocolVersion: 5 });
    await subscribe(sub, [{ topicFilter: 'rh/2', qos: 1, retainHandling: 2 }]);
    await sub.expectNoPacket(200);
  });

  it.each([
    ['[3.1.1 MQTT-4.7.2-1]', 4],
    ['[MQTT-4.7.2-1]', 5],
  ] as const)(
    '%s level %d: a filter starting with a wildcard does not match retained topics starting with $',
    async (_tag, protocolVersion) => {
      live.broker.publishMessage('$internal/x', 'secret', { retain: true });
      const sub = await connect({ protocolVersion });
      await subscribe(sub, ['#', '+/x']);
      const topics: string[] = [];
      for (;;) {
        const packet = await sub.nextPacket(200);
        if (packet === undefined) break;
        if (packet.type === 3) topics.push(packet.topic);
      }
      expect(topics).not.toContain('$internal/x');
      const dollar = await connect({ protocolVersion });
      await subscribe(dollar, ['$internal/#']);
      expect((await receive(dollar)).topic).toBe('$internal/x');
    },
  );

  it('a retained message is delivered at the lower of its QoS and the granted QoS', async () => {
    const pub = await connect();
    await publish(pub, 'r/qos', 'x', { retain: true, qos: 2 });
    const sub = await connect();
    await subscribe(sub, [{ topicFilter: 'r/qos', qos: 1 }]);
    expect((await receive(sub)).qos).toBe(1);
  });

  it('retained messages are not sent for a shared subscription', async () => {
    const pub = await connect({ protocolVersion: 5 });
    await publish(pub, 'r/shared', 'x', { retain: true, qos: 1 });
    const sub = await connect({ protocolVersion: 5 });
    await subscribe(sub, [{ topicFilter: '$share/g/r/shared', qos: 1 }]);
    await sub.expectNoPacket(200);
  });

  it('5,000 retained messages for one subscription arrive after the SUBACK, once each, in order, with RETAIN=1 (window 20)', async () => {
    await live.withBroker({ maxQueuedMessages: 10_000 }, async (own) => {
      const count = 5_000;
      for (let i = 0; i < count; i++) own.broker.publishMessage(`big/${i}`, `m${i}`, { retain: true, qos: 1 });
      const sub = await connect({}, own.port);
      await subscribe(sub, [{ topicFilter: 'big/#', qos: 1 }]); // fails if a PUBLISH comes before the SUBACK
      const received: { topic: string; payload: string; retain: boolean; qos: number }[] = [];
      for (let i = 0; i < count; i++) {
        const packet = await receive(sub);
        received.push({ topic: packet.topic, payload: text(packet.payload), retain: packet.retain, qos: packet.qos });
      }
      expect(received).toEqual(
        Array.from({ length: count }, (_, i) => ({ topic: `big/${i}`, payload: `m${i}`, retain: true, qos: 1 })),
      );
      await sub.expectNoPacket(200);
    });
  });

  it('a subscriber that leaves in the middle of a large retained fetch disturbs neither the broker nor the next one', async () => {
    await live.withBroker({ maxQueuedMessages: 10_000 }, async (own) => {
      const count = 5_000;
      for (let i = 0; i < count; i++) own.broker.publishMessage(`big/${i}`, `m${i}`, { retain: true, qos: 1 });
      const leaving = await connect({ clientId: 'leaving' }, own.port);
      await subscribe(leaving, [{ topicFilter: 'big/#', qos: 1 }]);
      for (let i = 0; i < 30; i++) await receive(leaving);
      await leaving.end();
      const taken = await connect({ clientId: 'taken' }, own.port);
      await subscribe(taken, [{ topicFilter: 'big/#', qos: 1 }]);
      await receive(taken);
      await connect({ clientId: 'taken' }, own.port); // a clean start takes the session over in the middle
      await taken.expectClose();
      const next = await connect({}, own.port);
      await subscribe(next, [{ topicFilter: 'big/#', qos: 1 }]);
      const topics: string[] = [];
      for (let i = 0; i < count; i++) topics.push((await receive(next)).topic);
      expect(new Set(topics).size).toBe(count);
      await next.expectNoPacket(200);
      // Nothing vanished: what the leaving subscribers did not acknowledge was dropped with the session.
      expect(own.broker.stats.droppedByReason['session-ended']).toBe(2 * count - 31);
    });
  });

  it('with retainAvailable=false a retained PUBLISH gets DISCONNECT 0x9A Retain not supported (5.0)', async () => {
    await withBroker({ retainAvailable: false }, async (own) => {
      const { client, connack } = await RawClient.connect(own.port, { protocolVersion: 5 });
      expect(connack.properties?.retainAvailable).toBe(0);
      client.send({ type: 3, topic: 'x', payload: Buffer.from('x'), qos: 0, retain: true, dup: false });
      const disconnect = await client.expectPacket(14);
      expect(disconnect.reasonCode).toBe(0x9a);
      await client.expectClose();
    });
  });
});
