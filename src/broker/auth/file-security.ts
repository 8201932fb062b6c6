/**
 * Authentication and authorization from Mosquitto-style files, as broker hooks:
 *   - password file (password-file.ts; Midge's and Mosquitto's hashes): CONNECT user name + password;
 *   - allowAnonymous: clients without user name (default: false with a password file, true without);
 *   - ACL file (acl-file.ts): PUBLISH (write), SUBSCRIBE, and every message written to a client (read), retained
 *     messages and wills included;
 *   - SCRAM-SHA-256 enhanced authentication (scram.ts) for users stored with `midge passwd --scram`.
 * reload() re-reads both files (SIGHUP in `midge broker`); on an error the previous contents stay in force.
 */
import type { BrokerHooks, ClientInfo, EnhancedAuthExchange, EnhancedAuthStep } from '../hooks.js';
import { AclAccess, AclFile } from './acl-file.js';
import { type PasswordHash, SCRYPT_DEFAULTS, verifyPassword } from './hash.js';
import { loadPasswordFile, type PasswordEntries } from './password-file.js';
import { SCRAM_SHA_256, ScramServer } from './scram.js';

export interface FileSecurityOptions {
  passwordFile?: string;
  aclFile?: string;
  /** Clients without a user name may connect. Default: false when a password file is given, true otherwise. */
  allowAnonymous?: boolean;
}

const NOT_AUTHORIZED = 0x87;
const BAD_CREDENTIALS = 0x86;
/** Per-client cache of read/write verdicts; cleared when it grows beyond this. */
const CACHE_LIMIT = 1024;

/** Hashed with the same cost as a real entry, so that an unknown user name takes as long as a wrong password. */
const DUMMY: PasswordHash = { kind: 'scrypt', ...SCRYPT_DEFAULTS, salt: Buffer.alloc(16), hash: Buffer.alloc(32) };

interface ClientAcl {
  generation: number;
  rules: ReturnType<AclFile['rulesFor']>;
  read: Map<string, boolean>;
  write: Map<string, boolean>;
}

export class FileSecurity {
  passwords: PasswordEntries | undefined;
  acl: AclFile | undefined;
  readonly allowAnonymous: boolean;
  private generation = 0;
  private readonly clients = new WeakMap<ClientInfo, ClientAcl>();
  readonly hooks: BrokerHooks;

  constructor(readonly options: FileSecurityOptions) {
    this.allowAnonymous = options.allowAnonymous ?? options.passwordFile === undefined;
    this.reload();
    this.hooks = {
      authenticate: async (context) => {
        // use_identity_as_username: the verified certificate is the credential (as Mosquitto).
        if (context.certificateIdentity !== undefined) return true;
        if (context.username === undefined) return this.allowAnonymous ? true : { reasonCode: NOT_AUTHORIZED };
        const passwords = this.passwords;
        if (passwords === undefined) return this.allowAnonymous ? true : { reasonCode: NOT_AUTHORIZED };
        const entry = passwords.get(context.username);
        const password = context.password ?? new Uint8Array(0);
        const ok = await verifyPassword(entry ?? DUMMY, password);
        return ok && entry !== undefined && context.password !== undefined ? true : { reasonCode: BAD_CREDENTIALS };
      },
      authorizePublish: (client, packet) => this.allowed(client, packet.topic, AclAccess.Write),
      authorizeSubscribe: (client, subscription) => {
        const acl = this.acl;
        if (acl === undefined) return true;
        let filter = subscription.topicFilter;
        if (filter.startsWith('$share/')) filter = filter.slice(filter.indexOf('/', 7) + 1);
        return acl.checkSubscribe(this.clientAcl(client, acl).rules, filter);
      },
      authorizeRead: (client, topic) => this.allowed(client, topic, AclAccess.Read),
      enhancedAuth: (method, context) => {
        if (method !== SCRAM_SHA_256 || this.passwords === undefined) return undefined;
        return this.scramExchange(context.username);
      },
    };
  }

  /** Re-reads the files; throws (a ConfigFileError naming file:line) and keeps the old contents on an error. */
  reload(): void {
    const passwords = this.options.passwordFile === undefined ? undefined : loadPasswordFile(this.options.passwordFile);
    const acl = this.options.aclFile === undefined ? undefined : AclFile.load(this.options.aclFile);
    this.passwords = passwords;
    this.acl = acl;
    this.generation++;
  }

  private clientAcl(client: ClientInfo, acl: AclFile): ClientAcl {
    let entry = this.clients.get(client);
    if (entry === undefined || entry.generation !== this.generation) {
      entry = {
        generation: this.generation,
        rules: acl.rulesFor(client.username, client.clientId),
        read: new Map(),
        write: new Map(),
      };
      this.clients.set(client, entry);
    }
    return entry;
  }

  private allowed(client: ClientInfo, topic: string, access: typeof AclAccess.Read | typeof AclAccess.Write): boolean {
    const acl = this.acl;
    if (acl === undefined) return true;
    const entry = this.clientAcl(client, acl);
    const cache = access === AclAccess.Read ? entry.read : entry.write;
    let verdict = cache.get(topic);
    if (verdict === undefined) {
      verdict = acl.check(entry.rules, topic, access);
      if (cache.size >= CACHE_LIMIT) cache.clear();
      cache.set(topic, verdict);
    }
    return verdict;
  }

  private scramExchange(connectUsername: string | undefined): EnhancedAuthExchange {
    const server = new ScramServer((username) => {
      const entry = this.passwords?.get(username);
      return entry?.kind === 'scram-sha-256' ? entry : undefined;
    });
    return {
      step: (data): EnhancedAuthStep => {
        const step = server.step(data);
        if (step.result === 'continue') return { result: 'continue', data: step.data };
        if (step.result === 'failure') return { result: 'failure', reasonCode: BAD_CREDENTIALS, reason: step.reason };
        if (connectUsername !== undefined && connectUsername !== step.username) {
          return { result: 'failure', reasonCode: BAD_CREDENTIALS, reason: 'SCRAM user is not the CONNECT user' };
        }
        return { result: 'success', data: step.data, username: step.username };
      },
    };
  }
}

export function createFileSecurity(options: FileSecurityOptions): FileSecurity {
  return new FileSecurity(options);
}
