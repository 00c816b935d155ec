/** spec.reconcile.timeout: Go durations as Flux writes them. */
import { formatDuration, parseDuration } from '../../../src/flux/duration.js';

describe('parseDuration', () => {
  test.each([
    ['5m', 300_000],
    ['30s', 30_000],
    ['1h30m', 5_400_000],
    ['1.5m', 90_000],
    ['500ms', 500],
    ['2m10s', 130_000],
  ])('%s is %i ms', (value, ms) => {
    expect(parseDuration(value)).toBe(ms);
  });

  test.each(['', '5', 'm', '5 m', '-5m', '5d', '1h-3m'])('"%s" is refused', (value) => {
    expect(() => parseDuration(value)).toThrow(RangeError);
  });
});

describe('formatDuration', () => {
  test.each([
    [0, '0s'],
    [500, '500ms'],
    [2_000, '2s'],
    [90_000, '1m30s'],
    [300_000, '5m'],
    [5_400_500, '1h30m500ms'],
  ])('%i ms is %s, which parses back', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration(text)).toBe(ms);
  });
});
