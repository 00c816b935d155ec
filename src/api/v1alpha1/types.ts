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

/**
 * On a Flux GitRepository: the namespaces (comma-separated, or `*`) whose GitOpsRollbacks may use
 * it through a cross-namespace sourceRef, and so push with its credentials. Required in addition
 * to the operator's --allow-cross-namespace-refs: consent comes from the repository's side.
 */
export const ALLOWED_NAMESPACES_ANNOTATION = 'rollback.gitops.dev/allowed-namespaces';
/**
 * On a Namespace: the protected kinds (comma-separated, or `*`) its GitOpsRollbacks may list in
 * spec.safety.allow. Namespace editors cannot annotate their Namespace, so the allow list is a
 * permission granted by whoever administers it, not by the requester to itself.
 */
export const SAFETY_ALLOW_ANNOTATION = 'rollback.gitops.dev/safety-allow';
/**
 * On a GitOpsRollback: who asked for it, as the API server authenticated them
 * (`request.userInfo.username`). Written on create and kept unchanged on every update by the
 * MutatingAdmissionPolicy in config/admission (without it, it is whatever the creator wrote).
 * The controller puts it into each revert commit's `Requested-By:` trailer and status.requestedBy.
 */
export const REQUESTED_BY_ANNOTATION = 'rollback.gitops.dev/requested-by';

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

/** The signing key: a Secret with `git.asc` (armored OpenPGP secret key) or `identity` (OpenSSH private key), and optionally `passphrase`. */
export interface SigningSpec {
  secretRef: LocalObjectReference;
}

/** Where the revert is pushed when not onto the target branch (as ImageUpdateAutomation's spec.git.push). */
export interface PushSpec {
  /** A new branch, created from the target branch's head; an existing branch is never overwritten. */
  branch: string;
}

export const PULL_REQUEST_PROVIDERS = ['github', 'gitlab', 'gitea'] as const;
export type PullRequestProvider = (typeof PULL_REQUEST_PROVIDERS)[number];

/** How long a rollback waits for its pull request to be merged when spec.pullRequest.timeout is unset. */
export const DEFAULT_MERGE_TIMEOUT = '24h';

/** Open a pull request (GitLab: merge request) from the push branch into the target branch. */
export interface PullRequestSpec {
  provider: PullRequestProvider;
  /** The host's REST API base URL; by default derived from the repository URL. */
  apiUrl?: string;
  /** A Secret with `token`; by default the repository Secret's bearerToken or password. */
  secretRef?: LocalObjectReference;
  /** How long to wait for the merge (Go duration). Default 24h. */
  timeout?: string;
}

export interface GitOpsRollbackSpec {
  sourceRef?: SourceReference;
  repository?: RepositorySpec;
  revert?: RevertSpec;
  restore?: RestoreSpec;
  reason?: string;
  incident?: string;
  author?: Author;
  /** Sign the revert commits with the key in this Secret (as ImageUpdateAutomation's spec.git.commit.signingKey). */
  signing?: SigningSpec;
  /** Push the revert onto a new branch instead of the target branch. */
  push?: PushSpec;
  /** Open a pull request from the push branch (default branch gitops-rollback/<name>) and wait for its merge. */
  pullRequest?: PullRequestSpec;
  dryRun?: boolean;
  /** Flux Kustomizations to wait for after the push (see ReconcileSpec). */
  reconcile?: ReconcileSpec;
  /** ImageUpdateAutomations to suspend before the push; resuming them is left to people. */
  suspendImageUpdates?: NamespacedObjectReference[];
  safety?: SafetySpec;
}

/** Safety gates: protected kinds (CRDs, PVCs, PVs, Namespaces by default) block a rollback. */
export interface SafetySpec {
  /** Kinds this rollback may delete or change despite being protected; `Unparsable` lets unparsable changed files through. */
  allow?: string[];
}

/** A Kubernetes object the rollback adds, removes or changes, and the file declaring it. */
export interface ObjectChangeStatus {
  kind: string;
  apiVersion: string;
  name: string;
  namespace?: string;
  file: string;
  change: 'added' | 'removed' | 'changed';
}

