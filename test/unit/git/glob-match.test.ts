import { matchGlob, type MatchStats } from '../../../src/git/glob-match.js';

/** OpenSSH's match_pattern (match.c), recursive as there: the oracle on small inputs. */
function opensshMatchPattern(s: string, pattern: string): boolean {
  let si = 0;
  for (let pi = 0; ; pi++, si++) {
    if (pi === pattern.length) return si === s.length;
    if (pattern[pi] === '*') {
      while (pattern[pi + 1] === '*') pi++;
      if (pi + 1 === pattern.length) return true;
      for (let k = si; k <= s.length; k++) if (opensshMatchPattern(s.slice(k), pattern.slice(pi + 1))) return true;
      return false;
    }
    if (si === s.length) return false;
    if (pattern[pi] !== '?' && pattern[pi] !== s[si]) return false;
  }
}

describe('matchGlob (known_hosts host patterns)', () => {
  test.each([
    ['*.example.com', 'git.example.com', true],
    ['*.example.com', 'example.com', false],
    ['git?.example.com', 'git1.example.com', true],
    ['git?.example.com', 'git.example.com', false],
    ['[10.0.0.*]:2222', '[10.0.0.7]:2222', true],
    ['*', '', true],
    ['', '', true],
    ['', 'a', false],
    ['a*', 'a', true],
    ['*a*a*b', 'xaxab', true],
    ['*a*a*b', 'xaxa', false],
    ['github.com', 'github.com', true],
    ['github.com', 'github.co', false],
  ])('%s against %s is %s', (pattern, name, expected) => {
    expect(matchGlob(pattern, name)).toBe(expected);
    expect(opensshMatchPattern(name, pattern)).toBe(expected);
  });

  test('agrees with OpenSSH match_pattern on 20,000 random patterns and names', () => {
    let seed = 7;
    const random = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const draw = (alphabet: string, max: number) => Array.from({ length: random(max + 1) }, () => alphabet[random(alphabet.length)]).join('');
    for (let i = 0; i < 20_000; i++) {
      const pattern = draw('ab*?.', 8);
      const name = draw('ab.', 10);
      expect([pattern, name, matchGlob(pattern, name)]).toEqual([pattern, name, opensshMatchPattern(name, pattern)]);
    }
  });

  test('the backtracking pattern *a*a*a*a*a*a*a*a*b takes at most (pattern+1)*(name+1) steps, linear in the name', () => {
    // A RegExp built from this pattern took 3.7 s on a 48-character host and over 100 s on 64.
    const pattern = '*a*a*a*a*a*a*a*a*b';
    const steps = (length: number): number => {
      const stats: MatchStats = { steps: 0 };
      expect(matchGlob(pattern, 'a'.repeat(length), stats)).toBe(false);
      expect(stats.steps).toBeLessThanOrEqual((pattern.length + 1) * (length + 1));
      return stats.steps;
    };
    const at64 = steps(64);
    const at256 = steps(256);
    const at1024 = steps(1024);
    // Linear: four times the name, about four times the steps (not 4^k).
    expect(at256 / at64).toBeLessThan(4.5);
    expect(at1024 / at256).toBeLessThan(4.5);
  });
});
