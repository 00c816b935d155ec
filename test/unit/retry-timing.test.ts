/**
 * The one backoff formula (src/retry-timing.ts) every retry loop uses: doubling from the base,
 * capped, with equal jitter in the upper half when asked; and a sleep an abort cuts short.
 */
import { backoffDelay, sleep } from '../../src/retry-timing.js';

describe('backoffDelay', () => {
  test('doubles from the base and stops at the cap', () => {
    const delays = [1, 2, 3, 4, 5, 6].map((attempt) => backoffDelay({ baseMs: 100, maxMs: 1000 }, attempt));
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  test('with jitter, lies in the upper half of the delay', () => {
    const jittered = { baseMs: 100, maxMs: 5000, jitter: true };
    expect(backoffDelay(jittered, 3, () => 0)).toBe(200);
    expect(backoffDelay(jittered, 3, () => 0.999999)).toBeCloseTo(400, 3);
    expect(backoffDelay(jittered, 100, () => 0.5)).toBe(3750);
  });

  test('no cap: keeps doubling; a huge attempt count stays finite', () => {
    expect(backoffDelay({ baseMs: 1000, maxMs: Infinity }, 3)).toBe(4000);
    expect(Number.isFinite(backoffDelay({ baseMs: 1, maxMs: Infinity }, 10_000))).toBe(true);
  });
});

describe('sleep', () => {
  test('an abort ends it at once, and it never rejects', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const slept = sleep(60_000, controller.signal);
    controller.abort();
    await expect(slept).resolves.toBeUndefined();
    expect(Date.now() - started).toBeLessThan(30_000);
    await expect(sleep(60_000, controller.signal)).resolves.toBeUndefined();
  });
});
