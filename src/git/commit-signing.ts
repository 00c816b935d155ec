/**
 * Signed revert commits: the key given (a Secret's `git.asc` or `identity`, the CLI's
 * --signing-key file) is read once per run, its format told by its armor, and every commit the
 * run writes carries a `gpgsig` header that `git verify-commit` accepts — OpenPGP as gpg signs,
 * SSH as `ssh-keygen -Y sign` does (gpg.format=ssh).
 */
import { createHash } from 'node:crypto';
import { SigningKeyError, SigningKeyNotTrustedError } from './errors.js';

/** A signing key as text (never logged, never in an error), its passphrase, and whom it must satisfy. */
export interface SigningKeyInput {
  key: string;
  passphrase?: string;
  /** When set, the key must be among these or the run fails before anything is fetched (SigningKeyNotTrustedError). */
  trusted?: TrustedKeys;
}

/**
 * Public keys the repository's consumers trust, as Flux's GitRepository spec.verify Secret holds
 * them: armored OpenPGP keyrings, and SSH public keys in authorized_keys lines.
 */
export interface TrustedKeys {
  openpgp: string[];
  ssh: string[];
}

/** Signs commit payloads; `id` names the key to people (a fingerprint, or the public key line). */
export interface CommitSigner {
  format: 'openpgp' | 'ssh';
  id: string;
  sign(payload: Uint8Array): Promise<string>;
  /** Whether a verifier holding `trusted` accepts this key's signatures. */
  isTrustedBy(trusted: TrustedKeys): Promise<boolean>;
}

/** Keys are small (a 4096-bit RSA secret key armored is ~7 KiB); more is not a key. */
const MAX_KEY_BYTES = 64 * 1024;

const OPENPGP_ARMOR = '-----BEGIN PGP PRIVATE KEY BLOCK-----';

/** At most this many trusted keys are read, each at most MAX_KEY_BYTES (a tenant's Secret). */
const MAX_TRUSTED_KEYS = 50;

/**
 * Reads the key; SigningKeyError (with a reason that never quotes the key) when it cannot sign,
 * SigningKeyNotTrustedError when `input.trusted` is given and does not hold it.
 */
export async function loadCommitSigner(input: SigningKeyInput): Promise<CommitSigner> {
  const signer = await readSigner(input);
  if (input.trusted && !(await signer.isTrustedBy(input.trusted))) {
    const trustedKeys = input.trusted.openpgp.length + input.trusted.ssh.length;
    throw new SigningKeyNotTrustedError({ key: signer.format === 'openpgp' ? signer.id : sshFingerprint(signer.id), trustedKeys });
  }
  return signer;
}

async function readSigner(input: SigningKeyInput): Promise<CommitSigner> {
  if (Buffer.byteLength(input.key) > MAX_KEY_BYTES) throw new SigningKeyError({ reason: `the signing key is larger than ${MAX_KEY_BYTES / 1024} KiB` });
  // The signing libraries (OpenPGP.js, ssh2) load only for a run that signs: most do not.
  if (input.key.includes(OPENPGP_ARMOR)) {
    const { openPgpSign, readOpenPgpFingerprints, readOpenPgpSigningKey } = await import('./openpgp-signature.js');
    const key = await readOpenPgpSigningKey(input.key, input.passphrase);
    if (typeof key === 'string') throw new SigningKeyError({ reason: key });
    return {
      format: 'openpgp',
      id: key.fingerprint,
      sign: (payload) => openPgpSign(key, payload),
      isTrustedBy: async (trusted) => {
        for (const keyring of bounded(trusted.openpgp)) if ((await readOpenPgpFingerprints(keyring)).includes(key.signingFingerprint)) return true;
        return false;
      },
    };
  }
  const [{ parsePrivateKey }, { SSH_SIGNING_KEY_TYPES, sshPublicKeyLine, sshSign }] = await Promise.all([import('./ssh-key.js'), import('./ssh-signature.js')]);
  const key = parsePrivateKey(input.key, input.passphrase, 'signing key (neither an OpenPGP nor an SSH private key)');
  if (typeof key === 'string') throw new SigningKeyError({ reason: key });
  if (!SSH_SIGNING_KEY_TYPES.includes(key.type)) {
    throw new SigningKeyError({ reason: `SSH keys of type ${key.type} cannot sign commits (supported: ${SSH_SIGNING_KEY_TYPES.join(', ')})` });
  }
  const id = sshPublicKeyLine(key);
  return {
    format: 'ssh',
    id,
    sign: async (payload) => sshSign(key, payload),
    isTrustedBy: async (trusted) => bounded(trusted.ssh).some((text) => readAuthorizedKeys(text).includes(id)),
  };
}

function bounded(texts: string[]): string[] {
  return texts.filter((text) => Buffer.byteLength(text) <= MAX_KEY_BYTES).slice(0, MAX_TRUSTED_KEYS);
}

/** `type base64` of every key in authorized_keys text (options before the type are skipped). */
function readAuthorizedKeys(text: string): string[] {
  const keys: string[] = [];
  for (const line of text.split('\n')) {
    const tokens = line.trim().split(/\s+/);
    const at = tokens.findIndex((token) => /^(ssh-|ecdsa-|sk-)/.test(token));
    if (at >= 0 && tokens[at + 1]) keys.push(`${tokens[at]} ${tokens[at + 1]}`);
  }
  return keys;
}

/** SHA256:<base64> as ssh-keygen -l prints it: a public key named without quoting it whole. */
function sshFingerprint(line: string): string {
  const blob = Buffer.from(line.split(' ')[1] ?? '', 'base64');
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}
