/**
 * Durations written as Flux and Go write them (`30s`, `5m`, `1h30m`, `1.5m`, `500ms`): the
 * format of `spec.reconcile.timeout`.
 */

import { DURATION_PATTERN } from '../api/v1alpha1/schema.js';

/** The pattern the CRD enforces (the same as Flux's `spec.timeout`). */
export { DURATION_PATTERN };

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds in `value`; throws a RangeError on anything that is not such a duration. */
export function parseDuration(value: string): number {
  if (!new RegExp(DURATION_PATTERN).test(value)) throw new RangeError(`Invalid duration "${value}" (expected e.g. 30s, 5m, 1h30m)`);
  let total = 0;
  for (const [, amount, unit] of value.matchAll(/([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g)) total += Number(amount) * UNIT_MS[unit];
  return Math.round(total);
}

/**
 * `ms` as the shortest such duration (`5m`, `1m30s`, `500ms`; `0s` for zero), so a default
 * printed by --help reads as it is written. Whole milliseconds only.
 */
export function formatDuration(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0) throw new RangeError(`Cannot format ${ms} ms as a duration`);
  if (ms === 0) return '0s';
  let rest = ms;
  let text = '';
  for (const unit of ['h', 'm', 's', 'ms']) {
    const amount = Math.floor(rest / UNIT_MS[unit]);
    if (amount > 0) text += `${amount}${unit}`;
    rest -= amount * UNIT_MS[unit];
  }
  return text;
}
