/**
 * SCRAM-SHA-256 (RFC 5802, RFC 7677), server side, as an MQTT 5.0 enhanced authentication method:
 *
 *   CONNECT  Authentication Method "SCRAM-SHA-256", Authentication Data = client-first-message  (n,,n=user,r=cnonce)
 *   AUTH     0x18 Continue authentication,  Authentication Data = server-first-message  (r=nonce,s=salt,i=iterations)
 *   AUTH     0x18 from the client,         Authentication Data = client-final-message  (c=biws,r=nonce,p=proof)
 *   CONNACK  0x00, Authentication Data = server-final-message (v=signature); or CONNACK 0x86 when the proof is wrong
 *
 * Channel binding is not supported (gs2 header "n" or "y" only); no SASLprep: the password is its UTF-8 bytes.
 * An unknown user gets a made-up salt (stable for the name) and fails at the proof, so user names cannot be probed.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { safeEqual } from './hash.js';

export const SCRAM_SHA_256 = 'SCRAM-SHA-256';

export interface ScramCredentials {
  iterations: number;
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

export type ScramStep =
  | { result: 'continue'; data: Buffer }
  | { result: 'success'; data: Buffer; username: string }
  | { result: 'failure'; reason: string };

const FAKE_SECRET = randomBytes(32);

function parseAttributes(message: string): Map<string, string> | undefined {
  const map = new Map<string, string>();
  for (const part of message.split(',')) {
    if (part.length < 2 || part[1] !== '=') return undefined;
    map.set(part[0]!, part.slice(2));
  }
  return map;
}

function decodeName(name: string): string | undefined {
  if (/=(?!2C|3D)/.test(name)) return undefined;
  return name.replaceAll('=2C', ',').replaceAll('=3D', '=');
}

const hmac = (key: Buffer, data: string | Buffer) => createHmac('sha256', key).update(data).digest();

/** One SCRAM-SHA-256 exchange (server side). */
export class ScramServer {
  private state: 'first' | 'final' | 'done' = 'first';
  private username = '';
  private clientFirstBare = '';
  private serverFirst = '';
  private nonce = '';
  private gs2Header = '';
  private credentials: ScramCredentials | undefined;

  constructor(private readonly lookup: (username: string) => ScramCredentials | undefined) {}

  step(data: Uint8Array | undefined): ScramStep {
    const message = data === undefined ? '' : Buffer.from(data).toString('utf8');
    if (this.state === 'first') return this.first(message);
    if (this.state === 'final') return this.final(message);
    return { result: 'failure', reason: 'exchange already complete' };
  }

  private first(message: string): ScramStep {
    // gs2-header: ("n" | "y") "," [authzid] ","
    const match = /^([ny]),(a=[^,]*)?,(.*)$/s.exec(message);
    if (match === null)
      return { result: 'failure', reason: 'invalid client-first-message (channel binding unsupported)' };
    this.gs2Header = `${match[1]},${match[2] ?? ''},`;
    this.clientFirstBare = match[3]!;
    const attributes = parseAttributes(this.clientFirstBare);
    const name = attributes?.get('n');
    const clientNonce = attributes?.get('r');
    if (attributes === undefined || attributes.has('m') || name === undefined || !clientNonce) {
      return { result: 'failure', reason: 'invalid client-first-message' };
    }
    const username = decodeName(name);
    if (username === undefined || username === '') return { result: 'failure', reason: 'invalid user name' };
    this.username = username;
    this.credentials = this.lookup(username);
    const salt = this.credentials?.salt ?? hmac(FAKE_SECRET, username).subarray(0, 16);
    const iterations = this.credentials?.iterations ?? 4096;
    this.nonce = clientNonce + randomBytes(18).toString('base64');
    this.serverFirst = `r=${this.nonce},s=${salt.toString('base64')},i=${iterations}`;
    this.state = 'final';
    return { result: 'continue', data: Buffer.from(this.serverFirst) };
  }

  private final(message: string): ScramStep {
    this.state = 'done';
    const proofAt = message.lastIndexOf(',p=');
    if (proofAt < 0) return { result: 'failure', reason: 'invalid client-final-message' };
    const withoutProof = message.slice(0, proofAt);
    const attributes = parseAttributes(withoutProof);
    if (attributes === undefined) return { result: 'failure', reason: 'invalid client-final-message' };
    if (attributes.get('c') !== Buffer.from(this.gs2Header).toString('base64')) {
      return { result: 'failure', reason: 'channel binding mismatch' };
    }
    if (attributes.get('r') !== this.nonce) return { result: 'failure', reason: 'nonce mismatch' };
    const proof = Buffer.from(message.slice(proofAt + 3), 'base64');
    const credentials = this.credentials;
    if (credentials === undefined || proof.length !== 32) return { result: 'failure', reason: 'authentication failed' };
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const clientSignature = hmac(credentials.storedKey, authMessage);
    const clientKey = Buffer.alloc(32);
    for (let i = 0; i < 32; i++) clientKey[i] = proof[i]! ^ clientSignature[i]!;
    const storedKey = createHash('sha256').update(clientKey).digest();
    if (!safeEqual(storedKey, credentials.storedKey)) return { result: 'failure', reason: 'authentication failed' };
    const serverSignature = hmac(credentials.serverKey, authMessage);
    return { result: 'success', data: Buffer.from(`v=${serverSignature.toString('base64')}`), username: this.username };
  }
}
