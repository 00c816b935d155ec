/**
 * Test time budgets, in one place. Every budget in the tests (Jest's testTimeout, a test's own
 * timeout, the deadline of an eventually()) is written for an idle machine and multiplied here by
 * TEST_TIME_SCALE, so a busy or slow runner gets more time without anyone editing numbers. A
 * budget only bounds how long a failing wait takes to report: the waits themselves end as soon as
 * their condition holds, so a larger scale never slows a passing run.
 *
 * Default scale: 1 on a developer machine, 3 when CI is set (shared runners). .ci/run sets it too.
 *
 * Erasable TypeScript only: jest.config.js imports this file with Node's type stripping.
 */

/** Environment variable holding the multiplier (a positive number, e.g. 2.5). */
export const TIME_SCALE_ENV = 'TEST_TIME_SCALE';

/** Jest's testTimeout before scaling: hooks and tests without their own budget. */
export const DEFAULT_TEST_TIMEOUT_MS = 60_000;

/** The multiplier from TEST_TIME_SCALE; 3 under CI, else 1. Throws on a value that is not a positive number. */
export function timeScale(env: Record<string, string | undefined> = process.env): number {
  const value = env[TIME_SCALE_ENV];
  if (value === undefined || value === '') return env.CI ? 3 : 1;
  const scale = Number(value);
  if (!Number.isFinite(scale) || scale <= 0) throw new Error(`${TIME_SCALE_ENV} must be a positive number, got "${value}"`);
  return scale;
}

/** `ms` (a budget for an idle machine) multiplied by the time scale. */
export function scaled(ms: number): number {
  return Math.round(ms * timeScale());
}
