/**
 * Password files: one `username:hash` per line (the user name is everything before the first `:`), `#` comments
 * and blank lines ignored, as Mosquitto reads them. Hash formats: hash.ts. A bad line is an error naming file:line.
 */
import { readFileSync } from 'node:fs';
import { type PasswordHash, parseHash } from './hash.js';

export class ConfigFileError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    message: string,
  ) {
    super(line > 0 ? `${file}:${line}: ${message}` : `${file}: ${message}`);
    this.name = 'ConfigFileError';
  }
}

export type PasswordEntries = Map<string, PasswordHash>;

/** Parses the text of a password file; `file` is used in error messages. */
export function parsePasswordFile(text: string, file = 'password file'): PasswordEntries {
  const entries: PasswordEntries = new Map();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new ConfigFileError(file, i + 1, 'expected username:hash');
    const username = line.slice(0, colon);
    try {
      entries.set(username, parseHash(line.slice(colon + 1).trim()));
    } catch (error) {
      throw new ConfigFileError(file, i + 1, `user "${username}": ${(error as Error).message}`);
    }
  }
  return entries;
}

export function loadPasswordFile(path: string): PasswordEntries {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigFileError(
      path,
      0,
      `cannot read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  return parsePasswordFile(text, path);
}
