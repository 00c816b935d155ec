/**
 * The GitOpsRollback resource (rollback.gitops.dev/v1alpha1): the contract users write and the
 * controller reports on. Pure data; the OpenAPI schema in ./schema.ts describes the same shape.
 */

export const GROUP = 'rollback.gitops.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'GitOpsRollback';
export const PLURAL = 'gitopsrollbacks';
export const SINGULAR = 'gitopsrollback';
export const SHORT_NAMES = ['gor', 'rollback'];

/** A Flux GitRepository the rollback targets; its url, ref.branch and secretRef are used. */
export interface SourceReference {
  kind: 'GitRepository';
  name: string;
  /** Defaults to the GitOpsRollback's namespace; other namespaces need the operator's permission. */
  namespace?: string;
}

export interface LocalObjectReference {
  name: string;
}

/** A repository given inline instead of through Flux. */
export interface RepositorySpec {
  url: string;
  branch: string;
  /** A Secret in the same namespace, in Flux's format: username/password, or bearerToken. */
  secretRef?: LocalObjectReference;
}

export interface CommitRange {
  /** Exclusive: the last good commit. */
  from: string;
  /** Inclusive: the newest commit to revert. */
  to: string;
}

export interface RevertSpec {
  commits?: string[];
  range?: CommitRange;
  /** For merge commits: the parent number to revert to (git revert -m). */
  mainline?: number;
  /** Limit the revert to these paths (partial rollback of one component). */
  paths?: string[];
  /** One commit for all reverts instead of one per reverted commit. */
  squash?: boolean;
}

export interface RestoreSpec {
  /** The known-good revision the paths are restored to. */
  revision: string;
  paths: string[];
}

export interface Author {
  name: string;
  email: string;
}

export interface GitOpsRollbackSpec {
  sourceRef?: SourceReference;
  repository?: RepositorySpec;
  revert?: RevertSpec;
  restore?: RestoreSpec;
  reason?: string;
  incident?: string;
  author?: Author;
  dryRun?: boolean;
}

/** metav1.Condition. */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

export interface ConflictStatus {
  path: string;
  reason: string;
}

export interface GitOpsRollbackStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  /** The commits this rollback reverted. */
  revertedCommits?: string[];
  /** The commits it pushed (the reverts, or the restore commit). */
  revertCommits?: string[];
  /** Requested commits that were already reverted on the branch. */
  alreadyReverted?: string[];
  changedPaths?: string[];
  conflicts?: ConflictStatus[];
  /** The target branch's head before and after the rollback. */
  headBefore?: string;
  headAfter?: string;
  startTime?: string;
  completionTime?: string;
}

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
}

export interface GitOpsRollback {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: ObjectMeta;
  spec: GitOpsRollbackSpec;
  status?: GitOpsRollbackStatus;
}
