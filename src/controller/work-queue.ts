// A rate-limited work queue of string keys, shaped like client-go's workqueue: de-duplicated
// keys, one key in flight at a time, bounded concurrency and per-key exponential backoff.
// Kubernetes-free: keys are opaque ("namespace/name" by convention).

import { backoffDelay } from '../retry-timing.js';

/** What processing one key returned: success (optionally re-run later) or an error. */
export type ProcessResult = { requeueAfterMs?: number } | { error: unknown; retry: boolean };

/** Callbacks for metrics; each is optional and must not throw (errors are swallowed). */
export interface WorkQueueHooks {
  /** A key became ready (not called for a key that was already waiting). */
  onAdd?(key: string): void;
  /** A worker took a key; `waitedMs` is the time since it became ready. */
  onStart?(key: string, waitedMs: number): void;
  /** A key finished; `outcome` tells how. */
  onDone?(key: string, durationMs: number, outcome: 'success' | 'retry' | 'error'): void;
  /** A failed key will be retried after `delayMs` (the `failures`-th consecutive failure). */
  onRetry?(key: string, delayMs: number, failures: number, error: unknown): void;
}

/** Options of {@link WorkQueue}. */
export interface WorkQueueOptions {
  /** How many different keys may be processed at once. */
  concurrency: number;
  /** Processes one key. A thrown error counts as `{ error, retry: true }`. */
  process: (key: string) => Promise<ProcessResult>;
  /** First retry delay; doubles per consecutive failure. Default 500 ms. */
  baseDelayMs?: number;
  /** Upper bound of the retry delay. Default 300 000 ms (5 min). */
  maxDelayMs?: number;
  hooks?: WorkQueueHooks;
  /** Random source in [0, 1) for jitter; injectable for deterministic tests. */
  random?: () => number;
}

/** Options of {@link WorkQueue.shutDown}. */
export interface ShutDownOptions {
  /** How long to wait for keys in flight before giving up on them. */
  drainTimeoutMs: number;
}

/**
 * A queue of keys processed by a bounded pool of workers.
 *
 * - `add` de-duplicates: a key waiting is not queued twice.
 * - A key being processed is never started again concurrently: adding it marks it dirty, and it
 *   re-runs once after the current run finishes.
 * - Failures with `retry: true` are re-added after `base * 2^(n-1)` ms (capped, with jitter);
 *   a success forgets the key's failure count.
 */
export class WorkQueue {
  private readonly concurrency: number;
  private readonly processKey: (key: string) => Promise<ProcessResult>;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly hooks: WorkQueueHooks;
  private readonly random: () => number;

  /** Ready keys in FIFO order, and when each became ready. */
  private readonly ready = new Map<string, number>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly delayed = new Map<string, { timer: NodeJS.Timeout; dueAt: number }>();
  private readonly idleWaiters = new Set<() => void>();
  private started = false;
  private shuttingDown = false;

  constructor(options: WorkQueueOptions) {
    if (!(options.concurrency >= 1)) throw new RangeError('WorkQueue concurrency must be at least 1');
    this.concurrency = Math.floor(options.concurrency);
    this.processKey = options.process;
    this.baseDelayMs = options.baseDelayMs ?? 500;
    this.maxDelayMs = options.maxDelayMs ?? 300_000;
    this.hooks = options.hooks ?? {};
    this.random = options.random ?? Math.random;
  }

  /** Number of keys ready and waiting for a worker (not counting delayed or in-flight keys). */
  get depth(): number {
    return this.ready.size;
  }

  /** Number of keys being processed right now. */
  get active(): number {
    return this.processing.size;
  }

