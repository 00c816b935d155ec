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
} as const;

export const Reason = {
  // Progress and success.
  Progressing: 'Progressing',
  Succeeded: 'Succeeded',
  AlreadyReverted: 'AlreadyReverted',
  NothingToRevert: 'NothingToRevert',
  DryRunSucceeded: 'DryRunSucceeded',
  // Stalling: the user must act.
  InvalidSpec: 'InvalidSpec',
  SourceNotFound: 'SourceNotFound',
  UnsupportedSourceRef: 'UnsupportedSourceRef',
  CrossNamespaceRefForbidden: 'CrossNamespaceRefForbidden',
  SecretNotFound: 'SecretNotFound',
  AuthenticationFailed: 'AuthenticationFailed',
  RepositoryNotFound: 'RepositoryNotFound',
  CommitNotFound: 'CommitNotFound',
  MergeWithoutMainline: 'MergeWithoutMainline',
  RevertConflict: 'RevertConflict',
  PushRejected: 'PushRejected',
  // Waiting: retried with backoff.
  GitOperationFailed: 'GitOperationFailed',
  PushRaced: 'PushRaced',
  ClusterApiFailed: 'ClusterApiFailed',
  InternalError: 'InternalError',
} as const;

export type ReasonValue = (typeof Reason)[keyof typeof Reason];
