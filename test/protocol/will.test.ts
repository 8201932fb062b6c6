import { describe, expect, it } from 'vitest';
import { PacketType, ReasonCode } from '../../src/codec/index.js';
import { useLiveBroker } from '../helpers/live-broker.js';
import { delay, receive, subscribe, text } from '../helpers/raw-client.js';

const live = useLiveBroker();
const { connect } = live;
const will = (topic: string, extra: object = {}) => ({
  topic,
  payload: Buffer.from('gone'),
  qos: 1 as const,
  retain: false,
  ...extra,
});

describe('will messages', () => {
  it.each([
    ['[3.1.1 MQTT-3.1.2-8] [3.1.1 MQTT-3.1.2-16]', 4],
    ['[MQTT-3.1.2-7] [MQTT-3.1.2-8] [MQTT-3.1.2-14]', 5],
  ] as const)(
    '%s level %d: the will is published, not retained, when the connection closes without DISCONNECT',
    async (_tags, protocolVersion) => {
      const sub = await connect({ protocolVersion });
      await subscribe(sub, [`will/1/${protocolVersion}`]);
      const dying = await connect({ protocolVersion, will: will(`will/1/${protocolVersion}`) });
      await dying.end();
      const received = await receive(sub);
      expect(text(received.payload)).toBe('gone');
      expect(received.qos).toBe(1);
      expect(received.retain).toBe(false);
      expect(live.broker.retained.get(`will/1/${protocolVersion}`)).toBeUndefined();
    },
  );

  it('[3.1.1 MQTT-3.1.2-10] [3.1.1 MQTT-3.14.4-3] the will is discarded when the client sends DISCONNECT', async () => {
    const sub = await connect();
    await subscribe(sub, ['will/2']);
    const leaving = await connect({ will: will('will/2') });
    await leaving.disconnect();
    await sub.expectNoPacket(300);
  });

  it('[MQTT-3.14.4-3] [MQTT-3.1.2-10] (5.0) DISCONNECT 0x00 discards the will', async () => {
    const sub = await connect({ protocolVersion: 5 });
    await subscribe(sub, ['will/3']);
    const leaving = await connect({ protocolVersion: 5, will: will('will/3') });
    await leaving.disconnect(0);
    await sub.expectNoPacket(300);
  });

  it('(5.0) DISCONNECT 0x04 Disconnect with Will Message publishes the will', async () => {
    const sub = await connect({ protocolVersion: 5 });
    await subscribe(sub, ['will/4']);
    const leaving = await connect({ protocolVersion: 5, will: will('will/4') });
    await leaving.disconnect(ReasonCode.DisconnectWithWillMessage);
    expect(text((await receive(sub)).payload)).toBe('gone');
  });

  it.each([
    ['[3.1.1 MQTT-3.1.2-17]', 4],
    ['[MQTT-3.1.2-15]', 5],
  ] as const)(
    '%s level %d: a will with Will Retain=1 is published as a retained message',
    async (_tag, protocolVersion) => {
      const dying = await connect({ protocolVersion, will: will(`will/5/${protocolVersion}`, { retain: true }) });
      await dying.end();
      await delay(50);
      const sub = await connect({ protocolVersion });
      await subscribe(sub, [`will/5/${protocolVersion}`]);
      const received = await receive(sub);
      expect(received.retain).toBe(true);
      expect(text(received.payload)).toBe('gone');
    },
  );

  it('the will is published when the broker closes the connection for a protocol error', async () => {
    const sub = await connect();
    await subscribe(sub, ['will/6']);
    const bad = await connect({ will: will('will/6') });
    bad.send({ type: PacketType.CONNACK, sessionPresent: false, reasonCode: 0 });
    await bad.expectClose();
    expect(text((await receive(sub)).payload)).toBe('gone');
  });

  it('[MQTT-3.1.3-9] (5.0) a delayed will is not sent if the client reconnects to the session before the delay', async () => {
    const sub = await connect({ protocolVersion: 5 });
    await subscribe(sub, ['will/7']);
    const props = { sessionExpiryInterval: 60 };
    const dying = await connect({
      clientId: 'will-7',
      protocolVersion: 5,
      clean: false,
      properties: props,
      will: will('will/7', { properties: { willDelayInterval: 1 } }),
    });
    await dying.end();
    await connect({ clientId: 'will-7', protocolVersion: 5, clean: false, properties: props });
    await sub.expectNoPacket(1500);
  });

  it('[MQTT-3.1.2-8] (5.0) a delayed will is published after the Will Delay Interval', async () => {
    const sub = await connect({ protocolVersion: 5 });
    await subscribe(sub, ['will/8']);
    const dying = await connect({
      protocolVersion: 5,
      properties: { sessionExpiryInterval: 60 },
      will: will('will/8', { properties: { willDelayInterval: 1 } }),
    });
    const start = Date.now();
    await dying.end();
    await receive(sub, { timeoutMs: 3000 });
    expect(Date.now() - start).toBeGreaterThanOrEqual(900);
  });

  it('(5.0) a delayed will is published when the session ends, if that is sooner', async () => {
    const sub = await connect({ protocolVersion: 5 });
    await subscribe(sub, ['will/9']);
    const dying = await connect({
      protocolVersion: 5,
      properties: { sessionExpiryInterval: 0 },
      will: will('will/9', { properties: { willDelayInterval: 30 } }),
    });
    await dying.end();
    await receive(sub, { timeoutMs: 1000 });
  });
});
