/**
 * `midge broker --config FILE` / `--check-config FILE` with the real command: a Midge JSON file, a mosquitto.conf with
 * a mosquitto_passwd password file and an ACL file (used by mosquitto_pub / mosquitto_sub), the errors of bad files,
 * and the precedence of flags and MIDGE_* variables over the file.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { registerBrokerCommand } from '../../src/cli/commands/broker.js';
import { configSchema } from '../../src/cli/config/index.js';
import { RawClient } from '../helpers/raw-client.js';
import { freePort, spawnMidge, stopProcess, waitForOutput } from '../support/process.js';
import { run as runMidge } from './run.js';

const dir = mkdtempSync(join(tmpdir(), 'midge-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function run(command: string, args: string[], timeout = 10_000): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout }, (error, stdout, stderr) => {
      resolve({
        status: error === null ? 0 : typeof error.code === 'number' ? error.code : null,
        output: `${stdout}${stderr}`,
      });
    });
  });
}

/** `midge broker …args` until it logs its TCP port; MIDGE_* variables from `env` (set only for the spawn). */
async function startBroker(args: string[], env: Record<string, string> = {}) {
  const saved = Object.keys(env).map((k) => [k, process.env[k]] as const);
  Object.assign(process.env, env);
  const cli = spawnMidge(['broker', ...args], { killAfterMs: 30_000 });
  for (const [k, v] of saved) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  const port = await waitForOutput(cli, (output) => {
    const match = /listening on 127\.0\.0\.1:(\d+)/.exec(output);
    return match ? Number(match[1]) : undefined;
  });
  return { port, output: cli.output, stop: () => stopProcess(cli.child) };
}

async function receiveMaximum(port: number): Promise<number | undefined> {
  const { client, connack } = await RawClient.connect(port, { protocolVersion: 5, clientId: 'config-test' });
  await client.disconnect();
  return connack.properties?.receiveMaximum;
}

// Each test spawns `node --import tsx` processes (about 1.5 s each, more on a loaded machine).
describe('midge broker --config', { timeout: 60_000 }, () => {
  it('a Midge JSON file sets the port, Receive Maximum and $SYS interval', async () => {
    const port = await freePort();
    const config = file(
      'midge.json',
      JSON.stringify({ port, host: '127.0.0.1', store: 'memory', maxInflight: 7, sysInterval: 1 }, null, 2),
    );
    const broker = await startBroker(['--config', config]);
    try {
      expect(broker.port).toBe(port);
      expect(await receiveMaximum(port)).toBe(7);
      // Two updates of $SYS/broker/uptime within 4 s: the 1 s interval (the default is 10 s).
      const sys = await run('mosquitto_sub', [
        ...['-h', '127.0.0.1', '-p', String(port), '-t', '$SYS/broker/uptime', '-C', '2', '-W', '4'],
      ]);
      expect(sys.status, sys.output).toBe(0);
      expect(sys.output.trim().split('\n')).toHaveLength(2);
    } finally {
      expect(await broker.stop()).toBe(0);
    }
  });

  it('a mosquitto.conf with listener, allow_anonymous, password_file and acl_file works unchanged', async () => {
    const passwordFile = join(dir, 'passwd');
    execFileSync('/usr/bin/mosquitto_passwd', ['-b', '-c', passwordFile, 'roger', 'rabbit']);
    chmodSync(passwordFile, 0o600);
    const aclFile = file('acl', 'user roger\ntopic foo/bar\n');
    const port = await freePort();
    const config = file(
      'mosquitto.conf',
      `# Mosquitto configuration, as mosquitto would read it
listener ${port} 127.0.0.1

allow_anonymous false
password_file ${passwordFile}
acl_file ${aclFile}
persistence false
`,
    );
    const broker = await startBroker(['--config', config]);
    try {
      const base = ['-h', '127.0.0.1', '-p', String(port), '-t', 'foo/bar', '-q', '1'];
      const sub = run('mosquitto_sub', [...base, '-u', 'roger', '-P', 'rabbit', '-C', '1', '-W', '8', '-v']);
      // mosquitto_sub has no "subscribed" signal: publish until it has received (retained would hide the ACL path).
      let received: { status: number | null; output: string } | undefined;
      void sub.then((r) => {
        received = r;
      });
      for (let i = 0; i < 40 && received === undefined; i++) {
        const pub = await run('mosquitto_pub', [...base, '-u', 'roger', '-P', 'rabbit', '-m', 'hello']);
        expect(pub.status, pub.output).toBe(0);
        await new Promise((resolve) => setTimeout(resolve, 150));
      }
      const result = await sub;
      expect(result.status, result.output).toBe(0);
      expect(result.output.trim()).toBe('foo/bar hello');
      const wrong = await run('mosquitto_pub', [...base, '-u', 'roger', '-P', 'carrot', '-m', 'x']);
      expect(wrong.status).not.toBe(0);
      expect(wrong.output).toMatch(/not authori[sz]ed|bad user name or password/i);
      const anonymous = await run('mosquitto_pub', [...base, '-m', 'x']);
      expect(anonymous.status).not.toBe(0);
    } finally {
      expect(await broker.stop()).toBe(0);
    }
  });

  it('flags override the file, MIDGE_* variables sit between them', async () => {
    const config = file('precedence.json', JSON.stringify({ port: 1, store: 'memory', maxInflight: 7 }));
    const port = await freePort();
    const flagWins = await startBroker(['--config', config, '--port', String(port), '--max-inflight', '9'], {
      MIDGE_MAX_INFLIGHT: '8',
    });
    try {
      expect(flagWins.port).toBe(port);
      expect(await receiveMaximum(port)).toBe(9);
    } finally {
      expect(await flagWins.stop()).toBe(0);
    }
    const envWins = await startBroker(['--config', config, '--port', '0'], { MIDGE_MAX_INFLIGHT: '8' });
    try {
      expect(await receiveMaximum(envWins.port)).toBe(8);
    } finally {
      expect(await envWins.stop()).toBe(0);
    }
  });
});

