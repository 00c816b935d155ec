/**
 * The cache prefetcher's loop against a fake port (its only boundary): a pass at start, the next
 * an interval after it ends, one repository at a time, a failure logged without credentials and
 * counted while the pass goes on, one fetch per URL and branch, and a stop that aborts the fetch
 * in flight without counting it as a failure.
 */
import { Writable } from 'node:stream';
import { CachePrefetcher, type PrefetchOutcome, type PrefetchPort } from '../../../src/controller/cache-prefetcher.js';
import { StallingError } from '../../../src/controller/classify-error.js';
import { Reason } from '../../../src/api/v1alpha1/conditions.js';
import type { ObjectKey } from '../../../src/flux/flux-port.js';
import type { RepositoryTarget } from '../../../src/git/engine.js';
import { AuthFailedError } from '../../../src/git/errors.js';
import { createLogger } from '../../../src/logging/logger.js';
import { eventually } from '../../helpers/eventually.js';

const SECRET = 'pw-9f8e7d6c';

/** Collects the logger's JSON lines. */
function captureLogs(): { logger: ReturnType<typeof createLogger>; raw: () => string; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const raw = () => chunks.join('');
  return {
    logger: createLogger({ destination: stream, level: 'debug' }),
    raw,
    lines: () =>
      raw()
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

/** GitRepositories by `namespace/name`: their URL and branch, and how fetching them behaves. */
interface FakeRepo {
  url: string;
  branch?: string;
  resolveError?: Error;
  fetchError?: Error;
  /** Fetch waits for the signal to abort (a slow server). */
  hang?: boolean;
}

/** A fake port: sources chosen by the test, each fetch recorded, one in flight at most checked. */
function fakePort(repos: Record<string, FakeRepo>, order: () => string[]) {
  const fetched: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let selectError: Error | undefined;
  const port: PrefetchPort = {
    selectSources: async () => {
      if (selectError) throw selectError;
      return { sources: order().map((k): ObjectKey => ({ namespace: k.split('/')[0], name: k.split('/')[1] })), dropped: 0 };
    },
    resolve: async ({ namespace, name }) => {
      const repo = repos[`${namespace}/${name}`];
      if (repo.resolveError) throw repo.resolveError;
      return { url: repo.url, branch: repo.branch ?? 'main', credentials: { username: 'flux', password: SECRET } };
    },
    fetch: async (target: RepositoryTarget, signal: AbortSignal) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        const repo = Object.values(repos).find((r) => r.url === target.url && (r.branch ?? 'main') === target.branch)!;
        if (repo.hang) await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
        // Let other work interleave, as a real fetch would.
        await new Promise((resolve) => setImmediate(resolve));
        if (repo.fetchError) throw repo.fetchError;
        fetched.push(`${target.url}#${target.branch}`);
        return 'a'.repeat(40);
      } finally {
        inFlight--;
      }
    },
  };
  return {
    port,
    fetched,
    maxInFlight: () => maxInFlight,
    failSelect: (error: Error | undefined) => (selectError = error),
  };
}

/** A sleep the test releases: each call waits until `release()`. */
function controlledSleep() {
  const calls: number[] = [];
  let release: (() => void) | undefined;
  return {
    calls,
    sleep: (ms: number, signal: AbortSignal) =>
      new Promise<void>((resolve) => {
        calls.push(ms);
        release = resolve;
        signal.addEventListener('abort', () => resolve(), { once: true });
      }),
    release: () => release?.(),
  };
}

