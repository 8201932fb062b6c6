/** The `midge broker` command: listens, logs the address, serves clients, exits 0 on SIGTERM. */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RawClient } from '../helpers/raw-client.js';
import { spawnMidge, waitForOutput } from '../support/process.js';

function startCli(args: string[]): { child: ChildProcess; port: Promise<number>; output: () => string } {
  const cli = spawnMidge(['broker', ...args], { killAfterMs: 15_000 });
  const port = waitForOutput(cli, (output) => {
    const match = /listening on [^:]+:(\d+)/.exec(output);
    return match ? Number(match[1]) : undefined;
  });
  return { child: cli.child, port, output: cli.output };
}

describe('midge broker (CLI)', () => {
  it('logs the listening address, serves MQTT and exits 0 on SIGTERM', async () => {
    const cli = startCli(['--port', '0', '--host', '127.0.0.1', '--log-level', 'debug', '--store', 'memory']);
    const port = await cli.port;
    const { client, connack } = await RawClient.connect(port, { clientId: 'cli-test' });
    expect(connack.reasonCode).toBe(0);
    await client.disconnect();
    const exited = new Promise<number | null>((resolve) => cli.child.on('exit', (code) => resolve(code)));
    cli.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const lines = cli
      .output()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { msg: string; level: number });
    expect(lines[0]?.msg).toMatch(/^store: memory \(nothing survives a restart\)/);
    expect(lines[1]?.msg).toMatch(/listening on 127\.0\.0\.1:\d+/);
    expect(lines.some((l) => l.msg === 'client connected' && l.level === 20)).toBe(true);
  });

  it('--log-format pretty writes human-readable lines instead of JSON, and still exits 0 on SIGTERM', async () => {
    const cli = startCli(['--port', '0', '--host', '127.0.0.1', '--store', 'memory', '--log-format', 'pretty']);
    await cli.port;
    const exited = new Promise<number | null>((resolve) => cli.child.on('exit', (code) => resolve(code)));
    cli.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const listening = cli
      .output()
      .split('\n')
      .find((line) => line.includes('listening on'));
    expect(listening).toMatch(/INFO.*midge broker listening on 127\.0\.0\.1:\d+/);
    expect(listening?.trimStart().startsWith('{')).toBe(false);
  });

  it('--help documents the flags', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'broker', '--help'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
    for (const flag of [
      '--host',
      '--port',
      '--log-level',
      '--max-inflight',
      '--max-queued-messages',
      '--sys-interval',
      '--store',
      '--data-dir',
      '--redis',
      '--sqlite-sync',
      '--max-retained-messages',
    ]) {
      expect(output).toContain(flag);
    }
  });

  it('refuses bad store flags with a message and a non-zero exit', async () => {
    const cases: [string[], RegExp][] = [
      [['--store', 'disk'], /--store <kind>' argument 'disk' is invalid/],
      [['--sqlite-sync', 'sometimes'], /--sqlite-sync <mode>' argument 'sometimes' is invalid/],
      [['--store', 'redis', '--redis', 'http://x'], /expected a redis:\/\/ or rediss:\/\/ URL/],
      [['--store', 'memory', '--data-dir', '/tmp/x'], /--data-dir and --sqlite-sync apply to --store sqlite only/],
      [['--store', 'redis', '--redis', 'redis://127.0.0.1:1', '--port', '0'], /cannot start: cannot connect to Redis/],
    ];
    for (const [args, message] of cases) {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'broker', ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk) => {
        output += chunk;
      });
      child.stderr.on('data', (chunk) => {
        output += chunk;
      });
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      clearTimeout(kill);
      expect(code, args.join(' ')).not.toBe(0);
      expect(output, args.join(' ')).toMatch(message);
    }
  });

  it('with no store flag keeps its state in SQLite in ./data/midge.db', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'midge-cli-'));
    try {
      const loader = fileURLToPath(new URL('../../node_modules/tsx/dist/esm/index.mjs', import.meta.url));
      const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
      const child = spawn(process.execPath, ['--import', loader, main, 'broker', '--port', '0'], {
        cwd,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk) => {
        output += chunk;
      });
      const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      const deadline = Date.now() + 15_000;
      while (!/listening on/.test(output) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(output).toContain(`sqlite ${join(cwd, 'data', 'midge.db')} (synchronous=NORMAL)`);
      expect(existsSync(join(cwd, 'data', 'midge.db'))).toBe(true);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      clearTimeout(kill);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
