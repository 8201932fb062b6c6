/**
 * Server processes for tests (mosquitto, redis-server, `midge broker`): a free loopback port, the binary (missing:
 * a loud error, never a skip), a bounded wait until the server answers on its port, and a stop with SIGTERM then
 * SIGKILL. Every child spawned here is SIGKILLed if the test process exits first.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createConnection, createServer } from 'node:net';

/** A port that was free on 127.0.0.1 a moment ago (someone else can take it before the server binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** The first executable among `candidates`; throws `missing` if there is none. */
export function findExecutable(candidates: string[], missing: string): string {
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error(missing);
}

/** true once 127.0.0.1:port accepts a TCP connection (within 500 ms). */
export function accepts(port: number): Promise<boolean> {
  return probe(port, (socket, done) => socket.once('connect', () => done(true)));
}

/**
 * Connects to 127.0.0.1:port and lets `talk` decide (done(true/false)); false on error or after 500 ms.
 * For servers that must answer something (redis-server: PING).
 */
export function probe(
  port: number,
  talk: (socket: ReturnType<typeof createConnection>, done: (result: boolean) => void) => void,
): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const done = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    talk(socket, done);
  });
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface ServerProcess {
  child: ChildProcess;
  /** stdout + stderr so far (the last `tail` characters if given). */
  output(): string;
  /** How the process ended ("exited with …" or the spawn error), undefined while it runs. */
  ended(): string | undefined;
}

/** Spawns `binary args` with piped output, SIGKILLed if the test process exits first. */
export function spawnServer(binary: string, args: string[], options: { tail?: number } = {}): ServerProcess {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    if (options.tail !== undefined) output = output.slice(-options.tail);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let ended: string | undefined;
  child.once('exit', (code, signal) => {
    running.delete(child);
    ended = `exited with ${signal ?? code}`;
  });
  child.once('error', (error) => {
    ended = error.message;
  });
  return { child, output: () => output, ended: () => ended };
}

/**
 * Waits until `ready(port)` (default: the port accepts connections), polling every 50 ms for at most timeoutMs.
 * Throws, with the server's output, if the process ends first or the time runs out (the process is then SIGKILLed).
 */
export async function waitForPort(
  server: ServerProcess,
  port: number,
  options: { name: string; timeoutMs?: number; ready?: (port: number) => Promise<boolean>; readyText?: string },
): Promise<void> {
  const { name, timeoutMs = 10_000, ready = accepts, readyText = 'accept connections' } = options;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ended = server.ended();
    if (ended !== undefined) throw new Error(`${name} on port ${port} ${ended}:\n${server.output()}`);
    if (await ready(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  server.child.kill('SIGKILL');
  throw new Error(`${name} on port ${port} did not ${readyText} within ${timeoutMs} ms:\n${server.output()}`);
}

/**
 * Tries `start` on up to `attempts` free ports (a free port can be taken between the probe and the server's bind);
 * with a fixed `port`, tries once. Throws the last error.
 */
export async function onFreePort<T>(start: (port: number) => Promise<T>, port?: number, attempts = 3): Promise<T> {
  let lastError: unknown;
  for (let attempt = 0; attempt < (port === undefined ? attempts : 1); attempt++) {
    const candidate = port ?? (await freePort());
    try {
      return await start(candidate);
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

/** Resolves with the exit code once the process is gone (at once if it is already). */
export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** SIGTERM, then SIGKILL if the process is still there after graceMs; resolves with the exit code. */
export async function stopProcess(child: ChildProcess, graceMs = 5000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const gone = exited(child);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  child.kill('SIGTERM');
  try {
    return await gone;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `midge <args>` from the sources (`node --import tsx src/cli/main.ts`: the same program as bin/midge.js without a
 * fresh build), with piped output; SIGKILLed after killAfterMs if given.
 */
export function spawnMidge(args: string[], options: { killAfterMs?: number } = {}): ServerProcess {
  const server = spawnServer(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args]);
  if (options.killAfterMs !== undefined) {
    const kill = setTimeout(() => server.child.kill('SIGKILL'), options.killAfterMs);
    server.child.on('exit', () => clearTimeout(kill));
  }
  return server;
}

/**
 * The first value `find(output)` gives (checked whenever output comes); rejects with the output if the process
 * exits first.
 */
export function waitForOutput<T>(server: ServerProcess, find: (output: string) => T | undefined): Promise<T> {
  const { child, output } = server;
  return new Promise<T>((resolve, reject) => {
    const check = () => {
      const found = find(output());
      if (found !== undefined) resolve(found);
    };
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
    child.on('exit', (code) => reject(new Error(`exited with ${code}: ${output()}`)));
  });
}
