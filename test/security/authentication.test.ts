/**
 * Authentication against a password file (FileSecurity hooks), with raw packets and MQTT.js, 3.1.1 and 5.0:
 * refusals (3.1.1 0x04/0x05, 5.0 0x86/0x87), allowAnonymous, the failed-auth counter, the per-address back-off, and
 * MQTT 5.0 enhanced authentication with SCRAM-SHA-256 (AUTH exchange, re-authentication, unknown method).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FileSecurity } from '../../src/broker/auth/file-security.js';
import { formatHash, hashPassword } from '../../src/broker/auth/hash.js';
import type { BrokerOptions } from '../../src/broker/options.js';
import { type AuthPacket, PacketType } from '../../src/codec/index.js';
import { type StartedBroker, startBroker } from '../helpers/broker.js';
import { connectPacket, delay, RawClient } from '../helpers/raw-client.js';
import { ScramClient } from '../support/scram-client.js';

const dir = mkdtempSync(join(tmpdir(), 'midge-auth-'));
const passwordFile = join(dir, 'pw');
let broker: StartedBroker | undefined;

beforeAll(async () => {
  // alice: Mosquitto $7$ (mosquitto_passwd), bob: Midge scrypt, sam: SCRAM-SHA-256 verifier.
  execFileSync('mosquitto_passwd', ['-b', '-c', passwordFile, 'alice', 'secret']);
  const bob = formatHash(await hashPassword('hunter2'));
  const sam = formatHash(await hashPassword('s3cr3t', 'scram-sha-256'));
  writeFileSync(passwordFile, `bob:${bob}\nsam:${sam}\n`, { flag: 'a' });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  await broker?.close();
  broker = undefined;
});

async function start(allowAnonymous?: boolean, options: BrokerOptions = {}) {
  const security = new FileSecurity({ passwordFile, allowAnonymous });
  broker = await startBroker({ hooks: security.hooks, ...options });
  return broker;
}

const password = (s: string) => Buffer.from(s);

describe.each([4, 5] as const)('password file, level %i', (protocolVersion) => {
  const v5 = protocolVersion === 5;

  it(`no user name without allowAnonymous: ${v5 ? '0x87' : '0x05'}, then close`, async () => {
    const { port } = await start();
    const { client, connack } = await RawClient.connect(port, { protocolVersion });
    expect(connack.reasonCode).toBe(v5 ? 0x87 : 0x05);
    expect(connack.sessionPresent).toBe(false);
    await client.expectClose();
    expect(broker!.broker.stats.authFailures).toBe(1);
  });

  it(`wrong password or unknown user: ${v5 ? '0x86' : '0x04'}; the right one is accepted (Mosquitto $7$ and scrypt)`, async () => {
    const { port } = await start();
    for (const [username, pw] of [
      ['alice', 'wrong'],
      ['nobody', 'secret'],
      ['bob', 'secret'],
    ] as const) {
      const { client, connack } = await RawClient.connect(port, { protocolVersion, username, password: password(pw) });
      expect(connack.reasonCode).toBe(v5 ? 0x86 : 0x04);
      await client.expectClose();
    }
    const noPassword = await RawClient.connect(port, { protocolVersion, username: 'alice' });
    expect(noPassword.connack.reasonCode).toBe(v5 ? 0x86 : 0x04);
    for (const [username, pw] of [
      ['alice', 'secret'],
      ['bob', 'hunter2'],
      ['sam', 's3cr3t'],
    ] as const) {
      const { client, connack } = await RawClient.connect(port, { protocolVersion, username, password: password(pw) });
      expect(connack.reasonCode).toBe(0);
      await client.disconnect();
    }
    expect(broker!.broker.stats.authFailures).toBe(4);
  });

  it('allowAnonymous true: no user name is accepted, a wrong password still refused', async () => {
    const { port } = await start(true);
    const anonymous = await RawClient.connect(port, { protocolVersion });
    expect(anonymous.connack.reasonCode).toBe(0);
    await anonymous.client.disconnect();
    const wrong = await RawClient.connect(port, { protocolVersion, username: 'alice', password: password('x') });
    expect(wrong.connack.reasonCode).toBe(v5 ? 0x86 : 0x04);
  });

  it(`back-off: after the threshold an address is refused (${v5 ? '0x9F' : '0x03'}) without checking, then let in again`, async () => {
    const { port } = await start(false, { authFailureThreshold: 3, authBackoffBase: 0.4, authFailureWindow: 60 });
    for (let i = 0; i < 3; i++) {
      const { connack } = await RawClient.connect(port, {
        protocolVersion,
        username: 'alice',
        password: password('guess'),
      });
      expect(connack.reasonCode).toBe(v5 ? 0x86 : 0x04);
    }
    const blocked = await RawClient.connect(port, { protocolVersion, username: 'alice', password: password('secret') });
    expect(blocked.connack.reasonCode).toBe(v5 ? 0x9f : 0x03);
    expect(broker!.broker.stats.connectionsLimited).toBe(1);
    await delay(500);
    const again = await RawClient.connect(port, { protocolVersion, username: 'alice', password: password('secret') });
    expect(again.connack.reasonCode).toBe(0);
    await again.client.disconnect();
  });

  it('MQTT.js: connects with user name and password; a wrong password is reported as refused', async () => {
    const { port } = await start();
    const good = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
      protocolVersion,
      username: 'alice',
      password: 'secret',
      reconnectPeriod: 0,
    });
    expect(good.connected).toBe(true);
    await good.endAsync();
    const bad = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
      protocolVersion,
      username: 'alice',
      password: 'nope',
      reconnectPeriod: 0,
    });
    const error = await new Promise<Error & { code?: number }>((resolve) => bad.once('error', resolve));
    expect(error.code).toBe(v5 ? 0x86 : 4);
    bad.end(true);
  });
});

describe('MQTT 5.0 enhanced authentication: SCRAM-SHA-256', () => {
  async function scramConnect(port: number, username: string, pw: string, connectUsername?: string) {
    const client = await RawClient.open(port, 5);
    const scram = new ScramClient(username, pw);
    client.send(
      connectPacket({
        protocolVersion: 5,
        username: connectUsername,
        properties: { authenticationMethod: 'SCRAM-SHA-256', authenticationData: scram.first() },
      }),
    );
    return { client, scram };
  }

  /** Answers the server's challenge with the client-final-message (AUTH 0x18 Continue authentication). */
  function sendFinal(client: RawClient, scram: ScramClient, challenge: AuthPacket) {
    client.send({
      type: PacketType.AUTH,
      reasonCode: 0x18,
      properties: {
        authenticationMethod: 'SCRAM-SHA-256',
        authenticationData: scram.final(challenge.properties!.authenticationData!),
      },
    });
  }

  it('[MQTT-4.12.0-2] [MQTT-4.12.0-5] [MQTT-3.15.2-1] AUTH 0x18 with the method, then CONNACK 0x00 with the method and the server-final-message', async () => {
    const { port } = await start();
    const { client, scram } = await scramConnect(port, 'sam', 's3cr3t');
    const challenge = await client.expectPacket(PacketType.AUTH);
    expect(challenge.reasonCode).toBe(0x18);
    expect(challenge.properties?.authenticationMethod).toBe('SCRAM-SHA-256');
    sendFinal(client, scram, challenge);
    const connack = await client.expectPacket(PacketType.CONNACK);
    expect(connack.reasonCode).toBe(0);
    expect(connack.properties?.authenticationMethod).toBe('SCRAM-SHA-256');
    expect(scram.verifyServer(connack.properties?.authenticationData)).toBe(true);
    // The session is the SCRAM user's: it works.
    client.send({ type: PacketType.PINGREQ });
    await client.expectPacket(PacketType.PINGRESP);
    await client.disconnect();
  });

  it('[MQTT-4.12.0-4] a wrong password is refused with CONNACK 0x86 after the exchange, then close', async () => {
    const { port } = await start();
    const { client, scram } = await scramConnect(port, 'sam', 'wrong');
    const challenge = await client.expectPacket(PacketType.AUTH);
    sendFinal(client, scram, challenge);
    const connack = await client.expectPacket(PacketType.CONNACK);
    expect(connack.reasonCode).toBe(0x86);
    await client.expectClose();
    expect(broker!.broker.stats.authFailures).toBe(1);
  });

  it('[MQTT-4.12.0-4] an unknown user, a user without a SCRAM verifier, and a CONNECT user name that differs all fail', async () => {
    const { port } = await start();
    for (const [user, pw, connectUser] of [
      ['ghost', 'x', undefined],
      ['alice', 'secret', undefined],
      ['sam', 's3cr3t', 'alice'],
    ] as const) {
      const { client, scram } = await scramConnect(port, user, pw, connectUser);
      const challenge = await client.expectPacket(PacketType.AUTH);
      sendFinal(client, scram, challenge);
      expect((await client.expectPacket(PacketType.CONNACK)).reasonCode).toBe(0x86);
      await client.expectClose();
    }
  });

  it('[MQTT-4.12.0-1] an unsupported Authentication Method gets CONNACK 0x8C Bad authentication method, then close', async () => {
    const { port } = await start();
    const client = await RawClient.open(port, 5);
    client.send(connectPacket({ protocolVersion: 5, properties: { authenticationMethod: 'KERBEROS' } }));
    expect((await client.expectPacket(PacketType.CONNACK)).reasonCode).toBe(0x8c);
    await client.expectClose();
  });

  it('an AUTH with another method than the CONNECT is a Protocol Error (CONNACK 0x82)', async () => {
    const { port } = await start();
    const { client } = await scramConnect(port, 'sam', 's3cr3t');
    await client.expectPacket(PacketType.AUTH);
    client.send({ type: PacketType.AUTH, reasonCode: 0x18, properties: { authenticationMethod: 'PLAIN' } });
    expect((await client.expectPacket(PacketType.CONNACK)).reasonCode).toBe(0x82);
    await client.expectClose();
  });

  it('an exchange the client never finishes is closed by the connect timeout', async () => {
    const { port } = await start(false, { connectTimeout: 1 });
    const { client } = await scramConnect(port, 'sam', 's3cr3t');
    await client.expectPacket(PacketType.AUTH);
    await client.expectClose(3000);
  });

  it('[MQTT-4.12.1-2] re-authentication: AUTH 0x19 → AUTH 0x18 → AUTH 0x00; a failed one → DISCONNECT 0x87, then close', async () => {
    const { port } = await start();
    const { client, scram } = await scramConnect(port, 'sam', 's3cr3t');
    let challenge = await client.expectPacket(PacketType.AUTH);
    const method = { authenticationMethod: 'SCRAM-SHA-256' };
    sendFinal(client, scram, challenge);
    expect((await client.expectPacket(PacketType.CONNACK)).reasonCode).toBe(0);

    const again = new ScramClient('sam', 's3cr3t');
    client.send({
      type: PacketType.AUTH,
      reasonCode: 0x19,
      properties: { ...method, authenticationData: again.first() },
    });
    challenge = await client.expectPacket(PacketType.AUTH);
    expect(challenge.reasonCode).toBe(0x18);
    sendFinal(client, again, challenge);
    const done = await client.expectPacket(PacketType.AUTH);
    expect(done.reasonCode ?? 0).toBe(0);
    expect(again.verifyServer(done.properties?.authenticationData)).toBe(true);

    const wrong = new ScramClient('sam', 'bad');
    client.send({
      type: PacketType.AUTH,
      reasonCode: 0x19,
      properties: { ...method, authenticationData: wrong.first() },
    });
    challenge = await client.expectPacket(PacketType.AUTH);
    sendFinal(client, wrong, challenge);
    const disconnect = await client.expectPacket(PacketType.DISCONNECT);
    expect(disconnect.properties?.reasonString).toBe('re-authentication failed');
    expect(disconnect.reasonCode).toBe(0x87);
    await client.expectClose();
  });
});

