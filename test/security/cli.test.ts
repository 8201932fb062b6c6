/**
 * `midge broker` security flags with Mosquitto's own tools: a password file made by mosquitto_passwd, an ACL file in
 * the syntax of Mosquitto's documentation example, mosquitto_pub / mosquitto_sub (plain and TLS), SIGHUP reload, and
 * clear errors for bad flags and files.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeCerts } from '../support/certs.js';
import { spawnMidge, waitForOutput } from '../support/process.js';

const dir = mkdtempSync(join(tmpdir(), 'midge-cli-sec-'));
const certs = makeCerts();
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  certs.remove();
});

const passwordFile = join(dir, 'passwd');
execFileSync('mosquitto_passwd', ['-b', '-c', passwordFile, 'roger', 'rabbit']);
execFileSync('mosquitto_passwd', ['-b', passwordFile, 'sue', 'sue-pw']);
const aclFile = join(dir, 'acl');
// The example of mosquitto.conf(5), acl_file.
writeFileSync(
  aclFile,
  `# This affects access control for clients with no username.
topic read $SYS/#

# This only affects clients with username "roger".
user roger
topic foo/bar

# This affects all clients.
pattern write $SYS/broker/connection/%c/state
`,
);

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

function startCli(args: string[]) {
  const cli = spawnMidge(['broker', '--store', 'memory', '--host', '127.0.0.1', ...args], { killAfterMs: 30_000 });
  const ports = waitForOutput(cli, (output): { mqtt: number; mqtts?: number } | undefined => {
    const plain = /listening on 127\.0\.0\.1:(\d+)/.exec(output);
    const secure = /listening on mqtts:\/\/127\.0\.0\.1:(\d+)/.exec(output);
    if (plain && (secure || !args.includes('--tls-port')))
      return { mqtt: Number(plain[1]), mqtts: secure ? Number(secure[1]) : undefined };
    return undefined;
  });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (cli.child.exitCode !== null) return resolve();
      cli.child.once('exit', () => resolve());
      cli.child.kill('SIGTERM');
    });
  return { child: cli.child, ports, output: cli.output, stop };
}

async function subscribeOnce(
  args: string[],
): Promise<{ child: ChildProcess; result: Promise<{ code: number | null; out: string }> }> {
  const child = spawn('mosquitto_sub', [...args, '-C', '1', '-W', '8'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c) => {
    out += c;
  });
  child.stderr.on('data', (c) => {
    out += c;
  });
  const result = new Promise<{ code: number | null; out: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, out })),
  );
  await new Promise((r) => setTimeout(r, 500)); // let it connect and subscribe
  return { child, result };
}

describe('midge broker with a mosquitto_passwd file and an ACL file', () => {
  it('mosquitto_pub / mosquitto_sub authenticate; the ACL lets roger use foo/bar and nobody else', async () => {
    const cli = startCli(['--port', '0', '--password-file', passwordFile, '--acl-file', aclFile]);
    try {
      const { mqtt: port } = await cli.ports;
      const base = ['-h', '127.0.0.1', '-p', String(port)];
      const sub = await subscribeOnce([...base, '-u', 'roger', '-P', 'rabbit', '-t', 'foo/bar']);
      // sue is authenticated but may not write foo/bar: 3.1.1 acknowledges and drops it.
      expect(
        (
          await run('mosquitto_pub', [
            ...base,
            '-u',
            'sue',
            '-P',
            'sue-pw',
            '-t',
            'foo/bar',
            '-m',
            'from sue',
            '-q',
            '1',
          ])
        ).status,
      ).toBe(0);
      expect(
        (
          await run('mosquitto_pub', [
            ...base,
            '-u',
            'roger',
            '-P',
            'rabbit',
            '-t',
            'foo/bar',
            '-m',
            'from roger',
            '-q',
            '1',
          ])
        ).status,
      ).toBe(0);
      const { code, out } = await sub.result;
      expect(code).toBe(0);
      expect(out.trim()).toBe('from roger');

      const wrong = await run('mosquitto_pub', [...base, '-u', 'roger', '-P', 'carrot', '-t', 'foo/bar', '-m', 'x']);
      expect(wrong.status).not.toBe(0);
      expect(wrong.output).toMatch(/bad user name or password/i);
      const anonymous = await run('mosquitto_pub', [...base, '-t', 'foo/bar', '-m', 'x']);
      expect(anonymous.status).not.toBe(0);
      expect(anonymous.output).toMatch(/not authori[sz]ed/i);
      // MQTT 5.0: an unauthorized subscription is refused.
      const denied = await run('mosquitto_sub', [
        ...base,
        '-V',
        'mqttv5',
        '-u',
        'sue',
        '-P',
        'sue-pw',
        '-t',
        'foo/bar',
        '-C',
        '1',
        '-W',
        '2',
      ]);
      expect(denied.output).toMatch(/not authori[sz]ed|Subscription denied|denied/i);
    } finally {
      await cli.stop();
    }
  });

  it('SIGHUP re-reads the password and ACL files', async () => {
    const pw = join(dir, 'reload-passwd');
    const acl = join(dir, 'reload-acl');
    execFileSync('mosquitto_passwd', ['-b', '-c', pw, 'roger', 'rabbit']);
    writeFileSync(acl, 'user roger\ntopic foo/bar\n');
    const cli = startCli(['--port', '0', '--password-file', pw, '--acl-file', acl]);
    try {
      const { mqtt: port } = await cli.ports;
      const base = ['-h', '127.0.0.1', '-p', String(port)];
      expect(
        (await run('mosquitto_pub', [...base, '-u', 'newbie', '-P', 'n', '-t', 'foo/bar', '-m', 'x'])).status,
      ).not.toBe(0);
      execFileSync('mosquitto_passwd', ['-b', pw, 'newbie', 'n']);
      writeFileSync(acl, 'user roger\ntopic foo/bar\nuser newbie\ntopic foo/bar\n');
      cli.child.kill('SIGHUP');
      const deadline = Date.now() + 5000;
      while (!cli.output().includes('re-read') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const sub = await subscribeOnce([...base, '-u', 'roger', '-P', 'rabbit', '-t', 'foo/bar']);
      expect(
        (await run('mosquitto_pub', [...base, '-u', 'newbie', '-P', 'n', '-t', 'foo/bar', '-m', 'hi', '-q', '1']))
          .status,
      ).toBe(0);
      expect((await sub.result).out.trim()).toBe('hi');
      // A broken file on SIGHUP: logged, the previous one stays.
      writeFileSync(acl, 'nonsense\n');
      cli.child.kill('SIGHUP');
      while (!cli.output().includes('previous files stay') && Date.now() < deadline + 5000)
        await new Promise((r) => setTimeout(r, 50));
      expect(cli.output()).toMatch(/reload-acl:1: invalid line/);
    } finally {
      await cli.stop();
    }
  });

  it('--tls-port with --cert/--key/--cafile --require-certificate --use-identity-as-username: mosquitto_sub over TLS', async () => {
    const alice = certs.client('roger');
    const cli = startCli([
      '--port',
      '0',
      '--tls-port',
      '0',
      '--cert',
      certs.serverCert,
      '--key',
      certs.serverKey,
      '--cafile',
      certs.caFile,
      '--require-certificate',
      '--use-identity-as-username',
      '--password-file',
      passwordFile,
      '--acl-file',
      aclFile,
    ]);
    try {
      const { mqtts } = await cli.ports;
      const base = [
        '-h',
        '127.0.0.1',
        '-p',
        String(mqtts),
        '--cafile',
        certs.caFile,
        '--cert',
        alice.certFile,
        '--key',
        alice.keyFile,
      ];
      const sub = await subscribeOnce([...base, '-t', 'foo/bar']);
      expect((await run('mosquitto_pub', [...base, '-t', 'foo/bar', '-m', 'cn roger', '-q', '1'])).status).toBe(0);
      expect((await sub.result).out.trim()).toBe('cn roger');
    } finally {
      await cli.stop();
    }
  });
});

describe('midge broker: bad security flags', () => {
  const fails = async (args: string[]) => {
    const r = await run(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'broker', '--store', 'memory', '--port', '0', ...args],
      15_000,
    );
    expect(r.status).not.toBe(0);
    return r.output;
  };

  it('missing files, bad lines (file:line), incompatible flags, bad values', async () => {
    expect(await fails(['--password-file', join(dir, 'missing')])).toMatch(
      /--password-file: .*missing: cannot read: ENOENT/,
    );
    const badAcl = join(dir, 'bad-acl');
    writeFileSync(badAcl, 'topic read a\n\nfrobnicate\n');
    expect(await fails(['--acl-file', badAcl])).toMatch(/--acl-file: .*bad-acl:3: invalid line/);
    const badPw = join(dir, 'bad-pw');
    writeFileSync(badPw, 'x:$7$notanumber$c2FsdA==$aGFzaA==\n');
    expect(await fails(['--password-file', badPw])).toMatch(/--password-file: .*bad-pw:1: user "x"/);
    expect(await fails(['--tls-port', '0'])).toMatch(/need --cert and --key/);
    expect(await fails(['--cert', certs.serverCert])).toMatch(/--cert and --key go together/);
    expect(await fails(['--cert', join(dir, 'nope.pem'), '--key', certs.serverKey])).toMatch(/--cert: cannot read/);
    expect(await fails(['--cert', certs.serverCert, '--key', certs.serverKey, '--require-certificate'])).toMatch(
      /needs --cafile/,
    );
    expect(await fails(['--cert', certs.serverCert, '--key', certs.serverKey, '--use-identity-as-username'])).toMatch(
      /needs --require-certificate/,
    );
    expect(await fails(['--allow-anonymous', 'maybe'])).toMatch(/--allow-anonymous.*expected true or false/);
    expect(await fails(['--publish-rate', '-1'])).toMatch(/--publish-rate.*expected an integer/);
  });

  it('--help lists every security flag', async () => {
    const r = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'broker', '--help'], 15_000);
    for (const flag of [
      '--password-file',
      '--acl-file',
      '--allow-anonymous',
      '--tls-port',
      '--wss-port',
      '--cert',
      '--key',
      '--cafile',
      '--require-certificate',
      '--use-identity-as-username',
      '--max-connections-per-ip',
      '--connect-rate-per-ip',
      '--publish-rate',
      '--publish-byte-rate',
      '--publish-rate-action',
      '--max-subscriptions-per-client',
      '--max-topic-length',
      '--max-topic-levels',
      '--auth-failure-threshold',
      '--connect-timeout',
    ]) {
      expect(r.output).toContain(flag);
    }
  });
});
