/**
 * What the reconciler tells an observer (metrics, in the operator) about rollbacks. Plain data
 * and an interface: the controller never depends on the metrics that implement it; main.ts wires
 * them. Every callback is optional and must not throw (the reconciler swallows what it throws).
 */
import type { GitOpsRollback } from '../api/v1alpha1/types.js';
import type { RollbackResult } from '../git/engine.js';

/** A rollback reached a terminal state: Ready=True, or Stalled=True. */
export interface RollbackFinishedEvent {
  rollback: GitOpsRollback;
  /** The reason of the Ready condition (Succeeded, AlreadyReverted, RevertConflict...). */
  reason: string;
  /** Ready=True (the rollback did what it was asked) rather than Stalled=True. */
  ready: boolean;
  /** The repository URL (credentials are never part of it), when it was resolved. */
  repositoryUrl?: string;
  /** The engine's result, on success: phases' durations and the changed paths. */
  result?: RollbackResult;
}

/** Observes rollbacks as the reconciler works on them. */
export interface RollbackObserver {
  /** A reconcile works on an unfinished rollback (Reconciling=True). Called on every attempt. */
  onProgress?(rollback: GitOpsRollback): void;
  /** The rollback finished; called once per rollback by the reconcile that finished it. */
  onFinished?(event: RollbackFinishedEvent): void;
  /** The object `namespace/name` is gone, being deleted, or already finished: forget it. */
  onForgotten?(key: string): void;
}

/** Calls an observer; an observer that throws must not break a reconcile. */
export function notifyObserver(call: () => void): void {
  try {
    call();
  } catch {
    // Observers (metrics) are best effort.
  }
}