describe('hooks for embedders', () => {
  it('authenticate sees user name, password, client id, remote address; enhancedAuth handles other methods', async () => {
    const seen: unknown[] = [];
    broker = await startBroker({
      hooks: {
        authenticate: async (context) => {
          seen.push([
            context.username,
            Buffer.from(context.password ?? []).toString(),
            context.clientId,
            context.remoteAddress,
          ]);
          return context.username === 'ok';
        },
        enhancedAuth: (method) =>
          method === 'TOKEN'
            ? {
                step: (data) =>
                  Buffer.from(data ?? []).toString() === 'let-me-in'
                    ? { result: 'success' }
                    : { result: 'failure', reasonCode: 0x87 },
              }
            : undefined,
      },
    });
    const { port } = broker;
    const ok = await RawClient.connect(port, {
      protocolVersion: 5,
      clientId: 'c1',
      username: 'ok',
      password: password('p'),
    });
    expect(ok.connack.reasonCode).toBe(0);
    expect(seen[0]).toEqual(['ok', 'p', 'c1', '127.0.0.1']);
    const token = await RawClient.connect(port, {
      protocolVersion: 5,
      properties: { authenticationMethod: 'TOKEN', authenticationData: Buffer.from('let-me-in') },
    });
    expect(token.connack.reasonCode).toBe(0);
    expect(token.connack.properties?.authenticationMethod).toBe('TOKEN');
    const refused = await RawClient.connect(port, {
      protocolVersion: 5,
      properties: { authenticationMethod: 'TOKEN', authenticationData: Buffer.from('nope') },
    });
    expect(refused.connack.reasonCode).toBe(0x87);
    await ok.client.disconnect();
    await token.client.disconnect();
  });
});
