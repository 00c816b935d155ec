/**
 * controller-runtime's controller and workqueue metrics, from the work queue's hooks
 * (src/controller/work-queue.ts WorkQueueHooks, implemented structurally):
 * controller_runtime_reconcile_total{controller,result}, controller_runtime_reconcile_errors_total,
 * controller_runtime_reconcile_time_seconds, controller_runtime_active_workers,
 * controller_runtime_max_concurrent_reconciles, workqueue_depth, workqueue_adds_total,
 * workqueue_queue_duration_seconds, workqueue_work_duration_seconds, workqueue_retries_total.
 */
import type { OperatorMetrics } from './operator-metrics.js';

/** The queue's live numbers, read before each scrape. */
export interface QueueState {
  readonly depth: number;
  readonly active: number;
}

/** The hooks object the work queue takes (same shape as WorkQueueHooks). */
export interface QueueHooks {
  onAdd(key: string): void;
  onStart(key: string, waitedMs: number): void;
  onDone(key: string, durationMs: number, outcome: 'success' | 'retry' | 'error'): void;
  onRetry(key: string, delayMs: number, failures: number, error: unknown): void;
}

/**
 * Creates the work queue hooks of one controller. `controller` is both the `controller` and the
 * `name` label, as controller-runtime names a controller's queue after it.
 */
export function createWorkQueueHooks(metrics: OperatorMetrics, controller: string, maxConcurrentReconciles: number): QueueHooks {
  const labels = { controller, name: controller };
  metrics.maxConcurrentReconciles.set({ controller }, maxConcurrentReconciles);
  metrics.activeWorkers.set({ controller }, 0);
  metrics.queueDepth.set(labels, 0);
  metrics.queueAdds.inc(labels, 0);
  metrics.queueRetries.inc(labels, 0);
  metrics.reconcileErrors.inc({ controller }, 0);
  for (const result of ['success', 'error', 'requeue', 'requeue_after']) metrics.reconcileTotal.inc({ controller, result }, 0);
  metrics.queueDuration.zero(labels);
  metrics.workDuration.zero(labels);
  metrics.reconcileTime.zero({ controller });
  return {
    onAdd: () => {
      metrics.queueAdds.inc(labels);
      metrics.queueDepth.inc(labels);
    },
    onStart: (_key, waitedMs) => {
      metrics.queueDepth.dec(labels);
      metrics.activeWorkers.inc({ controller });
      metrics.queueDuration.observe(labels, waitedMs / 1000);
    },
    onDone: (_key, durationMs, outcome) => {
      metrics.activeWorkers.dec({ controller });
      metrics.workDuration.observe(labels, durationMs / 1000);
      metrics.reconcileTime.observe({ controller }, durationMs / 1000);
      metrics.reconcileTotal.inc({ controller, result: outcome === 'success' ? 'success' : 'error' });
      if (outcome !== 'success') metrics.reconcileErrors.inc({ controller });
    },
    onRetry: () => metrics.queueRetries.inc(labels),
  };
}

/**
 * Reads the queue's depth and active workers before each scrape, correcting the gauges the
 * hooks keep (a shutdown drops waiting keys without hooks).
 */
export function observeWorkQueue(metrics: OperatorMetrics, controller: string, queue: QueueState): void {
  metrics.addRefresher(() => {
    metrics.queueDepth.set({ controller, name: controller }, queue.depth);
    metrics.activeWorkers.set({ controller }, queue.active);
  });
}
