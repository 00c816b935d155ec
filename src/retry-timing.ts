/**
 * How the operator waits between retries, written once for every retry loop (the engine's push,
 * the repository lock, the informer's list/watch, the work queue and the trigger queue).
 */

export interface Backoff {
  /** The first delay. */
  baseMs: number;
  /** No delay is longer. */
  maxMs: number;
  /**
   * "Equal jitter": a random point in the upper half of the delay, so that many keys or replicas
   * retrying together spread out while the delay still grows.
   */
  jitter?: boolean;
}

/** The delay before retry number `attempt` (1 for the first): base * 2^(attempt-1), capped. */
export function backoffDelay(backoff: Backoff, attempt: number, random: () => number = Math.random): number {
  const capped = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.min(attempt - 1, 52));
  return backoff.jitter ? capped / 2 + (capped / 2) * random() : capped;
}

/** Waits `ms`, or less if `signal` aborts first. Never rejects. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
