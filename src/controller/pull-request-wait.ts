/**
 * Pull-request mode (spec.push.branch, spec.pullRequest): the steps of a rollback after its
 * revert was pushed onto a new branch instead of the target branch.
 *
 * - {@link pushBranchOf}: the branch the engine writes to (spec.push.branch; with a pull request
 *   and no branch given, `gitops-rollback/<name>`).
 * - {@link PullRequestWait.afterPush}, right after that push: without spec.pullRequest,
 *   Ready=True PushedToBranch (merging is left to people). With it, opens the pull request (or
 *   finds the one already open for the branch, after a restart): status.pullRequest,
 *   Merged=Unknown, Reconciling=True and Ready=Unknown WaitingForMerge; a requeue to look again.
 * - {@link PullRequestWait.check}, on every later reconcile (the engine never runs again): reads
 *   the pull request. Merged: Merged=True, status.headAfter the merge commit, and then the wait
 *   for Flux as after a direct push (apply-wait.ts), or Ready=True when Flux is not awaited.
 *   Closed: Stalled PullRequestClosed. Still open past spec.pullRequest.timeout: Stalled MergeTimeout.
 */
import { ConditionType, Reason } from '../api/v1alpha1/conditions.js';
import { DEFAULT_MERGE_TIMEOUT, type GitOpsRollback, type PullRequestStatus } from '../api/v1alpha1/types.js';
import { parseDuration } from '../flux/duration.js';
import type { RepositoryTarget, RollbackResult } from '../git/engine.js';
import { getSubject } from '../git/message.js';
import type { PullRequestClientFactory } from '../pull-request/create-client.js';
import { describeRollback } from '../pull-request/describe-rollback.js';
import type { PullRequestInfo } from '../pull-request/types.js';
import { formatVerdictLines, type SafetyVerdict } from '../safety/evaluate-safety.js';
import { shortSha } from '../short-sha.js';
import { StallingError } from './classify-error.js';
import { findCondition } from './conditions.js';
import type { ClusterPort } from './ports.js';
import type { RollbackStatus } from './rollback-status.js';
import type { ProcessResult } from './work-queue.js';

const { Reconciling, Merged } = ConditionType;

/** How often an open pull request is read (GitHub allows 5,000 calls an hour per token). */
export const DEFAULT_MERGE_POLL_INTERVAL_MS = 30_000;

export interface PullRequestWaitOptions {
  cluster: Pick<ClusterPort, 'getSecretData' | 'recordEvent'>;
  clients: PullRequestClientFactory;
  pollIntervalMs?: number;
  now: () => Date;
}

/** What a look at the pull request decided; `merged` when the wait for Flux should follow now. */
export interface MergeCheck {
  result: ProcessResult;
  finished?: { reason: string; ready: boolean };
  merged?: boolean;
}

/** The branch the revert is written to instead of the target branch, if any. */
export function pushBranchOf(rollback: GitOpsRollback): string | undefined {
  const { push, pullRequest } = rollback.spec;
  return push?.branch ?? (pullRequest ? `gitops-rollback/${rollback.metadata.name}` : undefined);
}

/** True while the rollback's pull request is open: Merged=Unknown. */
export function isWaitingForMerge(rollback: GitOpsRollback): boolean {
  return findCondition(rollback.status?.conditions, Merged)?.status === 'Unknown';
}

/** spec.pullRequest.timeout in milliseconds; a malformed duration stalls with InvalidSpec. */
function readMergeTimeoutMs(rollback: GitOpsRollback): number {
  const timeout = rollback.spec.pullRequest?.timeout ?? DEFAULT_MERGE_TIMEOUT;
  try {
    return parseDuration(timeout);
  } catch {
    throw new StallingError(Reason.InvalidSpec, `spec.pullRequest.timeout "${timeout}" is not a duration such as 30m or 24h`);
  }
}

export class PullRequestWait {
  private readonly pollIntervalMs: number;

  constructor(private readonly options: PullRequestWaitOptions) {
    this.pollIntervalMs = options.pollIntervalMs ?? DEFAULT_MERGE_POLL_INTERVAL_MS;
  }

  /** Checks before the engine runs that a pull request could be opened: a token and a parsable timeout. */
  async prepare(rollback: GitOpsRollback, repository: RepositoryTarget): Promise<void> {
    if (!rollback.spec.pullRequest) return;
    readMergeTimeoutMs(rollback);
    this.clientFor(rollback, repository, await this.readToken(rollback, repository));
  }

  /**
   * The push onto the push branch is in `status` (Pushed=True); opens the pull request when one is
   * asked for. Returns undefined without spec.pullRequest: the caller ends Ready=True.
   */
  async afterPush(
    rollback: GitOpsRollback,
    status: RollbackStatus,
    repository: RepositoryTarget,
    run: { result: RollbackResult; verdict?: SafetyVerdict },
  ): Promise<MergeCheck | undefined> {
    const spec = rollback.spec.pullRequest;
    if (!spec) return undefined;
    const client = this.clientFor(rollback, repository, await this.readToken(rollback, repository));
    const { result, verdict } = run;
    const draft = describeRollback(
      {
        request: `${rollback.metadata.namespace}/${rollback.metadata.name}`,
        reason: rollback.spec.reason,
        incident: rollback.spec.incident,
        revertedCommits: status.value.revertedCommits ?? [],
        commits: result.commits.map((c) => ({ sha: c.sha, subject: getSubject(c.message) })),
        changedPaths: result.changedPaths,
        safety: verdict ? formatVerdictLines(verdict) : undefined,
      },
      { head: result.pushedBranch!, headCommit: (result.head ?? result.existingCommit)!, base: result.branch },
    );
    const opened = await client.open(draft);
    status.update({ pullRequest: this.toStatus(rollback, opened, status.timestamp()) });
    await this.options.cluster.recordEvent(rollback, 'Normal', Reason.PullRequestOpened, `Pull request #${opened.number} is open: ${opened.url}`);
    return this.judge(rollback, status, opened);
  }

