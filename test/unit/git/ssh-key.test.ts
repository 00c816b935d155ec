import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthFailedError } from '../../../src/git/errors.js';
import { checkKdfCost, MAX_KDF_ROUNDS, readKdfRounds } from '../../../src/git/ssh-key.js';
import { openSshTransport } from '../../../src/git/ssh-transport.js';
import { parseSshUrl } from '../../../src/git/ssh-url.js';
import { DEFAULT_TRANSFER_LIMITS } from '../../../src/git/transfer-limits.js';
import { LOCAL_NETWORK_POLICY } from '../../../src/git/url-policy.js';

const PASSPHRASE = 'kdf-Pa55phrase';

/** A private key written by ssh-keygen itself, encrypted with `rounds` bcrypt rounds (or none). */
function keygen(options: { rounds?: number; passphrase?: string; pem?: boolean } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'ssh-key-'));
  try {
    const file = join(dir, 'key');
    const args = ['-q', '-t', options.pem ? 'rsa' : 'ed25519', '-N', options.passphrase ?? '', '-f', file];
    if (options.rounds !== undefined) args.push('-a', String(options.rounds));
    if (options.pem) args.push('-m', 'PEM', '-b', '2048');
    execFileSync('ssh-keygen', args, { stdio: 'ignore' });
    return readFileSync(file, 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The same key with its round count rewritten (the count is not authenticated; it only changes
 * the decryption key). ssh-keygen itself runs bcrypt when writing, so asking it for 4096 rounds
 * would cost the test the very minutes the cap saves.
 */
function withRounds(identity: string, rounds: number): string {
  const lines = identity.trim().split('\n');
  const data = Buffer.from(lines.slice(1, -1).join(''), 'base64');
  let offset = 'openssh-key-v1\0'.length;
  const skipString = () => (offset += 4 + data.readUInt32BE(offset));
  skipString(); // cipher
  skipString(); // kdf name
  offset += 4; // kdf options length
  skipString(); // salt
  data.writeUInt32BE(rounds, offset);
  const base64 = data
    .toString('base64')
    .match(/.{1,70}/g)!
    .join('\n');
  return `${lines[0]}\n${base64}\n${lines.at(-1)}\n`;
}

describe('the bcrypt KDF round cap of encrypted OpenSSH keys', () => {
  let encrypted: string;
  beforeAll(() => {
    encrypted = keygen({ passphrase: PASSPHRASE, rounds: 16 });
  });

  test('reads the round count ssh-keygen wrote, and none for unencrypted or PEM keys', () => {
    expect(readKdfRounds(encrypted)).toBe(16);
    expect(readKdfRounds(keygen({ passphrase: PASSPHRASE, rounds: 2 }))).toBe(2);
    expect(readKdfRounds(withRounds(encrypted, 100))).toBe(100);
    expect(readKdfRounds(keygen())).toBeUndefined();
    expect(readKdfRounds(keygen({ pem: true }))).toBeUndefined();
    expect(readKdfRounds('not a key')).toBeUndefined();
    expect(readKdfRounds('-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----')).toBeUndefined();
  });

  test(`accepts ssh-keygen's defaults and -a ${MAX_KDF_ROUNDS}, refuses more`, () => {
    expect(checkKdfCost(keygen({ passphrase: PASSPHRASE }))).toBeUndefined();
    expect(checkKdfCost(withRounds(encrypted, MAX_KDF_ROUNDS))).toBeUndefined();
    expect(checkKdfCost(withRounds(encrypted, MAX_KDF_ROUNDS + 1))).toMatch(/asks for 129 bcrypt KDF rounds; at most 128/);
  });

  test('a key asking for 4096 rounds (about 110 s of bcrypt) is refused with AuthFailedError before any decryption', async () => {
    const identity = withRounds(encrypted, 4096);
    // No server is contacted: the key is judged before the connection opens.
    const endpoint = parseSshUrl('ssh://git@127.0.0.1:1/fleet.git');
    const transport = openSshTransport({
      endpoint,
      identity,
      passphrase: PASSPHRASE,
      knownHosts: '[127.0.0.1]:1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA==\n',
      timeoutMs: 1000,
      policy: LOCAL_NETWORK_POLICY,
      maxAdvertisementBytes: DEFAULT_TRANSFER_LIMITS.maxAdvertisementBytes,
    });
    const started = process.cpuUsage();
    const error = await transport
      .request({ method: 'GET', url: 'ssh://127.0.0.1:1/fleet.git/info/refs?service=git-upload-pack', headers: {} })
      .catch((e: unknown) => e);
    transport.close();
    expect(error).toBeInstanceOf(AuthFailedError);
    expect((error as Error).message).toMatch(/4096 bcrypt KDF rounds/);
    expect((error as Error).message).not.toContain(PASSPHRASE);
    // CPU spent, not wall-clock: bcrypt at 4096 rounds would be tens of seconds of it.
    const cpu = process.cpuUsage(started);
    expect((cpu.user + cpu.system) / 1000).toBeLessThan(2000);
  });
});
