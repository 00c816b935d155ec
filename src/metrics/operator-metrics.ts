/**
 * Every metric the operator exposes, defined once on one private prom-client Registry (never the
 * global one): the rollback metrics, the git operation metrics, the controller-runtime and
 * workqueue metrics Flux's dashboards already understand, and Node's process metrics.
 *
 * Labels are bounded: namespaces, repositories (URL host/path), target kinds, results,
 * components (directories), phases, policies. No commit SHA and no object name is ever a label,
 * and histograms carry only fixed label sets.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { BoundedLabelValues } from './bounded-label.js';

/** Phases of one rollback whose durations are observed (seconds). */
export const ROLLBACK_PHASES = ['fetch', 'compute', 'push', 'reconcile', 'total'] as const;
export type RollbackPhase = (typeof ROLLBACK_PHASES)[number];

/** Results of a finished rollback, the `result` label of gitops_rollback_total. */
export const ROLLBACK_RESULTS = ['succeeded', 'failed', 'conflict', 'blocked', 'already_reverted', 'dry_run'] as const;
export type RollbackResultLabel = (typeof ROLLBACK_RESULTS)[number];

/** Git network operations timed by gitops_rollback_git_operation_duration_seconds. */
export const GIT_OPERATIONS = ['fetch', 'push'] as const;

/** Whether a rollback found its branch in the git cache: the `result` of gitops_rollback_git_cache_total. */
export const GIT_CACHE_RESULTS = ['hit', 'miss'] as const;
/** Outcomes of one repository's cache prefetch. */
export const PREFETCH_RESULTS = ['succeeded', 'failed'] as const;

/** 0.05 s to 30 min: a cached fetch to a slow Flux apply. */
export const ROLLBACK_DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800];
/** controller-runtime's reconcile_time_seconds buckets (prometheus.DefBuckets extended to a minute). */
const RECONCILE_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5, 1.75, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9, 10,
  15, 20, 25, 30, 40, 50, 60,
];
/** client-go's workqueue buckets: 1 µs to 10^3 s, exponential by 10. */
const WORKQUEUE_BUCKETS = [1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.1, 1, 10, 100, 1000];

/** prom-client default metrics that are gauges with a `_total` suffix (a lint failure). */
const LINT_FAILING_DEFAULT_METRICS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** The operator's metrics and the registry that exposes them. */
export class OperatorMetrics {
  readonly registry = new Registry();
  /** Bounds on the tenant-controlled labels (bounded-label.ts): the first 100 values each, then "other". */
  readonly labelValues = {
    namespace: new BoundedLabelValues(),
    repository: new BoundedLabelValues(),
    component: new BoundedLabelValues(),
    policy: new BoundedLabelValues(),
    reason: new BoundedLabelValues(),
  };
  /** Run before each scrape: set gauges that are read from live state (queue depth, in progress). */
  private readonly refreshers = new Set<() => void>();

  readonly rollbacks = new Counter({
    name: 'gitops_rollback_total',
    help: 'Finished rollbacks by namespace, repository (host/path, no credentials), target kind and result.',
    labelNames: ['namespace', 'repository', 'target_kind', 'result'] as const,
    registers: [this.registry],
  });
  readonly rollbackDuration = new Histogram({
    name: 'gitops_rollback_duration_seconds',
    help: 'Duration of the phases of finished rollbacks (fetch, compute, push, reconcile) and of the whole rollback (total).',
    labelNames: ['phase'] as const,
    buckets: ROLLBACK_DURATION_BUCKETS,
    registers: [this.registry],
  });
  readonly inProgress = new Gauge({
    name: 'gitops_rollback_in_progress',
    help: 'Rollbacks started and not finished yet (Reconciling=True), including those waiting to retry.',
    registers: [this.registry],
  });
  readonly overdue = new Gauge({
    name: 'gitops_rollback_overdue',
    help: 'Rollbacks in progress for longer than their timeout.',
    registers: [this.registry],
  });
  readonly components = new Counter({
    name: 'gitops_rollback_component_total',
    help: 'Components (directories of the changed paths) rolled back by pushed rollbacks.',
    labelNames: ['repository', 'component'] as const,
    registers: [this.registry],
  });
  readonly automatic = new Counter({
    name: 'gitops_rollback_automatic_total',
    help: 'Rollbacks created automatically by a policy, by policy and trigger reason.',
    labelNames: ['policy', 'reason'] as const,
    registers: [this.registry],
  });
  readonly webhookRequests = new Counter({
    name: 'gitops_rollback_webhook_requests_total',
    help: 'Webhook requests received, by source and HTTP status code.',
    labelNames: ['source', 'code'] as const,
    registers: [this.registry],
  });
  readonly gitOperationDuration = new Histogram({
    name: 'gitops_rollback_git_operation_duration_seconds',
    help: 'Duration of git network operations of successful rollbacks (fetch, push), summed over push-race retries.',
    labelNames: ['operation'] as const,
    buckets: ROLLBACK_DURATION_BUCKETS,
    registers: [this.registry],
  });
  readonly gitOperationErrors = new Counter({
    name: 'gitops_rollback_git_operation_errors_total',
    help: 'Git operations that failed, by operation and error code.',
    labelNames: ['operation', 'error'] as const,
    registers: [this.registry],
  });
  readonly gitCache = new Counter({
    name: 'gitops_rollback_git_cache_total',
    help: 'Rollbacks whose branch was already in the git cache when they started (hit: an incremental fetch) or not (miss: a shallow clone).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly cachePrefetches = new Counter({
    name: 'gitops_rollback_cache_prefetch_total',
    help: 'Repositories fetched into the git cache ahead of any rollback, by result and error code (none on success).',
    labelNames: ['result', 'error'] as const,
    registers: [this.registry],
  });
  readonly cachePrefetchDuration = new Histogram({
    name: 'gitops_rollback_cache_prefetch_duration_seconds',
    help: 'Duration of one repository prefetch into the git cache (resolve and fetch), by result.',
    labelNames: ['result'] as const,
    buckets: ROLLBACK_DURATION_BUCKETS,
    registers: [this.registry],
  });
  readonly cacheListFailures = new Counter({
    name: 'gitops_rollback_cache_prefetch_list_failures_total',
    help: 'Prefetch passes that could not list the policies, Kustomizations or GitRepositories to fetch.',
    registers: [this.registry],
  });
  readonly cacheRepositoriesRemoved = new Counter({
    name: 'gitops_rollback_git_cache_removed_total',
    help: 'Cache repositories found broken by the integrity check at start and removed (fetched again when next needed).',
    registers: [this.registry],
  });

