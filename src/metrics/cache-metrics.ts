/**
 * Metrics of the git cache: whether each rollback's engine run found its branch already cached
 * (gitops_rollback_git_cache_total{result=hit|miss}), and how prefetching went
 * (gitops_rollback_cache_prefetch_total{result, error}, gitops_rollback_cache_prefetch_duration_seconds
 * {result}, list failures, repositories the integrity check removed). The prefetcher reports
 * through callbacks the set-up wires; it never imports metrics.
 */
import type { RepositoryTarget, RollbackRequest, RollbackResult } from '../git/engine.js';
import { BoundedLabelValues } from './bounded-label.js';
import type { OperatorMetrics } from './operator-metrics.js';

/** Error codes are our class names and condition reasons (a few dozen); bounded all the same. */
const errorLabels = new WeakMap<OperatorMetrics, BoundedLabelValues>();

/**
 * Wraps the engine so each run first counts a cache hit or miss: `isCached` says whether the
 * request's branch is in the cache as the run starts. A failing lookup counts nothing; results
 * and errors pass through.
 */
export function countCacheHits<Rest extends unknown[]>(
  metrics: OperatorMetrics,
  isCached: (repository: RepositoryTarget) => Promise<boolean>,
  runEngine: (request: RollbackRequest, ...rest: Rest) => Promise<RollbackResult>,
): (request: RollbackRequest, ...rest: Rest) => Promise<RollbackResult> {
  return async (request, ...rest) => {
    const cached = await isCached(request.repository).catch(() => undefined);
    if (cached !== undefined) metrics.gitCache.inc({ result: cached ? 'hit' : 'miss' });
    return runEngine(request, ...rest);
  };
}

/** Counts and times one repository's prefetch. */
export function recordPrefetch(metrics: OperatorMetrics, outcome: { result: 'succeeded' | 'failed'; error?: string; durationMs: number }): void {
  let labels = errorLabels.get(metrics);
  if (!labels) errorLabels.set(metrics, (labels = new BoundedLabelValues(50, 64)));
  const error = outcome.result === 'failed' ? labels.bound((outcome.error ?? 'Error').replace(/[^A-Za-z0-9_]/g, '_')) : 'none';
  metrics.cachePrefetches.inc({ result: outcome.result, error });
  metrics.cachePrefetchDuration.observe({ result: outcome.result }, outcome.durationMs / 1000);
}
