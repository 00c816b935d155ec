/** The cache prefetch flags: an interval (0 turns it off) and a label selector checked at start. */
import { FlagError } from '../../../src/cli/flags/parse-flags.js';
import { parseOperatorFlags, type OperatorOptions } from '../../../src/cli/operator-flags.js';

function parse(args: string[]): OperatorOptions {
  const parsed = parseOperatorFlags(args, {});
  if (parsed.help) throw new Error('asked for help');
  return parsed.options;
}

describe('--cache-prefetch-interval and --cache-prefetch-selector', () => {
  test('by default the cache is prefetched every 10 minutes, policies only', () => {
    expect(parse([])).toMatchObject({ cachePrefetchIntervalMs: 600_000, cachePrefetchSelector: undefined });
  });

  test.each<[string, string[], Partial<OperatorOptions>]>([
    ['an interval', ['--cache-prefetch-interval=1h'], { cachePrefetchIntervalMs: 3_600_000 }],
    ['0 turning prefetching off', ['--cache-prefetch-interval=0'], { cachePrefetchIntervalMs: 0 }],
    ['an equality selector', ['--cache-prefetch-selector=rollback.gitops.dev/prefetch=true'], { cachePrefetchSelector: 'rollback.gitops.dev/prefetch=true' }],
    [
      'several requirements',
      ['--cache-prefetch-selector=tier in (apps, infra),!legacy,team!=b'],
      { cachePrefetchSelector: 'tier in (apps, infra),!legacy,team!=b' },
    ],
    ['an existence test', ['--cache-prefetch-selector=prefetch'], { cachePrefetchSelector: 'prefetch' }],
  ])('accepts %s', (_name, args, expected) => {
    expect(parse(args)).toMatchObject(expected);
  });

  test.each([
    ['a negative interval', ['--cache-prefetch-interval=-5m'], '--cache-prefetch-interval'],
    ['an empty selector', ['--cache-prefetch-selector='], '--cache-prefetch-selector'],
    ['a selector with a stray operator', ['--cache-prefetch-selector=a=b=c'], '--cache-prefetch-selector'],
    ['a set without parentheses', ['--cache-prefetch-selector=tier in apps'], '--cache-prefetch-selector'],
  ])('refuses %s, naming the flag', (_name, args, flag) => {
    expect(() => parse(args)).toThrow(FlagError);
    expect(() => parse(args)).toThrow(new RegExp(`^${flag}`));
  });
});
