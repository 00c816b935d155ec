/**
 * What the reconciler needs from the outside world, as plain interfaces: the cluster (read
 * objects, write status, record events) and the revert engine. src/kube implements the cluster
 * side; unit tests use fakes at exactly this boundary.
 */
import type { GitOpsRollback, GitOpsRollbackStatus } from '../api/v1alpha1/types.js';
import type { EngineOptions, RollbackRequest, RollbackResult } from '../git/engine.js';

/** The parts of a Flux GitRepository (source.toolkit.fluxcd.io/v1) a rollback uses. */
export interface GitRepositoryView {
  url: string;
  ref?: { branch?: string; tag?: string; semver?: string; commit?: string; name?: string };
  secretRef?: { name: string };
  /** metadata.annotations (the cross-namespace consent, ALLOWED_NAMESPACES_ANNOTATION). */
  annotations?: Record<string, string>;
}

export interface ClusterPort {
  /** The rollback as stored now, or null when it is gone. */
  getRollback(namespace: string, name: string): Promise<GitOpsRollback | null>;
  /** Replaces the status (the /status subresource). */
  patchRollbackStatus(rollback: GitOpsRollback, status: GitOpsRollbackStatus): Promise<void>;
  getGitRepository(namespace: string, name: string): Promise<GitRepositoryView | null>;
  /** The Secret's data, decoded; null when it does not exist. */
  getSecretData(namespace: string, name: string): Promise<Record<string, string> | null>;
  /** A Namespace's annotations (the safety-allow grant); null when it does not exist. Absent: nothing granted. */
  getNamespaceAnnotations?(name: string): Promise<Record<string, string> | null>;
  recordEvent(rollback: GitOpsRollback, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
}

/** Runs the engine; `hooks.inspect` sees the computed change before anything is published. */
export type RunEngine = (request: RollbackRequest, hooks?: Pick<EngineOptions, 'inspect'>) => Promise<RollbackResult>;
