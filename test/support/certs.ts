/**
 * Test certificates made with openssl at test time in a temporary directory (never committed): a CA, a server
 * certificate for 127.0.0.1 / localhost, and client certificates with a given CN, signed by the CA; plus a client
 * certificate from another CA (to be refused).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCerts {
  dir: string;
  caFile: string;
  serverCert: string;
  serverKey: string;
  /** PEM contents. */
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  client(cn: string): { certFile: string; keyFile: string; cert: Buffer; key: Buffer };
  /** A client certificate signed by a CA the broker does not trust. */
  rogue: { certFile: string; keyFile: string; cert: Buffer; key: Buffer };
  remove(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): void {
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
    ],
    dir,
  );
}

function sign(dir: string, ca: string, name: string, subject: string, ext?: string): void {
  openssl(
    [
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-subj',
      subject,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
    ],
    dir,
  );
  const args = [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.pem`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-days',
    '2',
    '-out',
    `${name}.pem`,
  ];
  if (ext !== undefined) {
    writeFileSync(join(dir, `${name}.ext`), ext);
    args.push('-extfile', `${name}.ext`);
  }
  openssl(args, dir);
}

export function makeCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'midge-certs-'));
  makeCa(dir, 'ca');
  sign(dir, 'ca', 'server', '/CN=localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  makeCa(dir, 'rogue-ca');
  sign(dir, 'rogue-ca', 'rogue', '/CN=alice');
  const read = (file: string) => readFileSync(join(dir, file));
  const made = new Set<string>();
  const client = (cn: string) => {
    const name = `client-${cn}`;
    if (!made.has(name)) {
      sign(dir, 'ca', name, `/CN=${cn}`);
      made.add(name);
    }
    return {
      certFile: join(dir, `${name}.pem`),
      keyFile: join(dir, `${name}.key`),
      cert: read(`${name}.pem`),
      key: read(`${name}.key`),
    };
  };
  return {
    dir,
    caFile: join(dir, 'ca.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'),
    ca: read('ca.pem'),
    cert: read('server.pem'),
    key: read('server.key'),
    client,
    rogue: {
      certFile: join(dir, 'rogue.pem'),
      keyFile: join(dir, 'rogue.key'),
      cert: read('rogue.pem'),
      key: read('rogue.key'),
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
