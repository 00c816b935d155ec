import { describe, expect, it } from '@jest/globals';
import { parseCommit } from '../../../src/git/commit-parse.js';
import { summarizeCommit, type CommitSummary } from '../../../src/git/commit-summary.js';
import { parseRequestId, parseRevertedCommits } from '../../../src/git/message.js';

const OID = 'c'.repeat(40);
const TREE = 't'.repeat(40);
const P1 = '1'.repeat(40);
const P2 = '2'.repeat(40);
const P3 = '3'.repeat(40);
const X = 'a'.repeat(40);
const Y = 'b'.repeat(40);

/** What the walk read before summaries: the whole commit through the full parsers. */
function fromWholeCommit(body: Buffer): CommitSummary {
  const commit = parseCommit(body);
  const requestId = parseRequestId(commit.message);
  return {
    oid: OID,
    parents: commit.parent,
    time: commit.committer?.timestamp ?? 0,
    reverts: parseRevertedCommits(commit.message),
    ...(requestId !== undefined ? { requestId } : {}),
  };
}

function commit(headers: string[], message: string): Buffer {
  return Buffer.from(`${headers.join('\n')}\n\n${message}`, 'utf8');
}

const AUTHOR = 'author A U Thor <a@example.com> 1700000000 +0200';
const COMMITTER = 'committer C O Mitter <c@example.com> 1700000123 -0130';

const CASES: [string, Buffer][] = [
  ['a root commit', commit([`tree ${TREE}`, AUTHOR, COMMITTER], 'first\n')],
  ['one parent', commit([`tree ${TREE}`, `parent ${P1}`, AUTHOR, COMMITTER], 'change\n\nbody\n')],
  ['an octopus merge', commit([`tree ${TREE}`, `parent ${P1}`, `parent ${P2}`, `parent ${P3}`, AUTHOR, COMMITTER], 'merge\n')],
  ['a git revert', commit([`tree ${TREE}`, `parent ${P1}`, AUTHOR, COMMITTER], `Revert "x"\n\nThis reverts commit ${X}.\n`)],
  [
    'a squashed revert with a request trailer',
    commit(
      [`tree ${TREE}`, `parent ${P1}`, AUTHOR, COMMITTER],
      `Revert 2 commits\n\n- aaaaaaa x\n- bbbbbbb y\n\nThis reverts commit ${X}.\nThis reverts commit ${Y}.\n\nIncident: INC-1\nRollback-Request: ns/name/uid\n`,
    ),
  ],
  ['a request trailer alone', commit([`tree ${TREE}`, `parent ${P1}`, AUTHOR, COMMITTER], 'Restore a\n\nRestores a.\n\nRollback-Request: ns/r/1\n')],
  [
    'the marker only further down (text, not a marker)',
    commit([`tree ${TREE}`, `parent ${P1}`, AUTHOR, COMMITTER], `fix\n\nbody\n\nThis reverts commit ${X}.\n`),
  ],
  [
    'the marker split by a CR, which the message parser removes',
    commit([`tree ${TREE}`, `parent ${P1}`, AUTHOR, COMMITTER], `Revert\r\n\r\nThis re\rverts commit ${X}.\r\n`),
  ],
  [
    'a signed commit whose signature mentions the marker',
    commit(
      [`tree ${TREE}`, `parent ${P1}`, AUTHOR, COMMITTER, `gpgsig -----BEGIN PGP SIGNATURE-----`, ` This reverts commit ${X}.`, ` -----END PGP SIGNATURE-----`],
      'signed\n',
    ),
  ],
  ['no committer (time 0, as git)', commit([`tree ${TREE}`, `parent ${P1}`, AUTHOR], 'x\n')],
  ['two committers (the first counts)', commit([`tree ${TREE}`, `parent ${P1}`, AUTHOR, COMMITTER, 'committer Late <l@x> 1999999999 +0000'], 'x\n')],
  ['a parent header after the author (not a parent)', commit([`tree ${TREE}`, `parent ${P1}`, AUTHOR, `parent ${P2}`, COMMITTER], 'x\n')],
  ['a short parent value', commit([`tree ${TREE}`, 'parent abc', `parent ${P1}`, AUTHOR, COMMITTER], 'x\n')],
  // "parent " + 10 + newline + 29 + newline: 48 bytes, as long as a real parent line.
  [
    'a short parent line and a line ending where a parent line would',
    commit([`tree ${TREE}`, `parent ${'1'.repeat(10)}`, 'z'.repeat(29), AUTHOR, COMMITTER], 'x\n'),
  ],
  ['a tree line with a continuation', commit([`tree ${TREE}`, ' more', `parent ${P1}`, AUTHOR, COMMITTER], 'x\n')],
  ['a parent line with a continuation', commit([`tree ${TREE}`, `parent ${P1}`, ' more', AUTHOR, COMMITTER], 'x\n')],
  ['non-UTF-8 bytes in names and message', Buffer.concat([commit([`tree ${TREE}`, `parent ${P1}`, AUTHOR, COMMITTER], 'caf'), Buffer.from([0xe9, 0x0a])])],
  ['no message at all', Buffer.from(`tree ${TREE}\nparent ${P1}\n${AUTHOR}\n${COMMITTER}\n`)],
  ['extra headers before the committer', commit([`tree ${TREE}`, `parent ${P1}`, AUTHOR, 'encoding ISO-8859-1', COMMITTER], 'x\n')],
];

describe('summarizeCommit', () => {
  it.each(CASES)('reads %s as the whole-commit parsers do', (_name, body) => {
    expect(summarizeCommit(OID, body)).toEqual(fromWholeCommit(body));
  });

  it('finds the reverted commits and the request of a revert', () => {
    const [, body] = CASES[4];
    expect(summarizeCommit(OID, body)).toEqual({ oid: OID, parents: [P1], time: 1700000123, reverts: [X, Y], requestId: 'ns/name/uid' });
  });

  it('refuses a multi-line committer as the full parser does', () => {
    const body = commit([`tree ${TREE}`, `parent ${P1}`, AUTHOR, COMMITTER, ' continued'], 'x\n');
    expect(() => fromWholeCommit(body)).toThrow();
    expect(() => summarizeCommit(OID, body)).toThrow();
  });

  it('agrees with the whole-commit parsers on thousands of damaged commits', () => {
    // Splice header-like fragments, newlines, CRs and markers into real-looking commits at
    // random places: wherever the full parsers accept a commit, the summary must be the same.
    const fragments = [
      '\n',
      '\r',
      ' ',
      '\n\n',
      'parent ',
      `parent ${P2}\n`,
      'committer ',
      `${COMMITTER}\n`,
      'tree ',
      'This reverts commit ',
      `${X}.`,
      'Rollback-Request: ',
      'x',
      '\u00e9',
    ];
    let seed = 12345;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    let compared = 0;
    for (let i = 0; i < 5000; i++) {
      let text = CASES[random(CASES.length)][1].toString('latin1');
      for (let k = random(3) + 1; k > 0; k--) {
        const at = random(text.length + 1);
        text = text.slice(0, at) + fragments[random(fragments.length)] + text.slice(at);
      }
      const body = Buffer.from(text, 'latin1');
      let expected: CommitSummary;
      try {
        expected = fromWholeCommit(body);
      } catch {
        continue; // The full parser refuses it (the summary may read past a bad author line).
      }
      expect(summarizeCommit(OID, body)).toEqual(expected);
      compared++;
    }
    expect(compared).toBeGreaterThan(2000);
  });
});
