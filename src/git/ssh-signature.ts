/**
 * Signs a commit with an SSH key the way `git commit -S` does with `gpg.format=ssh`: git runs
 * `ssh-keygen -Y sign -n git`, which writes an armored SSHSIG (OpenSSH's PROTOCOL.sshsig) over
 * the commit object without its signature header. `git verify-commit` checks it against
 * `gpg.ssh.allowedSignersFile`. ssh2 parses (and decrypts) the key; node:crypto signs.
 */
import { createHash, createPrivateKey, sign, type KeyObject } from 'node:crypto';
import type { ParsedKey } from 'ssh2';

/** The namespace git signs commits in (`ssh-keygen -Y sign -n git`). */
const NAMESPACE = 'git';
const HASH = 'sha512';
const MAGIC = Buffer.from('SSHSIG');
/** ssh-keygen's armor wraps the base64 at 70 columns. */
const LINE = 70;

/** How each key type signs: node:crypto's digest and the SSH signature algorithm name. */
const ALGORITHMS: Record<string, { digest: string | null; name: string; ecdsa?: boolean }> = {
  'ssh-ed25519': { digest: null, name: 'ssh-ed25519' },
  // SHA-1 RSA signatures are refused by OpenSSH for SSHSIG; rsa-sha2-512 is what ssh-keygen writes.
  'ssh-rsa': { digest: 'sha512', name: 'rsa-sha2-512' },
  'ecdsa-sha2-nistp256': { digest: 'sha256', name: 'ecdsa-sha2-nistp256', ecdsa: true },
  'ecdsa-sha2-nistp384': { digest: 'sha384', name: 'ecdsa-sha2-nistp384', ecdsa: true },
  'ecdsa-sha2-nistp521': { digest: 'sha512', name: 'ecdsa-sha2-nistp521', ecdsa: true },
};

/** The key types {@link sshSign} can sign with. */
export const SSH_SIGNING_KEY_TYPES = Object.keys(ALGORITHMS);

/** The armored SSH signature of `payload` by `key` (a parsed private key of a supported type). */
export function sshSign(key: ParsedKey, payload: Uint8Array): string {
  const algorithm = ALGORITHMS[key.type];
  if (!algorithm) throw new Error(`SSH keys of type ${key.type} cannot sign commits (supported: ${SSH_SIGNING_KEY_TYPES.join(', ')})`);
  const privateKey: KeyObject = createPrivateKey(key.getPrivatePEM());
  const signedData = Buffer.concat([MAGIC, sshString(NAMESPACE), sshString(''), sshString(HASH), sshString(createHash(HASH).update(payload).digest())]);
  const raw = sign(algorithm.digest, signedData, algorithm.ecdsa ? { key: privateKey, dsaEncoding: 'ieee-p1363' } : privateKey);
  const signature = Buffer.concat([sshString(algorithm.name), sshString(algorithm.ecdsa ? ecdsaSignatureBlob(raw) : raw)]);
  const blob = Buffer.concat([MAGIC, uint32(1), sshString(key.getPublicSSH()), sshString(NAMESPACE), sshString(''), sshString(HASH), sshString(signature)]);
  const lines = blob.toString('base64').match(new RegExp(`.{1,${LINE}}`, 'g'))!;
  return ['-----BEGIN SSH SIGNATURE-----', ...lines, '-----END SSH SIGNATURE-----'].join('\n') + '\n';
}

/** The public key as an authorized_keys / allowed_signers line: `type base64`. */
export function sshPublicKeyLine(key: ParsedKey): string {
  return `${key.type} ${key.getPublicSSH().toString('base64')}`;
}

/** RFC 5656: an ECDSA signature is mpint r, mpint s; node gives r || s of equal length. */
function ecdsaSignatureBlob(rs: Buffer): Buffer {
  const half = rs.length / 2;
  return Buffer.concat([sshString(mpint(rs.subarray(0, half))), sshString(mpint(rs.subarray(half)))]);
}

/** RFC 4251 mpint of a non-negative big-endian integer: no leading zeros, a zero byte if the top bit is set. */
function mpint(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const trimmed = bytes.subarray(start);
  return trimmed[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed;
}

function sshString(value: string | Buffer): Buffer {
  const data = typeof value === 'string' ? Buffer.from(value) : value;
  return Buffer.concat([uint32(data.length), data]);
}

function uint32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value);
  return buffer;
}
