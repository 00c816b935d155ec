/**
 * Verifies an SSH server's host key against OpenSSH known_hosts text (Flux's `known_hosts`
 * Secret key): plain and hashed (`|1|salt|hash`) host names, `[host]:port` for other ports,
 * comma-separated patterns with `*`/`?` wildcards and `!` negation, and `@revoked` keys.
 * `@cert-authority` lines (host certificates) are not supported and are skipped. There is no
 * "accept new host" mode: a host without an entry is refused.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { matchGlob } from './glob-match.js';

export interface KnownHostKey {
  keyType: string;
  /** The public key blob in SSH wire format (the base64 field, decoded). */
  blob: Buffer;
  revoked: boolean;
}

export type HostKeyVerdict = 'trusted' | 'unknown-host' | 'mismatch' | 'revoked';

/** OpenSSH key types and the host key algorithms that prove them, in order of preference. */
const ALGORITHMS_BY_KEY_TYPE: Record<string, string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

/** The name known_hosts uses for a host: `host` on port 22, `[host]:port` otherwise. */
export function formatKnownHostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** The keys known_hosts lists for `host`:`port` (revoked ones flagged), in file order. */
export function findHostKeys(knownHosts: string, host: string, port: number): KnownHostKey[] {
  const name = formatKnownHostName(host.toLowerCase(), port);
  const keys: KnownHostKey[] = [];
  const revoked: KnownHostKey[] = [];
  for (const rawLine of knownHosts.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (!line || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let marker: string | undefined;
    if (fields[0].startsWith('@')) marker = fields.shift();
    const [hosts, keyType, base64] = fields;
    if (!hosts || !keyType || !base64) continue;
    if (marker === '@cert-authority') continue;
    if (marker === '@revoked') {
      // A revoked key is refused whatever host it is listed for.
      revoked.push({ keyType, blob: Buffer.from(base64, 'base64'), revoked: true });
      continue;
    }
    if (!matchesHostList(hosts, name)) continue;
    keys.push({ keyType, blob: Buffer.from(base64, 'base64'), revoked: false });
  }
  return [...revoked, ...keys];
}

/**
 * The host key algorithms to offer so that the server proves a key known_hosts has for it
 * (as OpenSSH does): without this, a server might pick a key type the file does not list.
 */
export function chooseHostKeyAlgorithms(keys: KnownHostKey[]): string[] {
  const algorithms = keys.filter((k) => !k.revoked).flatMap((k) => ALGORITHMS_BY_KEY_TYPE[k.keyType] ?? []);
  return [...new Set(algorithms)];
}

/** Judges the key a server presented (SSH wire-format blob) against the known keys for it. */
export function verifyHostKey(keys: KnownHostKey[], presented: Buffer): HostKeyVerdict {
  if (keys.some((k) => k.revoked && sameBytes(k.blob, presented))) return 'revoked';
  const listed = keys.filter((k) => !k.revoked);
  if (listed.length === 0) return 'unknown-host';
  return listed.some((k) => sameBytes(k.blob, presented)) ? 'trusted' : 'mismatch';
}

/** True when some pattern matches `name` and no negated pattern does (OpenSSH's rule). */
function matchesHostList(hosts: string, name: string): boolean {
  if (hosts.startsWith('|1|')) return matchesHashedHost(hosts, name);
  let matched = false;
  for (const pattern of hosts.toLowerCase().split(',')) {
    const negated = pattern.startsWith('!');
    if (!matchesPattern(negated ? pattern.slice(1) : pattern, name)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

/** `|1|<base64 salt>|<base64 HMAC-SHA1(salt, name)>`, as `ssh-keygen -H` writes. */
function matchesHashedHost(entry: string, name: string): boolean {
  const [, , salt, hash] = entry.split('|');
  if (!salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest();
  return sameBytes(expected, actual);
}

/** A linear-time wildcard match (./glob-match.ts): the pattern comes from a tenant's Secret. */
function matchesPattern(pattern: string, name: string): boolean {
  return matchGlob(pattern, name);
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
