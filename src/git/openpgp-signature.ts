/**
 * Signs a commit with an OpenPGP key the way `git commit -S` does with gpg: a detached, armored
 * signature over the commit object without its signature header, in binary mode. `git
 * verify-commit` checks it with gpg against the keyring. OpenPGP.js parses, decrypts and signs.
 * The key comes from a tenant's Secret: its size and its key derivation's memory are bounded.
 */
import { createMessage, decryptKey, readKeys, readPrivateKey, sign, type PrivateKey } from 'openpgp';

/** Argon2 (v6 keys) may ask for up to 2^exponent KiB: 2^17 KiB = 128 MiB, above OpenPGP.js's own default of 64 MiB. */
const MAX_ARGON2_MEMORY_EXPONENT = 17;
const CONFIG = { maxArgon2MemoryExponent: MAX_ARGON2_MEMORY_EXPONENT };

/** A private key ready to sign, its fingerprint and that of the (sub)key that signs (upper-case hex, as gpg prints them). */
export interface OpenPgpSigningKey {
  key: PrivateKey;
  fingerprint: string;
  signingFingerprint: string;
}

/** The decrypted key, or why it cannot be used (in words that never quote it). */
export async function readOpenPgpSigningKey(armored: string, passphrase: string | undefined): Promise<OpenPgpSigningKey | string> {
  let key: PrivateKey;
  try {
    key = await readPrivateKey({ armoredKey: armored, config: CONFIG });
  } catch {
    return 'the OpenPGP private key could not be parsed (an armored secret key is expected, as `gpg --export-secret-keys --armor` writes)';
  }
  if (!key.isDecrypted()) {
    if (!passphrase) return 'the OpenPGP private key is encrypted and no passphrase was given';
    try {
      key = await decryptKey({ privateKey: key, passphrase, config: CONFIG });
    } catch {
      return 'the OpenPGP private key could not be decrypted with the given passphrase';
    }
  }
  let signingFingerprint: string;
  try {
    signingFingerprint = (await key.getSigningKey()).getFingerprint().toUpperCase();
  } catch {
    return 'the OpenPGP key has no usable signing (sub)key (expired, revoked or sign-capable keys missing)';
  }
  return { key, fingerprint: key.getFingerprint().toUpperCase(), signingFingerprint };
}

/** The fingerprints of every key and subkey in an armored public keyring; none when it cannot be read. */
export async function readOpenPgpFingerprints(armored: string): Promise<string[]> {
  try {
    const keys = await readKeys({ armoredKeys: armored, config: CONFIG });
    return keys.flatMap((key) => [key, ...key.getSubkeys()].map((k) => k.getFingerprint().toUpperCase()));
  } catch {
    return [];
  }
}

/** The armored detached signature of `payload` (binary mode, as gpg makes for git). */
export async function openPgpSign({ key }: OpenPgpSigningKey, payload: Uint8Array): Promise<string> {
  const message = await createMessage({ binary: payload });
  const signature = await sign({ message, signingKeys: key, detached: true, format: 'armored', config: CONFIG });
  return signature as string;
}
