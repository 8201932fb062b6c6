/**
 * Starts a real `redis-server` for tests, on a free loopback port, in a temporary directory. Without persistence
 * it saves nothing (`--save '' --appendonly no`); with `persistence: true` it keeps an append-only file fsynced at
 * every write (so a server stopped and started again on the same `dir` has the data back).
 *
 * If redis-server is not installed this throws: tests that need it fail loudly, they are never skipped.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export interface RedisServerOptions {
  /** AOF with appendfsync always (default false: nothing is saved). */
  persistence?: boolean;
  /** Working directory (kept on stop()); default: a new temporary directory, removed on stop(). */
  dir?: string;
  /** Default: a free port. */
  port?: number;
}

export interface RedisServer {
  url: string;
  port: number;
  dir: string;
  /** Shuts the server down (SIGTERM; SIGKILL after 5 s) and removes the temporary directory it made. */
  stop(): Promise<void>;
}

const STARTUP_TIMEOUT_MS = 10_000;

function findRedisServer(): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter).concat(['/usr/bin', '/usr/local/bin', '/usr/sbin'])) {
    if (dir === '') continue;
    const candidate = join(dir, 'redis-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error('redis-server not found: apt-get install -y redis-server');
}

function freePort(): Promise<number> {
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

/** true once the server answers PING with +PONG. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let data = '';
    const done = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      data += chunk.toString();
      if (data.includes('\r\n')) done(data.startsWith('+PONG'));
    });
  });
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

async function startOnce(binary: string, port: number, dir: string, persistence: boolean): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--daemonize', 'no'];
  if (persistence) args.push('--appendonly', 'yes', '--appendfsync', 'always');
  else args.push('--appendonly', 'no');
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    running.delete(child);
    exited = `exited with ${signal ?? code}`;
  });
  child.once('error', (error) => {
    exited = error.message;
  });
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited !== undefined) throw new Error(`redis-server on port ${port} ${exited}:\n${output}`);
    if (await ping(port)) return child;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server on port ${port} did not answer PING within ${STARTUP_TIMEOUT_MS} ms:\n${output}`);
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const binary = findRedisServer();
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'midge-redis-'));
  let child: ChildProcess | undefined;
  let port = options.port ?? 0;
  let lastError: unknown;
  // A free port can be taken by someone else between the probe and redis-server's bind: try a few.
  for (let attempt = 0; attempt < 3 && child === undefined; attempt++) {
    port = options.port ?? (await freePort());
    try {
      child = await startOnce(binary, port, dir, options.persistence ?? false);
    } catch (error) {
      lastError = error;
      if (options.port !== undefined) break;
    }
  }
  if (child === undefined) {
    if (ownDir) rmSync(dir, { recursive: true, force: true });
    throw lastError;
  }
  const started = child;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    async stop() {
      await stopChild(started);
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
