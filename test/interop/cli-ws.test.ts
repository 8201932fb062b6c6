/** `midge broker --ws-port`: MQTT.js over ws:// to the CLI broker, and a clean exit 0 on SIGTERM. */
import { type ChildProcess, spawn } from 'node:child_process';
import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { spawnMidge, waitForOutput } from '../support/process.js';

function startCli(args: string[]): { child: ChildProcess; ws: Promise<URL>; output: () => string } {
  const cli = spawnMidge(['broker', ...args], { killAfterMs: 15_000 });
  const ws = waitForOutput(cli, (output) => {
    const match = /listening on (ws:\/\/[^"\s]+)/.exec(output);
    return match?.[1] ? new URL(match[1]) : undefined;
  });
  return { child: cli.child, ws, output: cli.output };
}

describe('midge broker --ws-port (CLI)', () => {
  it('serves MQTT.js over ws://127.0.0.1:P/mqtt and exits 0 on SIGTERM, disconnecting WebSocket clients', async () => {
    const cli = startCli(['--port', '0', '--ws-port', '0', '--store', 'memory', '--sys-interval', '0']);
    const url = await cli.ws;
    expect(url.hostname).toBe('127.0.0.1'); // --ws-host defaults to --host (127.0.0.1)
    expect(url.pathname).toBe('/mqtt');
    const exited = new Promise<number | null>((resolve) => cli.child.on('exit', (code) => resolve(code)));

    const client = await mqtt.connectAsync(url.href, { protocolVersion: 5, reconnectPeriod: 0, clientId: 'cli-ws' });
    try {
      await client.subscribeAsync('cli/ws/+', { qos: 1 });
      const received = new Promise<[string, string]>((resolve) =>
        client.once('message', (topic, payload) => resolve([topic, payload.toString()])),
      );
      await client.publishAsync('cli/ws/a', 'over websocket', { qos: 1 });
      expect(await received).toEqual(['cli/ws/a', 'over websocket']);

      const disconnected = new Promise<number | undefined>((resolve) =>
        client.once('disconnect', (packet) => resolve(packet.reasonCode)),
      );
      cli.child.kill('SIGTERM');
      expect(await exited).toBe(0);
      // MQTT 5 clients on WebSocket get DISCONNECT 0x8B Server shutting down, as on TCP.
      expect(await disconnected).toBe(0x8b);
    } finally {
      client.end(true);
    }
    const lines = cli
      .output()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { msg: string });
    expect(lines[1]?.msg).toMatch(/^midge broker listening on 127\.0\.0\.1:\d+$/);
    expect(lines[2]?.msg).toMatch(/^midge broker listening on ws:\/\/127\.0\.0\.1:\d+\/mqtt$/);
  });

  it('--ws-host and --ws-path choose where the WebSocket listener is', async () => {
    const cli = startCli([
      '--port',
      '0',
      '--ws-port',
      '0',
      '--ws-host',
      'localhost',
      '--ws-path',
      '/x/mq',
      '--store',
      'memory',
    ]);
    const url = await cli.ws;
    expect(url.pathname).toBe('/x/mq');
    const exited = new Promise<number | null>((resolve) => cli.child.on('exit', (code) => resolve(code)));
    const client = await mqtt.connectAsync(`ws://localhost:${url.port}/x/mq`, { reconnectPeriod: 0 });
    expect(client.connected).toBe(true);
    client.end(true);
    cli.child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('--help documents the WebSocket flags', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'broker', '--help'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    expect(await new Promise<number | null>((resolve) => child.on('exit', resolve))).toBe(0);
    for (const flag of ['--ws-port <port>', '--ws-host <address>', '--ws-path <path>']) expect(output).toContain(flag);
    expect(output.replace(/\s+/g, ' ')).toMatch(/URL path of the WebSocket listener \(default: "\/mqtt"[,)]/);
  });

  it('refuses a --ws-path that does not start with /', async () => {
    const cli = startCli(['--port', '0', '--ws-port', '0', '--ws-path', 'mqtt', '--store', 'memory']);
    await expect(cli.ws).rejects.toThrow(/--ws-path <path>' argument 'mqtt' is invalid. expected a path starting/);
  });
});
