/** `midge pub` and `midge sub` as child processes, through a Midge broker started in-process. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedBroker, startBroker } from '../helpers/broker.js';
import { run, start } from './run.js';

let broker: StartedBroker;
let dir: string;
const p = () => String(broker.port);

beforeAll(async () => {
  broker = await startBroker();
  dir = mkdtempSync(join(tmpdir(), 'midge-cli-pubsub-'));
});
afterAll(async () => {
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
});

// Each test spawns several `node --import tsx` processes (about 1.5 s each, more on a loaded machine).
describe('midge sub receives what midge pub sends', { timeout: 60_000 }, () => {
  it('QoS 0, 1 and 2 with -v, then exits after -C messages', async () => {
    const sub = start(['sub', '-h', '127.0.0.1', '-p', p(), '-t', 'q/#', '-q', '2', '-v', '-C', '3', '-d']);
    await sub.waitFor(/Subscribed to q\/# \(QoS 2\)/);
    for (const qos of ['0', '1', '2']) {
      const r = await run(['pub', '-h', '127.0.0.1', '-p', p(), '-t', `q/${qos}`, '-m', `hello ${qos}`, '-q', qos]);
      expect(r.code, r.stderr).toBe(0);
    }
    const result = await sub.done;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('q/0 hello 0\nq/1 hello 1\nq/2 hello 2\n');
  });

  it('retained messages, -f (binary file), --json and -F', async () => {
    const file = join(dir, 'bytes.bin');
    writeFileSync(file, Buffer.from([0xff, 0x00, 0x80, 0x41]));
    const url = `mqtt://127.0.0.1:${p()}`;
    expect((await run(['pub', '-L', `${url}/r/bin`, '-f', file, '-r', '-q', '1'])).code).toBe(0);
    expect((await run(['pub', '-L', `${url}/r/txt`, '-m', 'héllo', '-r'])).code).toBe(0);
    const [json, formatted] = await Promise.all([
      run(['sub', '-p', p(), '-h', '127.0.0.1', '-t', 'r/bin', '-t', 'r/txt', '--json', '-C', '2', '-W', '10']),
      run(['sub', '-L', `${url}/r/txt`, '-C', '1', '-F', '%t|%p|%q|%r|%l|%x|%%', '-W', '10']),
    ]);
    expect(json.code, json.stderr).toBe(0);
    const lines = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .sort((a, b) => String(a.topic).localeCompare(String(b.topic)));
    expect(lines).toEqual([
      {
        topic: 'r/bin',
        payload: Buffer.from([0xff, 0x00, 0x80, 0x41]).toString('base64'),
        encoding: 'base64',
        qos: 0,
        retain: true,
      },
      { topic: 'r/txt', payload: 'héllo', qos: 0, retain: true },
    ]);
    expect(formatted.code, formatted.stderr).toBe(0);
    expect(formatted.stdout).toBe(`r/txt|héllo|0|1|6|${Buffer.from('héllo').toString('hex')}|%\n`);
    // -R skips the stale (retained) message: only the live one is printed.
    const fresh = start(['sub', '-h', '127.0.0.1', '-p', p(), '-t', 'r/txt', '-R', '-C', '1', '-d', '-W', '10']);
    await fresh.waitFor(/Subscribed/);
    expect((await run(['pub', '-h', '127.0.0.1', '-p', p(), '-t', 'r/txt', '-m', 'live'])).code).toBe(0);
    expect((await fresh.done).stdout).toBe('live\n');
  });

  it('-l sends each line of stdin, -n a null message', async () => {
    const sub = start(['sub', '-h', '127.0.0.1', '-p', p(), '-t', 'lines', '-v', '-C', '4', '-d', '-q', '1']);
    await sub.waitFor(/Subscribed/);
    const lines = await run(['pub', '-h', '127.0.0.1', '-p', p(), '-t', 'lines', '-l', '-q', '1'], {
      stdin: 'first\nsecond\n\n',
    });
    expect(lines.code, lines.stderr).toBe(0);
    expect((await run(['pub', '-h', '127.0.0.1', '-p', p(), '-t', 'lines', '-n', '-q', '1'])).code).toBe(0);
    const result = await sub.done;
    expect(result.stdout).toBe('lines first\nlines second\nlines (null)\nlines (null)\n');
  });

  it('MQTT 5: -D publish properties arrive at the subscriber', async () => {
    const sub = start(['sub', '-V', '5', '-h', '127.0.0.1', '-p', p(), '-t', 'v5', '--json', '-C', '1', '-d']);
    await sub.waitFor(/Subscribed/);
    const pub = await run([
      'pub',
      '-V',
      'mqttv5',
      '-h',
      '127.0.0.1',
      '-p',
      p(),
      '-t',
      'v5',
      '-m',
      '{"a":1}',
      '-q',
      '1',
      '-D',
      'publish',
      'user-property',
      'origin',
      'cli',
      '-D',
      'publish',
      'content-type',
      'application/json',
      '-D',
      'publish',
      'message-expiry-interval',
      '60',
      '-D',
      'connect',
      'session-expiry-interval',
      '0',
    ]);
    expect(pub.code, pub.stderr).toBe(0);
    const result = await sub.done;
    const message = JSON.parse(result.stdout) as { payload: string; properties: Record<string, unknown> };
    expect(message.payload).toBe('{"a":1}');
    expect(message.properties.userProperties).toEqual({ origin: 'cli' });
    expect(message.properties.contentType).toBe('application/json');
    expect(message.properties.messageExpiryInterval).toBeGreaterThan(0);
  });

  it('-W: no message in time exits 27 with "Timed out"', async () => {
    const started = Date.now();
    const r = await run(['sub', '-h', '127.0.0.1', '-p', p(), '-t', 'nothing/here', '-W', '1']);
    expect(r.code).toBe(27);
    expect(r.stderr).toContain('Timed out');
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