  /** One look at the open pull request. */
  async check(rollback: GitOpsRollback, status: RollbackStatus, repository: RepositoryTarget): Promise<MergeCheck> {
    const recorded = status.value.pullRequest;
    if (!recorded) throw new StallingError(Reason.InternalError, 'The rollback waits for a merge but status.pullRequest is empty');
    const client = this.clientFor(rollback, repository, await this.readToken(rollback, repository));
    const current = await client.get(recorded.number);
    status.update({ pullRequest: { ...this.toStatus(rollback, current, recorded.openedTime ?? status.timestamp()) } });
    return this.judge(rollback, status, current);
  }

  /** The conditions for where the pull request stands; persists them. */
  private async judge(rollback: GitOpsRollback, status: RollbackStatus, pr: PullRequestInfo): Promise<MergeCheck> {
    const ref = `Pull request #${pr.number} (${pr.url})`;
    if (pr.state === 'Merged') {
      const message = pr.mergeCommit ? `${ref} was merged as ${shortSha(pr.mergeCommit)}` : `${ref} was merged`;
      status.mark(Merged, 'True', Reason.Succeeded, message).update({ headAfter: pr.mergeCommit });
      await this.options.cluster.recordEvent(rollback, 'Normal', Reason.PullRequestMerged, message);
      return { result: {}, merged: true };
    }
    if (pr.state === 'Closed') return this.stall(rollback, status, Reason.PullRequestClosed, `${ref} was closed without being merged`);
    const openedAt = Date.parse(status.value.pullRequest?.openedTime ?? status.timestamp());
    const deadline = openedAt + readMergeTimeoutMs(rollback);
    const now = this.options.now().getTime();
    if (now >= deadline) {
      const timeout = rollback.spec.pullRequest?.timeout ?? DEFAULT_MERGE_TIMEOUT;
      return this.stall(rollback, status, Reason.MergeTimeout, `${ref} was not merged within ${timeout}`);
    }
    const message = `${ref} is open; waiting for it to be merged`;
    status
      .mark(Merged, 'Unknown', Reason.WaitingForMerge, message)
      .markReadyUnknown(Reason.WaitingForMerge, message)
      .markReconciling(Reason.WaitingForMerge, message)
      .update({ completionTime: undefined });
    await status.persist();
    return { result: { requeueAfterMs: Math.max(1, Math.min(this.pollIntervalMs, deadline - now)) } };
  }

  private async stall(rollback: GitOpsRollback, status: RollbackStatus, reason: string, message: string): Promise<MergeCheck> {
    status.remove(Reconciling).mark(Merged, 'False', reason, message).markNotReady(reason, message).markStalled(reason, message);
    status.update({ completionTime: status.timestamp() });
    await status.persist();
    await this.options.cluster.recordEvent(rollback, 'Warning', reason, message);
    return { result: {}, finished: { reason, ready: false } };
  }

  private toStatus(rollback: GitOpsRollback, pr: PullRequestInfo, openedTime: string): PullRequestStatus {
    return {
      provider: rollback.spec.pullRequest!.provider,
      number: pr.number,
      url: pr.url,
      state: pr.state,
      ...(pr.mergeCommit ? { mergeCommit: pr.mergeCommit } : {}),
      openedTime,
    };
  }

  private clientFor(rollback: GitOpsRollback, repository: RepositoryTarget, token: string) {
    const spec = rollback.spec.pullRequest!;
    return this.options.clients({ provider: spec.provider, repositoryUrl: repository.url, apiUrl: spec.apiUrl, token });
  }

  /** spec.pullRequest.secretRef's `token`, else the repository Secret's bearerToken or password. */
  private async readToken(rollback: GitOpsRollback, repository: RepositoryTarget): Promise<string> {
    const secretName = rollback.spec.pullRequest?.secretRef?.name;
    if (secretName) {
      const namespace = rollback.metadata.namespace!;
      const data = await this.options.cluster.getSecretData(namespace, secretName);
      if (!data) throw new StallingError(Reason.SecretNotFound, `Pull request token Secret ${namespace}/${secretName} was not found`);
      if (!data.token) throw new StallingError(Reason.InvalidSpec, `Secret ${namespace}/${secretName} has no key token`);
      return data.token;
    }
    const token = repository.credentials?.bearerToken ?? repository.credentials?.password;
    if (!token) {
      throw new StallingError(
        Reason.InvalidSpec,
        "spec.pullRequest needs an API token: set spec.pullRequest.secretRef (key token), or use a repository Secret with bearerToken or password (an SSH key cannot call the host's API)",
      );
    }
    return token;
  }
}
