/** Flux revision formats: every form names the commit; anything else names none. */
import { isRevisionOf, parseRevision } from '../../../src/flux/revision.js';

const SHA = '0123456789abcdef0123456789abcdef01234567';
const SHA256 = 'f'.repeat(64);

describe('parseRevision', () => {
  test.each([
    ['branch@sha1 (Flux 2.0+) gives ref and digest', `main@sha1:${SHA}`, { ref: 'main', algorithm: 'sha1', digest: SHA }],
    ['a full ref name before @ is kept', `refs/heads/release/1.2@sha1:${SHA}`, { ref: 'refs/heads/release/1.2', algorithm: 'sha1', digest: SHA }],
    ['sha1: without a ref gives the digest alone', `sha1:${SHA}`, { algorithm: 'sha1', digest: SHA }],
    ['legacy branch/sha gives ref and digest', `main/${SHA}`, { ref: 'main', digest: SHA }],
    ['legacy with a slashed branch keeps the branch', `release/1.2/${SHA}`, { ref: 'release/1.2', digest: SHA }],
    ['a bare sha is its own digest', SHA, { digest: SHA }],
    ['upper case is folded', `main@SHA1:${SHA.toUpperCase()}`, { ref: 'main', algorithm: 'sha1', digest: SHA }],
    ['sha256 repositories are understood', `main@sha256:${SHA256}`, { ref: 'main', algorithm: 'sha256', digest: SHA256 }],
  ])('%s', (_name, revision, expected) => {
    expect(parseRevision(revision)).toEqual(expected);
  });

  test.each([
    ['an OCI tag', 'latest@sha256:abc'],
    ['an abbreviated sha', 'main@sha1:0123456'],
    ['a branch alone', 'main'],
    ['empty', ''],
  ])('%s is not a git revision', (_name, revision) => {
    expect(parseRevision(revision)).toBeNull();
  });
});

describe('isRevisionOf', () => {
  test.each([
    [`main@sha1:${SHA}`, SHA, true],
    [`sha1:${SHA}`, SHA, true],
    [`main/${SHA}`, SHA, true],
    [`main@sha1:${SHA}`, SHA.toUpperCase(), true],
    [`main@sha1:${'1'.repeat(40)}`, SHA, false],
    [undefined, SHA, false],
    ['garbage', SHA, false],
  ])('%s names %s: %s', (revision, sha, expected) => {
    expect(isRevisionOf(revision, sha)).toBe(expected);
  });
});
