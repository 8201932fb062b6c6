/**
 * TLS: the mqtts listener with mutual TLS (require_certificate), the certificate CN as user name
 * (use_identity_as_username) with an ACL, wss; clients MQTT.js and mosquitto_sub/mosquitto_pub with
 * --cafile/--cert/--key. Certificates are made with openssl in a temporary directory for this file.
 */
import { execFile, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import mqtt from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FileSecurity } from '../../src/broker/auth/file-security.js';
import { type Broker, createBroker } from '../../src/broker/broker.js';
import { makeCerts, type TestCerts } from '../support/certs.js';

/** Runs a command without blocking the event loop (the broker under test runs in this process). */
function run(command: string, args: string[]): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 10_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
      resolve({ status: code, output: `${stdout}${stderr}` });
    });
  });
}

let certs: TestCerts;
let broker: Broker | undefined;
beforeAll(() => {
  certs = makeCerts();
});
afterAll(() => certs.remove());
afterEach(async () => {
  await broker?.close();
  broker = undefined;
});

async function startTls(options: { requireCertificate?: boolean; useIdentityAsUsername?: boolean; acl?: string }) {
  let hooks: FileSecurity['hooks'] | undefined;
  if (options.acl !== undefined) {
    const aclFile = join(certs.dir, 'acl');
    writeFileSync(aclFile, options.acl);
    hooks = new FileSecurity({ aclFile, allowAnonymous: false }).hooks;
  }
  broker = createBroker({ sysInterval: 0, hooks });
  const address = await broker.listenTls({
    host: '127.0.0.1',
    port: 0,
    cert: certs.cert,
    key: certs.key,
    ca: certs.ca,
    requireCertificate: options.requireCertificate,
    useIdentityAsUsername: options.useIdentityAsUsername,
  });
  return address.port;
}

describe('mqtts listener', () => {
  it('MQTT.js with a client certificate signed by the CA (mutual TLS), 3.1.1 and 5.0', async () => {
    const port = await startTls({ requireCertificate: true });
    const alice = certs.client('alice');
    for (const protocolVersion of [4, 5] as const) {
      const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${port}`, {
        protocolVersion,
        ca: certs.ca,
        cert: alice.cert,
        key: alice.key,
        reconnectPeriod: 0,
      });
      await client.subscribeAsync('t');
      const got = new Promise<string>((resolve) =>
        client.once('message', (_t, payload) => resolve(payload.toString())),
      );
      await client.publishAsync('t', `over tls ${protocolVersion}`, { qos: 1 });
      expect(await got).toBe(`over tls ${protocolVersion}`);
      await client.endAsync();
    }
  });

  it('require_certificate: no certificate, or one from another CA, fails the handshake', async () => {
    const port = await startTls({ requireCertificate: true });
    const attempt = (options: tls.ConnectionOptions) =>
      new Promise<string>((resolve) => {
        const socket = tls.connect({ host: '127.0.0.1', port, ca: certs.ca, ...options });
        socket.on('secureConnect', () => {
          // TLS 1.3: the server's refusal of the certificate arrives after the client's handshake completes.
          socket.write(Buffer.from([0xc0, 0x00]));
        });
        socket.on('error', (error) => resolve(error.message));
        socket.on('close', () => resolve('closed'));
      });
    expect(await attempt({})).toMatch(/certificate required|closed|alert/i);
    expect(await attempt({ cert: certs.rogue.cert, key: certs.rogue.key })).toMatch(/unknown ca|closed|alert/i);
    expect(broker!.connections.size).toBe(0);
  });

  it("use_identity_as_username: the certificate's CN is the user name the ACL sees", async () => {
    const port = await startTls({
      requireCertificate: true,
      useIdentityAsUsername: true,
      acl: 'user alice\ntopic readwrite alice/#\n',
    });
    const alice = certs.client('alice');
    const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${port}`, {
      protocolVersion: 5,
      ca: certs.ca,
      cert: alice.cert,
      key: alice.key,
      username: 'mallory', // ignored: the certificate says alice
      reconnectPeriod: 0,
    });
    await expect(client.subscribeAsync('bob/#')).rejects.toThrow(/Not authorized/);
    expect((await client.subscribeAsync('alice/#'))[0]?.qos).toBe(0);
    const bob = certs.client('bob');
    const other = await mqtt.connectAsync(`mqtts://127.0.0.1:${port}`, {
      protocolVersion: 5,
      ca: certs.ca,
      cert: bob.cert,
      key: bob.key,
      username: 'alice',
      reconnectPeriod: 0,
    });
    await expect(other.subscribeAsync('alice/#')).rejects.toThrow(/Not authorized/);
    await other.endAsync();
    await client.endAsync();
  });

  it('mosquitto_sub and mosquitto_pub with --cafile --cert --key', async () => {
    const port = await startTls({ requireCertificate: true });
    const alice = certs.client('alice');
    const tlsArgs = [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '--cafile',
      certs.caFile,
      '--cert',
      alice.certFile,
      '--key',
      alice.keyFile,
    ];
    const sub = spawn('mosquitto_sub', [...tlsArgs, '-t', 'tls/topic', '-C', '1', '-W', '10'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    sub.stdout.on('data', (chunk) => {
      out += chunk;
    });
    const exited = new Promise<number | null>((resolve) => sub.on('exit', resolve));
    const deadline = Date.now() + 5000;
    while (broker!.clients.size === 0 || broker!.trie.size === 0) {
      if (Date.now() > deadline) throw new Error('mosquitto_sub did not subscribe');
      await new Promise((r) => setTimeout(r, 20));
    }
    const pub = await run('mosquitto_pub', [...tlsArgs, '-t', 'tls/topic', '-m', 'hello tls', '-q', '1']);
    expect(pub.status).toBe(0);
    expect(await exited).toBe(0);
    expect(out.trim()).toBe('hello tls');
    // Without a client certificate, mosquitto_pub fails.
    const refused = await run('mosquitto_pub', [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '--cafile',
      certs.caFile,
      '-t',
      'x',
      '-m',
      'y',
    ]);
    expect(refused.status).not.toBe(0);
  });
});

describe('wss listener', () => {
  it('MQTT.js over wss:// with a client certificate', async () => {
    broker = createBroker({ sysInterval: 0 });
    const address = await broker.listenWebSocket({
      host: '127.0.0.1',
      port: 0,
      tls: { cert: certs.cert, key: certs.key, ca: certs.ca, requestCert: true, rejectUnauthorized: true },
    });
    const alice = certs.client('alice');
    const client = await mqtt.connectAsync(`wss://127.0.0.1:${address.port}/mqtt`, {
      protocolVersion: 5,
      ca: certs.ca,
      cert: alice.cert,
      key: alice.key,
      reconnectPeriod: 0,
    });
    await client.subscribeAsync('w');
    const got = new Promise<string>((resolve) => client.once('message', (_t, payload) => resolve(payload.toString())));
    await client.publishAsync('w', 'over wss');
    expect(await got).toBe('over wss');
    await client.endAsync();
  });
});
