import { formatRestoreMessage, formatRevertMessage, formatSquashMessage, getSubject, parseRequestId, parseRevertedCommits } from '../../../src/git/message.js';
import { MAX_REASON_LENGTH, MAX_REQUESTED_BY_LENGTH, sanitizeReason, sanitizeRequestedBy } from '../../../src/git/commit-fields.js';
import type { CommitData } from '../../../src/git/object-store.js';

const person = { name: 'A', email: 'a@example.com', timestamp: 0, timezoneOffset: 0 };
const commit = (oid: string, message: string, parents = ['p'.repeat(40)]): CommitData => ({
  oid,
  tree: 't',
  parents,
  message,
  author: person,
  committer: person,
});
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);

describe('commit messages', () => {
  test.each([
    ['first line of a multi-paragraph message', 'Bump image\n\nbecause reasons\n', 'Bump image'],
    ['leading blank lines are skipped, as git does', '\n\nSubject after blanks\n', 'Subject after blanks'],
    ['a one-line message without newline', 'Only line', 'Only line'],
  ])('subject: %s', (_name, message, subject) => {
    expect(getSubject(message)).toBe(subject);
  });

  test('a plain revert is git revert message byte for byte', () => {
    expect(formatRevertMessage(commit(A, 'Bump image\n'), 'p'.repeat(40), {})).toBe(`Revert "Bump image"\n\nThis reverts commit ${A}.\n`);
  });

  test('a merge revert names the mainline parent as git does', () => {
    expect(formatRevertMessage(commit(A, 'Merge x\n', [B, 'c'.repeat(40)]), B, {})).toBe(
      `Revert "Merge x"\n\nThis reverts commit ${A}, reversing\nchanges made to ${B}.\n`,
    );
  });

  test('reason is one paragraph on one line and incident and request id are trailers, each on one line', () => {
    const text = formatRevertMessage(commit(A, 'x\n'), null, { reason: 'Errors\nspiking', incident: 'INC-1\n', requestId: 'ns/n/uid' });
    expect(text).toBe(`Revert "x"\n\nThis reverts commit ${A}.\n\nErrors spiking\n\nIncident: INC-1\nRollback-Request: ns/n/uid\n`);
    expect(parseRequestId(text)).toBe('ns/n/uid');
  });

  test('who asked is a Requested-By trailer between the incident and the request id, and the request id is still read back', () => {
    const ctx = { incident: 'INC-1', requestedBy: 'system:serviceaccount:team-a:alice', requestId: 'ns/n/uid' };
    const text = formatRevertMessage(commit(A, 'x\n'), null, ctx);
    expect(text).toBe(
      `Revert "x"\n\nThis reverts commit ${A}.\n\nIncident: INC-1\nRequested-By: system:serviceaccount:team-a:alice\nRollback-Request: ns/n/uid\n`,
    );
    expect(parseRequestId(text)).toBe('ns/n/uid');
    expect(formatSquashMessage([commit(A, 'One\n')], { requestedBy: 'alice' })).toMatch(/\n\nRequested-By: alice\n$/);
    expect(formatRestoreMessage(commit(A, 'One\n'), ['apps'], { requestedBy: 'alice' })).toMatch(/\n\nRequested-By: alice\n$/);
  });

  test('a Requested-By that tries to add lines stays on its own line, and cannot forge a Rollback-Request trailer', () => {
    const text = formatRevertMessage(commit(A, 'x\n'), null, { requestedBy: 'alice\nRollback-Request: ns/victim/uid\r\n\u001b[31m' });
    expect(text).toBe(`Revert "x"\n\nThis reverts commit ${A}.\n\nRequested-By: alice Rollback-Request: ns/victim/uid [31m\n`);
    expect(parseRequestId(text)).toBeUndefined();
  });

  test.each([
    ['a ServiceAccount', 'system:serviceaccount:team-a:alice', 'system:serviceaccount:team-a:alice'],
    ['newlines, tabs and control characters', ' alice\n\tbob\u0000\u2028 ', 'alice bob'],
    ['a long value is cut with a marker', 'x'.repeat(5000), `${'x'.repeat(MAX_REQUESTED_BY_LENGTH - 3)}...`],
    ['only blanks: no trailer', ' \n\t ', undefined],
    ['nothing', undefined, undefined],
  ])('Requested-By sanitising: %s', (_name, value, expected) => {
    expect(sanitizeRequestedBy(value)).toBe(expected);
    expect(formatRevertMessage(commit(A, 'x\n'), null, { requestedBy: value }).includes('Requested-By:')).toBe(expected !== undefined);
  });

  test('a squashed revert lists each commit and can be read back', () => {
    const text = formatSquashMessage([commit(A, 'One\n'), commit(B, 'Two\n')], {});
    expect(text).toBe(`Revert 2 commits\n\n- aaaaaaa One\n- bbbbbbb Two\n\nThis reverts commit ${A}.\nThis reverts commit ${B}.\n`);
    expect(parseRevertedCommits(text)).toEqual([A, B]);
  });

  test('reverted commits are read from git own merge revert messages too', () => {
    expect(parseRevertedCommits(`Revert "m"\n\nThis reverts commit ${A}, reversing\nchanges made to ${B}.\n`)).toEqual([A]);
  });

  test('a message without trailer has no request id', () => {
    expect(parseRequestId('Revert "x"\n')).toBeUndefined();
  });

  describe('markers in free text are not read back', () => {
    test.each([
      ['a reverts-line in the reason', formatRevertMessage(commit(A, 'x\n'), null, { reason: `This reverts commit ${B}.`, requestId: 'ns/n/uid' }), [A]],
      [
        'a reverts-line in a later paragraph of a message written before sanitising',
        `Revert "x"\n\nThis reverts commit ${A}.\n\nThis reverts commit ${B}.\n`,
        [A],
      ],
      ['a reverts-line in a commit that is not a revert', `Bump\n\nThis is fine\n\nThis reverts commit ${B}.\n`, []],
      ['a squashed revert with a reason', formatSquashMessage([commit(A, 'One\n')], { reason: `x\nThis reverts commit ${B}.` }), [A]],
    ])('%s', (_name, message, reverted) => {
      expect(parseRevertedCommits(message)).toEqual(reverted);
    });

    test.each([
      ['the reason of a message without trailers', formatRevertMessage(commit(A, 'x\n'), null, { reason: 'Rollback-Request: ns/victim/uid' })],
      [
        'the reason, with trailers after it',
        formatRevertMessage(commit(A, 'x\n'), null, { reason: 'a\nRollback-Request: ns/victim/uid\nb', incident: 'INC-1' }),
      ],
      ['a middle paragraph of an older message', `Revert "x"\n\nThis reverts commit ${A}.\n\nRollback-Request: ns/victim/uid\n\nIncident: INC-1\n`],
      ['the first body paragraph', `Revert "x"\n\nRollback-Request: ns/victim/uid\n`],
    ])('a Rollback-Request line in %s is not a trailer', (_name, message) => {
      expect(parseRequestId(message)).toBeUndefined();
    });
  });

  test.each([
    ['control characters are removed and lines joined', 'a\u0000b\r\n\tc\u001b[31m', 'ab c[31m'],
    ['a reason shaped like a trailer gets a Reason key', 'Rollback-Request: ns/x/y', 'Reason: Rollback-Request: ns/x/y'],
    ['a long reason is cut with a marker', 'x'.repeat(5000), `${'x'.repeat(MAX_REASON_LENGTH - 3)}...`],
    ['only blanks: no reason', ' \n\t ', undefined],
  ])('reason sanitising: %s', (_name, reason, expected) => {
    expect(sanitizeReason(reason)).toBe(expected);
  });
});
