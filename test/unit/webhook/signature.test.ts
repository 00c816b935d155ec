import { createHmac } from 'node:crypto';
import { signBody, verifyBearerToken, verifyHmacSignature } from '../../../src/webhook/signature.js';

const TOKEN = 'webhook-token-123';
const BODY = Buffer.from('{"involvedObject":{"kind":"Kustomization"},"reason":"HealthCheckFailed"}');
const hmac = (algorithm: string, body: Buffer, token = TOKEN) => createHmac(algorithm, token).update(body).digest('hex');

describe('verifyHmacSignature (Flux generic-hmac X-Signature)', () => {
  test.each([
    ['a sha256 signature of the raw body is valid', `sha256=${hmac('sha256', BODY)}`, 'valid'],
    ['upper-case hex is valid', `sha256=${hmac('sha256', BODY).toUpperCase()}`, 'valid'],
    ['a sha512 signature is valid', `sha512=${hmac('sha512', BODY)}`, 'valid'],
    ['no header is missing', undefined, 'missing'],
    ['an empty header is missing', '', 'missing'],
    ['a signature with another token is invalid', `sha256=${hmac('sha256', BODY, 'other')}`, 'invalid'],
    ['a signature of another body is invalid', `sha256=${hmac('sha256', Buffer.from(`${BODY} `))}`, 'invalid'],
    ['a truncated signature is invalid', `sha256=${hmac('sha256', BODY).slice(0, 20)}`, 'invalid'],
    ['an unknown algorithm is invalid', `md5=${hmac('md5', BODY)}`, 'invalid'],
    ['a bare hex digest is invalid', hmac('sha256', BODY), 'invalid'],
    ['non-hex garbage is invalid', 'sha256=zz', 'invalid'],
  ])('%s', (_name, header, expected) => {
    expect(verifyHmacSignature(BODY, header, TOKEN)).toBe(expected);
  });

  test('signBody produces what Flux sends and what the receiver accepts', () => {
    expect(signBody(BODY, TOKEN)).toBe(`sha256=${hmac('sha256', BODY)}`);
    expect(verifyHmacSignature(BODY, signBody(BODY, TOKEN), TOKEN)).toBe('valid');
  });
});

describe('verifyBearerToken (Alertmanager http_config authorization)', () => {
  test.each([
    ['the right token is valid', `Bearer ${TOKEN}`, 'valid'],
    ['the scheme is case-insensitive', `bearer ${TOKEN}`, 'valid'],
    ['no header is missing', undefined, 'missing'],
    ['a wrong token is invalid', 'Bearer nope', 'invalid'],
    ['a token prefix is invalid', `Bearer ${TOKEN.slice(0, 5)}`, 'invalid'],
    ['basic auth is invalid', 'Basic Zm9vOmJhcg==', 'invalid'],
  ])('%s', (_name, header, expected) => {
    expect(verifyBearerToken(header, TOKEN)).toBe(expected);
  });
});
