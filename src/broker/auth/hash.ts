/**
 * Password hashes of a password file line (`user:HASH`), Midge's own and Mosquitto's, as they are written:
 *
 *   $midge-scrypt$N$r$p$SALT$HASH          scrypt (RFC 7914), 16-byte salt, 32-byte hash; written by `midge passwd`
 *   $midge-scram-sha-256$I$SALT$STOREDKEY$SERVERKEY
 *                                          a SCRAM-SHA-256 verifier (RFC 5802/7677): PBKDF2-HMAC-SHA256 with I
 *                                          iterations; usable for a password in CONNECT and for the AUTH exchange;
 *                                          written by `midge passwd --scram`
 *   $7$I$SALT$HASH                         Mosquitto 2.0 (default): PBKDF2-HMAC-SHA512, I iterations (101 by default)
 *   $6$SALT$HASH                           Mosquitto 1.x: SHA-512(password ‖ salt), one round
 *
 * SALT and HASH are standard base64 (Mosquitto: the salt is the base64 text of 12 random bytes, used decoded).
 * Every comparison is constant-time (crypto.timingSafeEqual); hashing runs on libuv's thread pool (async).
 */
import { createHash, createHmac, pbkdf2, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

export type PasswordHash =
  | { kind: 'scrypt'; N: number; r: number; p: number; salt: Buffer; hash: Buffer }
  | { kind: 'scram-sha-256'; iterations: number; salt: Buffer; storedKey: Buffer; serverKey: Buffer }
  | { kind: 'mosquitto-pbkdf2-sha512'; iterations: number; salt: Buffer; hash: Buffer }
  | { kind: 'mosquitto-sha512'; salt: Buffer; hash: Buffer };

/** scrypt cost of new hashes: N = 2^15 (32 MiB of memory, about 100 ms), r = 8, p = 1. */
export const SCRYPT_DEFAULTS = { N: 32_768, r: 8, p: 1 } as const;
/** PBKDF2-HMAC-SHA256 iterations of new SCRAM-SHA-256 verifiers. */
export const SCRAM_ITERATIONS = 100_000;

const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

function b64(value: string | undefined, what: string): Buffer {
  if (value === undefined || !B64.test(value)) throw new Error(`${what} is not base64`);
  return Buffer.from(value, 'base64');
}

function positiveInt(value: string | undefined, what: string, max = 0x7fff_ffff): number {
  const n = Number(value);
  if (value === undefined || !/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1 || n > max) {
    throw new Error(`${what} must be a positive integer`);
  }
  return n;
}

/** Parses the hash part of a password file line; throws an Error saying what is wrong. */
export function parseHash(text: string): PasswordHash {
  const parts = text.split('$');
  if (parts[0] !== '' || parts.length < 3) throw new Error('not a hash of a known format ($7$, $6$, $midge-…$)');
  switch (parts[1]) {
    case 'midge-scrypt': {
      if (parts.length !== 7) throw new Error('$midge-scrypt$ needs N, r, p, salt and hash');
      const N = positiveInt(parts[2], 'scrypt N');
      if ((N & (N - 1)) !== 0 || N < 2) throw new Error('scrypt N must be a power of 2');
      return {
        kind: 'scrypt',
        N,
        r: positiveInt(parts[3], 'scrypt r', 64),
        p: positiveInt(parts[4], 'scrypt p', 64),
        salt: b64(parts[5], 'the salt'),
        hash: b64(parts[6], 'the hash'),
      };
    }
    case 'midge-scram-sha-256': {
      if (parts.length !== 6) throw new Error('$midge-scram-sha-256$ needs iterations, salt, StoredKey and ServerKey');
      const hash: PasswordHash = {
        kind: 'scram-sha-256',
        iterations: positiveInt(parts[2], 'the iteration count'),
        salt: b64(parts[3], 'the salt'),
        storedKey: b64(parts[4], 'StoredKey'),
        serverKey: b64(parts[5], 'ServerKey'),
      };
      if (hash.storedKey.length !== 32 || hash.serverKey.length !== 32) throw new Error('SCRAM keys must be 32 bytes');
      return hash;
    }
    case '7':
      if (parts.length !== 5) throw new Error('$7$ needs iterations, salt and hash');
      return {
        kind: 'mosquitto-pbkdf2-sha512',
        iterations: positiveInt(parts[2], 'the iteration count'),
        salt: b64(parts[3], 'the salt'),
        hash: b64(parts[4], 'the hash'),
      };
    case '6':
      if (parts.length !== 4) throw new Error('$6$ needs salt and hash');
      return { kind: 'mosquitto-sha512', salt: b64(parts[2], 'the salt'), hash: b64(parts[3], 'the hash') };
    default:
      throw new Error(`unknown hash format $${parts[1]}$`);
  }
}

export function formatHash(hash: PasswordHash): string {
  const e = (b: Buffer) => b.toString('base64');
  switch (hash.kind) {
    case 'scrypt':
      return `$midge-scrypt$${hash.N}$${hash.r}$${hash.p}$${e(hash.salt)}$${e(hash.hash)}`;
    case 'scram-sha-256':
      return `$midge-scram-sha-256$${hash.iterations}$${e(hash.salt)}$${e(hash.storedKey)}$${e(hash.serverKey)}`;
    case 'mosquitto-pbkdf2-sha512':
      return `$7$${hash.iterations}$${e(hash.salt)}$${e(hash.hash)}`;
    case 'mosquitto-sha512':
      return `$6$${e(hash.salt)}$${e(hash.hash)}`;
  }
}

function scryptAsync(password: Uint8Array, salt: Buffer, length: number, N: number, r: number, p: number) {
  return new Promise<Buffer>((resolve, reject) => {
    scrypt(password, salt, length, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 }, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

function pbkdf2Async(password: Uint8Array, salt: Buffer, iterations: number, length: number, digest: string) {
  return new Promise<Buffer>((resolve, reject) => {
    pbkdf2(password, salt, iterations, length, digest, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

const hmac = (key: Buffer, data: string | Buffer) => createHmac('sha256', key).update(data).digest();
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest();

/** SCRAM keys from a salted password (RFC 5802 §3). */
export function scramKeys(saltedPassword: Buffer): { storedKey: Buffer; serverKey: Buffer } {
  return {
    storedKey: sha256(hmac(saltedPassword, 'Client Key')),
    serverKey: hmac(saltedPassword, 'Server Key'),
  };
}

/** Constant-time equality (false for different lengths, which the format makes public anyway). */
export function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Does `password` match `hash`? The password is used as its bytes (MQTT's Password field is binary). */
export async function verifyPassword(hash: PasswordHash, password: Uint8Array): Promise<boolean> {
  switch (hash.kind) {
    case 'scrypt': {
      const key = await scryptAsync(password, hash.salt, hash.hash.length, hash.N, hash.r, hash.p);
      return safeEqual(key, hash.hash);
    }
    case 'scram-sha-256': {
      const salted = await pbkdf2Async(password, hash.salt, hash.iterations, 32, 'sha256');
      return safeEqual(scramKeys(salted).storedKey, hash.storedKey);
    }
    case 'mosquitto-pbkdf2-sha512': {
      const key = await pbkdf2Async(password, hash.salt, hash.iterations, hash.hash.length, 'sha512');
      return safeEqual(key, hash.hash);
    }
    case 'mosquitto-sha512': {
      const digest = createHash('sha512').update(password).update(hash.salt).digest();
      return safeEqual(digest, hash.hash);
    }
  }
}

/** A new hash of `password`: scrypt (default) or a SCRAM-SHA-256 verifier. */
export async function hashPassword(password: string | Uint8Array, kind: 'scrypt' | 'scram-sha-256' = 'scrypt') {
  const bytes = typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
  const salt = randomBytes(16);
  if (kind === 'scram-sha-256') {
    const salted = await pbkdf2Async(bytes, salt, SCRAM_ITERATIONS, 32, 'sha256');
    return { kind, iterations: SCRAM_ITERATIONS, salt, ...scramKeys(salted) } satisfies PasswordHash;
  }
  const { N, r, p } = SCRYPT_DEFAULTS;
  const hash = await scryptAsync(bytes, salt, 32, N, r, p);
  return { kind, N, r, p, salt, hash } satisfies PasswordHash;
}
