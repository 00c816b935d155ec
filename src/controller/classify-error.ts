/**
 * Sorts every error a reconcile can meet into stalling (the user must act: Stalled=True, no
 * retry) or transient (Reconciling=True, retried with backoff), with a one-word reason and a
 * message fit for a condition. Messages never contain credentials (the engine's errors redact
 * URLs; API errors are summarized, not dumped).
 */
import { Reason, type ReasonValue } from '../api/v1alpha1/conditions.js';
import {
  AuthFailedError,
  CommitNotFoundError,
  CorruptRepositoryError,
  GitHostNotAllowedError,
  GitTimeoutError,
  HostKeyVerificationError,
  InternalError,
  InvalidRepositoryUrlError,
  InvalidRequestError,
  MergeWithoutMainlineError,
  PushBranchExistsError,
  PushRejectedError,
  RemoteError,
  RepositoryNotFoundError,
  RevertConflictError,
  SigningKeyError,
  SigningKeyNotTrustedError,
  StorageError,
  TransferLimitExceededError,
  TreeLimitExceededError,
} from '../git/errors.js';
import { classifyPushRefusal, type PushRefusalKind } from '../git/push-refusal.js';
import { SafetyCheckFailedError } from '../safety/safety-gate.js';
import { EngineLimitExceededError } from './engine-worker.js';
import { formatSafetyFailure } from './safety-status.js';
import { CodedError } from '../coded-error.js';
import { PullRequestApiError, PullRequestConfigError } from '../pull-request/errors.js';

/** A problem with the request or its references that only a person can fix. */
export class StallingError extends CodedError {
  readonly code = 'StallingError' as const;
  constructor(
    readonly reason: ReasonValue,
    message: string,
  ) {
    super(message);
  }
}

export interface ClassifiedError {
  stalling: boolean;
  reason: ReasonValue;
  message: string;
}

export function classifyError(error: unknown): ClassifiedError {
  const stall = (reason: ReasonValue, message = (error as Error).message): ClassifiedError => ({ stalling: true, reason, message });
  const retry = (reason: ReasonValue, message = (error as Error).message): ClassifiedError => ({ stalling: false, reason, message });

  if (error instanceof StallingError) return stall(error.reason);
  if (error instanceof InvalidRequestError) return stall(Reason.InvalidSpec);
  if (error instanceof CommitNotFoundError) return stall(Reason.CommitNotFound);
  if (error instanceof MergeWithoutMainlineError) return stall(Reason.MergeWithoutMainline);
  if (error instanceof RevertConflictError) return stall(Reason.RevertConflict);
  if (error instanceof TreeLimitExceededError) return stall(Reason.ChangeTooLarge);
  if (error instanceof SafetyCheckFailedError) return stall(Reason.SafetyCheckFailed, formatSafetyFailure(error.data.verdict));
  if (error instanceof AuthFailedError) return stall(Reason.AuthenticationFailed);
  if (error instanceof HostKeyVerificationError) return stall(Reason.HostKeyVerificationFailed);
  if (error instanceof SigningKeyError) return stall(Reason.SigningKeyInvalid);
  if (error instanceof SigningKeyNotTrustedError) return stall(Reason.SigningKeyNotTrusted);
  if (error instanceof RepositoryNotFoundError) return stall(Reason.RepositoryNotFound);
  if (error instanceof InvalidRepositoryUrlError) return stall(Reason.InvalidRepositoryUrl);
  if (error instanceof GitHostNotAllowedError) return stall(Reason.GitHostNotAllowed);
  // The same server sends the same oversized content again: an operator must raise the limit.
  if (error instanceof TransferLimitExceededError) return stall(Reason.TransferLimitExceeded);
  if (error instanceof PushBranchExistsError) return stall(Reason.PushBranchExists);
  if (error instanceof PushRejectedError) return classifyPushRejection(error);
  // A 5xx, 429 or lost connection may pass; a refusal (401, 403, 404, 422) says the same again.
  if (error instanceof PullRequestApiError) return error.data.transient ? retry(Reason.PullRequestFailed) : stall(Reason.PullRequestFailed);
  if (error instanceof PullRequestConfigError) return stall(Reason.InvalidSpec);
  if (error instanceof GitTimeoutError || error instanceof RemoteError) return retry(Reason.GitOperationFailed);
  // A full disk may be freed (eviction, other runs end); a read-only or unwritable one needs a person.
  if (error instanceof StorageError) return TRANSIENT_STORAGE_ERRNOS.has(error.data.errno) ? retry(Reason.StorageFailed) : stall(Reason.StorageFailed);
  // A damaged cache was removed: the retry fetches it again. A refused object would be refused again.
  if (error instanceof CorruptRepositoryError) return error.data.removed ? retry(Reason.RepositoryCorrupt) : stall(Reason.RepositoryCorrupt);
  if (error instanceof InternalError) return retry(Reason.InternalError);
  // Past the deadline or the heap limit, a retry would do the same work again: the user must act.
  if (error instanceof EngineLimitExceededError) {
    return error.data.limit === 'crash' ? retry(Reason.InternalError) : stall(Reason.EngineLimitExceeded);
  }
  const status = apiStatus(error);
  if (status !== undefined) return retry(Reason.ClusterApiFailed, `Kubernetes API request failed with HTTP ${status}`);
  return retry(Reason.InternalError, `Internal error: ${error instanceof Error ? error.message : String(error)}`);
}

/** File-system failures that may pass without anyone changing the deployment. */
const TRANSIENT_STORAGE_ERRNOS = new Set(['ENOSPC', 'EDQUOT', 'EMFILE', 'ENFILE', 'EIO']);

/** Only a moved branch is worth another try; a host's rule says no again, and its message says which rule. */
function classifyPushRejection(error: PushRejectedError): ClassifiedError {
  const { kind, advice } = classifyPushRefusal(error.data.reason);
  const message = advice ? `${error.message}. What to do: ${advice}` : error.message;
  if (kind === 'raced') return { stalling: false, reason: Reason.PushRaced, message };
  return { stalling: true, reason: PUSH_REFUSAL_REASONS[kind], message };
}

const PUSH_REFUSAL_REASONS: Record<Exclude<PushRefusalKind, 'raced'>, ReasonValue> = {
  'signature-required': Reason.SignatureRequired,
  'pull-request-required': Reason.PullRequestRequired,
  'branch-protected': Reason.BranchProtected,
  'hook-declined': Reason.PushRejected,
  rejected: Reason.PushRejected,
};

/** The HTTP status of a client-node ApiException, without importing client-node here. */
function apiStatus(error: unknown): number | undefined {
  if (error && typeof error === 'object' && 'code' in error && typeof error.code === 'number' && 'body' in error) return error.code;
  return undefined;
}
