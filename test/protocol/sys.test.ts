import { afterEach, describe, expect, it } from 'vitest';
import { type StartedBroker, startBroker } from '../helpers/broker.js';
import { publish, RawClient, receive, subscribe, text } from '../helpers/raw-client.js';

let started: StartedBroker | undefined;
afterEach(async () => {
  await started?.close();
  started = undefined;
});

describe('$SYS topics', () => {
  it('publishes $SYS/broker/... statistics as retained messages', async () => {
    started = await startBroker({ sysInterval: 1 });
    const { client } = await RawClient.connect(started.port);
    await subscribe(client, ['$SYS/broker/version', '$SYS/broker/clients/connected']);
    const seen = new Map<string, string>();
    for (let i = 0; i < 2; i++) {
      const packet = await receive(client);
      expect(packet.retain).toBe(true);
      seen.set(packet.topic, text(packet.payload));
    }
    expect(seen.get('$SYS/broker/version')).toMatch(/^midge version /);
    expect(seen.has('$SYS/broker/clients/connected')).toBe(true);
    await client.end();
  });

  it('[3.1.1 MQTT-4.7.2-1] $SYS topics are not matched by a # subscription', async () => {
    started = await startBroker({ sysInterval: 1 });
    const { client } = await RawClient.connect(started.port);
    await subscribe(client, ['#']);
    const packet = await client.nextPacket(1300);
    expect(packet).toBeUndefined();
    await client.end();
  });
});

describe('events', () => {
  it('emits clientConnected, messagePublished, messageDelivered and clientDisconnected', async () => {
    started = await startBroker();
    const events: string[] = [];
    const { broker } = started;
    broker.on('clientConnected', (c) => events.push(`connected ${c.clientId}`));
    broker.on('clientDisconnected', (c) => events.push(`disconnected ${c.clientId}`));
    broker.on('messagePublished', (m, n) => events.push(`published ${m.topic} ${n}`));
    broker.on('messageDelivered', (id, m) => events.push(`delivered ${m.topic} to ${id}`));
    const { client: sub } = await RawClient.connect(started.port, { clientId: 's' });
    await subscribe(sub, ['ev']);
    const { client: pub } = await RawClient.connect(started.port, { clientId: 'p' });
    await publish(pub, 'ev', 'x', { qos: 1 });
    await receive(sub);
    await pub.disconnect();
    await sub.end();
    await new Promise((r) => setTimeout(r, 50));
    expect(events).toEqual([
      'connected s',
      'connected p',
      'published ev 1',
      'delivered ev to s',
      'disconnected p',
      'disconnected s',
    ]);
    expect(broker.stats.messagesReceived).toBe(1);
    expect(broker.stats.messagesSent).toBe(1);
    expect(broker.stats.bytesReceived).toBeGreaterThan(0);
  });
});
