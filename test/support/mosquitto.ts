/**
 * Starts a real Mosquitto for tests: a generated config (`listener <free port> 127.0.0.1`, anonymous access, no
 * persistence) in a temporary directory, `/usr/sbin/mosquitto -c <conf>`, and a bounded wait until the port accepts
 * connections (and an unlimited in-flight window, see below). If mosquitto is not installed this throws: the tests that need it fail loudly, they are never skipped.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findExecutable, onFreePort, spawnServer, stopProcess, waitForPort } from './process.js';

export { freePort } from './process.js';

export interface Mosquitto {
  port: number;
  /** SIGTERM (SIGKILL after 5 s); removes the temporary directory. */
  stop(): Promise<void>;
}

const BINARY_CANDIDATES = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto'];
const STARTUP_TIMEOUT_MS = 10_000;

async function startOnce(binary: string, dir: string, port: number): Promise<ChildProcess> {
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence false',
      'log_dest stderr',
      // Mosquitto 2.0.11 (Debian bookworm) stalls outgoing QoS 2 messages queued behind a full window of 20 for
      // MQTT 3.1.1 subscribers (inflight quota fixes came in 2.0.13); an unlimited window avoids that broker bug.
      'max_inflight_messages 0',
      '',
    ].join('\n'),
  );
  const server = spawnServer(binary, ['-c', conf], { tail: 4000 });
  await waitForPort(server, port, { name: 'mosquitto', timeoutMs: STARTUP_TIMEOUT_MS });
  return server.child;
}

export async function startMosquitto(): Promise<Mosquitto> {
  const binary = findExecutable(BINARY_CANDIDATES, 'mosquitto not found: apt-get install -y mosquitto');
  const dir = mkdtempSync(join(tmpdir(), 'midge-mosquitto-'));
  try {
    return await onFreePort(async (port) => {
      const child = await startOnce(binary, dir, port);
      return {
        port,
        async stop() {
          await stopProcess(child);
          rmSync(dir, { recursive: true, force: true });
        },
      };
    });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
