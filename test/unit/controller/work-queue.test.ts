import { jest } from '@jest/globals';
import { WorkQueue, type ProcessResult, type WorkQueueOptions } from '../../../src/controller/work-queue.js';
import { eventually } from '../../helpers/eventually.js';

/** A promise with its resolve function exposed. */
function defer<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until `check` holds (see eventually()), polling every 2 ms. */
async function waitUntil(check: () => boolean, timeoutMs = 2000): Promise<void> {
  await eventually('the work queue to reach the expected state', check, { timeoutMs, intervalMs: 2 });
}

/** A processor whose runs block until released; records starts. */
function gatedProcessor(): {
  starts: string[];
  release: (key: string, result?: ProcessResult) => void;
  process: (key: string) => Promise<ProcessResult>;
} {
  const gates = new Map<string, ReturnType<typeof defer<ProcessResult>>[]>();
  const starts: string[] = [];
  const process = (key: string): Promise<ProcessResult> => {
    starts.push(key);
    const gate = defer<ProcessResult>();
    gates.set(key, [...(gates.get(key) ?? []), gate]);
    return gate.promise;
  };
  const release = (key: string, result: ProcessResult = {}): void => {
    const pending = gates.get(key) ?? [];
    const gate = pending.shift();
    if (!gate) throw new Error(`no run of ${key} in flight`);
    gate.resolve(result);
  };
  return { starts, release, process };
}

function makeQueue(options: Partial<WorkQueueOptions> & Pick<WorkQueueOptions, 'process'>): WorkQueue {
  return new WorkQueue({ concurrency: 2, baseDelayMs: 10, maxDelayMs: 80, random: () => 1, ...options });
}

