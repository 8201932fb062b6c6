/** A SCRAM-SHA-256 client (RFC 5802 / 7677) for tests of the broker's AUTH exchange. */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

const hmac = (key: Buffer, data: string) => createHmac('sha256', key).update(data).digest();

export class ScramClient {
  readonly nonce = randomBytes(18).toString('base64');
  private clientFirstBare: string;
  private serverSignature: Buffer | undefined;

  constructor(
    username: string,
    private readonly password: string,
  ) {
    this.clientFirstBare = `n=${username.replaceAll('=', '=3D').replaceAll(',', '=2C')},r=${this.nonce}`;
  }

  first(): Buffer {
    return Buffer.from(`n,,${this.clientFirstBare}`);
  }

  /** The client-final-message for the server-first-message. */
  final(serverFirst: Uint8Array): Buffer {
    const text = Buffer.from(serverFirst).toString();
    const attributes = new Map(text.split(',').map((part) => [part[0], part.slice(2)] as [string, string]));
    const nonce = attributes.get('r')!;
    if (!nonce.startsWith(this.nonce)) throw new Error('server nonce does not extend the client nonce');
    const salt = Buffer.from(attributes.get('s')!, 'base64');
    const iterations = Number(attributes.get('i'));
    const salted = pbkdf2Sync(this.password, salt, iterations, 32, 'sha256');
    const clientKey = hmac(salted, 'Client Key');
    const storedKey = createHash('sha256').update(clientKey).digest();
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${text},${withoutProof}`;
    const signature = hmac(storedKey, authMessage);
    const proof = Buffer.alloc(32);
    for (let i = 0; i < 32; i++) proof[i] = clientKey[i]! ^ signature[i]!;
    this.serverSignature = hmac(hmac(salted, 'Server Key'), authMessage);
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`);
  }

  /** True when the server-final-message proves the server knows the verifier. */
  verifyServer(serverFinal: Uint8Array | undefined): boolean {
    return (
      serverFinal !== undefined &&
      Buffer.from(serverFinal).toString() === `v=${this.serverSignature?.toString('base64')}`
    );
  }
}
