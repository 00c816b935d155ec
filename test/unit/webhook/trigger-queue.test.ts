import { TriggerQueue } from '../../../src/webhook/trigger-queue.js';
import type { Trigger } from '../../../src/webhook/trigger.js';

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
});
