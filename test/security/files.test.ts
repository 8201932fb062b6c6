/**
 * Password and ACL files: Midge's hashes, Mosquitto's ($7$ and $6$) checked against files made by the real
 * mosquitto_passwd, file:line errors, the ACL file read and applied as Mosquitto 2.0 does, and `midge passwd`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AclAccess, AclFile, parseAclFile } from '../../src/broker/auth/acl-file.js';
import { formatHash, hashPassword, parseHash, verifyPassword } from '../../src/broker/auth/hash.js';
import { type ConfigFileError, loadPasswordFile, parsePasswordFile } from '../../src/broker/auth/password-file.js';

const dir = mkdtempSync(join(tmpdir(), 'midge-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const bytes = (s: string) => Buffer.from(s);

describe('password hashes', () => {
  it("reads the $7$ (PBKDF2-SHA512) and $6$ (SHA-512) hashes made by Mosquitto's own mosquitto_passwd", async () => {
    const file = join(dir, 'mosquitto.pw');
    execFileSync('mosquitto_passwd', ['-b', '-c', file, 'alice', 'secret']);
    execFileSync('mosquitto_passwd', ['-H', 'sha512', '-b', file, 'bob', 'hunter2']);
    execFileSync('mosquitto_passwd', ['-H', 'sha512-pbkdf2', '-b', file, 'carol', 'ünïcödé pass']);
    const entries = loadPasswordFile(file);
    expect(entries.get('alice')?.kind).toBe('mosquitto-pbkdf2-sha512');
    expect(entries.get('bob')?.kind).toBe('mosquitto-sha512');
    expect(await verifyPassword(entries.get('alice')!, bytes('secret'))).toBe(true);
    expect(await verifyPassword(entries.get('alice')!, bytes('Secret'))).toBe(false);
    expect(await verifyPassword(entries.get('bob')!, bytes('hunter2'))).toBe(true);
    expect(await verifyPassword(entries.get('bob')!, bytes('hunter3'))).toBe(false);
    expect(await verifyPassword(entries.get('carol')!, bytes('ünïcödé pass'))).toBe(true);
    // Written back unchanged.
    const text = readFileSync(file, 'utf8');
    expect(text).toContain(`alice:${formatHash(entries.get('alice')!)}`);
    expect(text).toContain(`bob:${formatHash(entries.get('bob')!)}`);
  });

  it('hashes with scrypt (per-user salt) and SCRAM-SHA-256, and verifies', async () => {
    const a = await hashPassword('pw');
    const b = await hashPassword('pw');
    expect(a.kind).toBe('scrypt');
    expect(formatHash(a)).toMatch(/^\$midge-scrypt\$32768\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(a.salt.equals(b.salt)).toBe(false);
    expect(await verifyPassword(parseHash(formatHash(a)), bytes('pw'))).toBe(true);
    expect(await verifyPassword(a, bytes('pw2'))).toBe(false);
    const scram = await hashPassword('pw', 'scram-sha-256');
    expect(formatHash(scram)).toMatch(/^\$midge-scram-sha-256\$100000\$/);
    expect(await verifyPassword(parseHash(formatHash(scram)), bytes('pw'))).toBe(true);
    expect(await verifyPassword(scram, bytes('nope'))).toBe(false);
  });

  it('a bad line is an error naming file:line; comments and blank lines are ignored', () => {
    expect(parsePasswordFile('# users\n\nalice:$6$c2FsdA==$aGFzaA==\n').size).toBe(1);
    const attempt = (text: string) => {
      try {
        parsePasswordFile(text, 'pw.txt');
      } catch (error) {
        return error as ConfigFileError;
      }
      throw new Error('no error');
    };
    expect(attempt('alice:$6$c2FsdA==$aGFzaA==\nbob:plaintext\n').message).toMatch(/^pw\.txt:2: user "bob": /);
    expect(attempt('\n\nnocolon\n').message).toMatch(/^pw\.txt:3: expected username:hash/);
    expect(attempt('x:$7$abc$c2FsdA==$aGFzaA==').message).toMatch(/^pw\.txt:1: .*iteration count/);
    expect(attempt('x:$9$a$b').message).toMatch(/unknown hash format \$9\$/);
  });
});

// The example of mosquitto.conf(5) "acl_file", in Mosquitto's syntax.
const MOSQUITTO_DOC_ACL = `# This affects access control for clients with no username.
topic read $SYS/#

# This only affects clients with username "roger".
user roger
topic foo/bar

# This affects all clients.
pattern write $SYS/broker/connection/%c/state
`;

describe('ACL file (Mosquitto syntax and semantics)', () => {
  const acl = (text: string) => new AclFile(parseAclFile(text, 'acl'));
  const can = (file: AclFile, user: string | undefined, clientId: string, topic: string, access: 'read' | 'write') =>
    file.check(file.rulesFor(user, clientId), topic, access === 'read' ? AclAccess.Read : AclAccess.Write);

  it("reads the example of Mosquitto's documentation", () => {
    const file = acl(MOSQUITTO_DOC_ACL);
    expect(can(file, undefined, 'c1', '$SYS/broker/uptime', 'read')).toBe(true);
    expect(can(file, undefined, 'c1', 'foo/bar', 'read')).toBe(false);
    expect(can(file, 'roger', 'c1', 'foo/bar', 'read')).toBe(true);
    expect(can(file, 'roger', 'c1', 'foo/bar', 'write')).toBe(true);
    expect(can(file, 'roger', 'c1', 'foo/baz', 'read')).toBe(false);
    // The anonymous rules are not roger's.
    expect(can(file, 'roger', 'c1', '$SYS/broker/uptime', 'read')).toBe(false);
    // Writing to $SYS is refused even by a matching pattern (as Mosquitto's $SYS check).
    expect(can(file, 'roger', 'c1', '$SYS/broker/connection/c1/state', 'write')).toBe(false);
  });

  it('patterns with %u and %c, deny before grant, readwrite default, # does not match $ topics', () => {
    const file = acl(`topic read public/#
user alice
topic readwrite alice/#
topic deny alice/secret/#
topic read #
user bob
topic write bob/out
pattern readwrite users/%u/#
pattern read clients/%c
pattern deny users/%u/locked
`);
    expect(can(file, 'alice', 'a1', 'alice/x', 'write')).toBe(true);
    expect(can(file, 'alice', 'a1', 'alice/secret/k', 'read')).toBe(false);
    expect(can(file, 'alice', 'a1', 'anything/else', 'read')).toBe(true);
    expect(can(file, 'alice', 'a1', '$SYS/x', 'read')).toBe(false);
    expect(can(file, 'bob', 'b1', 'bob/out', 'read')).toBe(false);
    expect(can(file, 'bob', 'b1', 'bob/out', 'write')).toBe(true);
    expect(can(file, 'bob', 'b1', 'users/bob/1', 'write')).toBe(true);
    expect(can(file, 'bob', 'b1', 'users/alice/1', 'write')).toBe(false);
    expect(can(file, 'bob', 'b1', 'clients/b1', 'read')).toBe(true);
    expect(can(file, 'bob', 'b1', 'clients/b1', 'write')).toBe(false);
    expect(can(file, 'bob', 'b1', 'users/bob/locked', 'read')).toBe(false);
    // No user name: the anonymous rules, and no pattern with %u.
    expect(can(file, undefined, 'x', 'public/a', 'read')).toBe(true);
    expect(can(file, undefined, 'x', 'public/a', 'write')).toBe(false);
    expect(can(file, undefined, 'x', 'clients/x', 'read')).toBe(true);
    // A user name or client id with + or # gets nothing from patterns.
    expect(can(file, 'b+', 'b1', 'users/b+/1', 'write')).toBe(false);
    expect(can(file, 'bob', 'c#', 'clients/c#', 'read')).toBe(false);
  });

  it('SUBSCRIBE: refused when no readable topic can match or a deny covers it', () => {
    const file = acl(`user alice
topic read sensors/+/temp
topic readwrite alice/#
topic deny alice/private/#
`);
    const sub = (filter: string) => file.checkSubscribe(file.rulesFor('alice', 'a'), filter);
    expect(sub('sensors/+/temp')).toBe(true);
    expect(sub('sensors/#')).toBe(true); // granted; delivery filters what it may not read
    expect(sub('#')).toBe(true);
    expect(sub('sensors/1/hum')).toBe(false);
    expect(sub('other/#')).toBe(false);
    expect(sub('alice/private/#')).toBe(false);
    expect(sub('alice/private/x')).toBe(false);
    expect(sub('$SYS/#')).toBe(false);
  });

  it('a bad line is an error naming file:line', () => {
    const attempt = (text: string) => () => parseAclFile(text, 'acl.conf');
    expect(attempt('topic read a\nfoo bar\n')).toThrow(/^acl\.conf:2: invalid line/);
    expect(attempt('\nuser\n')).toThrow(/^acl\.conf:2: missing user name/);
    expect(attempt('topic read\n')).toThrow(/^acl\.conf:1: empty topic/);
    expect(attempt('# c\ntopic a/#/b\n')).toThrow(/^acl\.conf:2: invalid topic filter/);
  });
});

describe('midge passwd', () => {
  const midge = (args: string[], input?: string) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'passwd', ...args], {
      input,
      encoding: 'utf8',
      timeout: 15_000,
    });

  it('-c -b creates a 0600 file; -b adds and updates; -D deletes; Mosquitto lines are kept', async () => {
    const file = join(dir, 'midge.pw');
    expect(midge(['-c', '-b', file, 'alice', 'one']).status).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    execFileSync('mosquitto_passwd', ['-b', file, 'mosq', 'mpass']);
    expect(midge(['-b', '--scram', file, 'bob', 'two']).status).toBe(0);
    expect(midge(['-b', file, 'alice', 'three']).status).toBe(0);
    let entries = loadPasswordFile(file);
    expect([...entries.keys()]).toEqual(['alice', 'mosq', 'bob']);
    expect(await verifyPassword(entries.get('alice')!, bytes('three'))).toBe(true);
    expect(entries.get('bob')?.kind).toBe('scram-sha-256');
    expect(await verifyPassword(entries.get('mosq')!, bytes('mpass'))).toBe(true);
    expect(midge(['-D', file, 'alice']).status).toBe(0);
    entries = loadPasswordFile(file);
    expect([...entries.keys()]).toEqual(['mosq', 'bob']);
  });

  it('reads the password from stdin when it is not a terminal', async () => {
    const file = join(dir, 'stdin.pw');
    expect(midge(['-c', file, 'carol'], 'from-stdin\n').status).toBe(0);
    expect(await verifyPassword(loadPasswordFile(file).get('carol')!, bytes('from-stdin'))).toBe(true);
  });

  it('fixes a world-readable file to 0600 and says so', () => {
    const file = join(dir, 'open.pw');
    writeFileSync(file, '', { mode: 0o644 });
    const run = midge(['-b', file, 'dave', 'x']);
    expect(run.status).toBe(0);
    expect(run.stderr).toMatch(/had mode 0644; it is now written with mode 0600/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('clear errors and a non-zero exit', () => {
    const file = join(dir, 'errors.pw');
    const missing = midge(['-b', join(dir, 'none.pw'), 'u', 'p']);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/does not exist \(use -c to create it\)/);
    expect(midge(['-c', file, 'u', 'p']).stderr).toMatch(/needs -b/);
    expect(midge(['-c', '-D', file, 'u']).stderr).toMatch(/-c and -D cannot be used together/);
    expect(midge(['-c', '-b', file, 'a:b', 'p']).stderr).toMatch(/without ":"/);
    midge(['-c', '-b', file, 'u', 'p']);
    const unknown = midge(['-D', file, 'nobody']);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/user nobody not found/);
    writeFileSync(file, 'u:garbage\n');
    expect(midge(['-b', file, 'v', 'p']).stderr).toMatch(/errors\.pw:1: user "u"/);
  });
});
