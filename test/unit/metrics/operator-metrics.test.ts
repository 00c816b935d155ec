/**
 * The metrics the operator records, read back from its private registry's exposition, and
 * linted by `promtool check metrics` (Debian's prometheus package).
 */
import { execFileSync } from 'node:child_process';
import { WorkQueue, type ProcessResult } from '../../../src/controller/work-queue.js';
import type { GitOpsRollback } from '../../../src/api/v1alpha1/types.js';
import type { RollbackResult } from '../../../src/git/engine.js';
import { AuthFailedError, GitTimeoutError } from '../../../src/git/errors.js';
import { instrumentEngine } from '../../../src/metrics/engine-metrics.js';
import { OperatorMetrics } from '../../../src/metrics/operator-metrics.js';
import { RollbackMetrics } from '../../../src/metrics/rollback-metrics.js';
import { eventually } from '../../helpers/eventually.js';
import { recordAutomaticRollback, recordWebhookRequest } from '../../../src/metrics/trigger-metrics.js';
import { createWorkQueueHooks, observeWorkQueue } from '../../../src/metrics/work-queue-metrics.js';

const URL = 'https://flux:pa55word@git.example.com/org/fleet.git';

function makeRollback(name: string, spec: Partial<GitOpsRollback['spec']> = {}, startTime?: string): GitOpsRollback {
  return {
    apiVersion: 'rollback.gitops.dev/v1alpha1',
    kind: 'GitOpsRollback',
    metadata: { name, namespace: 'shop', uid: `uid-${name}` },
    spec: { repository: { url: URL, branch: 'main' }, revert: { commits: ['a'.repeat(40)] }, ...spec },
    status: startTime ? { startTime } : undefined,
  };
}

function makeResult(overrides: Partial<RollbackResult> = {}): RollbackResult {
  return {
    result: 'reverted',
    branch: 'main',
    previousHead: 'b'.repeat(40),
    head: 'c'.repeat(40),
    commits: [],
    alreadyReverted: [],
    empty: [],
    changedPaths: ['apps/frontend/deploy.yaml', 'apps/frontend/hpa.yaml', 'apps/backend/deploy.yaml'],
    signed: false,
    attempts: 1,
    durations: { fetch: 120, compute: 30, push: 80 },
    ...overrides,
  };
}

