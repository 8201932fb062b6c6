/** Runs the real `midge` command (`node --import tsx src/cli/main.ts …`) as a child process, with bounded waits. */
import { type ChildProcess, spawn } from 'node:child_process';

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

export interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves when stderr or stdout matches (rejects after `ms` or when the process exits first). */
  waitFor(pattern: RegExp, ms?: number): Promise<void>;
  done: Promise<Result>;
}

/** Starts `midge …args` (or another program with `command`); killed after `killAfterMs`. */
export function start(
  args: string[],
  options: { stdin?: string | Buffer; killAfterMs?: number; command?: string } = {},
): Running {
  const [file, argv] =
    options.command === undefined
      ? [process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args]]
      : [options.command, args];
  const child = spawn(file, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  if (options.stdin !== undefined) child.stdin?.end(options.stdin);
  else child.stdin?.end();
  const kill = setTimeout(() => child.kill('SIGKILL'), options.killAfterMs ?? 45_000);
  const done = new Promise<Result>((resolve) => {
    child.on('exit', (code) => {
      clearTimeout(kill);
      children.delete(child);
      // Let the last pipe data arrive.
      setTimeout(() => resolve({ code, stdout, stderr }), 20);
    });
  });
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    done,
    async waitFor(pattern, ms = 30_000) {
      const deadline = Date.now() + ms;
      let exited = false;
      void done.then(() => {
        exited = true;
      });
      while (!pattern.test(stderr) && !pattern.test(stdout)) {
        if (exited) throw new Error(`exited before ${pattern}: ${stdout}${stderr}`);
        if (Date.now() > deadline) throw new Error(`no ${pattern} within ${ms} ms: ${stdout}${stderr}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

export function run(args: string[], options: { stdin?: string | Buffer; killAfterMs?: number; command?: string } = {}) {
  return start(args, options).done;
}