describe('midge broker --check-config', { timeout: 60_000 }, () => {
  it('a good file: exit 0 and a summary of what it sets', async () => {
    const config = file('good.json', '{\n  "port": 1884,\n  "store": "memory",\n  "maxInflight": 5\n}\n');
    const result = await runMidge(['broker', '--check-config', config]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`${config}: valid Midge JSON config, 3 options`);
    expect(result.stdout).toMatch(/maxInflight = 5 {2}line 4/);
    const conf = file(
      'good.conf',
      'listener 1884\nprotocol mqtt\nmax_inflight_messages 10\n\nlistener 9001\nprotocol websockets\n',
    );
    const mosquitto = await runMidge(['broker', '--check-config', conf]);
    expect(mosquitto.code, mosquitto.stderr).toBe(0);
    expect(mosquitto.stdout).toContain('valid mosquitto.conf config');
    expect(mosquitto.stdout).toMatch(/wsPort = 9001 {2}line 5 \(listener\)/);
    // A listener without an address listens on every interface, as in Mosquitto.
    expect(mosquitto.stdout).toMatch(/host = "0\.0\.0\.0" {2}line 1 \(listener\)/);
    expect(mosquitto.stdout).toMatch(/maxInflight = 10 {2}line 3 \(max_inflight_messages\)/);
  });

  it('mosquitto.conf TLS listeners map to --tls-port / --wss-port with one certificate', async () => {
    const [cert, key, ca] = ['server.crt', 'server.key', 'ca.crt'].map((name) => file(name, 'not checked here\n'));
    const conf = file(
      'tls.conf',
      `listener 1883 127.0.0.1\nlistener 8883 127.0.0.1\ncertfile ${cert}\nkeyfile ${key}\ncafile ${ca}\n` +
        `require_certificate true\nuse_identity_as_username true\nlistener 8443 127.0.0.1\nprotocol websockets\n` +
        `certfile ${cert}\nkeyfile ${key}\ncafile ${ca}\nrequire_certificate true\nuse_identity_as_username true\n` +
        'message_size_limit 1000\nmax_connections -1\nmax_queued_messages 0\n',
    );
    const result = await runMidge(['broker', '--check-config', conf]);
    expect(result.code, result.stderr).toBe(0);
    for (const line of [
      /port = 1883 {2}line 1 \(listener\)/,
      /tlsPort = 8883 {2}line 2 \(listener\)/,
      /wssPort = 8443 {2}line 8 \(listener\)/,
      /requireCertificate = true {2}line 2 \(require_certificate\)/,
      /useIdentityAsUsername = true/,
      /maxPacketSize = 66536 {2}line 15 \(message_size_limit\)/,
      /maxConnections = 0 {2}line 16 \(max_connections\)/,
      /maxQueuedMessages = 100000000 {2}line 17 \(max_queued_messages\)/,
    ]) {
      expect(result.stdout).toMatch(line);
    }
    expect(result.stdout).toContain(`cert = ${JSON.stringify(cert)}`);
  });

  it('bad files: exit 1 with FILE:LINE and the option, every problem listed, the broker not started', async () => {
    const json = file('bad.json', '{\n  "port": "1883",\n  "colour": "blue",\n  "maxInflight": 0\n}\n');
    const bad = await runMidge(['broker', '--check-config', json]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`${json}:2: option 'port': expected an integer, got "1883"`);
    expect(bad.stderr).toContain(`${json}:3: unknown option 'colour'`);
    expect(bad.stderr).toContain(`${json}:4: option 'maxInflight': expected an integer in 1..65535, got 0`);
    expect(bad.stdout).toBe('');

    const conf = file(
      'bad.conf',
      'listener 1883\n# a comment\nconnection bridge-01\naddress 10.0.0.1:1883\nfrobnicate yes\nlog_dest stdout\ninclude_dir /etc/mosquitto/conf.d\n',
    );
    const mosquitto = await runMidge(['broker', '--check-config', conf]);
    expect(mosquitto.code).toBe(1);
    const lines = mosquitto.stderr.trim().split('\n');
    expect(lines).toEqual([
      `${conf}:3: mosquitto option 'connection' is not supported by Midge`,
      `${conf}:4: mosquitto option 'address' is not supported by Midge`,
      `${conf}:5: unknown mosquitto option 'frobnicate'`,
      `${conf}:6: mosquitto option 'log_dest' is not supported by Midge`,
      `${conf}:7: mosquitto option 'include_dir' is not supported by Midge (put every option in one file)`,
    ]);

    const syntax = file('syntax.json', '{\n  "port": 1883,\n  "host": "x"\n  "store": "memory"\n}\n');
    const broken = await runMidge(['broker', '--check-config', syntax]);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain(`${syntax}:4: not valid JSON`);

    const missing = join(dir, 'missing.conf');
    const gone = await runMidge(['broker', '--check-config', missing]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain(`${missing}: cannot read the config file (ENOENT)`);

    // --config with a bad file: the same errors, exit 1 without listening.
    const started = await runMidge(['broker', '--config', json]);
    expect(started.code).toBe(1);
    expect(started.stderr).toContain(`${json}:3: unknown option 'colour'`);
    expect(started.stdout).not.toMatch(/listening/);
  });
});

describe('docs/midge-config.schema.json', () => {
  it('is the schema generated from the broker options (npm run config-schema)', async () => {
    const { readFileSync } = await import('node:fs');
    const program = new Command('midge');
    registerBrokerCommand(program);
    const broker = program.commands.find((c) => c.name() === 'broker');
    expect(broker).toBeDefined();
    const schema = configSchema(broker as Command);
    expect(JSON.parse(readFileSync('docs/midge-config.schema.json', 'utf8'))).toEqual(schema);
    const example = JSON.parse(readFileSync('docs/examples/midge.json', 'utf8')) as Record<string, unknown>;
    const properties = (schema as { properties: Record<string, unknown> }).properties;
    for (const key of Object.keys(example)) expect(properties).toHaveProperty([key]);
  });
});