  // controller-runtime's names, so Flux's control-plane dashboards read them unchanged.
  readonly reconcileTotal = new Counter({
    name: 'controller_runtime_reconcile_total',
    help: 'Total number of reconciliations per controller.',
    labelNames: ['controller', 'result'] as const,
    registers: [this.registry],
  });
  readonly reconcileErrors = new Counter({
    name: 'controller_runtime_reconcile_errors_total',
    help: 'Total number of reconciliation errors per controller.',
    labelNames: ['controller'] as const,
    registers: [this.registry],
  });
  readonly reconcileTime = new Histogram({
    name: 'controller_runtime_reconcile_time_seconds',
    help: 'Length of time per reconciliation per controller.',
    labelNames: ['controller'] as const,
    buckets: RECONCILE_BUCKETS,
    registers: [this.registry],
  });
  readonly activeWorkers = new Gauge({
    name: 'controller_runtime_active_workers',
    help: 'Number of currently used workers per controller.',
    labelNames: ['controller'] as const,
    registers: [this.registry],
  });
  readonly maxConcurrentReconciles = new Gauge({
    name: 'controller_runtime_max_concurrent_reconciles',
    help: 'Maximum number of concurrent reconciles per controller.',
    labelNames: ['controller'] as const,
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'workqueue_depth',
    help: 'Current depth of workqueue.',
    labelNames: ['controller', 'name'] as const,
    registers: [this.registry],
  });
  readonly queueAdds = new Counter({
    name: 'workqueue_adds_total',
    help: 'Total number of adds handled by workqueue.',
    labelNames: ['controller', 'name'] as const,
    registers: [this.registry],
  });
  readonly queueDuration = new Histogram({
    name: 'workqueue_queue_duration_seconds',
    help: 'How long in seconds an item stays in workqueue before being requested.',
    labelNames: ['controller', 'name'] as const,
    buckets: WORKQUEUE_BUCKETS,
    registers: [this.registry],
  });
  readonly workDuration = new Histogram({
    name: 'workqueue_work_duration_seconds',
    help: 'How long in seconds processing an item from workqueue takes.',
    labelNames: ['controller', 'name'] as const,
    buckets: WORKQUEUE_BUCKETS,
    registers: [this.registry],
  });
  readonly queueRetries = new Counter({
    name: 'workqueue_retries_total',
    help: 'Total number of retries handled by workqueue.',
    labelNames: ['controller', 'name'] as const,
    registers: [this.registry],
  });

  /** Registers Node's process metrics (process_*, nodejs_*) unless `processMetrics` is false. */
  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry });
      // Gauges named *_total fail `promtool check metrics`; nodejs_active_{handles,requests,resources}
      // (without the suffix) carry the same numbers.
      for (const name of LINT_FAILING_DEFAULT_METRICS) this.registry.removeSingleMetric(name);
    }
    // Series with fixed label values exist from the start, so rate() and increase() see their
    // first increment (a series born at 1 shows no increase in Prometheus).
    for (const phase of ROLLBACK_PHASES) this.rollbackDuration.zero({ phase });
    for (const operation of GIT_OPERATIONS) this.gitOperationDuration.zero({ operation });
    for (const result of GIT_CACHE_RESULTS) this.gitCache.inc({ result }, 0);
    for (const result of PREFETCH_RESULTS) this.cachePrefetchDuration.zero({ result });
    this.cachePrefetches.inc({ result: 'succeeded', error: 'none' }, 0);
  }

  /** Adds a function that sets gauges from live state before each scrape. */
  addRefresher(refresh: () => void): void {
    this.refreshers.add(refresh);
  }

  /** The exposition text (Prometheus text format 0.0.4), after refreshing the live gauges. */
  async render(): Promise<{ contentType: string; body: string }> {
    for (const refresh of this.refreshers) {
      try {
        refresh();
      } catch {
        // A broken refresher leaves its gauges as they were.
      }
    }
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
