import type { Logger } from 'pino';
import { LeadershipLostError } from '../../../src/kube/leader-election.js';
import { Manager, queueRunnable, type LeaderCallbacks, type Runnable } from '../../../src/kube/manager.js';
import { eventually } from '../../helpers/eventually.js';

/** A promise with its resolve and reject functions exposed. */
function defer<T = void>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

async function waitUntil(what: string, check: () => boolean): Promise<void> {
  await eventually(what, check, { timeoutMs: 2000, intervalMs: 2 });
}

/** The fakes at the manager's boundary: runnables and an elector that record into one list. */
function setUp(options: { leaderElection?: boolean; shutdownTimeoutMs?: number } = {}) {
  const events: string[] = [];
  const messages: string[] = [];
  const record = (_fields: object, message?: string) => void messages.push(message ?? String(_fields));
  const logger = { info: record, warn: record, error: record, debug: record } as unknown as Logger;
  let callbacks: LeaderCallbacks | undefined;
  const manager = new Manager({
    logger,
    shutdownTimeoutMs: options.shutdownTimeoutMs ?? 1000,
    leaderElection: options.leaderElection
      ? (given) => {
          callbacks = given;
          return { start: () => void events.push('start leader-election'), stop: async () => void events.push('release lease') };
        }
      : undefined,
  });
  const add = (name: string, group: Runnable['group'], needLeaderElection = false, overrides: Partial<Runnable> = {}): void =>
    manager.add({
      name,
      group,
      needLeaderElection,
      start: () => void events.push(`start ${name}`),
      stop: () => void events.push(`stop ${name}`),
      ...overrides,
    });
  const shutdown = new AbortController();
  const lease = {
    acquire: () => callbacks!.onStartedLeading(),
    lose: () => callbacks!.onStoppedLeading(),
  };
  return { manager, add, events, messages, shutdown, lease, start: () => manager.start(shutdown.signal) };
}

