/**
 * What the reconciler needs from the outside world, as plain interfaces: the cluster (read
 * objects, write status, record events) and the revert engine. src/kube implements the cluster
 * side; unit tests use fakes at exactly this boundary.
 */
import type { GitOpsRollback } from '../api/v1alpha1/types.js';
import type { GitRepositoryView } from '../flux/git-repository.js';
import type { EngineOptions, RollbackRequest, RollbackResult } from '../git/engine.js';
import type { SafetyPolicy, SafetyVerdict } from '../safety/evaluate-safety.js';
import type { MergePatch } from './merge-patch.js';

export interface ClusterPort {
  /** The rollback as stored now, or null when it is gone. */
  getRollback(namespace: string, name: string): Promise<GitOpsRollback | null>;
  /** Applies a JSON merge patch to the status (the /status subresource); see ./status-write.ts. */
  patchRollbackStatus(rollback: GitOpsRollback, patch: MergePatch): Promise<void>;
  getGitRepository(namespace: string, name: string): Promise<GitRepositoryView | null>;
  /** The Secret's data, decoded; null when it does not exist. */
  getSecretData(namespace: string, name: string): Promise<Record<string, string> | null>;
  /** A Namespace's annotations (the safety-allow grant); null when it does not exist. Absent: nothing granted. */
  getNamespaceAnnotations?(name: string): Promise<Record<string, string> | null>;
  recordEvent(rollback: GitOpsRollback, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
}

/** What a reconcile hands the engine besides the request. */
export interface EngineHooks {
  /**
   * The safety gate's policy. The gate runs inside the engine run (in the operator, a worker
   * process): plain data, so it can cross.
   */
  safety?: SafetyPolicy;
  /** Told the gate's verdict once it judged the change (also when it blocked). */
  onVerdict?: (verdict: SafetyVerdict) => void;
  /** Runs right before the push, once the change is computed and passed the gate. */
  beforePublish?: EngineOptions['beforePublish'];
  /** Aborts the run at a safe point: before the push, never during it. */
  signal?: AbortSignal;
}

/** Runs the engine with the safety gate of `hooks.safety` (see ./engine-run.ts, ./engine-worker.ts). */
export type RunEngine = (request: RollbackRequest, hooks?: EngineHooks) => Promise<RollbackResult>;
