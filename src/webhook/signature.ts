/**
 * Request authentication for the webhook receiver, in constant time: Flux's generic-hmac
 * `X-Signature: <algorithm>=<hex HMAC of the raw body>` keyed by the Provider Secret's `token`,
 * and `Authorization: Bearer <token>` (what Alertmanager's http_config sends).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** How a request's credentials compare with the configured token. */
export type Verification = 'valid' | 'missing' | 'invalid';

const ALGORITHMS: Record<string, string> = { sha256: 'sha256', sha384: 'sha384', sha512: 'sha512' };
const DIGEST_HEX_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

/** An `X-Signature` header taken apart: the HMAC algorithm and the digest it claims. */
export interface SignatureHeader {
  algorithm: string;
  digest: Buffer;
}

/**
 * Reads an `X-Signature` header (`sha256=<hex>`; sha384/sha512 accepted too) without the body:
 * the receiver checks this before it reads a byte of the body. 'invalid' for any other form,
 * including a digest of the wrong length for its algorithm.
 */
export function parseSignatureHeader(header: string | undefined): SignatureHeader | 'missing' | 'invalid' {
  if (!header) return 'missing';
  const match = /^([a-z0-9]{1,16})=([0-9a-fA-F]{1,256})$/.exec(header.trim());
  const algorithm = match ? ALGORITHMS[match[1].toLowerCase()] : undefined;
  if (!match || !algorithm || match[2].length !== DIGEST_HEX_LENGTH[algorithm]) return 'invalid';
  return { algorithm, digest: Buffer.from(match[2], 'hex') };
}

/**
 * Checks an `X-Signature` header (`sha256=<hex>`; sha384/sha512 accepted too) against the HMAC of
 * the raw body bytes keyed by `token`. Never throws; compares in constant time.
 */
export function verifyHmacSignature(rawBody: Buffer, header: string | SignatureHeader | undefined, token: string): Verification {
  const signature = typeof header === 'object' ? header : parseSignatureHeader(header);
  if (signature === 'missing' || signature === 'invalid') return signature;
  const expected = createHmac(signature.algorithm, token).update(rawBody).digest();
  return signature.digest.length === expected.length && timingSafeEqual(signature.digest, expected) ? 'valid' : 'invalid';
}

/** Checks an `Authorization: Bearer <token>` header. Never throws; compares in constant time. */
export function verifyBearerToken(header: string | undefined, token: string): Verification {
  if (!header) return 'missing';
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  if (!match) return 'invalid';
  // Hashing first gives equal lengths, so timingSafeEqual reveals nothing about the token.
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(match[1]), digest(token)) ? 'valid' : 'invalid';
}

/** The X-Signature header Flux's generic-hmac provider sends for `rawBody` (for tests and tools). */
export function signBody(rawBody: Buffer | string, token: string): string {
  return `sha256=${createHmac('sha256', token).update(rawBody).digest('hex')}`;
}
