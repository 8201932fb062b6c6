/**
 * Authorization from an ACL file (FileSecurity hooks), raw packets and MQTT.js, 3.1.1 and 5.0: unauthorized PUBLISH
 * (QoS 0 dropped; QoS 1/2 0x87 in 5.0, acknowledged and dropped in 3.1.1), unauthorized SUBSCRIBE (0x80 / 0x87),
 * delivery checked per message (wildcard subscriptions, retained messages), wills, reload.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { FileSecurity } from '../../src/broker/auth/file-security.js';
import { PacketType } from '../../src/codec/index.js';
import { type StartedBroker, startBroker } from '../helpers/broker.js';
import { delay, publish, RawClient, receive, subscribe, text } from '../helpers/raw-client.js';

const dir = mkdtempSync(join(tmpdir(), 'midge-acl-'));
const aclFile = join(dir, 'acl');
const ACL = `# anonymous clients
topic read public/#
topic write public/anon

user alice
topic readwrite alice/#
topic read shared/#
topic deny shared/secret
topic write wills/alice

user bob
topic write shared/#
topic read public/#

pattern readwrite clients/%c/#
`;
writeFileSync(aclFile, ACL);
let broker: StartedBroker | undefined;
let security: FileSecurity;
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  await broker?.close();
  broker = undefined;
});

async function start() {
  writeFileSync(aclFile, ACL);
  security = new FileSecurity({ aclFile });
  broker = await startBroker({ hooks: security.hooks });
  return broker.port;
}

describe.each([4, 5] as const)('ACL file, level %i', (protocolVersion) => {
  const v5 = protocolVersion === 5;
  const NOT_AUTHORIZED_SUBACK = v5 ? 0x87 : 0x80;
  const connect = async (port: number, username?: string, clientId?: string) => {
    const { client, connack } = await RawClient.connect(port, {
      protocolVersion,
      username,
      ...(clientId && { clientId }),
    });
    expect(connack.reasonCode).toBe(0);
    return client;
  };

  it(`unauthorized PUBLISH: QoS 0 dropped, QoS 1/2 ${v5 ? 'answered with 0x87' : 'acknowledged normally and dropped'}`, async () => {
    const port = await start();
    const alice = await connect(port, 'alice');
    expect(await subscribe(alice, ['alice/#', 'shared/#'])).toEqual([2, 2]);
    const bob = await connect(port, 'bob');
    await publish(bob, 'alice/q0', 'x', { qos: 0 });
    expect(await publish(bob, 'alice/q1', 'x', { qos: 1, packetId: 1 })).toBe(v5 ? 0x87 : undefined);
    bob.send({
      type: PacketType.PUBLISH,
      topic: 'alice/q2',
      payload: Buffer.from('x'),
      qos: 2,
      packetId: 2,
      retain: false,
      dup: false,
    });
    const pubrec = await bob.expectPacket(PacketType.PUBREC);
    expect(pubrec.reasonCode).toBe(v5 ? 0x87 : undefined);
    // An authorized one goes through.
    await publish(bob, 'shared/ok', 'fine', { qos: 1, packetId: 3 });
    const got = await receive(alice);
    expect(got.topic).toBe('shared/ok');
    await alice.expectNoPacket(200);
    expect(broker!.broker.stats.publishUnauthorized).toBe(3);
  });

  it(`unauthorized SUBSCRIBE: SUBACK 0x${NOT_AUTHORIZED_SUBACK.toString(16)}; a filter the client may read is granted`, async () => {
    const port = await start();
    const bob = await connect(port, 'bob');
    expect(await subscribe(bob, ['alice/#', 'public/#', 'shared/x', '$SYS/#'])).toEqual([
      NOT_AUTHORIZED_SUBACK,
      2,
      NOT_AUTHORIZED_SUBACK,
      NOT_AUTHORIZED_SUBACK,
    ]);
  });

  it('read is checked for every message: a granted wildcard subscription does not deliver a topic the client may not read', async () => {
    const port = await start();
    const alice = await connect(port, 'alice');
    expect(await subscribe(alice, ['#'])).toEqual([2]);
    const bob = await connect(port, 'bob');
    await publish(bob, 'shared/secret', 'no', { qos: 1 });
    await publish(bob, 'shared/open', 'yes', { qos: 1, packetId: 2 });
    const got = await receive(alice);
    expect([got.topic, text(got.payload)]).toEqual(['shared/open', 'yes']);
    await alice.expectNoPacket(200);
    expect(broker!.broker.stats.droppedByReason['not-authorized']).toBe(1);
  });

  it('retained messages are checked too: a client never receives a retained message it may not read', async () => {
    const port = await start();
    const b = broker!.broker;
    b.publishMessage('shared/secret', 'hidden', { retain: true, qos: 1 });
    b.publishMessage('shared/open', 'shown', { retain: true, qos: 1 });
    b.publishMessage('alice/private', 'mine', { retain: true });
    b.publishMessage('public/news', 'hello', { retain: true });
    const alice = await connect(port, 'alice');
    await subscribe(alice, ['shared/#']);
    const got = await receive(alice);
    expect([got.topic, got.retain]).toEqual(['shared/open', true]);
    await alice.expectNoPacket(200);
    const anonymous = await connect(port);
    await subscribe(anonymous, ['#']);
    const news = await receive(anonymous);
    expect(news.topic).toBe('public/news');
    await anonymous.expectNoPacket(200);
  });

  it(`a will on a topic the client may not write is refused at CONNECT (${v5 ? '0x87' : '0x05'}); an allowed one is published`, async () => {
    const port = await start();
    const refused = await RawClient.connect(port, {
      protocolVersion,
      username: 'bob',
      will: { topic: 'alice/will', payload: Buffer.from('w'), qos: 0, retain: false },
    });
    expect(refused.connack.reasonCode).toBe(v5 ? 0x87 : 0x05);
    await refused.client.expectClose();
    const published: string[] = [];
    broker!.broker.on('messagePublished', (message) => published.push(message.topic));
    const { client, connack } = await RawClient.connect(port, {
      protocolVersion,
      username: 'alice',
      will: { topic: 'wills/alice', payload: Buffer.from('gone'), qos: 0, retain: false },
    });
    expect(connack.reasonCode).toBe(0);
    await client.end();
    await delay(50);
    expect(published).toContain('wills/alice');
  });

  it('patterns: %c gives each client its own subtree', async () => {
    const port = await start();
    const dev = await connect(port, undefined, 'dev1');
    expect(await subscribe(dev, ['clients/dev1/#', 'clients/dev2/#'])).toEqual([2, NOT_AUTHORIZED_SUBACK]);
    await publish(dev, 'clients/dev1/state', 'on', { qos: 0 });
    expect((await receive(dev)).topic).toBe('clients/dev1/state');
    expect(await publish(dev, 'clients/dev2/state', 'on', { qos: 1, packetId: 2 })).toBe(v5 ? 0x87 : undefined);
  });

  it('reload() re-reads the file; a bad file leaves the previous rules in force', async () => {
    const port = await start();
    const bob = await connect(port, 'bob');
    expect(await subscribe(bob, ['alice/#'])).toEqual([NOT_AUTHORIZED_SUBACK]);
    writeFileSync(aclFile, `${ACL}\nuser bob\ntopic read alice/#\n`);
    security.reload();
    expect(await subscribe(bob, ['alice/#'], { packetId: 2 })).toEqual([2]);
    writeFileSync(aclFile, 'topic read a\nbogus line\n');
    expect(() => security.reload()).toThrow(/acl:2: invalid line/);
    expect(await subscribe(bob, ['alice/#'], { packetId: 3 })).toEqual([2]);
  });

  it('MQTT.js: a refused subscription and a refused QoS 1 publish', async () => {
    const port = await start();
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
      protocolVersion,
      username: 'bob',
      reconnectPeriod: 0,
    });
    // MQTT.js rejects a SUBACK failure (3.1.1: "Unspecified error" for 0x80, 5.0: "Not authorized" for 0x87).
    await expect(client.subscribeAsync('alice/#')).rejects.toThrow(v5 ? /Not authorized/ : /Unspecified error/);
    expect((await client.subscribeAsync('public/#')).map((g) => g.qos)).toEqual([0]);
    if (v5) await expect(client.publishAsync('alice/x', 'y', { qos: 1 })).rejects.toThrow();
    else await client.publishAsync('alice/x', 'y', { qos: 1 });
    expect(broker!.broker.stats.publishUnauthorized).toBe(1);
    await client.endAsync();
  });
});
