/** mqtts:// and wss:// with a self-signed certificate made by openssl for the test (TLS options passed through). */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Broker, createBroker } from '../../src/broker/index.js';
import { connect, TransportError } from '../../src/client/index.js';
import { listenWebSocket, type WsListener } from '../../src/transports/ws.js';

let broker: Broker;
let server: tls.Server;
let wss: WsListener;
let cert: Buffer;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'midge-client-tls-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  cert = readFileSync(join(dir, 'cert.pem'));
  const key = readFileSync(join(dir, 'key.pem'));
  broker = createBroker({ sysInterval: 0 });
  await broker.ready;
  server = tls.createServer({ key, cert }, (socket) => broker.handle(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  wss = await listenWebSocket(broker, { host: '127.0.0.1', port: 0, tls: { key, cert } });
});

afterAll(async () => {
  await broker.close();
  await new Promise((resolve) => server.close(resolve));
  await wss.close();
  rmSync(dir, { recursive: true, force: true });
});

const tlsPort = () => (server.address() as { port: number }).port;

describe('TLS transports', () => {
  it('connects over mqtts:// when the CA is given, and exchanges a QoS 1 message', async () => {
    const client = await connect(`mqtts://127.0.0.1:${tlsPort()}`, { ca: cert, reconnectPeriod: 0 });
    await client.subscribe('tls/t', { qos: 1 });
    const got = new Promise<string>((resolve) => client.once('message', (_t, p) => resolve(Buffer.from(p).toString())));
    await client.publish('tls/t', 'secret', { qos: 1 });
    expect(await got).toBe('secret');
    await client.end();
  });

  it('ssl:// and tls:// are aliases of mqtts://', async () => {
    for (const scheme of ['ssl', 'tls']) {
      const client = await connect(`${scheme}://127.0.0.1:${tlsPort()}`, { ca: cert, reconnectPeriod: 0 });
      expect(client.connected).toBe(true);
      await client.end();
    }
  });

  it('rejects with TransportError when the certificate is not trusted', async () => {
    await expect(connect(`mqtts://127.0.0.1:${tlsPort()}`, { reconnectPeriod: 0 })).rejects.toBeInstanceOf(
      TransportError,
    );
  });

  it('connects when rejectUnauthorized is false', async () => {
    const client = await connect(`mqtts://127.0.0.1:${tlsPort()}`, { rejectUnauthorized: false, reconnectPeriod: 0 });
    expect(client.connected).toBe(true);
    await client.end();
  });

  it('connects over wss:// with the CA given', async () => {
    const client = await connect(`wss://127.0.0.1:${wss.address.port}/mqtt`, {
      ca: cert,
      protocolVersion: 5,
      reconnectPeriod: 0,
    });
    await client.subscribe('wss/t', { qos: 2 });
    const got = new Promise<string>((resolve) => client.once('message', (_t, p) => resolve(Buffer.from(p).toString())));
    await client.publish('wss/t', 'over wss', { qos: 2 });
    expect(await got).toBe('over wss');
    await client.end();
  });
});