describe('Manager', () => {
  test('starts servers, then caches, then workers, then leader-only work; stops in reverse', async () => {
    const { add, events, shutdown, start } = setUp();
    add('controller', 'worker', true);
    add('tracker', 'worker');
    add('informer', 'cache');
    add('metrics', 'server');
    add('webhook', 'server');
    const ended = start();
    await waitUntil('the controller to start', () => events.includes('start controller'));
    expect(events).toEqual(['start metrics', 'start webhook', 'start informer', 'start tracker', 'start controller']);

    shutdown.abort('SIGTERM');
    await ended;
    expect(events.slice(5)).toEqual(['stop controller', 'stop tracker', 'stop informer', 'stop webhook', 'stop metrics']);
  });

  test('is ready once the caches have synced, and no longer once a stop begins', async () => {
    const { manager, add, shutdown, start } = setUp();
    const synced = defer();
    add('informer', 'cache', false, { start: () => synced.promise });
    const ended = start();
    expect(manager.isReady).toBe(false);
    synced.resolve();
    await waitUntil('the manager to be ready', () => manager.isReady);
    shutdown.abort('SIGTERM');
    expect(manager.isReady).toBe(false);
    await ended;
  });

  test('with leader election, leader-only runnables start only after the Lease is held', async () => {
    const { manager, add, events, messages, lease, start } = setUp({ leaderElection: true });
    add('informer', 'cache');
    add('controller', 'worker', true);
    void start();
    await waitUntil('the elector to start', () => events.includes('start leader-election'));
    // A standby is ready (its cache is warm) but does not reconcile.
    expect(manager.isReady).toBe(true);
    expect(events).toEqual(['start informer', 'start leader-election']);

    lease.acquire();
    await waitUntil('the controller to start', () => events.includes('start controller'));
    expect(messages).toContain('Started leading; reconciling');
  });

  test('a stop drains the leader-only work, then releases the Lease, then stops the rest', async () => {
    const { add, events, lease, shutdown, start } = setUp({ leaderElection: true });
    add('informer', 'cache');
    add('controller', 'worker', true);
    const ended = start();
    await waitUntil('the elector to start', () => events.includes('start leader-election'));
    lease.acquire();
    await waitUntil('the controller to start', () => events.includes('start controller'));
    shutdown.abort('SIGTERM');
    await ended;
    expect(events.slice(3)).toEqual(['stop controller', 'release lease', 'stop informer']);
  });

  test('losing the Lease aborts leader-only work at a safe point, drains it, and ends with LeadershipLostError', async () => {
    const { manager, add, events, messages, lease, start } = setUp({ leaderElection: true });
    const drained = defer();
    add('informer', 'cache');
    add('controller', 'worker', true, { stop: () => drained.promise.then(() => void events.push('stop controller')) });
    const ended = start();
    const outcome = ended.then(
      () => 'resolved',
      (error: unknown) => error,
    );
    await waitUntil('the elector to start', () => events.includes('start leader-election'));
    lease.acquire();
    await waitUntil('the controller to start', () => events.includes('start controller'));

    const losing = lease.lose();
    expect(manager.leadershipLost.aborted).toBe(true);
    expect(manager.leadershipLost.reason).toBeInstanceOf(LeadershipLostError);
    expect(messages).toContain('Lost leadership; stopping work at a safe point, then exiting');
    // The push in flight finishes first: the manager has not ended before the drain.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(events).not.toContain('stop controller');
    drained.resolve();
    await losing;
    expect(await outcome).toBeInstanceOf(LeadershipLostError);
    // Only the leader-only work stopped; the caller exits.
    expect(events.filter((event) => event.startsWith('stop') || event === 'release lease')).toEqual(['stop controller']);
  });

  test.each([
    { failing: 'informer', stopped: ['stop informer', 'stop metrics'], neverStarted: 'start controller' },
    { failing: 'controller', stopped: ['stop controller', 'stop informer', 'stop metrics'], neverStarted: 'start after-controller' },
  ])('the $failing failing to start stops the others in reverse and ends with its error', async ({ failing, stopped, neverStarted }) => {
    const { add, events, start } = setUp();
    const error = new Error(`${failing} cannot start`);
    add('metrics', 'server');
    add('informer', 'cache', false, failing === 'informer' ? { start: () => Promise.reject(error) } : {});
    add('controller', 'worker', true, failing === 'controller' ? { start: () => Promise.reject(error) } : {});
    add('after-controller', 'worker', true);
    await expect(start()).rejects.toBe(error);
    expect(events.filter((event) => event.startsWith('stop'))).toEqual(stopped);
    expect(events).not.toContain(neverStarted);
  });

  test('a runnable that does not stop within the shutdown timeout is left behind, and the others still stop', async () => {
    const { add, events, messages, shutdown, start } = setUp({ shutdownTimeoutMs: 50 });
    add('metrics', 'server');
    add('stuck', 'worker', false, { stop: () => new Promise(() => undefined) });
    const ended = start();
    await waitUntil('the stuck runnable to start', () => events.includes('start stuck'));
    const begun = Date.now();
    shutdown.abort('SIGTERM');
    await ended;
    expect(Date.now() - begun).toBeGreaterThanOrEqual(45);
    expect(messages).toContain('Runnable did not stop within the shutdown timeout');
    expect(events).toContain('stop metrics');
  });

  test('a shutdown while a cache is still syncing stops it and ends gracefully', async () => {
    const { add, events, shutdown, start } = setUp();
    const synced = defer();
    add('informer', 'cache', false, {
      start: () => synced.promise,
      stop: () => (events.push('stop informer'), synced.reject(new Error('stopped before sync'))),
    });
    add('controller', 'worker', true);
    const ended = start();
    shutdown.abort('SIGTERM');
    await expect(ended).resolves.toBeUndefined();
    expect(events).toEqual(['stop informer']);
  });

  test('a work queue runs as a worker and drains for the time it is given (--shutdown-timeout)', async () => {
    const calls: string[] = [];
    const queue = {
      start: () => void calls.push('start'),
      shutDown: async ({ drainTimeoutMs }: { drainTimeoutMs: number }) => void calls.push(`drain ${drainTimeoutMs}`),
    };
    const runnable = queueRunnable('history', queue, { needLeaderElection: true, drainTimeoutMs: 45_000 });
    expect(runnable).toMatchObject({ name: 'history', group: 'worker', needLeaderElection: true });
    await runnable.start();
    await runnable.stop?.();
    expect(calls).toEqual(['start', 'drain 45000']);
  });
});
