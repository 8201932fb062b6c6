/**
 * `midge passwd [-c] [-b] [-D] [--scram] FILE USER [PASSWORD]`: manage a password file, with the shape of
 * mosquitto_passwd. -c creates (overwrites) the file, -b takes the password from the command line, -D deletes the
 * user. Without -b the password is asked twice on a terminal (not echoed), or read as one line from stdin when stdin
 * is not a terminal. New hashes are scrypt (`$midge-scrypt$`), or SCRAM-SHA-256 verifiers with --scram (usable for
 * the MQTT 5.0 AUTH exchange too). Other users' lines (Mosquitto's `$6$`/`$7$` included) and comments are kept as
 * they are. The file is replaced atomically and always written with mode 0600; if it was readable by others before,
 * this is said on stderr.
 */
import { chmodSync, existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Command } from 'commander';
import { formatHash, hashPassword } from '../../broker/auth/hash.js';
import { parsePasswordFile } from '../../broker/auth/password-file.js';

interface PasswdOptions {
  create?: boolean;
  batch?: boolean;
  delete?: boolean;
  scram?: boolean;
}

class UsageError extends Error {}

/** Reads a password on a terminal without echo. */
function promptHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    let value = '';
    const done = (error?: Error) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') return done();
        if (char === '\u0003') return done(new UsageError('interrupted'));
        if (char === '\u0004') return done();
        if (char === '\u007f' || char === '\b') value = value.slice(0, -1);
        else value += char;
      }
    };
    stdin.on('data', onData);
  });
}

/** Reads the first line of a non-terminal stdin. */
async function readLine(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) {
    text += chunk.toString();
    const newline = text.indexOf('\n');
    if (newline >= 0) return text.slice(0, newline).replace(/\r$/, '');
  }
  return text.replace(/\r$/, '');
}

async function obtainPassword(given: string | undefined, options: PasswdOptions): Promise<string> {
  if (options.batch) {
    if (given === undefined) throw new UsageError('-b needs the password on the command line');
    return given;
  }
  if (given !== undefined) throw new UsageError('a password on the command line needs -b');
  if (!process.stdin.isTTY) return readLine();
  const first = await promptHidden('Password: ');
  const second = await promptHidden('Reenter password: ');
  if (first !== second) throw new UsageError('passwords do not match');
  return first;
}

/** Writes `text` to `file` atomically with mode 0600; returns a note if the old file was readable by others. */
function writeSecret(file: string, text: string): string | undefined {
  let note: string | undefined;
  if (existsSync(file)) {
    const mode = statSync(file).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      note = `note: ${file} had mode ${mode.toString(8).padStart(4, '0')}; it is now written with mode 0600`;
    }
  }
  const temporary = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  writeFileSync(temporary, text, { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, file);
  return note;
}

export async function runPasswd(file: string, user: string, password: string | undefined, options: PasswdOptions) {
  if (options.create && options.delete) throw new UsageError('-c and -D cannot be used together');
  if (options.delete && (password !== undefined || options.batch)) throw new UsageError('-D takes no password');
  if (user === '' || user.includes(':')) throw new UsageError('the user name must be non-empty and without ":"');
  if (/[\r\n]/.test(user)) throw new UsageError('the user name must be on one line');

  let lines: string[] = [];
  if (!options.create) {
    if (!existsSync(file)) throw new UsageError(`${file} does not exist (use -c to create it)`);
    const text = readFileSync(file, 'utf8');
    parsePasswordFile(text, file); // refuse to rewrite a file with a line we cannot read
    lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
  }
  const index = lines.findIndex((line) => line.slice(0, line.indexOf(':')) === user && line.includes(':'));
  if (options.delete) {
    if (index < 0) throw new UsageError(`user ${user} not found in ${file}`);
    lines.splice(index, 1);
  } else {
    const secret = await obtainPassword(password, options);
    if (secret === '') throw new UsageError('empty password');
    if (/[\r\n]/.test(secret)) throw new UsageError('the password must be on one line');
    const line = `${user}:${formatHash(await hashPassword(secret, options.scram ? 'scram-sha-256' : 'scrypt'))}`;
    if (index >= 0) lines[index] = line;
    else lines.push(line);
  }
  const note = writeSecret(file, lines.length > 0 ? `${lines.join('\n')}\n` : '');
  if (note !== undefined) process.stderr.write(`${note}\n`);
}

export function registerPasswdCommand(program: Command): void {
  program
    .command('passwd')
    .description('create, update or delete a user in a password file (the shape of mosquitto_passwd)')
    .argument('<file>', 'password file')
    .argument('<user>', 'user name')
    .argument('[password]', 'the password (with -b only)')
    .option('-c, --create', 'create the file, overwriting it if it exists')
    .option('-b, --batch', 'take the password from the command line')
    .option('-D, --delete', 'delete the user')
    .option('--scram', 'store a SCRAM-SHA-256 verifier (also usable for MQTT 5.0 AUTH) instead of scrypt')
    .action(async (file: string, user: string, password: string | undefined, options: PasswdOptions) => {
      try {
        await runPasswd(file, user, password, options);
      } catch (error) {
        process.stderr.write(`error: ${(error as Error).message}\n`);
        process.exit(1);
      }
    });
}
