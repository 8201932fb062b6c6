/**
 * Runs the real `midge broker` command line as a child process (the sources through tsx, as test/interop/cli.test.ts
 * does: the same program as bin/midge.js without depending on a fresh `npm run build`), on a free loopback port.
 * Every child is remembered so that a test's afterEach can SIGKILL whatever is left.
 */
import { type ChildProcess, spawn } from 'node:child_process';

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

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

const STARTUP_TIMEOUT_MS = 15_000;

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

export async function startCliBroker(args: string[]): Promise<CliBroker> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'broker',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--sys-interval',
      '0',
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.add(child);
  child.once('exit', () => children.delete(child));
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`midge broker did not listen within ${STARTUP_TIMEOUT_MS} ms:\n${output}`));
    }, STARTUP_TIMEOUT_MS);
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on [^:]+:(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`midge broker exited with ${signal ?? code}:\n${output}`));
    });
  });
  return {
    child,
    port,
    output: () => output,
    async kill() {
      child.kill('SIGKILL');
      await exited(child);
    },
    async stop() {
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.kill('SIGTERM');
      const code = await exited(child);
      clearTimeout(timer);
      return code;
    },
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
