/**
 * The three commands together, as a user runs them: `midge sub` receives what `midge pub` sends through a
 * `midge broker` process (not an in-process broker), at QoS 0, 1 and 2, and the broker exits 0 on SIGTERM.
 */
import { describe, expect, it } from 'vitest';
import { spawnMidge, waitForOutput } from '../support/process.js';
import { start } from './run.js';

describe('midge pub → midge broker → midge sub', { timeout: 60_000 }, () => {
  it('delivers QoS 0, 1 and 2 messages, in order, through the real broker process', async () => {
    const broker = spawnMidge(['broker', '--host', '127.0.0.1', '--port', '0', '--store', 'memory'], {
      killAfterMs: 55_000,
    });
    const port = String(await waitForOutput(broker, (output) => /listening on 127\.0\.0\.1:(\d+)/.exec(output)?.[1]));
    try {
      const sub = start(['sub', '-h', '127.0.0.1', '-p', port, '-t', 'home/+/temp', '-q', '2', '-v', '-C', '3', '-d']);
      await sub.waitFor(/Subscribed to home\/\+\/temp \(QoS 2\)/);
      for (const qos of ['0', '1', '2']) {
        const pub = await start([
          'pub',
          '-h',
          '127.0.0.1',
          '-p',
          port,
          '-t',
          `home/q${qos}/temp`,
          '-m',
          `t${qos}`,
          '-q',
          qos,
        ]).done;
        expect(pub.code, pub.stderr).toBe(0);
      }
      const result = await sub.done;
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout.trim().split('\n')).toEqual(['home/q0/temp t0', 'home/q1/temp t1', 'home/q2/temp t2']);
    } finally {
      const exited = new Promise<number | null>((resolve) => broker.child.on('exit', (code) => resolve(code)));
      broker.child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });
});
