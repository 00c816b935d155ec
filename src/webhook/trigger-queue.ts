/**
 * The receiver's in-memory queue: requests are answered at once and their triggers processed
 * here, one at a time (so two triggers of one policy never race on its cooldown), deduplicated by
 * {@link computeDedupeKey} for a time window: Flux's retries and re-sends, and a storm of
 * identical events, reach the processor once. A trigger whose processing fails is retried with
 * backoff, then forgotten so a later re-send can try again.
 */
import { computeDedupeKey, type Trigger } from './trigger.js';

export interface TriggerQueueOptions {
  /** Decides on one trigger. Throwing means a transient failure: retried, then forgotten. */
  process: (trigger: Trigger) => Promise<void>;
  /** How long a processed key suppresses duplicates. Default 10 minutes. */
  dedupeWindowMs?: number;
  /** Pending triggers beyond this are refused (the receiver answers 503 and Flux retries). Default 1000. */
  maxPending?: number;
  /** Attempts per trigger. Default 3. */
  maxAttempts?: number;
  /** Backoff before attempt n+1: `retryDelayMs * 2^(n-1)`. Default 1000 ms. */
  retryDelayMs?: number;
  onError?: (trigger: Trigger, error: unknown, willRetry: boolean) => void;
}

/** Memory bound of the dedupe window: at most this many processed keys are remembered. */
const MAX_REMEMBERED = 10_000;

export type AddResult = 'queued' | 'duplicate' | 'full';

export class TriggerQueue {
  private readonly pending: { key: string; trigger: Trigger }[] = [];
  /** Keys queued, in flight, or processed within the window, with the time they expire. */
  private readonly seen = new Map<string, number>();
  private readonly windowMs: number;
  private readonly maxPending: number;
  private running = false;
  private draining: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: TriggerQueueOptions) {
    this.windowMs = options.dedupeWindowMs ?? 10 * 60_000;
    this.maxPending = options.maxPending ?? 1000;
  }

  /** Queues a trigger unless a duplicate was seen within the window or the queue is full. */
  add(trigger: Trigger, now = Date.now()): AddResult {
    this.expire(now);
    const key = computeDedupeKey(trigger);
    if (this.seen.has(key)) return 'duplicate';
    if (this.pending.length >= this.maxPending || this.stopped) return 'full';
    this.seen.set(key, Number.POSITIVE_INFINITY);
    this.pending.push({ key, trigger });
    this.kick();
    return 'queued';
  }

  /** Triggers waiting (not counting the one in flight). */
  get size(): number {
    return this.pending.length;
  }

  /** Resolves when every queued trigger has been processed. */
  async whenIdle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  /** Refuses new triggers and waits for the queued ones, at most `timeoutMs`. */
  async stop(timeoutMs = 10_000): Promise<void> {
    this.stopped = true;
    await Promise.race([this.whenIdle(), new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
  }

  private kick(): void {
    if (this.running) return;
    this.running = true;
    this.draining = this.drain().finally(() => {
      this.running = false;
      this.draining = undefined;
    });
  }

  private async drain(): Promise<void> {
    for (let item = this.pending.shift(); item; item = this.pending.shift()) {
      const processed = await this.processWithRetries(item.trigger);
      if (processed) this.seen.set(item.key, Date.now() + this.windowMs);
      else this.seen.delete(item.key);
    }
  }

  private async processWithRetries(trigger: Trigger): Promise<boolean> {
    const maxAttempts = this.options.maxAttempts ?? 3;
    const delayMs = this.options.retryDelayMs ?? 1000;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.options.process(trigger);
        return true;
      } catch (error) {
        const willRetry = attempt < maxAttempts && !this.stopped;
        this.options.onError?.(trigger, error, willRetry);
        if (!willRetry) return false;
        await new Promise((resolve) => setTimeout(resolve, delayMs * 2 ** (attempt - 1)));
      }
    }
  }

  /** Forgets expired keys, and the oldest processed ones beyond {@link MAX_REMEMBERED}. */
  private expire(now: number): void {
    let excess = this.seen.size - MAX_REMEMBERED;
    for (const [key, expiresAt] of this.seen) {
      if (expiresAt <= now || (excess > 0 && expiresAt !== Number.POSITIVE_INFINITY)) {
        this.seen.delete(key);
        excess--;
      }
    }
  }
}