/** The value of one sample line of the exposition, or undefined. */
function sample(exposition: string, series: string): number | undefined {
  const line = exposition.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('rollback metrics', () => {
  test('a pushed rollback counts its result, phases, total and components; credentials appear nowhere', async () => {
    let now = 1_000_000;
    const metrics = new OperatorMetrics({ processMetrics: false });
    const observer = new RollbackMetrics(metrics, { now: () => now });
    const rollback = makeRollback('rb');
    observer.onProgress(rollback);
    expect(sample((await metrics.render()).body, 'gitops_rollback_in_progress')).toBe(1);
    now += 2_500;
    observer.onFinished({ rollback, reason: 'Succeeded', ready: true, repositoryUrl: URL, result: makeResult() });

    const { body } = await metrics.render();
    const labels = 'namespace="shop",repository="git.example.com/org/fleet",target_kind="commit"';
    expect(sample(body, `gitops_rollback_total{${labels},result="succeeded"}`)).toBe(1);
    expect(sample(body, `gitops_rollback_total{${labels},result="conflict"}`)).toBe(0);
    expect(sample(body, 'gitops_rollback_in_progress')).toBe(0);
    expect(sample(body, 'gitops_rollback_duration_seconds_sum{phase="total"}')).toBe(2.5);
    expect(sample(body, 'gitops_rollback_duration_seconds_count{phase="reconcile"}')).toBe(0);
    expect(sample(body, 'gitops_rollback_component_total{repository="git.example.com/org/fleet",component="apps/frontend"}')).toBe(1);
    expect(sample(body, 'gitops_rollback_component_total{repository="git.example.com/org/fleet",component="apps/backend"}')).toBe(1);
    expect(body).not.toContain('pa55word');
  });

  test('a rollback finished after waiting for Flux counts the apply wait as phase reconcile and its pushed components', async () => {
    const metrics = new OperatorMetrics({ processMetrics: false });
    const observer = new RollbackMetrics(metrics);
    const rollback = makeRollback('rb', {}, new Date(Date.now() - 30_000).toISOString());
    rollback.status = { ...rollback.status, phases: { push: 0.1, apply: 12.5 }, revertCommits: ['c'.repeat(40)], changedPaths: ['apps/frontend/deploy.yaml'] };
    observer.onFinished({ rollback, reason: 'Succeeded', ready: true, repositoryUrl: URL });
    const { body } = await metrics.render();
    expect(sample(body, 'gitops_rollback_duration_seconds_sum{phase="reconcile"}')).toBe(12.5);
    expect(sample(body, 'gitops_rollback_duration_seconds_sum{phase="total"}')).toBeGreaterThanOrEqual(30);
    expect(sample(body, 'gitops_rollback_component_total{repository="git.example.com/org/fleet",component="apps/frontend"}')).toBe(1);
  });

  test.each([
    ['RevertConflict', false, 'conflict'],
    ['SafetyCheckFailed', false, 'blocked'],
    ['AlreadyReverted', true, 'already_reverted'],
    ['CommitNotFound', false, 'failed'],
  ])('%s counts result %s and no component', async (reason, ready, result) => {
    const metrics = new OperatorMetrics({ processMetrics: false });
    const observer = new RollbackMetrics(metrics);
    const rollback = makeRollback('rb', { revert: { range: { from: 'a'.repeat(40), to: 'b'.repeat(40) } } });
    observer.onFinished({
      rollback,
      reason,
      ready,
      repositoryUrl: URL,
      result: ready ? makeResult({ result: 'already-reverted', changedPaths: [] }) : undefined,
    });
    const { body } = await metrics.render();
    expect(sample(body, `gitops_rollback_total{namespace="shop",repository="git.example.com/org/fleet",target_kind="range",result="${result}"}`)).toBe(1);
    expect(body).not.toMatch(/^gitops_rollback_component_total\{/m);
  });

  test('a rollback in progress longer than its Flux wait timeout plus the grace is overdue until it finishes or is forgotten', async () => {
    let now = Date.parse('2025-01-01T00:00:00Z');
    const metrics = new OperatorMetrics({ processMetrics: false });
    const observer = new RollbackMetrics(metrics, { now: () => now, defaultTimeoutSeconds: 300, graceSeconds: 300 });
    observer.onProgress(makeRollback('old', {}, '2024-12-31T23:45:00Z'));
    observer.onProgress(makeRollback('short', { reconcile: { timeout: '30s' } }));
    observer.onProgress(makeRollback('fresh'));
    now += 6 * 60_000;
    let { body } = await metrics.render();
    expect(sample(body, 'gitops_rollback_in_progress')).toBe(3);
    expect(sample(body, 'gitops_rollback_overdue')).toBe(2);
    observer.onForgotten('shop/old');
    ({ body } = await metrics.render());
    expect(sample(body, 'gitops_rollback_in_progress')).toBe(2);
    expect(sample(body, 'gitops_rollback_overdue')).toBe(1);
  });

  test('webhook requests and automatic rollbacks are counted with sanitized labels', async () => {
    const metrics = new OperatorMetrics({ processMetrics: false });
    recordWebhookRequest(metrics, 'flux', 403);
    recordWebhookRequest(metrics, 'flux', 403);
    recordAutomaticRollback(metrics, 'shop/frontend-slo', 'High error rate!');
    const { body } = await metrics.render();
    expect(sample(body, 'gitops_rollback_webhook_requests_total{source="flux",code="403"}')).toBe(2);
    expect(sample(body, 'gitops_rollback_automatic_total{policy="shop/frontend-slo",reason="High_error_rate_"}')).toBe(1);
  });
});

describe('bounded labels', () => {
  /** The distinct values of `label` in the series of `metric`. */
  const valuesOf = (exposition: string, metric: string, label: string) =>
    new Set(
      exposition
        .split('\n')
        .filter((l) => l.startsWith(`${metric}{`))
        .map((l) => new RegExp(`${label}="([^"]*)"`).exec(l)?.[1]),
    );

  test('150 tenant repositories, components and policies make at most 100 series each plus "other"; long values are cut', async () => {
    const metrics = new OperatorMetrics({ processMetrics: false });
    const observer = new RollbackMetrics(metrics);
    for (let i = 0; i < 150; i++) {
      const url = `https://git.example.com/tenant-${i}/${'x'.repeat(300)}.git`;
      observer.onFinished({
        rollback: makeRollback(`rb-${i}`, { repository: { url, branch: 'main' } }),
        reason: 'Succeeded',
        ready: true,
        repositoryUrl: url,
        result: makeResult({ changedPaths: [`c${i}/d/f.yaml`] }),
      });
      recordAutomaticRollback(metrics, `ns/policy-${i}`, `Reason${i}`);
    }
    const { body } = await metrics.render();
    const repositories = valuesOf(body, 'gitops_rollback_total', 'repository');
    expect(repositories.size).toBe(101);
    expect(repositories).toContain('other');
    expect(Math.max(...[...repositories].map((r) => r!.length))).toBeLessThanOrEqual(128);
    expect(valuesOf(body, 'gitops_rollback_component_total', 'component').size).toBe(101);
    expect(valuesOf(body, 'gitops_rollback_automatic_total', 'policy').size).toBe(101);
    expect(valuesOf(body, 'gitops_rollback_automatic_total', 'reason').size).toBe(101);
  });
});

describe('git operation metrics', () => {
  test('a successful run times fetch and push; failed network operations count by code', async () => {
    const metrics = new OperatorMetrics({ processMetrics: false });
    const results: (RollbackResult | Error)[] = [
      makeResult(),
      new AuthFailedError({ url: 'https://git.example.com/x.git' } as never),
      new GitTimeoutError({ operation: 'Push', url: 'u', timeoutMs: 1 }),
    ];
    const engine = instrumentEngine(metrics, async () => {
      const next = results.shift()!;
      if (next instanceof Error) throw next;
      return next;
    });
    const request = { repository: { url: URL, branch: 'main' }, action: { kind: 'revert' as const, commits: ['a'] } };
    await engine(request);
    await expect(engine(request)).rejects.toBeInstanceOf(AuthFailedError);
    await expect(engine(request)).rejects.toBeInstanceOf(GitTimeoutError);
    const { body } = await metrics.render();
    expect(sample(body, 'gitops_rollback_git_operation_duration_seconds_sum{operation="fetch"}')).toBe(0.12);
    expect(sample(body, 'gitops_rollback_git_operation_duration_seconds_sum{operation="push"}')).toBe(0.08);
    expect(sample(body, 'gitops_rollback_duration_seconds_sum{phase="fetch"}')).toBe(0.12);
    expect(sample(body, 'gitops_rollback_duration_seconds_sum{phase="compute"}')).toBe(0.03);
    expect(sample(body, 'gitops_rollback_duration_seconds_sum{phase="push"}')).toBe(0.08);
    expect(sample(body, 'gitops_rollback_git_operation_errors_total{operation="fetch",error="AuthFailedError"}')).toBe(1);
    expect(sample(body, 'gitops_rollback_git_operation_errors_total{operation="push",error="GitTimeoutError"}')).toBe(1);
  });
});

describe('controller-runtime metrics from the work queue hooks', () => {
  test('adds, retries, errors, successes, depth and workers are counted as controller-runtime does', async () => {
    const metrics = new OperatorMetrics({ processMetrics: false });
    let failures = 1;
    const queue = new WorkQueue({
      concurrency: 2,
      baseDelayMs: 1,
      hooks: createWorkQueueHooks(metrics, 'gitopsrollback', 2),
      random: () => 0,
      process: async (key): Promise<ProcessResult> => (key === 'shop/flaky' && failures-- > 0 ? { error: new Error('boom'), retry: true } : {}),
    });
    observeWorkQueue(metrics, 'gitopsrollback', queue);
    queue.add('shop/a');
    queue.add('shop/flaky');
    expect(sample((await metrics.render()).body, 'workqueue_depth{controller="gitopsrollback",name="gitopsrollback"}')).toBe(2);
    queue.start();
    const q = 'controller="gitopsrollback",name="gitopsrollback"';
    // Drained: all three runs (one a retry) recorded.
    const { body } = await eventually(
      'the queue to drain',
      async () => {
        const rendered = await metrics.render();
        return queue.active + queue.depth === 0 && sample(rendered.body, `workqueue_work_duration_seconds_count{${q}}`) === 3 ? rendered : undefined;
      },
      { timeoutMs: 5000, intervalMs: 10 },
    );
    expect(sample(body, `workqueue_adds_total{${q}}`)).toBe(3);
    expect(sample(body, `workqueue_retries_total{${q}}`)).toBe(1);
    expect(sample(body, `workqueue_depth{${q}}`)).toBe(0);
    expect(sample(body, `workqueue_work_duration_seconds_count{${q}}`)).toBe(3);
    expect(sample(body, 'controller_runtime_reconcile_total{controller="gitopsrollback",result="success"}')).toBe(2);
    expect(sample(body, 'controller_runtime_reconcile_total{controller="gitopsrollback",result="error"}')).toBe(1);
    expect(sample(body, 'controller_runtime_reconcile_errors_total{controller="gitopsrollback"}')).toBe(1);
    expect(sample(body, 'controller_runtime_active_workers{controller="gitopsrollback"}')).toBe(0);
    expect(sample(body, 'controller_runtime_max_concurrent_reconciles{controller="gitopsrollback"}')).toBe(2);
    expect(sample(body, 'controller_runtime_reconcile_time_seconds_count{controller="gitopsrollback"}')).toBe(3);
  });
});

describe('the exposition', () => {
  test('passes promtool check metrics, Node process metrics included', async () => {
    const metrics = new OperatorMetrics();
    const observer = new RollbackMetrics(metrics);
    createWorkQueueHooks(metrics, 'gitopsrollback', 4);
    observer.onFinished({ rollback: makeRollback('rb'), reason: 'Succeeded', ready: true, repositoryUrl: URL, result: makeResult() });
    recordWebhookRequest(metrics, 'alertmanager', 202);
    recordAutomaticRollback(metrics, 'shop/p', 'HighErrorRate');
    const { body, contentType } = await metrics.render();
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(body).toMatch(/^process_resident_memory_bytes /m);
    expect(body).toMatch(/^nodejs_eventloop_lag_seconds /m);
    expect(() => execFileSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' })).not.toThrow();
  });
});
