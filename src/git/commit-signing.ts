/**
 * Signed revert commits: the key given (a Secret's `git.asc` or `identity`, the CLI's
 * --signing-key file) is read once per run, its format told by its armor, and every commit the
 * run writes carries a `gpgsig` header that `git verify-commit` accepts — OpenPGP as gpg signs,
 * SSH as `ssh-keygen -Y sign` does (gpg.format=ssh).
 */
import { SigningKeyError } from './errors.js';
import { openPgpSign, readOpenPgpSigningKey } from './openpgp-signature.js';
import { parsePrivateKey } from './ssh-key.js';
import { SSH_SIGNING_KEY_TYPES, sshPublicKeyLine, sshSign } from './ssh-signature.js';

/** A signing key as text (never logged, never in an error) and its passphrase. */
export interface SigningKeyInput {
  key: string;
  passphrase?: string;
}

/** Signs commit payloads; `id` names the key to people (a fingerprint, or the public key line). */
export interface CommitSigner {
  format: 'openpgp' | 'ssh';
  id: string;
  sign(payload: Uint8Array): Promise<string>;
}

/** Keys are small (a 4096-bit RSA secret key armored is ~7 KiB); more is not a key. */
const MAX_KEY_BYTES = 64 * 1024;

const OPENPGP_ARMOR = '-----BEGIN PGP PRIVATE KEY BLOCK-----';

/** Reads the key; SigningKeyError (with a reason that never quotes the key) when it cannot sign. */
export async function loadCommitSigner(input: SigningKeyInput): Promise<CommitSigner> {
  if (Buffer.byteLength(input.key) > MAX_KEY_BYTES) throw new SigningKeyError({ reason: `the signing key is larger than ${MAX_KEY_BYTES / 1024} KiB` });
  if (input.key.includes(OPENPGP_ARMOR)) {
    const key = await readOpenPgpSigningKey(input.key, input.passphrase);
    if (typeof key === 'string') throw new SigningKeyError({ reason: key });
    return { format: 'openpgp', id: key.fingerprint, sign: (payload) => openPgpSign(key, payload) };
  }
  const key = parsePrivateKey(input.key, input.passphrase);
  if (typeof key === 'string')
    throw new SigningKeyError({ reason: key.replace('SSH private key (identity)', 'signing key (neither an OpenPGP nor an SSH private key)') });
  if (!SSH_SIGNING_KEY_TYPES.includes(key.type)) {
    throw new SigningKeyError({ reason: `SSH keys of type ${key.type} cannot sign commits (supported: ${SSH_SIGNING_KEY_TYPES.join(', ')})` });
  }
  return { format: 'ssh', id: sshPublicKeyLine(key), sign: async (payload) => sshSign(key, payload) };
}
