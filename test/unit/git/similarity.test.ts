import { MAX_SCORE, DEFAULT_RENAME_SCORE, estimateSimilarity, hashSpans } from '../../../src/git/similarity.js';
import { GitFixture } from '../../helpers/git-fixture.js';

const fx = new GitFixture();
afterAll(() => fx.cleanup());

/** git's similarity percentage for old -> new, or 0 when git does not pair them at 1%. */
function gitPercent(oldContent: Buffer, newContent: Buffer): number {
  const t1 = fx.tree({ 'dir/old.txt': oldContent });
  const t2 = fx.tree({ 'other/new.txt': newContent });
  const out = fx.git('diff-tree', '-r', '--find-renames=1%', '--name-status', t1, t2);
  const m = /^R(\d+)/m.exec(out);
  return m ? Number(m[1]) : 0;
}

const lines = (n: number, tag = ''): string => Array.from({ length: n }, (_, i) => `key${i}: value ${i}${tag}\n`).join('');

const cases: [string, string | Buffer, string | Buffer][] = [
  ['identical text scores 100', lines(20), lines(20)],
  ['one changed line of twenty', lines(20), lines(20).replace('value 7\n', 'value seven\n')],
  ['half the lines changed', lines(20), lines(10) + lines(10, ' changed').split('\n').slice(10).join('\n')],
  ['CRLF is scored like LF in text', lines(20).replace(/\n/g, '\r\n'), lines(20)],
  ['lines longer than 64 bytes are cut into spans', `${'x'.repeat(200)}\n${'y'.repeat(150)}\n`, `${'x'.repeat(200)}\n${'z'.repeat(150)}\n`],
  ['a trailing partial span is not counted', `${lines(5)}tail-without-newline`, `${lines(5)}other-tail`],
  ['binary content keeps its CRs', Buffer.from([0, 13, 10, 1, 2, 13, 10, 3]), Buffer.from([0, 10, 1, 2, 13, 10, 3])],
  ['a much larger target is ruled out by size', lines(3), lines(40)],
];

describe('estimateSimilarity agrees with git diff -M', () => {
  test.each(cases)('%s', (_name, a, b) => {
    const src = Buffer.from(a);
    const dst = Buffer.from(b);
    const score = estimateSimilarity(src, dst, 600); // 1%, as the git call uses
    expect(Math.floor((score * 100) / MAX_SCORE)).toBe(gitPercent(src, dst));
  });
});

describe('hashSpans', () => {
  test('counts bytes per span including the newline', () => {
    const spans = hashSpans(Buffer.from('ab\nab\ncd\n'));
    expect([...spans.values()].sort()).toEqual([3, 6]);
  });

  test('the default threshold is half of MAX_SCORE', () => {
    expect(DEFAULT_RENAME_SCORE * 2).toBe(MAX_SCORE);
  });
});
