/**
 * The receiver's in-memory queue: requests are answered at once and their triggers processed
 * here, deduplicated by {@link computeDedupeKey} for a time window: Flux's retries and re-sends,
 * and a storm of identical events, reach the processor once. A trigger whose processing fails is
 * retried with backoff, then forgotten so a later re-send can try again.
 *
 * Triggers are processed in lanes, one lane per tenant (the policy's namespace, {@link laneOf}):
 * one trigger at a time within a lane (two triggers of one policy never race on its cooldown or
 * rate limit), up to `concurrency` lanes at once, taken in turn. So a tenant whose git server is
 * slow holds one worker, never the others' (as client-go's workqueue never hands one key to two
 * workers). What a tenant can make the queue hold is bounded too: `maxPendingPerLane`.
 */
import { computeDedupeKey, laneOf, type Trigger } from './trigger.js';
import { backoffDelay, sleep } from '../retry-timing.js';

export interface TriggerQueueOptions {
  /** Decides on one trigger. Throwing means a transient failure: retried, then forgotten. */
  process: (trigger: Trigger) => Promise<void>;
  /** How long a processed key suppresses duplicates. Default 10 minutes. */
  dedupeWindowMs?: number;
  /** Pending triggers beyond this are refused (the receiver answers 503 and Flux retries). Default 1000. */
  maxPending?: number;
  /** Pending triggers of one lane (tenant) beyond this are refused. Default 100. */
  maxPendingPerLane?: number;
  /** Lanes processed at once. Default 4. */
  concurrency?: number;
  /** Attempts per trigger. Default 3. */
  maxAttempts?: number;
  /** Backoff before attempt n+1: `retryDelayMs * 2^(n-1)`. Default 1000 ms. */
  retryDelayMs?: number;
  onError?: (trigger: Trigger, error: unknown, willRetry: boolean) => void;
}

/**
 * Memory bound of the dedupe window: at most this many processed keys are remembered (each a
 * 64-character hash), besides the keys of pending and in-flight triggers (at most `maxPending`
 * plus `concurrency`).
 */
export const MAX_REMEMBERED = 10_000;

export type AddResult = 'queued' | 'duplicate' | 'full';

interface Item {
  key: string;
  trigger: Trigger;
}

export class TriggerQueue {
  /** Pending triggers by lane; a lane's position is its turn (moved to the end when served). */
  private readonly lanes = new Map<string, Item[]>();
  /** Lanes with a trigger in flight. */
  private readonly busy = new Set<string>();
  /** Keys queued, in flight, or processed within the window, with the time they expire. */
  private readonly seen = new Map<string, number>();
  private readonly windowMs: number;
  private readonly maxPending: number;
  private readonly maxPendingPerLane: number;
  private readonly concurrency: number;
  private pendingCount = 0;
  private idleWaiters: (() => void)[] = [];
  private stopped = false;

  constructor(private readonly options: TriggerQueueOptions) {
    this.windowMs = options.dedupeWindowMs ?? 10 * 60_000;
    this.maxPending = options.maxPending ?? 1000;
    this.maxPendingPerLane = options.maxPendingPerLane ?? 100;
    this.concurrency = Math.max(1, options.concurrency ?? 4);
  }

  /** Queues a trigger unless a duplicate was seen within the window or the queue (or its lane) is full. */
  add(trigger: Trigger, now = Date.now()): AddResult {
    this.expire(now);
    const key = computeDedupeKey(trigger);
    if (this.seen.has(key)) return 'duplicate';
    const lane = laneOf(trigger);
    const items = this.lanes.get(lane) ?? [];
    if (this.stopped || this.pendingCount >= this.maxPending || items.length >= this.maxPendingPerLane) return 'full';
    this.seen.set(key, Number.POSITIVE_INFINITY);
    items.push({ key, trigger });
    this.lanes.set(lane, items);
    this.pendingCount++;
    this.pump();
    return 'queued';
  }

  /** Triggers waiting (not counting those in flight). */
  get size(): number {
    return this.pendingCount;
  }

  /** Keys remembered for deduplication (pending, in flight, or processed within the window). */
  get rememberedKeys(): number {
    return this.seen.size;
  }

  /** Resolves when every queued trigger has been processed. */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Refuses new triggers and waits for the queued ones, at most `timeoutMs`. */
  async stop(timeoutMs = 10_000): Promise<void> {
    this.stopped = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.whenIdle(), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  }

  private isIdle(): boolean {
    return this.pendingCount === 0 && this.busy.size === 0;
  }

  /** Starts the next trigger of each lane that is not busy, in turn, up to the concurrency. */
  private pump(): void {
    for (const [lane, items] of [...this.lanes]) {
      if (this.busy.size >= this.concurrency) return;
      if (this.busy.has(lane)) continue;
      const item = items.shift()!;
      this.pendingCount--;
      // Served: the lane's next turn comes after every other lane's.
      this.lanes.delete(lane);
      if (items.length) this.lanes.set(lane, items);
      this.busy.add(lane);
      void this.run(lane, item);
    }
  }

  private async run(lane: string, item: Item): Promise<void> {
    const processed = await this.processWithRetries(item.trigger);
    if (processed) this.seen.set(item.key, Date.now() + this.windowMs);
    else this.seen.delete(item.key);
    this.busy.delete(lane);
    this.pump();
    if (this.isIdle()) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
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
        await sleep(backoffDelay({ baseMs: delayMs, maxMs: Infinity }, attempt));
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
