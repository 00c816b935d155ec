/**
 * The one way tests wait: poll a probe until it yields a value, within a scaled deadline. Tests
 * never sleep for a guessed duration; they wait for the condition itself, however long a busy
 * machine takes, and fail with a message that says what they waited for and what they last saw.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { scaled } from './time-budget.js';

export interface EventuallyOptions {
  /** Deadline for an idle machine (scaled by TEST_TIME_SCALE, see time-budget.ts); default 60 s. */
  timeoutMs?: number;
  /** Pause between probes; default 200 ms. */
  intervalMs?: number;
  /** Added to the timeout's message: typically the operator's latest logs. */
  diagnostics?: () => string;
  /** Gives up at once when this resolves (say, the process being waited for died), with its reason. */
  abort?: Promise<string>;
}

/**
 * Calls `probe` until it returns something other than `undefined` or `false`, and resolves with
 * that. A probe that throws is tried again (an API server restarting, a port not yet open); the
 * last error is in the timeout's message. Rejects after the scaled deadline, or when `abort` fires.
 */
export async function eventually<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  { timeoutMs = 60_000, intervalMs = 200, diagnostics, abort }: EventuallyOptions = {},
): Promise<T> {
  const budget = scaled(timeoutMs);
  const deadline = Date.now() + budget;
  let aborted: string | undefined;
  void abort?.then((reason) => {
    aborted = reason;
  });
  let lastError: unknown;
  for (;;) {
    if (aborted !== undefined) throw new Error(`Gave up waiting for ${what}: ${aborted}${suffix(diagnostics)}`);
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const last = lastError === undefined ? '' : ` (last error: ${lastError instanceof Error ? lastError.message : String(lastError)})`;
      throw new Error(`Timed out after ${budget} ms waiting for ${what}${last}${suffix(diagnostics)}`);
    }
    await delay(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
}

function suffix(diagnostics: (() => string) | undefined): string {
  const text = diagnostics?.();
  return text ? `\n${text}` : '';
}
