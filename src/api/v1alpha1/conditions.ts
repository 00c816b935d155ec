/**
 * Condition types and reasons of GitOpsRollback, following kstatus: `Ready` summarizes,
 * `Reconciling=True` while working, `Stalled=True` on a terminal failure. Reasons are one
 * CamelCase word.
 */

export const ConditionType = {
  Ready: 'Ready',
  Reconciling: 'Reconciling',
  Stalled: 'Stalled',
  /** The revert (or restore) was computed without conflict. */
  Reverted: 'Reverted',
  /** The result is on the remote branch. */
  Pushed: 'Pushed',
  /** The pull request of spec.pullRequest was merged (Unknown while open, False when closed unmerged). */
  Merged: 'Merged',
  /** Flux applied the pushed commit: every awaited Kustomization reports it and is Ready. */
  Applied: 'Applied',
} as const;

export const Reason = {
  // Progress and success.
  Progressing: 'Progressing',
  Succeeded: 'Succeeded',
  /** Pushed; Flux was asked to reconcile and the Kustomizations have not applied it yet. */
  WaitingForApply: 'WaitingForApply',
  /** Pushed to spec.push.branch; the pull request is open and not merged yet. */
  WaitingForMerge: 'WaitingForMerge',
  /** Pushed to spec.push.branch without a pull request: done, merging is left to people. */
  PushedToBranch: 'PushedToBranch',
  AlreadyReverted: 'AlreadyReverted',
  NothingToRevert: 'NothingToRevert',
  DryRunSucceeded: 'DryRunSucceeded',
  // Events only (never a condition's reason).
  /** Event: Flux applied the rollback's commit (Applied=True). */
  Applied: 'Applied',
  /** Event: the ImageUpdateAutomations of spec.suspendImageUpdates were suspended before the push. */
  ImageUpdatesSuspended: 'ImageUpdatesSuspended',
  /** Event: the pull request of spec.pullRequest was opened (or found open). */
  PullRequestOpened: 'PullRequestOpened',
  /** Event: the pull request was merged. */
  PullRequestMerged: 'PullRequestMerged',
  /** Event: nothing was pushed, so the automations this run suspended were resumed. */
  ImageUpdatesResumed: 'ImageUpdatesResumed',
  // Stalling: the user must act.
  InvalidSpec: 'InvalidSpec',
  SourceNotFound: 'SourceNotFound',
  UnsupportedSourceRef: 'UnsupportedSourceRef',
  CrossNamespaceRefForbidden: 'CrossNamespaceRefForbidden',
  SecretNotFound: 'SecretNotFound',
  /** spec.signing's key cannot sign: unparsable, wrong or missing passphrase, unsupported type. */
  SigningKeyInvalid: 'SigningKeyInvalid',
  /** The GitRepository verifies HEAD signatures (spec.verify) and the rollback has no spec.signing: nothing pushed. */
  SigningRequired: 'SigningRequired',
  /** spec.signing's key is not among the GitRepository's spec.verify trusted keys: nothing pushed. */
  SigningKeyNotTrusted: 'SigningKeyNotTrusted',
  /** source-controller refused the pushed revert's signature (SourceVerified=False for it). */
  SourceVerificationFailed: 'SourceVerificationFailed',
  AuthenticationFailed: 'AuthenticationFailed',
  /** SSH: the server's host key is not in the Secret's known_hosts, differs from it, or is revoked. */
  HostKeyVerificationFailed: 'HostKeyVerificationFailed',
  RepositoryNotFound: 'RepositoryNotFound',
  /** The repository URL holds credentials, a query or a fragment, or uses http:// where not allowed. */
  InvalidRepositoryUrl: 'InvalidRepositoryUrl',
  /** The repository host is not on the allow list or is (resolves to) an internal address. */
  GitHostNotAllowed: 'GitHostNotAllowed',
  /** The git server sent more than a transfer limit allows (advertisement, pack, object size). */
  TransferLimitExceeded: 'TransferLimitExceeded',
  CommitNotFound: 'CommitNotFound',
  MergeWithoutMainline: 'MergeWithoutMainline',
  RevertConflict: 'RevertConflict',
  /** The change visits too many tree entries or rename candidates to compute (a tree bomb). */
  ChangeTooLarge: 'ChangeTooLarge',
  PushRejected: 'PushRejected',
  /** The host refused the push to a protected branch (GitHub GH006/GH013, GitLab, Gitea protection). */
  BranchProtected: 'BranchProtected',
  /** The branch accepts only signed commits and the revert was not signed (or not by a trusted key). */
  SignatureRequired: 'SignatureRequired',
  /** The branch takes changes only through pull requests (GitHub, Azure DevOps TF402455). */
  PullRequestRequired: 'PullRequestRequired',
  /** spec.push.branch exists on the remote and is not this rollback's: nothing pushed (no force). */
  PushBranchExists: 'PushBranchExists',
  /** The pull request was closed without being merged. */
  PullRequestClosed: 'PullRequestClosed',
  /** The pull request was not merged within spec.pullRequest.timeout. */
  MergeTimeout: 'MergeTimeout',
  /** The git host's API refused or failed the pull request call (retried when the host may recover). */
  PullRequestFailed: 'PullRequestFailed',
  /** A Kustomization named in spec.reconcile does not exist (checked before the push). */
  KustomizationNotFound: 'KustomizationNotFound',
  /** An ImageUpdateAutomation named in spec.suspendImageUpdates does not exist (nothing pushed). */
  ImageUpdateAutomationNotFound: 'ImageUpdateAutomationNotFound',
  /** A Kustomization failed on the rollback's commit (Applied=False, Stalled=True). */
  ApplyFailed: 'ApplyFailed',
  /** The Kustomizations did not apply the commit within spec.reconcile.timeout. */
  ApplyTimeout: 'ApplyTimeout',
  /** The rollback deletes or changes protected objects (CRDs, PVCs, PVs, Namespaces...). */
  SafetyCheckFailed: 'SafetyCheckFailed',
  /** The engine run exceeded the operator's deadline or heap limit for one run. */
  EngineLimitExceeded: 'EngineLimitExceeded',
  /** spec.safety.allow names kinds the namespace does not grant (annotation rollback.gitops.dev/safety-allow). */
  SafetyAllowNotGranted: 'SafetyAllowNotGranted',
  /** The API server refused the status write (too large, invalid): a minimal status was written. */
  StatusRejected: 'StatusRejected',
  /**
   * The operator's cache directory cannot be used: read-only, not writable, a file in the way
   * (stalls), or full, out of file handles, I/O error (retried: eviction or the disk may recover).
   */
  StorageFailed: 'StorageFailed',
  /**
   * The repository's objects cannot be read: a damaged cache (removed, then retried: the next run
   * fetches it again), or an object the engine refuses, such as an unsafe file name (stalls).
   */
  RepositoryCorrupt: 'RepositoryCorrupt',
  // Waiting: retried with backoff.
  GitOperationFailed: 'GitOperationFailed',
  PushRaced: 'PushRaced',
  ClusterApiFailed: 'ClusterApiFailed',
  InternalError: 'InternalError',
} as const;

export type ReasonValue = (typeof Reason)[keyof typeof Reason];