  /** Whether `shutDown` has been called. */
  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Queues a key now. A waiting key is not duplicated; a key in flight re-runs once after. */
  add(key: string): void {
    if (this.shuttingDown) return;
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.ready.has(key)) return;
    this.ready.set(key, Date.now());
    this.callHook(() => this.hooks.onAdd?.(key));
    this.dispatch();
  }

  /** Queues a key after `ms`. If it is already scheduled sooner, the sooner time wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const dueAt = Date.now() + ms;
    const existing = this.delayed.get(key);
    if (existing && existing.dueAt <= dueAt) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    // A pending retry alone should not keep the process alive.
    timer.unref();
    this.delayed.set(key, { timer, dueAt });
  }

  /** Resets a key's failure count, so its next failure waits only the base delay. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** How many consecutive failures a key has had (0 after a success or `forget`). */
  failureCount(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Starts the workers; keys added before are processed now. */
  start(): void {
    this.started = true;
    this.dispatch();
  }

  /**
   * Stops taking new work (waiting and delayed keys are dropped) and waits for the keys in
   * flight to finish, at most `drainTimeoutMs`. Resolves either way; check `active` after.
   */
  async shutDown(options: ShutDownOptions): Promise<void> {
    this.shuttingDown = true;
    this.ready.clear();
    this.dirty.clear();
    for (const { timer } of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
    if (this.processing.size === 0) return;
    await this.waitForIdle(options.drainTimeoutMs);
  }

  /** Resolves when nothing is in flight or the timeout passes. */
  private waitForIdle(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.idleWaiters.delete(finish);
        resolve();
      };
      const timer = setTimeout(finish, timeoutMs);
      this.idleWaiters.add(finish);
    });
  }

  /** Hands ready keys to free workers. */
  private dispatch(): void {
    if (!this.started || this.shuttingDown) return;
    while (this.processing.size < this.concurrency && this.ready.size > 0) {
      const [key, readySince] = this.ready.entries().next().value as [string, number];
      this.ready.delete(key);
      this.processing.add(key);
      void this.runKey(key, readySince);
    }
  }

  /** Processes one key and applies its result. Never rejects. */
  private async runKey(key: string, readySince: number): Promise<void> {
    const startedAt = Date.now();
    this.callHook(() => this.hooks.onStart?.(key, startedAt - readySince));
    const result = await this.invokeProcess(key);
    const outcome = this.applyResult(key, result);
    this.processing.delete(key);
    this.callHook(() => this.hooks.onDone?.(key, Date.now() - startedAt, outcome));
    // A change seen while the key was in flight deserves a fresh run right away.
    if (this.dirty.delete(key)) this.add(key);
    if (this.processing.size === 0) for (const wake of [...this.idleWaiters]) wake();
    this.dispatch();
  }

  /** Calls the processor, turning a throw into a retryable error. */
  private async invokeProcess(key: string): Promise<ProcessResult> {
    try {
      return await this.processKey(key);
    } catch (error) {
      return { error, retry: true };
    }
  }

  /** Schedules a retry, a requeue or nothing, and returns the outcome for the hooks. */
  private applyResult(key: string, result: ProcessResult): 'success' | 'retry' | 'error' {
    if ('error' in result) {
      if (!result.retry) {
        this.forget(key);
        return 'error';
      }
      this.scheduleRetry(key, result.error);
      return 'retry';
    }
    this.forget(key);
    if (result.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
    return 'success';
  }

  /** Re-adds a failed key after its exponential backoff delay. */
  private scheduleRetry(key: string, error: unknown): void {
    const failures = this.failureCount(key) + 1;
    this.failures.set(key, failures);
    const delayMs = this.computeBackoff(failures);
    this.callHook(() => this.hooks.onRetry?.(key, delayMs, failures, error));
    this.addAfter(key, delayMs);
  }

  /**
   * Returns base * 2^(failures-1), capped at max, with "equal jitter": a random point in the
   * upper half, so retries of many keys spread out but the delay still grows.
   */
  private computeBackoff(failures: number): number {
    return Math.round(backoffDelay({ baseMs: this.baseDelayMs, maxMs: this.maxDelayMs, jitter: true }, failures, this.random));
  }

  /** Runs a metrics hook; a broken hook must not break the queue. */
  private callHook(call: () => void): void {
    try {
      call();
    } catch {
      // Metrics are best effort.
    }
  }
}
