/**
 * SSH private keys from tenants' Secrets: parsed (and decrypted) once and kept, after their key
 * derivation cost was checked.
 *
 * Reads the key derivation cost of an encrypted OpenSSH private key (PROTOCOL.key:
 * `openssh-key-v1\0`, string ciphername, string kdfname, string kdfoptions = string salt +
 * uint32 rounds) before anything decrypts it. ssh2 runs bcrypt-pbkdf with whatever round count
 * the key names, about 27 ms per round in JavaScript, and the key comes from a tenant's Secret:
 * 256 rounds held the event loop for 7 s. Keys that ask for more than
 * {@link MAX_KDF_ROUNDS} are refused before decryption.
 */

import { createHash } from 'node:crypto';
import ssh2, { type ParsedKey } from 'ssh2';

const { utils } = ssh2;

/**
 * The most bcrypt rounds an encrypted key may ask for. ssh-keygen writes 16 by default (24 since
 * OpenSSH 9.4), and hardening guides suggest `ssh-keygen -a 100`; 128 admits all of these and
 * bounds the decryption at about 3.5 s of CPU (measured: ~27 ms per round), well inside a
 * rollback's deadline.
 */
export const MAX_KDF_ROUNDS = 128;

const BEGIN = '-----BEGIN OPENSSH PRIVATE KEY-----';
const END = '-----END OPENSSH PRIVATE KEY-----';
const MAGIC = 'openssh-key-v1\0';

/** The bcrypt round count an OpenSSH-format key asks for; undefined when it is not one (or unencrypted). */
export function readKdfRounds(identity: string): number | undefined {
  const begin = identity.indexOf(BEGIN);
  const end = identity.indexOf(END, begin + BEGIN.length);
  if (begin < 0 || end < 0) return undefined;
  const data = Buffer.from(identity.slice(begin + BEGIN.length, end).replace(/\s+/g, ''), 'base64');
  if (data.toString('latin1', 0, MAGIC.length) !== MAGIC) return undefined;
  const reader = new WireReader(data, MAGIC.length);
  reader.readString(); // cipher name
  const kdfName = reader.readString()?.toString('latin1');
  const options = reader.readString();
  if (kdfName !== 'bcrypt' || !options) return undefined;
  const optionsReader = new WireReader(options, 0);
  if (!optionsReader.readString()) return undefined; // salt
  return optionsReader.readUint32();
}

/**
 * Why the key must not be decrypted, in words that never quote it; undefined when its cost is
 * acceptable (or it is not an encrypted OpenSSH key: PEM and PPK keys derive cheaply).
 */
export function checkKdfCost(identity: string): string | undefined {
  const rounds = readKdfRounds(identity);
  if (rounds === undefined || rounds <= MAX_KDF_ROUNDS) return undefined;
  return `the SSH private key asks for ${rounds} bcrypt KDF rounds; at most ${MAX_KDF_ROUNDS} are accepted (re-encrypt it with ssh-keygen -p -a ${MAX_KDF_ROUNDS} or fewer)`;
}

/** SSH wire-format fields (RFC 4251): uint32 and length-prefixed strings; undefined past the end. */
class WireReader {
  constructor(
    private readonly data: Buffer,
    private offset: number,
  ) {}

  readUint32(): number | undefined {
    if (this.offset + 4 > this.data.length) return undefined;
    const value = this.data.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  readString(): Buffer | undefined {
    const length = this.readUint32();
    if (length === undefined || this.offset + length > this.data.length) return undefined;
    const value = this.data.subarray(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }
}

/**
 * Decrypting an OpenSSH key runs bcrypt-pbkdf (about a second in JavaScript): parsed keys are
 * kept for the next connections and signatures, keyed by a digest of the key text and passphrase.
 */
const parsedKeys = new Map<string, ParsedKey>();
const PARSED_KEYS_LIMIT = 16;

/**
 * The parsed private key, or why it cannot be used (in words that never quote it). `unparsable`
 * names what could not be parsed, for the caller's context.
 */
export function parsePrivateKey(identity: string, passphrase: string | undefined, unparsable = 'SSH private key (identity)'): ParsedKey | string {
  const cacheKey = createHash('sha256')
    .update(identity)
    .update('\0')
    .update(passphrase ?? '')
    .digest('hex');
  const cached = parsedKeys.get(cacheKey);
  if (cached) return cached;
  // Refuse a costly key derivation before ssh2 runs it.
  const tooCostly = checkKdfCost(identity);
  if (tooCostly) return tooCostly;
  const parsed = utils.parseKey(identity, passphrase);
  if (parsed instanceof Error) {
    if (/encrypted|passphrase|decrypt/i.test(parsed.message)) {
      return passphrase
        ? 'the SSH private key could not be decrypted with the given passphrase'
        : 'the SSH private key is encrypted and no passphrase (password) was given';
    }
    return `the ${unparsable} could not be parsed`;
  }
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key?.isPrivateKey()) return 'the SSH identity is not a private key';
  if (parsedKeys.size >= PARSED_KEYS_LIMIT) parsedKeys.delete(parsedKeys.keys().next().value!);
  parsedKeys.set(cacheKey, key);
  return key;
}
