/**
 * The last healthy revision in a Kustomization's `status.history` (src/flux/status-history.ts), as
 * kustomize-controller v1.7+ writes it (fluxcd/pkg apis/meta history.go): the newest
 * `ReconciliationSucceeded` snapshot whose revision is not the failing one, whatever else the
 * status holds.
 */
import { lastHealthyFromHistory, readSnapshots } from '../../../src/flux/status-history.js';
import type { HistorySnapshot } from '../../../src/flux/kustomization.js';

const GOOD = '1'.repeat(40);
const OLDER = '2'.repeat(40);
const BAD = '3'.repeat(40);

/** A snapshot as Flux writes it; `minute` orders lastReconciled. */
const snapshot = (sha: string, status: string, minute: number): HistorySnapshot => ({
  digest: `sha256:${sha.slice(0, 8)}${minute}`,
  firstReconciled: `2026-11-30T10:${String(minute).padStart(2, '0')}:00Z`,
  lastReconciled: `2026-11-30T10:${String(minute).padStart(2, '0')}:00Z`,
  lastReconciledDuration: '1.2s',
  lastReconciledStatus: status,
  totalReconciliations: 1,
  metadata: { revision: `main@sha1:${sha}` },
});

describe('lastHealthyFromHistory', () => {
  test.each<[string, unknown, string | undefined]>([
    [
      'the healthy revision before a failed health check',
      [snapshot(BAD, 'HealthCheckFailed', 3), snapshot(GOOD, 'ReconciliationSucceeded', 2), snapshot(OLDER, 'ReconciliationSucceeded', 1)],
      GOOD,
    ],
    [
      'failure reasons are never healthy (HealthCheckFailed, ReconciliationFailed, PruneFailed)',
      [
        snapshot(BAD, 'HealthCheckFailed', 5),
        snapshot('4'.repeat(40), 'ReconciliationFailed', 4),
        snapshot('5'.repeat(40), 'PruneFailed', 3),
        snapshot(GOOD, 'ReconciliationSucceeded', 2),
      ],
      GOOD,
    ],
    [
      'the failing revision healthy earlier (a bad deploy that passed its checks, then an alert) is skipped',
      [snapshot(BAD, 'HealthCheckFailed', 3), snapshot(BAD, 'ReconciliationSucceeded', 2), snapshot(GOOD, 'ReconciliationSucceeded', 1)],
      GOOD,
    ],
    ['only the failing revision healthy: none', [snapshot(BAD, 'HealthCheckFailed', 2), snapshot(BAD, 'ReconciliationSucceeded', 1)], undefined],
    ['only failures: none', [snapshot(BAD, 'HealthCheckFailed', 2), snapshot(GOOD, 'ReconciliationFailed', 1)], undefined],
    ['an empty history: none', [], undefined],
    ['no history (kustomize-controller before v1.7): none', undefined, undefined],
    ['the failing revision compared by commit, whatever its case', [snapshot(BAD.toUpperCase(), 'ReconciliationSucceeded', 2)], undefined],
  ])('%s', (_name, history, expected) => {
    expect(lastHealthyFromHistory(history, BAD)).toBe(expected);
  });

  test('the newest healthy snapshot wins, by lastReconciled, whatever the order of the list', () => {
    const newestFirst = [snapshot(BAD, 'HealthCheckFailed', 3), snapshot(GOOD, 'ReconciliationSucceeded', 2), snapshot(OLDER, 'ReconciliationSucceeded', 1)];
    expect(lastHealthyFromHistory(newestFirst, BAD)).toBe(GOOD);
    expect(lastHealthyFromHistory([...newestFirst].reverse(), BAD)).toBe(GOOD);
    const olderNewer = [snapshot(BAD, 'HealthCheckFailed', 3), snapshot(OLDER, 'ReconciliationSucceeded', 4), snapshot(GOOD, 'ReconciliationSucceeded', 2)];
    expect(lastHealthyFromHistory(olderNewer, BAD)).toBe(OLDER);
  });

  test.each<[string, unknown]>([
    ['a string', 'main@sha1:' + GOOD],
    ['an object', { 0: snapshot(GOOD, 'ReconciliationSucceeded', 1) }],
    ['null', null],
    ['a number', 42],
  ])('a history that is not a list (%s) gives none', (_name, history) => {
    expect(lastHealthyFromHistory(history, BAD)).toBeUndefined();
  });

  test('malformed entries are skipped, the well-formed healthy one is found', () => {
    const healthy = (revision: unknown) => ({ ...snapshot(GOOD, 'ReconciliationSucceeded', 5), metadata: { revision } });
    const history: unknown[] = [
      null,
      'ReconciliationSucceeded',
      7,
      [],
      { lastReconciledStatus: 'ReconciliationSucceeded' },
      { ...snapshot(OLDER, 'ReconciliationSucceeded', 9), lastReconciledStatus: 1 },
      { ...snapshot(OLDER, 'ReconciliationSucceeded', 9), metadata: null },
      { ...snapshot(OLDER, 'ReconciliationSucceeded', 9), metadata: 'main@sha1:' + OLDER },
      { ...snapshot(OLDER, 'ReconciliationSucceeded', 9), metadata: {} },
      healthy(42),
      healthy({ sha: GOOD }),
      healthy(['main@sha1:' + GOOD]),
      healthy('main@sha1:0123456'),
      healthy('latest'),
      healthy('x'.repeat(100_000)),
      snapshot(GOOD, 'ReconciliationSucceeded', 1),
    ];
    expect(lastHealthyFromHistory(history, BAD)).toBe(GOOD);
    expect(lastHealthyFromHistory(history.slice(0, -1), BAD)).toBeUndefined();
  });

  test('at most the first 20 entries are read', () => {
    const failures = (n: number) => Array.from({ length: n }, (_, i) => snapshot(BAD, 'HealthCheckFailed', 30 + i));
    expect(lastHealthyFromHistory([...failures(19), snapshot(GOOD, 'ReconciliationSucceeded', 1)], BAD)).toBe(GOOD);
    expect(lastHealthyFromHistory([...failures(20), snapshot(GOOD, 'ReconciliationSucceeded', 1)], BAD)).toBeUndefined();
    expect(readSnapshots(failures(10_000))).toHaveLength(20);
  });
});
