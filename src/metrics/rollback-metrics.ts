/**
 * Records rollbacks into the operator's metrics. Implements the reconciler's RollbackObserver
 * (src/controller/rollback-observer.ts) structurally, without importing the controller:
 * gitops_rollback_total, gitops_rollback_duration_seconds{phase="total"|"reconcile"}, gitops_rollback_in_progress,
 * gitops_rollback_overdue and gitops_rollback_component_total.
 */
import { DEFAULT_RECONCILE_TIMEOUT, type GitOpsRollback } from '../api/v1alpha1/types.js';
import { parseDuration } from '../flux/duration.js';
import { isCommitOnBranch } from '../git/commit-on-branch.js';
import type { RollbackResult } from '../git/engine.js';
import { toComponents, toRepositoryLabel, toResultLabel, toTargetKind } from './labels.js';
import { ROLLBACK_RESULTS, type OperatorMetrics, type RollbackPhase } from './operator-metrics.js';
import { objectKey } from '../object-key.js';

/** The Flux wait's default timeout (spec.reconcile.timeout unset), seconds. */
export const DEFAULT_APPLY_TIMEOUT_SECONDS = parseDuration(DEFAULT_RECONCILE_TIMEOUT) / 1000;
/** Time allowed on top of the Flux wait for the git part (fetch, compute, push, retries), seconds. */
export const DEFAULT_GRACE_SECONDS = 300;

/** The finished event, as the reconciler sends it. */
export interface FinishedRollback {
  rollback: GitOpsRollback;
  reason: string;
  ready: boolean;
  repositoryUrl?: string;
  result?: RollbackResult;
}

export interface RollbackMetricsOptions {
  /** Flux wait timeout of rollbacks whose spec.reconcile.timeout is unset (seconds). */
  defaultTimeoutSeconds?: number;
  /** Allowance on top of the timeout before a rollback counts as overdue (seconds). */
  graceSeconds?: number;
  now?: () => number;
}

interface Tracked {
  startedAt: number;
  timeoutMs: number;
}

/** Observes rollbacks for the metrics; pass it as the reconciler's `observer`. */
export class RollbackMetrics {
  private readonly inFlight = new Map<string, Tracked>();
  private readonly now: () => number;
  private readonly defaultTimeoutMs: number;
  private readonly graceMs: number;

  constructor(
    private readonly metrics: OperatorMetrics,
    options: RollbackMetricsOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.defaultTimeoutMs = (options.defaultTimeoutSeconds ?? DEFAULT_APPLY_TIMEOUT_SECONDS) * 1000;
    this.graceMs = (options.graceSeconds ?? DEFAULT_GRACE_SECONDS) * 1000;
    metrics.addRefresher(() => this.refreshGauges());
    this.refreshGauges();
  }

  /** A rollback is being worked on: it counts as in progress from its status.startTime. */
  onProgress(rollback: GitOpsRollback): void {
    const key = objectKey(rollback);
    if (this.inFlight.has(key)) return;
    const persisted = rollback.status?.startTime ? Date.parse(rollback.status.startTime) : NaN;
    this.inFlight.set(key, { startedAt: Number.isNaN(persisted) ? this.now() : persisted, timeoutMs: this.timeoutOf(rollback) });
    this.refreshGauges();
  }

  /** Counts the outcome, observes the phases' and the total duration, counts the components. */
  onFinished(event: FinishedRollback): void {
    const { rollback } = event;
    const key = objectKey(rollback);
    const tracked = this.inFlight.get(key);
    this.inFlight.delete(key);
    this.refreshGauges();

    const bounds = this.metrics.labelValues;
    const labels = {
      namespace: bounds.namespace.bound(rollback.metadata.namespace ?? ''),
      repository: bounds.repository.bound(toRepositoryLabel(event.repositoryUrl ?? rollback.spec.repository?.url)),
      target_kind: toTargetKind(rollback.spec),
    };
    // Every result exists once a repository has been seen, so its first increment shows in increase().
    for (const result of ROLLBACK_RESULTS) this.metrics.rollbacks.inc({ ...labels, result }, 0);
    const result = toResultLabel(event.reason, event.ready);
    this.metrics.rollbacks.inc({ ...labels, result });

    // fetch, compute and push are observed per engine run (instrumentEngine); here the whole
    // rollback and the wait for Flux to apply it (status.phases.apply, seconds).
    const startedAt = tracked?.startedAt ?? (rollback.status?.startTime ? Date.parse(rollback.status.startTime) : NaN);
    if (!Number.isNaN(startedAt)) this.observe('total', Math.max(0, this.now() - startedAt));
    const apply = rollback.status?.phases?.apply;
    if (typeof apply === 'number') this.observe('reconcile', apply * 1000);

    for (const component of toComponents(pushedPaths(event)))
      this.metrics.components.inc({ repository: labels.repository, component: bounds.component.bound(component) });
  }

  /** The object is gone or finished: no longer in progress. */
  onForgotten(key: string): void {
    if (this.inFlight.delete(key)) this.refreshGauges();
  }

  private observe(phase: RollbackPhase, ms: number): void {
    this.metrics.rollbackDuration.observe({ phase }, ms / 1000);
  }

  private refreshGauges(): void {
    const now = this.now();
    let overdue = 0;
    for (const { startedAt, timeoutMs } of this.inFlight.values()) if (now - startedAt > timeoutMs) overdue++;
    this.metrics.inProgress.set(this.inFlight.size);
    this.metrics.overdue.set(overdue);
  }

  /** How long the rollback may take: its Flux wait timeout (spec.reconcile.timeout) plus the grace. */
  private timeoutOf(rollback: GitOpsRollback): number {
    const value = rollback.spec.reconcile?.timeout;
    const ms = typeof value === 'string' ? parseDurationMs(value) : undefined;
    return (ms ?? this.defaultTimeoutMs) + this.graceMs;
  }
}

/** The changed paths of a rollback that put a commit on the branch; none otherwise. */
function pushedPaths(event: FinishedRollback): string[] {
  if (event.result) return isCommitOnBranch(event.result) ? event.result.changedPaths : [];
  const status = event.rollback.status;
  return event.ready && (status?.revertCommits?.length ?? 0) > 0 ? (status?.changedPaths ?? []) : [];
}

/** Parses a Go/Kubernetes duration (`90s`, `15m`, `1h30m`, `1.5h`); undefined when invalid. */
export function parseDurationMs(value: string): number | undefined {
  try {
    return parseDuration(value);
  } catch {
    return undefined;
  }
}
