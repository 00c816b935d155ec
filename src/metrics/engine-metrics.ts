/**
 * Metrics around the revert engine, without touching it (src/git knows nothing of metrics): the
 * rollback phases of each successful run (gitops_rollback_duration_seconds{phase=fetch|compute|
 * push}), the git network time (gitops_rollback_git_operation_duration_seconds{operation}) and
 * failed operations by error code (gitops_rollback_git_operation_errors_total{operation, error}).
 */
import type { RollbackRequest, RollbackResult } from '../git/engine.js';
import type { OperatorMetrics } from './operator-metrics.js';

type Engine<Rest extends unknown[]> = (request: RollbackRequest, ...rest: Rest) => Promise<RollbackResult>;

/** Error codes of the engine that come from a git network operation (src/git/errors.ts). */
const NETWORK_ERRORS = new Set(['GitTimeoutError', 'RemoteError', 'AuthFailedError', 'RepositoryNotFoundError', 'PushRejectedError']);

/** Wraps the engine so each run records its git operations. Results and errors pass through. */
export function instrumentEngine<Rest extends unknown[]>(metrics: OperatorMetrics, runEngine: Engine<Rest>): Engine<Rest> {
  // Every error series exists from the start at 0, so increase() sees the first failure too.
  for (const error of NETWORK_ERRORS) for (const operation of ['fetch', 'push']) metrics.gitOperationErrors.inc({ operation, error }, 0);
  return async (request, ...rest) => {
    try {
      const result = await runEngine(request, ...rest);
      const { fetch, compute, push } = result.durations;
      const pushed = result.result === 'reverted';
      metrics.gitOperationDuration.observe({ operation: 'fetch' }, fetch / 1000);
      if (pushed) metrics.gitOperationDuration.observe({ operation: 'push' }, push / 1000);
      metrics.rollbackDuration.observe({ phase: 'fetch' }, fetch / 1000);
      metrics.rollbackDuration.observe({ phase: 'compute' }, compute / 1000);
      if (pushed) metrics.rollbackDuration.observe({ phase: 'push' }, push / 1000);
      return result;
    } catch (error) {
      const code = (error as { code?: unknown })?.code;
      if (typeof code === 'string' && NETWORK_ERRORS.has(code)) metrics.gitOperationErrors.inc({ operation: operationOf(error, code), error: code });
      throw error;
    }
  };
}

/** fetch or push: from the error's data when it says, else from its kind. */
function operationOf(error: unknown, code: string): string {
  if (code === 'PushRejectedError') return 'push';
  const named = (error as { data?: { operation?: unknown } }).data?.operation;
  if (typeof named === 'string' && /push|receive/i.test(named)) return 'push';
  return 'fetch';
}
