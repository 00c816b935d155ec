/**
 * The git cache metrics, read back from the registry's exposition: a hit or a miss per engine run
 * (whatever the run's outcome), prefetch outcomes with a bounded error label and their duration,
 * and an exposition that still passes `promtool check metrics`.
 */
import { execFileSync } from 'node:child_process';
import type { RepositoryTarget, RollbackRequest, RollbackResult } from '../../../src/git/engine.js';
import { AuthFailedError } from '../../../src/git/errors.js';
import { countCacheHits, recordPrefetch } from '../../../src/metrics/cache-metrics.js';
import { OperatorMetrics } from '../../../src/metrics/operator-metrics.js';

function sample(exposition: string, series: string): number | undefined {
  const line = exposition.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const request = (url: string): RollbackRequest => ({ repository: { url, branch: 'main' }, action: { kind: 'revert', commits: ['a'.repeat(40)] } });
const result = { result: 'reverted' } as RollbackResult;

describe('gitops_rollback_git_cache_total', () => {
  test('both series exist at 0 before any rollback', async () => {
    const { body } = await new OperatorMetrics({ processMetrics: false }).render();
    expect(sample(body, 'gitops_rollback_git_cache_total{result="hit"}')).toBe(0);
    expect(sample(body, 'gitops_rollback_git_cache_total{result="miss"}')).toBe(0);
  });

  test('each run counts a hit or a miss as it starts, failed runs included; a failing lookup counts nothing', async () => {
    const metrics = new OperatorMetrics({ processMetrics: false });
    const cached = new Set(['https://git.example.com/warm.git']);
    const asked: RepositoryTarget[] = [];
    const isCached = async (repository: RepositoryTarget) => {
      asked.push(repository);
      if (repository.url.includes('broken')) throw new Error('EACCES');
      return cached.has(repository.url);
    };
    const engine = countCacheHits(metrics, isCached, async (req: RollbackRequest) => {
      if (req.repository.url.includes('denied')) throw new AuthFailedError({ url: req.repository.url });
      return result;
    });
    await engine(request('https://git.example.com/warm.git'));
    await engine(request('https://git.example.com/warm.git'));
    await engine(request('https://git.example.com/cold.git'));
    await expect(engine(request('https://git.example.com/denied.git'))).rejects.toThrow(AuthFailedError);
    await expect(engine(request('https://git.example.com/broken.git'))).resolves.toBe(result);

    const { body } = await metrics.render();
    expect(sample(body, 'gitops_rollback_git_cache_total{result="hit"}')).toBe(2);
    expect(sample(body, 'gitops_rollback_git_cache_total{result="miss"}')).toBe(2);
    expect(asked).toHaveLength(5);
  });
});

describe('prefetch metrics', () => {
  test('outcomes by result and error code, durations by result', async () => {
    const metrics = new OperatorMetrics({ processMetrics: false });
    recordPrefetch(metrics, { result: 'succeeded', durationMs: 1500 });
    recordPrefetch(metrics, { result: 'failed', error: 'AuthFailedError', durationMs: 200 });
    recordPrefetch(metrics, { result: 'failed', error: 'Secret Not-Found!', durationMs: 10 });
    const { body } = await metrics.render();
    expect(sample(body, 'gitops_rollback_cache_prefetch_total{result="succeeded",error="none"}')).toBe(1);
    expect(sample(body, 'gitops_rollback_cache_prefetch_total{result="failed",error="AuthFailedError"}')).toBe(1);
    expect(sample(body, 'gitops_rollback_cache_prefetch_total{result="failed",error="Secret_Not_Found_"}')).toBe(1);
    expect(sample(body, 'gitops_rollback_cache_prefetch_duration_seconds_count{result="succeeded"}')).toBe(1);
    expect(sample(body, 'gitops_rollback_cache_prefetch_duration_seconds_sum{result="succeeded"}')).toBe(1.5);
    expect(sample(body, 'gitops_rollback_cache_prefetch_duration_seconds_count{result="failed"}')).toBe(2);
  });

  test('the error label keeps its first 50 values, then counts under other', async () => {
    const metrics = new OperatorMetrics({ processMetrics: false });
    for (let i = 0; i < 60; i++) recordPrefetch(metrics, { result: 'failed', error: `Code${i}Error`, durationMs: 1 });
    const { body } = await metrics.render();
    const series = body.split('\n').filter((l) => l.startsWith('gitops_rollback_cache_prefetch_total{result="failed"'));
    expect(series).toHaveLength(51);
    expect(sample(body, 'gitops_rollback_cache_prefetch_total{result="failed",error="other"}')).toBe(10);
  });

  test('the exposition passes promtool check metrics', async () => {
    const metrics = new OperatorMetrics({ processMetrics: false });
    recordPrefetch(metrics, { result: 'failed', error: 'GitTimeoutError', durationMs: 5 });
    metrics.cacheRepositoriesRemoved.inc(2);
    metrics.cacheListFailures.inc();
    const { body } = await metrics.render();
    expect(sample(body, 'gitops_rollback_git_cache_removed_total')).toBe(2);
    expect(() => execFileSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' })).not.toThrow();
  });
});
