import { diffLines, isBinary, mergeContent } from '../../../src/git/content-merge.js';

const b = (s: string): Uint8Array => new Uint8Array(Buffer.from(s));
const text = (u: Uint8Array): string => Buffer.from(u).toString();

interface Case {
  name: string;
  base: string;
  ours: string;
  theirs: string;
  /** Merged text, or the conflict reason. */
  expected: string | { conflict: 'content' | 'binary' };
}

const cases: Case[] = [
  { name: 'unchanged ours takes theirs byte for byte', base: 'a\nb\n', ours: 'a\nb\n', theirs: 'a\nc', expected: 'a\nc' },
  { name: 'unchanged theirs takes ours byte for byte', base: 'a\nb\n', ours: 'x\n', theirs: 'a\nb\n', expected: 'x\n' },
  { name: 'separate edits merge', base: 'a\nb\nc\nd\ne\n', ours: 'A\nb\nc\nd\ne\n', theirs: 'a\nb\nc\nd\nE\n', expected: 'A\nb\nc\nd\nE\n' },
  { name: 'insert and distant delete merge', base: '1\n2\n3\n4\n5\n', ours: '0\n1\n2\n3\n4\n5\n', theirs: '1\n2\n3\n4\n', expected: '0\n1\n2\n3\n4\n' },
  { name: 'overlapping edits conflict', base: 'a\nb\nc\n', ours: 'a\nB\nc\n', theirs: 'a\nX\nc\n', expected: { conflict: 'content' } },
  { name: 'adjacent edits conflict', base: 'a\nb\nc\nd\n', ours: 'a\nB\nc\nd\n', theirs: 'a\nb\nC\nd\n', expected: { conflict: 'content' } },
  { name: 'identical edits merge', base: 'a\nb\nc\n', ours: 'a\nB\nc\nz\n', theirs: 'a\nB\nc\n', expected: 'a\nB\nc\nz\n' },
  { name: 'a final line without newline differs from one with it', base: 'a\nb', ours: 'a\nb\n', theirs: 'a\nc', expected: { conflict: 'content' } },
  { name: 'two-way merge of different adds conflicts', base: '', ours: 'x\n', theirs: 'y\n', expected: { conflict: 'content' } },
  { name: 'two-way merge from an empty side takes the other', base: '', ours: '', theirs: 'y\n', expected: 'y\n' },
  { name: 'NUL in any version makes a binary conflict', base: 'a\0', ours: 'b\0', theirs: 'c\0', expected: { conflict: 'binary' } },
  { name: 'overlapping but identical after refinement merges', base: 'a\nb\nc\nd\n', ours: 'a\nX\nY\nd\n', theirs: 'a\nX\nY\nd\n', expected: 'a\nX\nY\nd\n' },
];

describe('mergeContent', () => {
  test.each(cases)('$name', ({ base, ours, theirs, expected }) => {
    const result = mergeContent(b(base), b(ours), b(theirs));
    if (typeof expected === 'string') {
      expect(result.clean).toBe(true);
      if (result.clean) expect(text(result.content)).toBe(expected);
    } else {
      expect(result).toEqual({ clean: false, reason: expected.conflict });
    }
  });
});

describe('isBinary', () => {
  test.each([
    ['text is not binary', b('apiVersion: v1\n'), false],
    ['a NUL in the first 8000 bytes is binary', b('ab\0c'), true],
    ['a NUL after 8000 bytes is not binary', b(`${'x'.repeat(8000)}\0`), false],
  ])('%s', (_name, buf, expected) => expect(isBinary(buf)).toBe(expected));
});

describe('diffLines (histogram)', () => {
  test('a unique common line anchors the diff like git histogram', () => {
    // histogram anchors on the unique line 9 although the repeated 1, 2 pairs could align too.
    expect(diffLines([1, 2, 9, 1, 2], [9, 1, 2, 1, 2])).toEqual([
      { i1: 0, i2: 0, chg1: 2, chg2: 0 },
      { i1: 5, i2: 3, chg1: 0, chg2: 2 },
    ]);
  });

  test('identical sequences have no hunks', () => {
    expect(diffLines([1, 2, 3], [1, 2, 3])).toEqual([]);
  });
});
