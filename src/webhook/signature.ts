/**
 * Request authentication for the webhook receiver, in constant time: Flux's generic-hmac
 * `X-Signature: <algorithm>=<hex HMAC of the raw body>` keyed by the Provider Secret's `token`,
 * and `Authorization: Bearer <token>` (what Alertmanager's http_config sends).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** How a request's credentials compare with the configured token. */
export type Verification = 'valid' | 'missing' | 'invalid';

const ALGORITHMS: Record<string, string> = { sha256: 'sha256', sha384: 'sha384', sha512: 'sha512' };

/**
 * Checks an `X-Signature` header (`sha256=<hex>`; sha384/sha512 accepted too) against the HMAC of
 * the raw body bytes keyed by `token`. Never throws; compares in constant time.
 */
export function verifyHmacSignature(rawBody: Buffer, header: string | undefined, token: string): Verification {
  if (!header) return 'missing';
  const match = /^([a-z0-9]+)=([0-9a-fA-F]+)$/.exec(header.trim());
  const algorithm = match ? ALGORITHMS[match[1].toLowerCase()] : undefined;
  if (!match || !algorithm) return 'invalid';
  const expected = createHmac(algorithm, token).update(rawBody).digest();
  const given = Buffer.from(match[2], 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected) ? 'valid' : 'invalid';
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
