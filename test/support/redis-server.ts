/**
 * Starts a real `redis-server` for tests, on a free loopback port, in a temporary directory. Without persistence
 * it saves nothing (`--save '' --appendonly no`); with `persistence: true` it keeps an append-only file fsynced at
 * every write (so a server stopped and started again on the same `dir` has the data back).
 *
 * If redis-server is not installed this throws: tests that need it fail loudly, they are never skipped.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { findExecutable, onFreePort, probe, spawnServer, stopProcess, waitForPort } from './process.js';

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
  const dirs = (process.env.PATH ?? '').split(delimiter).concat(['/usr/bin', '/usr/local/bin', '/usr/sbin']);
  return findExecutable(
    dirs.filter((dir) => dir !== '').map((dir) => join(dir, 'redis-server')),
    'redis-server not found: apt-get install -y redis-server',
  );
}

/** true once the server answers PING with +PONG. */
function ping(port: number): Promise<boolean> {
  return probe(port, (socket, done) => {
    let data = '';
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      data += chunk.toString();
      if (data.includes('\r\n')) done(data.startsWith('+PONG'));
    });
  });
}

async function startOnce(binary: string, port: number, dir: string, persistence: boolean): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--daemonize', 'no'];
  if (persistence) args.push('--appendonly', 'yes', '--appendfsync', 'always');
  else args.push('--appendonly', 'no');
  const server = spawnServer(binary, args, { tail: 4000 });
  await waitForPort(server, port, {
    name: 'redis-server',
    timeoutMs: STARTUP_TIMEOUT_MS,
    ready: ping,
    readyText: 'answer PING',
  });
  return server.child;
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const binary = findRedisServer();
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'midge-redis-'));
  try {
    return await onFreePort(async (port) => {
      const child = await startOnce(binary, port, dir, options.persistence ?? false);
      return {
        url: `redis://127.0.0.1:${port}`,
        port,
        dir,
        async stop() {
          await stopProcess(child);
          if (ownDir) rmSync(dir, { recursive: true, force: true });
        },
      };
    }, options.port);
  } catch (error) {
    if (ownDir) rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
