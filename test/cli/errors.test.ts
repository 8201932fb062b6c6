/** Bad flags, missing topics, unreachable brokers and refused connections: a clear message and a non-zero exit. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedBroker, startBroker } from '../helpers/broker.js';
import { freePort } from '../support/mosquitto.js';
import { run } from './run.js';

let refusing: StartedBroker;
beforeAll(async () => {
  // Refuses every client with 0x86 Bad User Name or Password (3.1.1: return code 4).
  refusing = await startBroker({ hooks: { authenticate: () => ({ reasonCode: 0x86 }) } });
});
afterAll(() => refusing.close());

// Each test spawns several `node --import tsx` processes (about 1.5 s each, more on a loaded machine).
describe('midge pub / sub errors', { timeout: 60_000 }, () => {
  it('bad flags and missing topics are usage errors (exit 1)', async () => {
    const cases: [string[], RegExp][] = [
      [['pub', '-t', 'x', '-m', 'y', '--bogus'], /unknown option '--bogus'/],
      [['pub', '-m', 'y'], /a topic is needed: -t topic/],
      [['sub'], /a topic filter is needed: -t filter/],
      [['pub', '-t', 'x'], /exactly one message source/],
      [['pub', '-t', 'x', '-m', 'y', '-q', '3'], /-q, --qos <qos>' argument '3' is invalid/],
      [['sub', '-t', 'x', '-V', '6'], /expected 5 \(mqttv5\), 311/],
      [['pub', '-t', 'x', '-m', 'y', '-D', 'publish', 'user-property', 'k', 'v'], /-D properties need MQTT 5/],
      [['pub', '-V', '5', '-t', 'x', '-m', 'y', '-D', 'publish', 'no-such', '1'], /unknown or unsupported property/],
      [
        ['pub', '-V', '5', '-t', 'x', '-m', 'y', '-D', 'disconnect', 'reason-string', 'r'],
        /'disconnect' are not supported/,
      ],
      [['sub', '-t', 'x', '-F', '%Z'], /unsupported format code '%Z'/],
    ];
    const results = await Promise.all(cases.map(([args]) => run(args)));
    results.forEach((r, i) => {
      const [args, message] = cases[i]!;
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toMatch(message);
    });
  });

  it('an unreachable port: "connection refused", exit 1', async () => {
    const port = String(await freePort());
    const [pub, sub] = await Promise.all([
      run(['pub', '-h', '127.0.0.1', '-p', port, '-t', 'x', '-m', 'y']),
      run(['sub', '-h', '127.0.0.1', '-p', port, '-t', 'x']),
    ]);
    for (const r of [pub, sub]) {
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/Error: connection refused by 127\.0\.0\.1:\d+ \(is a broker listening there\?\)/);
    }
  });

  it('a refused CONNECT prints the reason code name and exits with the CONNACK code', async () => {
    const port = String(refusing.port);
    const [v5, v311] = await Promise.all([
      run(['sub', '-V', '5', '-h', '127.0.0.1', '-p', port, '-t', 'x', '-u', 'u', '-P', 'wrong']),
      run(['pub', '-h', '127.0.0.1', '-p', port, '-t', 'x', '-m', 'y', '-u', 'u', '-P', 'wrong']),
    ]);
    expect(v5.code).toBe(0x86);
    expect(v5.stderr).toContain('Connection refused: 0x86 Bad User Name or Password');
    expect(v311.code).toBe(4);
    expect(v311.stderr).toContain('Connection refused: 0x86 Bad User Name or Password (MQTT 3.1.1 return code 4)');
  });

  it('a broker that never answers CONNACK: timeout, exit 27', async () => {
    const { createServer } = await import('node:net');
    const server = createServer(() => {}); // accepts, never answers
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = String(typeof address === 'object' && address !== null ? address.port : 0);
    try {
      const r = await run(['pub', '-h', '127.0.0.1', '-p', port, '-t', 'x', '-m', 'y', '--connect-timeout', '1']);
      expect(r.code).toBe(27);
      expect(r.stderr).toMatch(/Timed out: no answer from 127\.0\.0\.1:\d+ \(connect, 1000 ms\)/);
    } finally {
      server.close();
    }
  });
});
