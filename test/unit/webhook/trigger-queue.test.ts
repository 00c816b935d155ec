import { MAX_REMEMBERED, TriggerQueue } from '../../../src/webhook/trigger-queue.js';
import { computeDedupeKey, type Trigger } from '../../../src/webhook/trigger.js';

const trigger = (overrides: Partial<Trigger> = {}): Trigger => ({
  source: 'flux',
  policy: { namespace: 'flux-system', name: 'apps' },
  kustomization: { namespace: 'flux-system', name: 'apps', uid: 'uid-1' },
  revision: 'main@sha1:1111111111111111111111111111111111111111',
  reason: 'HealthCheckFailed',
  ...overrides,
});

describe('TriggerQueue', () => {
  test('a storm of 100 identical events is processed once', async () => {
    const processed: Trigger[] = [];
    const queue = new TriggerQueue({ process: async (t) => void processed.push(t) });
    const results = Array.from({ length: 100 }, () => queue.add(trigger()));
    await queue.whenIdle();
    expect(results.filter((r) => r === 'queued')).toHaveLength(1);
    expect(results.filter((r) => r === 'duplicate')).toHaveLength(99);
    expect(processed).toHaveLength(1);
    // A re-send after processing, within the window, is still a duplicate.
    expect(queue.add(trigger())).toBe('duplicate');
  });

  test.each([
    ['another revision', { revision: 'main@sha1:2222222222222222222222222222222222222222' }],
    ['another reason', { reason: 'ReconciliationFailed' }],
    ['another object uid (re-created Kustomization)', { kustomization: { namespace: 'flux-system', name: 'apps', uid: 'uid-2' } }],
  ])('%s is a distinct trigger', async (_name, change) => {
    const processed: Trigger[] = [];
    const queue = new TriggerQueue({ process: async (t) => void processed.push(t) });
    expect(queue.add(trigger())).toBe('queued');
    expect(queue.add(trigger(change))).toBe('queued');
    await queue.whenIdle();
    expect(processed).toHaveLength(2);
  });

  test('a key expires after the dedupe window', async () => {
    const queue = new TriggerQueue({ process: async () => undefined, dedupeWindowMs: 1000 });
    queue.add(trigger());
    await queue.whenIdle();
    expect(queue.add(trigger(), Date.now() + 500)).toBe('duplicate');
    expect(queue.add(trigger(), Date.now() + 2000)).toBe('queued');
    await queue.whenIdle();
  });

  test('a failing trigger is retried, then forgotten so a re-send can try again', async () => {
    let calls = 0;
    const errors: boolean[] = [];
    const queue = new TriggerQueue({
      process: async () => {
        calls++;
        throw new Error('API down');
      },
      maxAttempts: 3,
      retryDelayMs: 1,
      onError: (_t, _e, willRetry) => errors.push(willRetry),
    });
    queue.add(trigger());
    await queue.whenIdle();
    expect(calls).toBe(3);
    expect(errors).toEqual([true, true, false]);
    expect(queue.add(trigger())).toBe('queued');
    await queue.whenIdle();
  });

  test('a full queue refuses new triggers', async () => {
    let release!: () => void;
    const blocked = new Promise<void>((resolve) => (release = resolve));
    const queue = new TriggerQueue({ process: () => blocked, maxPending: 1 });
    expect(queue.add(trigger({ reason: 'a' }))).toBe('queued'); // in flight
    expect(queue.add(trigger({ reason: 'b' }))).toBe('queued'); // pending
    expect(queue.add(trigger({ reason: 'c' }))).toBe('full');
    release();
    await queue.whenIdle();
  });

  test("a dedupe key is a fixed-size hash, however long the caller's revision, and still tells revisions apart", () => {
    const long = `main@sha1:${'a'.repeat(1024 * 1024)}`;
    const key = computeDedupeKey(trigger({ revision: long }));
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(computeDedupeKey(trigger({ revision: `${long}b` }))).not.toBe(key);
    // Parts cannot be shifted into one another: "a|b" + "c" is not "a" + "b|c".
    expect(computeDedupeKey(trigger({ revision: 'x|HealthCheckFailed', reason: 'y' }))).not.toBe(
      computeDedupeKey(trigger({ revision: 'x', reason: 'HealthCheckFailed|y' })),
    );
  });

  test(`at most ${MAX_REMEMBERED} processed keys are remembered`, async () => {
    const queue = new TriggerQueue({ process: async () => undefined });
    for (let batch = 0; batch < 12; batch++) {
      for (let i = 0; i < 1000; i++) queue.add(trigger({ revision: `main@sha1:${batch}-${i}` }));
      await queue.whenIdle();
    }
    queue.add(trigger({ revision: 'one more' }));
    await queue.whenIdle();
    expect(queue.rememberedKeys).toBeLessThanOrEqual(MAX_REMEMBERED + 1);
  });
});