/** The safety check's verdict and what it looked at. */
export interface SafetyStatus {
  verdict: 'Passed' | 'Blocked';
  /** Protected objects removed or changed without an allow. */
  blocked?: ObjectChangeStatus[];
  /** Protected objects removed or changed, allowed by spec.safety.allow. */
  allowed?: ObjectChangeStatus[];
  /** Counts per kind. */
  summary?: { kind: string; added: number; removed: number; changed: number }[];
  /** The objects added, removed and changed (the first 100). */
  objects?: ObjectChangeStatus[];
  /** How many objects in all (objects may be cut short). */
  objectCount?: number;
  /** Changed files that did not parse or could not be followed; they block unless Unparsable is allowed. */
  unparsable?: { file: string; version: string; error: string }[];
  protectedKinds?: string[];
}

/** A Flux object by name; `namespace` defaults to the GitOpsRollback's namespace. */
export interface NamespacedObjectReference {
  name: string;
  namespace?: string;
}

/**
 * Waiting for Flux after the push. Without `kustomizations`, the Kustomizations whose sourceRef is
 * the rollback's GitRepository and whose spec.path covers a changed path are waited for.
 */
/** How long a rollback waits for Flux after its push when spec.reconcile.timeout is unset. */
export const DEFAULT_RECONCILE_TIMEOUT = '5m';

export interface ReconcileSpec {
  kustomizations?: NamespacedObjectReference[];
  /** How long to wait for them after the push (Go duration: 30s, 5m, 1h). Default 5m. */
  timeout?: string;
}

/** One Kustomization the rollback waits for, and where it stands. */
export interface KustomizationApplyStatus {
  name: string;
  namespace: string;
  /** Its status.lastAppliedRevision. */
  revision?: string;
  /** True once it applied the rollback's head and is Ready. */
  ready: boolean;
  message?: string;
}

/** Seconds spent per phase; `total` runs from the object's creation to the end (Applied, or the push). */
export interface PhaseDurations {
  resolve?: number;
  revert?: number;
  push?: number;
  apply?: number;
  total?: number;
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

/** The pull request of spec.pullRequest, as the host reported it last. */
export interface PullRequestStatus {
  provider: PullRequestProvider;
  /** The pull request's number (GitLab: the merge request's iid). */
  number: number;
  url: string;
  state: 'Open' | 'Merged' | 'Closed';
  /** Where the merge left the target branch (merge, squash or rebase commit), once merged. */
  mergeCommit?: string;
  /** When it was opened (the merge timeout starts here). */
  openedTime?: string;
}

export interface GitOpsRollbackStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  /** Who asked, as the revert commits' `Requested-By:` trailer says it (see REQUESTED_BY_ANNOTATION). */
  requestedBy?: string;
  /** The commits this rollback reverted (the first 100; see revertedCommitsCount). */
  revertedCommits?: string[];
  revertedCommitsCount?: number;
  /** The commits it pushed (the reverts, or the restore commit; the first 100). */
  revertCommits?: string[];
  revertCommitsCount?: number;
  /** Requested commits that were already reverted on the branch (the first 100). */
  alreadyReverted?: string[];
  alreadyRevertedCount?: number;
  /** Paths the rollback changed (the first 100; changedPathsCount counts them all). */
  changedPaths?: string[];
  changedPathsCount?: number;
  /** Paths that did not revert cleanly (the first 100; conflictsCount counts them all). */
  conflicts?: ConflictStatus[];
  conflictsCount?: number;
  /** The target branch's head before and after the rollback. */
  headBefore?: string;
  headAfter?: string;
  startTime?: string;
  completionTime?: string;
  /** The branch the revert was pushed to, when not the target branch (spec.push.branch). */
  pushedBranch?: string;
  pullRequest?: PullRequestStatus;
  /** When the rollback's head was pushed (the wait for apply starts here). */
  pushTime?: string;
  /** The Kustomizations waited for after the push. */
  kustomizations?: KustomizationApplyStatus[];
  /** ImageUpdateAutomations this rollback suspended (they stay suspended). */
  suspendedImageUpdates?: { name: string; namespace: string }[];
  phases?: PhaseDurations;
  safety?: SafetyStatus;
}

export interface ObjectMeta {
  name?: string;
  /** On create only: the API server appends five random characters. */
  generateName?: string;
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