describe('CachePrefetcher', () => {
  test('fetches every selected repository at start, one at a time, then waits the interval before the next pass', async () => {
    const repos = {
      'team-a/fleet': { url: 'https://git.example.com/fleet.git' },
      'team-a/infra': { url: 'https://git.example.com/infra.git' },
    };
    let selected = ['team-a/fleet'];
    const fake = fakePort(repos, () => selected);
    const timer = controlledSleep();
    const logs = captureLogs();
    const prefetcher = new CachePrefetcher({ port: fake.port, intervalMs: 600_000, logger: logs.logger, sleep: timer.sleep });

    prefetcher.start();
    await eventually('the first pass to end and the interval to begin', () => timer.calls.length === 1);
    expect(fake.fetched).toEqual(['https://git.example.com/fleet.git#main']);
    expect(timer.calls).toEqual([600_000]);

    selected = ['team-a/fleet', 'team-a/infra'];
    timer.release();
    await eventually('the second pass to end', () => timer.calls.length === 2);
    expect(fake.fetched).toEqual([
      'https://git.example.com/fleet.git#main',
      'https://git.example.com/fleet.git#main',
      'https://git.example.com/infra.git#main',
    ]);
    expect(fake.maxInFlight()).toBe(1);
    await prefetcher.stop();
    expect(logs.lines().filter((l) => l.msg === 'Cache prefetch pass finished')).toHaveLength(2);
  });

  test('a failure is logged without credentials and counted, and the pass goes on', async () => {
    const repos: Record<string, FakeRepo> = {
      'team-a/denied': {
        url: `https://flux:${SECRET}@git.example.com/denied.git`,
        fetchError: new AuthFailedError({ url: 'https://git.example.com/denied.git' }),
      },
      'team-a/gone': {
        url: 'https://git.example.com/gone.git',
        resolveError: new StallingError(Reason.SecretNotFound, 'Secret team-a/git-auth was not found'),
      },
      'team-a/odd': { url: 'https://git.example.com/odd.git', fetchError: new Error('socket hang up') },
      'team-a/fine': { url: 'https://git.example.com/fine.git' },
    };
    const fake = fakePort(repos, () => Object.keys(repos));
    const logs = captureLogs();
    const outcomes: PrefetchOutcome[] = [];
    const prefetcher = new CachePrefetcher({ port: fake.port, intervalMs: 1000, logger: logs.logger, onOutcome: (o) => outcomes.push(o) });

    const summary = await prefetcher.runPass();

    expect(summary).toEqual({ selected: 4, dropped: 0, succeeded: 1, failed: 3, duplicates: 0 });
    expect(fake.fetched).toEqual(['https://git.example.com/fine.git#main']);
    expect(outcomes.map((o) => [`${o.source.namespace}/${o.source.name}`, o.result, o.error])).toEqual([
      ['team-a/denied', 'failed', 'AuthFailedError'],
      ['team-a/gone', 'failed', 'SecretNotFound'],
      ['team-a/odd', 'failed', 'Error'],
      ['team-a/fine', 'succeeded', undefined],
    ]);
    const failures = logs.lines().filter((l) => l.msg === 'Cache prefetch failed');
    expect(failures.map((l) => [l.gitRepository, l.code])).toEqual([
      ['team-a/denied', 'AuthFailedError'],
      ['team-a/gone', 'SecretNotFound'],
      ['team-a/odd', 'Error'],
    ]);
    expect(failures[0].repository).toBe('https://git.example.com/denied.git');
    expect(logs.raw()).not.toContain(SECRET);
    expect(outcomes.map((o) => o.url ?? '').join(' ')).not.toContain(SECRET);
  });

  test('two GitRepositories with the same URL and branch are fetched once per pass; another branch is fetched too', async () => {
    const repos: Record<string, FakeRepo> = {
      'team-a/fleet': { url: 'https://git.example.com/fleet.git' },
      'team-b/fleet': { url: 'https://git.example.com/fleet.git' },
      'team-c/fleet-staging': { url: 'https://git.example.com/fleet.git', branch: 'staging' },
    };
    const fake = fakePort(repos, () => Object.keys(repos));
    const prefetcher = new CachePrefetcher({ port: fake.port, intervalMs: 1000, logger: captureLogs().logger });
    expect(await prefetcher.runPass()).toMatchObject({ succeeded: 2, duplicates: 1, failed: 0 });
    expect(fake.fetched).toEqual(['https://git.example.com/fleet.git#main', 'https://git.example.com/fleet.git#staging']);
  });

  test('a pass that cannot list its sources is reported and the loop carries on to the next pass', async () => {
    const repos = { 'team-a/fleet': { url: 'https://git.example.com/fleet.git' } };
    const fake = fakePort(repos, () => Object.keys(repos));
    fake.failSelect(new Error('the API server is unavailable'));
    const timer = controlledSleep();
    const logs = captureLogs();
    let selectFailures = 0;
    const prefetcher = new CachePrefetcher({
      port: fake.port,
      intervalMs: 5000,
      logger: logs.logger,
      sleep: timer.sleep,
      onSelectFailed: () => selectFailures++,
    });

    prefetcher.start();
    await eventually('the failed pass to end', () => timer.calls.length === 1);
    expect(selectFailures).toBe(1);
    expect(fake.fetched).toEqual([]);
    fake.failSelect(undefined);
    timer.release();
    await eventually('the next pass to fetch', () => timer.calls.length === 2);
    expect(fake.fetched).toEqual(['https://git.example.com/fleet.git#main']);
    await prefetcher.stop();
  });

  test('stop aborts the fetch in flight, does not count it as a failure, and starts no other', async () => {
    const repos: Record<string, FakeRepo> = {
      'team-a/slow': { url: 'https://git.example.com/slow.git', hang: true },
      'team-a/next': { url: 'https://git.example.com/next.git' },
    };
    const fake = fakePort(repos, () => Object.keys(repos));
    const outcomes: PrefetchOutcome[] = [];
    const prefetcher = new CachePrefetcher({ port: fake.port, intervalMs: 1000, logger: captureLogs().logger, onOutcome: (o) => outcomes.push(o) });

    prefetcher.start();
    await eventually('the slow fetch to be in flight', () => fake.maxInFlight() === 1);
    await prefetcher.stop();

    expect(outcomes).toEqual([]);
    expect(fake.fetched).toEqual([]);
  });
});