describe('TriggerQueue lanes (one per tenant)', () => {
  /** A processor whose calls wait until the test releases them, by policy namespace. */
  function blockingProcessor() {
    const started: Trigger[] = [];
    const releases = new Map<Trigger, () => void>();
    const process = (t: Trigger) =>
      new Promise<void>((resolve) => {
        started.push(t);
        releases.set(t, resolve);
      });
    const release = (t: Trigger) => releases.get(t)!();
    return { started, process, release };
  }
  const tenant = (namespace: string, reason = 'HealthCheckFailed') =>
    trigger({ policy: { namespace, name: 'apps' }, kustomization: { namespace, name: 'apps', uid: `${namespace}-uid` }, reason });
  const settle = () => new Promise((resolve) => setImmediate(resolve));

  test('a slow tenant does not stall the others; its own triggers wait for each other', async () => {
    const { started, process, release } = blockingProcessor();
    const queue = new TriggerQueue({ process, concurrency: 4 });
    const slowFirst = tenant('slow', 'a');
    const slowSecond = tenant('slow', 'b');
    queue.add(slowFirst);
    queue.add(slowSecond);
    const others = ['team-a', 'team-b'].map((ns) => tenant(ns));
    others.forEach((t) => queue.add(t));
    await settle();
    // The slow tenant's first trigger hangs; the other tenants' run beside it; its second waits.
    expect(started).toEqual([slowFirst, ...others]);
    others.forEach(release);
    await settle();
    expect(started).toEqual([slowFirst, ...others]);
    release(slowFirst);
    await settle();
    expect(started).toEqual([slowFirst, ...others, slowSecond]);
    release(slowSecond);
    await queue.whenIdle();
  });

  test("at most `concurrency` lanes run at once, and a busy tenant's backlog takes turns with the others", async () => {
    const { started, process, release } = blockingProcessor();
    const queue = new TriggerQueue({ process, concurrency: 2 });
    const [a1, a2, a3, b1, c1] = [tenant('a', '1'), tenant('a', '2'), tenant('a', '3'), tenant('b'), tenant('c')];
    [a1, a2, a3, b1, c1].forEach((t) => queue.add(t));
    await settle();
    expect(started).toEqual([a1, b1]);
    release(a1);
    await settle();
    expect(started).toEqual([a1, b1, a2]);
    release(b1);
    await settle();
    // Lane a was just served: c goes before a's third trigger, although that one came first.
    expect(started).toEqual([a1, b1, a2, c1]);
    release(a2);
    await settle();
    expect(started).toEqual([a1, b1, a2, c1, a3]);
    [c1, a3].forEach(release);
    await queue.whenIdle();
  });

  test('one tenant cannot fill the queue for everyone: its lane is capped', async () => {
    const { process, started, release } = blockingProcessor();
    const queue = new TriggerQueue({ process, maxPendingPerLane: 2 });
    const results = ['1', '2', '3', '4'].map((reason) => queue.add(tenant('noisy', reason)));
    expect(results).toEqual(['queued', 'queued', 'queued', 'full']); // one in flight, two pending
    expect(queue.add(tenant('quiet'))).toBe('queued');
    while (started.length < 4) {
      started.forEach(release);
      await settle();
    }
    started.forEach(release);
    await queue.whenIdle();
  });
});
