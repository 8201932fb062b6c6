/** The `midge broker` command: listens, logs the address, serves clients, exits 0 on SIGTERM. */
import { type ChildProcess, spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { RawClient } from '../helpers/raw-client.js';

function startCli(args: string[]): { child: ChildProcess; port: Promise<number>; output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'broker', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
  child.on('exit', () => clearTimeout(kill));
  const port = new Promise<number>((resolve, reject) => {
    child.stdout?.on('data', (chunk) => {
      output += chunk;
      const match = /listening on [^:]+:(\d+)/.exec(output);
      if (match) resolve(Number(match[1]));
    });
    child.stderr?.on('data', (chunk) => {
      output += chunk;
    });
    child.on('exit', (code) => reject(new Error(`exited with ${code}: ${output}`)));
  });
  return { child, port, output: () => output };
}

describe('midge broker (CLI)', () => {
  it('logs the listening address, serves MQTT and exits 0 on SIGTERM', async () => {
    const cli = startCli(['--port', '0', '--host', '127.0.0.1', '--log-level', 'debug']);
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
    expect(lines[0]?.msg).toMatch(/listening on 127\.0\.0\.1:\d+/);
    expect(lines.some((l) => l.msg === 'client connected' && l.level === 20)).toBe(true);
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
    ]) {
      expect(output).toContain(flag);
    }
  });
});
