/**
 * Runs the real `midge broker` command line as a child process (the sources through tsx, as test/interop/cli.test.ts
 * does: the same program as bin/midge.js without depending on a fresh `npm run build`), on a free loopback port.
 * Every child is remembered so that a test's afterEach can SIGKILL whatever is left.
 */
import type { ChildProcess } from 'node:child_process';
import { exited, spawnMidge, stopProcess } from '../support/process.js';

export interface CliBroker {
  child: ChildProcess;
  port: number;
  /** stdout + stderr so far (pino JSON lines). */
  output(): string;
  /** SIGKILL, resolved once the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM, resolved with the exit code. */
  stop(): Promise<number | null>;
}

/** The children still running, for killAllCliBrokers (process.ts SIGKILLs them if the test process exits). */
const children = new Set<ChildProcess>();

const STARTUP_TIMEOUT_MS = 15_000;

export async function startCliBroker(args: string[]): Promise<CliBroker> {
  const server = spawnMidge(['broker', '--host', '127.0.0.1', '--port', '0', '--sys-interval', '0', ...args]);
  const { child, output } = server;
  children.add(child);
  child.once('exit', () => children.delete(child));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`midge broker did not listen within ${STARTUP_TIMEOUT_MS} ms:\n${output()}`));
    }, STARTUP_TIMEOUT_MS);
    const collect = () => {
      const match = /listening on [^:]+:(\d+)/.exec(output());
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`midge broker exited with ${signal ?? code}:\n${output()}`));
    });
  });
  return {
    child,
    port,
    output,
    async kill() {
      child.kill('SIGKILL');
      await exited(child);
    },
    stop: () => stopProcess(child, 10_000),
  };
}

/** SIGKILLs every broker child still running (afterEach). */
export async function killAllCliBrokers(): Promise<void> {
  await Promise.all(
    [...children].map((child) => {
      child.kill('SIGKILL');
      return exited(child);
    }),
  );
}
