import { createHmac, randomBytes } from 'node:crypto';
import { chooseHostKeyAlgorithms, findHostKeys, verifyHostKey } from '../../../src/git/known-hosts.js';

/** A fake key blob of a given type (SSH wire format: string type, then key bytes). */
function blob(type: string, seed: string): Buffer {
  const name = Buffer.from(type);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(name.length);
  return Buffer.concat([len, name, Buffer.from(seed)]);
}
const ED = blob('ssh-ed25519', 'server-key');
const OTHER = blob('ssh-ed25519', 'other-key');
const RSA = blob('ssh-rsa', 'rsa-key');
const line = (hosts: string, key: Buffer, type = 'ssh-ed25519') => `${hosts} ${type} ${key.toString('base64')}`;

function hashed(name: string): string {
  const salt = randomBytes(20);
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
}

describe('verifyHostKey against known_hosts', () => {
  test.each([
    ['a plain host name on port 22 is trusted', line('github.com', ED), 'github.com', 22, ED, 'trusted'],
    ['a [host]:port entry is trusted on that port', line('[127.0.0.1]:2222', ED), '127.0.0.1', 2222, ED, 'trusted'],
    ['a plain entry does not cover another port', line('127.0.0.1', ED), '127.0.0.1', 2222, ED, 'unknown-host'],
    ['host names compare case-insensitively', line('GitHub.com', ED), 'github.com', 22, ED, 'trusted'],
    ['one of several comma-separated names matches', line('gitlab.com,github.com,140.82.121.4', ED), 'github.com', 22, ED, 'trusted'],
    ['a wildcard pattern matches', line('*.example.com', ED), 'git.example.com', 22, ED, 'trusted'],
    ['a negated pattern excludes a host the wildcard covers', line('*.example.com,!evil.example.com', ED), 'evil.example.com', 22, ED, 'unknown-host'],
    ['a hashed host name matches', line(hashed('github.com'), ED), 'github.com', 22, ED, 'trusted'],
    ['a hashed [host]:port matches', line(hashed('[10.0.0.1]:2222'), ED), '10.0.0.1', 2222, ED, 'trusted'],
    ['a hashed entry for another host does not match', line(hashed('gitlab.com'), ED), 'github.com', 22, ED, 'unknown-host'],
    ['a different key for a known host is a mismatch', line('github.com', ED), 'github.com', 22, OTHER, 'mismatch'],
    ['a key listed for another host only is unknown', line('gitlab.com', ED), 'github.com', 22, ED, 'unknown-host'],
    [
      'an @revoked key is refused even when also listed',
      `@revoked * ssh-ed25519 ${ED.toString('base64')}\n${line('github.com', ED)}`,
      'github.com',
      22,
      ED,
      'revoked',
    ],
    ['@cert-authority lines are ignored', `@cert-authority *.example.com ssh-ed25519 ${ED.toString('base64')}`, 'git.example.com', 22, ED, 'unknown-host'],
    ['comments and blank lines are ignored', `# github\n\n${line('github.com', ED)}\n`, 'github.com', 22, ED, 'trusted'],
    ['empty known_hosts trusts nothing', '', 'github.com', 22, ED, 'unknown-host'],
  ])('%s', (_name, knownHosts, host, port, presented, verdict) => {
    expect(verifyHostKey(findHostKeys(knownHosts, host, port), presented)).toBe(verdict);
  });
});

describe('chooseHostKeyAlgorithms', () => {
  test('offers exactly the algorithms that prove the listed key types', () => {
    const keys = findHostKeys(`${line('h', ED)}\n${line('h', RSA, 'ssh-rsa')}\n${line('h', OTHER, 'sk-ssh-ed25519@openssh.com')}`, 'h', 22);
    expect(chooseHostKeyAlgorithms(keys)).toEqual(['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
  });
});

describe('findHostKeys with a hostile wildcard', () => {
  test('a backtracking pattern against a 253-character host name is refused without exponential work', () => {
    // The old RegExp translation of this pattern ran for over 100 s on a 64-character host name.
    const host = `${'a'.repeat(249)}.com`;
    const knownHosts = line('*a*a*a*a*a*a*a*a*a*a*a*a*b', ED);
    expect(verifyHostKey(findHostKeys(knownHosts, host, 22), ED)).toBe('unknown-host');
  });
});