describe('WorkQueue', () => {
  let queue: WorkQueue | undefined;
  afterEach(async () => {
    await queue?.shutDown({ drainTimeoutMs: 100 });
    queue = undefined;
  });

  it('a key added twice while waiting is processed once', async () => {
    const seen: string[] = [];
    queue = makeQueue({ process: async (key) => (seen.push(key), {}) });
    queue.add('a');
    queue.add('a');
    queue.add('b');
    expect(queue.depth).toBe(2);
    queue.start();
    await waitUntil(() => seen.length === 2);
    await sleep(20);
    expect(seen).toEqual(['a', 'b']);
  });

  it('a key added while in flight is never run twice at once, and re-runs once after', async () => {
    const gate = gatedProcessor();
    let inFlight = 0;
    let maxInFlight = 0;
    queue = makeQueue({
      process: async (key) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        const result = await gate.process(key);
        inFlight--;
        return result;
      },
    });
    queue.start();
    queue.add('a');
    await waitUntil(() => gate.starts.length === 1);
    queue.add('a');
    queue.add('a');
    queue.add('a');
    await sleep(20);
    expect(gate.starts).toEqual(['a']);
    expect(queue.depth).toBe(0);
    gate.release('a');
    await waitUntil(() => gate.starts.length === 2);
    gate.release('a');
    await sleep(20);
    expect(gate.starts).toEqual(['a', 'a']);
    expect(maxInFlight).toBe(1);
  });

  it('bounds concurrency to the configured number of workers', async () => {
    const gate = gatedProcessor();
    queue = makeQueue({ concurrency: 2, process: gate.process });
    for (const key of ['a', 'b', 'c', 'd']) queue.add(key);
    queue.start();
    await waitUntil(() => gate.starts.length === 2);
    await sleep(20);
    expect(queue.active).toBe(2);
    expect(queue.depth).toBe(2);
    gate.release('a');
    await waitUntil(() => gate.starts.length === 3);
    expect(queue.active).toBe(2);
    for (const key of ['b', 'c']) gate.release(key);
    await waitUntil(() => gate.starts.length === 4);
    gate.release('d');
    await waitUntil(() => queue!.active === 0);
    expect(gate.starts).toEqual(['a', 'b', 'c', 'd']);
  });

  it('retry delays double per failure up to the cap, and a success resets them', async () => {
    const delays: number[] = [];
    let calls = 0;
    const failure = (): ProcessResult => ({ error: new Error('transient'), retry: true });
    const outcomes: ProcessResult[] = [failure(), failure(), failure(), failure(), failure(), {}, failure(), {}];
    queue = makeQueue({
      process: async () => outcomes[calls++] ?? {},
      hooks: { onRetry: (_key, delayMs) => delays.push(delayMs) },
    });
    queue.start();
    queue.add('a');
    await waitUntil(() => calls === 6 && queue!.active === 0, 3000);
    expect(delays).toEqual([10, 20, 40, 80, 80]);
    expect(queue.failureCount('a')).toBe(0);
    queue.add('a');
    await waitUntil(() => calls === 8, 3000);
    expect(delays).toEqual([10, 20, 40, 80, 80, 10]);
  });

  it('jitter keeps each delay within the upper half of the exponential step', async () => {
    const delays: number[] = [];
    let calls = 0;
    queue = makeQueue({
      baseDelayMs: 8,
      maxDelayMs: 1000,
      random: () => 0,
      process: async (): Promise<ProcessResult> => (calls++ < 3 ? { error: 'x', retry: true } : {}),
      hooks: { onRetry: (_key, delayMs) => delays.push(delayMs) },
    });
    queue.start();
    queue.add('a');
    await waitUntil(() => calls === 4);
    expect(delays).toEqual([4, 8, 16]);
  });

  it('a thrown error is retried; a non-retryable error is not', async () => {
    const runs: Record<string, number> = { thrower: 0, fatal: 0 };
    queue = makeQueue({
      process: async (key): Promise<ProcessResult> => {
        runs[key]++;
        if (key === 'thrower' && runs[key] === 1) throw new Error('boom');
        if (key === 'fatal') return { error: new Error('bad spec'), retry: false };
        return {};
      },
    });
    queue.start();
    queue.add('thrower');
    queue.add('fatal');
    await waitUntil(() => runs.thrower === 2);
    await sleep(50);
    expect(runs).toEqual({ thrower: 2, fatal: 1 });
  });

  it('forget resets the backoff of a failing key', async () => {
    const delays: number[] = [];
    let calls = 0;
    queue = makeQueue({
      baseDelayMs: 40,
      maxDelayMs: 1000,
      process: async (): Promise<ProcessResult> => (calls++ < 2 ? { error: 'x', retry: true } : {}),
      hooks: { onRetry: (_k, delayMs) => delays.push(delayMs) },
    });
    queue.start();
    queue.add('a');
    await waitUntil(() => queue!.failureCount('a') === 1);
    queue.forget('a');
    expect(queue.failureCount('a')).toBe(0);
    await waitUntil(() => calls === 3);
    // After forget, the second failure counts as the first again: the base delay.
    expect(delays).toEqual([40, 40]);
  });

  it('requeueAfterMs runs the key again later', async () => {
    let calls = 0;
    queue = makeQueue({ process: async () => (calls++ === 0 ? { requeueAfterMs: 30 } : {}) });
    queue.start();
    queue.add('a');
    await waitUntil(() => calls === 1);
    await sleep(10);
    expect(calls).toBe(1);
    await waitUntil(() => calls === 2);
  });

  it('addAfter keeps the earliest due time', async () => {
    // Jest's clock, not the machine's: a busy machine cannot make a 20 ms timer look like 300.
    jest.useFakeTimers();
    try {
      const seen: number[] = [];
      const t0 = Date.now();
      queue = makeQueue({ process: async () => (seen.push(Date.now() - t0), {}) });
      queue.start();
      queue.addAfter('a', 500);
      queue.addAfter('a', 20);
      queue.addAfter('a', 300);
      await jest.advanceTimersByTimeAsync(20);
      expect(seen).toEqual([20]);
      await jest.advanceTimersByTimeAsync(1000);
      expect(seen).toEqual([20]);
    } finally {
      jest.useRealTimers();
    }
  });

  it('calls onAdd, onStart and onDone hooks', async () => {
    const events: string[] = [];
    queue = makeQueue({
      process: async () => ({}),
      hooks: {
        onAdd: (k) => events.push(`add ${k}`),
        onStart: (k) => events.push(`start ${k}`),
        onDone: (k, _ms, outcome) => events.push(`done ${k} ${outcome}`),
      },
    });
    queue.add('a');
    queue.start();
    await waitUntil(() => events.length === 3);
    expect(events).toEqual(['add a', 'start a', 'done a success']);
  });

  it('shutDown waits for keys in flight and takes no new work', async () => {
    const gate = gatedProcessor();
    queue = makeQueue({ concurrency: 1, process: gate.process });
    queue.start();
    queue.add('a');
    queue.add('b');
    queue.addAfter('c', 10);
    await waitUntil(() => gate.starts.length === 1);
    let drained = false;
    const shutDown = queue.shutDown({ drainTimeoutMs: 5000 }).then(() => (drained = true));
    await sleep(20);
    expect(drained).toBe(false);
    queue.add('d');
    gate.release('a');
    await shutDown;
    expect(queue.active).toBe(0);
    await sleep(30);
    expect(gate.starts).toEqual(['a']);
  });

  it('shutDown gives up after the drain timeout', async () => {
    const gate = gatedProcessor();
    queue = makeQueue({ process: gate.process });
    queue.start();
    queue.add('stuck');
    await waitUntil(() => gate.starts.length === 1);
    const t0 = Date.now();
    await queue.shutDown({ drainTimeoutMs: 50 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(45);
    expect(queue.active).toBe(1);
    gate.release('stuck');
  });
});
