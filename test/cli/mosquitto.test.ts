/** Interoperability of `midge pub` / `midge sub` with Mosquitto and its command-line clients. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedBroker, startBroker } from '../helpers/broker.js';
import { type Mosquitto, startMosquitto } from '../support/mosquitto.js';
import { run, start } from './run.js';

let mosquitto: Mosquitto;
let midge: StartedBroker;
beforeAll(async () => {
  [mosquitto, midge] = await Promise.all([startMosquitto(), startBroker()]);
});
afterAll(async () => {
  await Promise.all([mosquitto?.stop(), midge?.close()]);
});

// Each test spawns several `node --import tsx` processes (about 1.5 s each, more on a loaded machine).
describe('midge pub / sub with Mosquitto', { timeout: 60_000 }, () => {
  it('midge pub → mosquitto → mosquitto_sub (3.1.1 and 5.0 with a user property)', async () => {
    const port = String(mosquitto.port);
    const sub = start(
      [
        '-h',
        '127.0.0.1',
        '-p',
        port,
        '-t',
        'interop/#',
        '-q',
        '2',
        '-V',
        '5',
        '-C',
        '2',
        '-F',
        '%t %p %q %P',
        '-W',
        '15',
      ],
      {
        command: 'mosquitto_sub',
      },
    );
    // mosquitto_sub has no "subscribed" line: publish retained messages so the order does not matter.
    const a = await run(['pub', '-h', '127.0.0.1', '-p', port, '-t', 'interop/a', '-m', 'from midge', '-q', '1', '-r']);
    const b = await run([
      'pub',
      '-V',
      '5',
      '-h',
      '127.0.0.1',
      '-p',
      port,
      '-t',
      'interop/b',
      '-m',
      'with props',
      '-q',
      '2',
      '-r',
      '-D',
      'publish',
      'user-property',
      'k',
      'v',
    ]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const result = await sub.done;
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trim().split('\n').sort();
    expect(lines).toEqual(['interop/a from midge 1 ', 'interop/b with props 2 k:v']);
  });

  it('mosquitto_pub → Midge broker → midge sub', async () => {
    const port = String(midge.port);
    const sub = start(['sub', '-h', '127.0.0.1', '-p', port, '-t', 'from/mosquitto', '-q', '1', '-C', '2', '-v', '-d']);
    await sub.waitFor(/Subscribed/);
    const a = await run(['-h', '127.0.0.1', '-p', port, '-t', 'from/mosquitto', '-m', 'one', '-q', '1'], {
      command: 'mosquitto_pub',
    });
    const b = await run(
      ['-h', '127.0.0.1', '-p', port, '-t', 'from/mosquitto', '-m', 'two', '-q', '2', '-V', 'mqttv5'],
      {
        command: 'mosquitto_pub',
      },
    );
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    const result = await sub.done;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('from/mosquitto one\nfrom/mosquitto two\n');
  });
});
