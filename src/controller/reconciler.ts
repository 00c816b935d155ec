/**
 * Reconciles one GitOpsRollback: a one-shot request, like a Job. Steps: skip finished objects,
 * mark Reconciling, resolve the repository, run the engine, record the outcome. A finished
 * rollback (Ready=True, or Stalled=True) is never acted on again, whatever happens later.
 *
 * Conditions set: Ready (summary), Reconciling (while working or retrying), Stalled (terminal
 * failure; reason SafetyCheckFailed when the change deletes or changes a protected kind, with
 * status.safety naming the objects and files), Reverted (computed without conflict), Pushed (on
 * the branch), Applied (Flux applied the push: see apply-wait.ts; while it waits, Ready=Unknown
 * and later reconciles only read the Kustomizations, never running the engine again).
 */
import { randomUUID } from 'node:crypto';
import { ConditionType, Reason } from '../api/v1alpha1/conditions.js';
import type { GitOpsRollback } from '../api/v1alpha1/types.js';
import { isCommitOnBranch } from '../git/commit-on-branch.js';
import type { RollbackRequest, RollbackResult } from '../git/engine.js';
import { RevertConflictError } from '../git/errors.js';
import type { RollbackAction } from '../git/plan.js';
import type { SafetyVerdict } from '../safety/evaluate-safety.js';
import { SafetyCheckFailedError } from '../safety/safety-gate.js';
import type { FluxPort } from '../flux/flux-port.js';
import { ApplyWait, awaitsFlux, isWaitingForApply, markPushed, markWaitingForApply, shouldWaitForApply } from './apply-wait.js';
import { classifyError, StallingError, type ClassifiedError } from './classify-error.js';
import { isWaitingForMerge, PullRequestWait, pushBranchOf, type MergeCheck } from './pull-request-wait.js';
import type { PullRequestClientFactory } from '../pull-request/create-client.js';
import type { ImageUpdateSuspension } from './image-update-suspension.js';
import { findCondition } from './conditions.js';
import { checkSafetyGrant } from './grants.js';
import type { ClusterPort, RunEngine } from './ports.js';
import { resolveRepository } from './resolve-repository.js';
import { requestedByOf } from './requested-by.js';
import { notifyObserver, type RollbackObserver } from './rollback-observer.js';
import { toSafetyStatus } from './safety-status.js';
import { RollbackStatus } from './rollback-status.js';
import { shortSha } from '../short-sha.js';
import { StatusPatcher, StatusRejectedError } from './status-write.js';
import type { ProcessResult } from './work-queue.js';
import { splitObjectKey } from '../object-key.js';
import { readSigningKey } from './signing-key.js';
import type { SigningKeyInput } from '../git/commit-signing.js';

export interface Logger {
  info(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface ReconcilerOptions {
  cluster: ClusterPort;
  runEngine: RunEngine;
  allowCrossNamespaceRefs?: boolean;
  /** Kinds the safety gate protects besides the defaults (CRD, PVC, PV, Namespace). */
  protectedKinds?: string[];
  logger?: Logger;
  /** Told when a rollback progresses and finishes (the operator's metrics). */
  observer?: RollbackObserver;
  /** Flux in the loop (suspend image updates, request reconcile, wait for apply); off without it. */
  flux?: FluxPort;
  /**
   * Aborted when this replica must stop working (its Lease is lost): engine runs stop at their
   * next safe point (never mid-push) and the reconcile ends without writing status.
   */
  signal?: AbortSignal;
  /** How often Kustomizations are read while waiting for apply. */
  applyPollIntervalMs?: number;
  /** Builds the git host's API client for spec.pullRequest; pull requests are refused without it. */
  pullRequests?: PullRequestClientFactory;
  /** How often an open pull request is read. */
  mergePollIntervalMs?: number;
  now?: () => Date;
}

const { Ready, Reconciling, Stalled, Reverted, Pushed } = ConditionType;

/** The id written into each rollback commit's trailer: finds our own commit after a crash. */
export function requestIdOf(rollback: GitOpsRollback): string {
  const { namespace, name, uid } = rollback.metadata;
  return `${namespace}/${name}/${uid}`;
}

/** True once the rollback reached a terminal state for its current generation. */
export function isFinished(rollback: GitOpsRollback): boolean {
  const conditions = rollback.status?.conditions;
  const generation = rollback.metadata.generation ?? 0;
  const done = (type: string) => {
    const c = findCondition(conditions, type);
    return c?.status === 'True' && (c.observedGeneration ?? generation) >= generation;
  };
  return done(Stalled) || (done(Ready) && findCondition(conditions, Ready)?.reason !== Reason.Progressing);
}

export class RollbackReconciler {
  private readonly now: () => Date;

  private readonly applyWait?: ApplyWait;

  private readonly pullRequestWait?: PullRequestWait;

  private readonly options: ReconcilerOptions;

  constructor(options: ReconcilerOptions) {
    this.now = options.now ?? (() => new Date());
    this.options = options;
    if (options.flux) {
      const { flux } = options;
      const { cluster, allowCrossNamespaceRefs = false, applyPollIntervalMs: pollIntervalMs } = this.options;
      this.applyWait = new ApplyWait({ flux, cluster, allowCrossNamespaceRefs, pollIntervalMs, now: this.now });
    }
    if (options.pullRequests) {
      const { cluster, mergePollIntervalMs: pollIntervalMs } = options;
      this.pullRequestWait = new PullRequestWait({ cluster, clients: options.pullRequests, pollIntervalMs, now: this.now });
    }
  }

  /** Reconciles the object with key `namespace/name`. */
  async reconcile(key: string): Promise<ProcessResult> {
    const { namespace, name } = splitObjectKey(key);
    const rollback = await this.options.cluster.getRollback(namespace, name);
    const observer = this.options.observer;
    if (!rollback || rollback.metadata.deletionTimestamp || isFinished(rollback)) {
      notifyObserver(() => observer?.onForgotten?.(key));
      return {};
    }

    const log = { object: key, uid: rollback.metadata.uid, reconcileID: randomUUID() };
    // Every status write of this reconcile: bounded, only what changed, Stalled if refused for good.
    const patcher = new StatusPatcher(this.options.cluster, rollback, this.now);
    if (this.applyWait && isWaitingForApply(rollback)) return this.checkApply(this.applyWait, rollback, patcher, log);
    if (isWaitingForMerge(rollback)) return this.checkMerge(rollback, patcher, log);
    const status = new RollbackStatus(rollback, patcher, this.now);
    await this.markReconciling(rollback, status);
    notifyObserver(() => observer?.onProgress?.({ ...rollback, status: status.value }));
    let repositoryUrl = rollback.spec.repository?.url;
    const safety = { protectedKinds: this.options.protectedKinds, allow: rollback.spec.safety?.allow };
    const gate: { verdict?: SafetyVerdict } = {};
    let images: ImageUpdateSuspension | undefined;
    try {
      const resolveStart = Date.now();
      const { target: repository, verification } = await resolveRepository(this.options.cluster, rollback, this.options.allowCrossNamespaceRefs ?? false);
      const resolveMs = Date.now() - resolveStart;
      await checkSafetyGrant(this.options.cluster, rollback);
      const signing = await readSigningKey(this.options.cluster, rollback, verification);
      repositoryUrl = repository.url;
      await this.applyWait?.prepare(rollback);
      await this.preparePullRequest(rollback, repository);
      // Image automation is suspended right before the push, and resumed if nothing is pushed.
      images = this.applyWait?.imageUpdates(rollback);
      const beforePublish = images && (() => images!.suspend(status));
      const result = await this.options.runEngine(buildRequest(rollback, repository, signing), {
        safety,
        onVerdict: (verdict) => (gate.verdict = verdict),
        beforePublish,
        signal: this.options.signal,
      });
      if (images) await images.settle(result, status);
      const waiting = this.applyWait !== undefined && shouldWaitForApply(rollback, result);
      const outcome = markSucceeded(status, result, gate.verdict);
      markPushed(rollback, status, { resolveMs, result, waiting }, this.now());
      // Ready=True is not written before the pull request is open: a crash in between must not end the rollback.
      const merge = this.pullRequestWait && isPushedToBranch(rollback, result);
      if (merge) await this.markPushedToBranch(rollback, status);
      else await status.persist();
      await this.options.cluster.recordEvent(rollback, 'Normal', outcome.reason, outcome.message);
      if (merge) {
        const check = await this.pullRequestWait!.afterPush(rollback, status, repository, { result, verdict: gate.verdict });
        if (check) return await this.afterMergeCheck(rollback, status, patcher, check, log);
        await status.persist();
      }
      if (waiting) {
        this.options.logger?.info({ ...log, head: result.head }, 'Rollback pushed; waiting for Flux to apply it');
        return await this.checkApply(this.applyWait!, { ...rollback, status: status.value }, patcher, log);
      }
      const finished = { ...rollback, status: status.value };
      if (isFinished(finished)) {
        const reason = status.condition(Ready)?.reason ?? Reason.Succeeded;
        notifyObserver(() => observer?.onFinished?.({ rollback: finished, reason, ready: true, repositoryUrl, result }));
      }
      this.options.logger?.info({ ...log, result: result.result, head: result.head }, 'Rollback finished');
      return {};
    } catch (error) {
      if (error instanceof StatusRejectedError) return this.endRejected(rollback, error, log);
      if (images) await images.resume(status);
      if (this.options.signal?.aborted) {
        // Another replica may lead now: leave the status to it, the run was stopped at a safe point.
        this.options.logger?.info({ ...log }, 'Rollback stopped: this replica no longer leads');
        return { error, retry: true };
      }
      const classified = classifyError(error);
      // The observer is told the status as it was before the failure was marked (as it always was).
      const beforeFailure = status.value;
      const rejected = await this.recordFailure(status, classified, error, gate.verdict);
      if (rejected) return this.endRejected(rollback, rejected, log);
      if (classified.stalling)
        notifyObserver(() =>
          observer?.onFinished?.({ rollback: { ...rollback, status: beforeFailure }, reason: classified.reason, ready: false, repositoryUrl }),
        );
      this.options.logger?.error({ ...log, reason: classified.reason, stalling: classified.stalling, err: classified.message }, 'Rollback failed');
      return classified.stalling ? {} : { error, retry: true };
    }
  }

  /** Reconciling=True and Ready=Unknown before any work; an Event on the first transition. */
  private async markReconciling(rollback: GitOpsRollback, status: RollbackStatus): Promise<void> {
    const wasReconciling = status.condition(Reconciling)?.status === 'True';
    const message = `Rolling back ${describeAction(rollback)}`;
    status.markReconciling(Reason.Progressing, message);
    if (!wasReconciling) status.markReadyUnknown(Reason.Progressing, message);
    status.observeGeneration().update({ startTime: status.value.startTime ?? status.timestamp(), requestedBy: requestedByOf(rollback) });
    await status.persist();
    if (!wasReconciling) await this.options.cluster.recordEvent(rollback, 'Normal', Reason.Progressing, message);
  }

  /** spec.pullRequest can work: the operator has the clients, the token and timeout are there. */
  private async preparePullRequest(rollback: GitOpsRollback, repository: RollbackRequest['repository']): Promise<void> {
    if (!rollback.spec.pullRequest) return;
    if (!this.pullRequestWait) throw new StallingError(Reason.InvalidSpec, 'spec.pullRequest is not supported by this operator (no pull-request clients)');
    await this.pullRequestWait.prepare(rollback, repository);
  }

  /** The push branch holds the revert: Pushed=True, and Ready=Unknown until the pull request step says more. */
  private async markPushedToBranch(rollback: GitOpsRollback, status: RollbackStatus): Promise<void> {
    if (!rollback.spec.pullRequest) return;
    const message = `Pushed to ${status.value.pushedBranch}; opening a pull request`;
    status.markReadyUnknown(Reason.Progressing, message).markReconciling(Reason.Progressing, message).update({ completionTime: undefined });
    await status.persist();
  }

  /** Waits for the pull request's merge without blocking: one look, then a requeue, the end, or the wait for Flux. */
  private async checkMerge(rollback: GitOpsRollback, patcher: StatusPatcher, log: object): Promise<ProcessResult> {
    const status = new RollbackStatus(rollback, patcher, this.now);
    try {
      if (!this.pullRequestWait) throw new StallingError(Reason.InvalidSpec, 'spec.pullRequest is not supported by this operator (no pull-request clients)');
      const { target } = await resolveRepository(this.options.cluster, rollback, this.options.allowCrossNamespaceRefs ?? false);
      const check = await this.pullRequestWait.check(rollback, status, target);
      return await this.afterMergeCheck(rollback, status, patcher, check, log);
    } catch (error) {
      return this.onWaitFailure(rollback, patcher, error, log, 'Waiting for the merge failed');
    }
  }

  /** After a look at the pull request: merged goes on to Flux (or ends Ready), the rest is the look's own result. */
  private async afterMergeCheck(
    rollback: GitOpsRollback,
    status: RollbackStatus,
    patcher: StatusPatcher,
    check: MergeCheck,
    log: object,
  ): Promise<ProcessResult> {
    const repositoryUrl = rollback.spec.repository?.url;
    if (check.finished) {
      const { reason, ready } = check.finished;
      notifyObserver(() => this.options.observer?.onFinished?.({ rollback: { ...rollback, status: status.value }, reason, ready, repositoryUrl }));
      this.options.logger?.error({ ...log, reason }, 'Rollback not merged');
    }
    if (!check.merged) return check.result;
    const merged = status.condition(ConditionType.Merged)?.message ?? 'Merged';
    if (this.applyWait && awaitsFlux(rollback) && status.value.headAfter) {
      markWaitingForApply(status, this.now(), merged);
      await status.persist();
      return this.checkApply(this.applyWait, { ...rollback, status: status.value }, patcher, log);
    }
    status.remove(Reconciling).markReady(Reason.Succeeded, merged).update({ completionTime: status.timestamp() });
    await status.persist();
    notifyObserver(() =>
      this.options.observer?.onFinished?.({ rollback: { ...rollback, status: status.value }, reason: Reason.Succeeded, ready: true, repositoryUrl }),
    );
    return {};
  }

  /** Waits for Flux without blocking: one look at the Kustomizations, then a requeue or the end. */
  private async checkApply(applyWait: ApplyWait, rollback: GitOpsRollback, patcher: StatusPatcher, log: object): Promise<ProcessResult> {
    try {
      const check = await applyWait.check(rollback, new RollbackStatus(rollback, patcher, this.now));
      if (check.finished) {
        const { reason, ready } = check.finished;
        notifyObserver(() =>
          this.options.observer?.onFinished?.({ rollback: { ...rollback, status: check.status }, reason, ready, repositoryUrl: rollback.spec.repository?.url }),
        );
        this.options.logger?.[ready ? 'info' : 'error']({ ...log, reason }, ready ? 'Rollback applied' : 'Rollback not applied');
      }
      return check.result;
    } catch (error) {
      return this.onWaitFailure(rollback, patcher, error, log, 'Waiting for apply failed');
    }
  }

  /** A wait's look failed: marked on the status the look began from, not on its half-made changes. */
  private async onWaitFailure(rollback: GitOpsRollback, patcher: StatusPatcher, error: unknown, log: object, what: string): Promise<ProcessResult> {
    if (error instanceof StatusRejectedError) return this.endRejected(rollback, error, log);
    const classified = classifyError(error);
    const rejected = await this.recordFailure(new RollbackStatus(rollback, patcher, this.now), classified, error);
    if (rejected) return this.endRejected(rollback, rejected, log);
    this.options.logger?.error({ ...log, reason: classified.reason, stalling: classified.stalling, err: classified.message }, what);
    return classified.stalling ? {} : { error, retry: true };
  }

  /** The status was refused and a minimal Stalled one written instead: an Event, and the end. */
  private async endRejected(rollback: GitOpsRollback, error: StatusRejectedError, log: object): Promise<ProcessResult> {
    await this.options.cluster.recordEvent(rollback, 'Warning', Reason.StatusRejected, error.message);
    notifyObserver(() =>
      this.options.observer?.onFinished?.({ rollback, reason: Reason.StatusRejected, ready: false, repositoryUrl: rollback.spec.repository?.url }),
    );
    this.options.logger?.error({ ...log, reason: Reason.StatusRejected, err: error.message }, 'Status refused by the API server; rollback stalled');
    return {};
  }

  /** Writes the failure; returns the StatusRejectedError when a minimal status had to replace it. */
  private async recordFailure(
    status: RollbackStatus,
    failure: ClassifiedError,
    error: unknown,
    safety?: SafetyVerdict,
  ): Promise<StatusRejectedError | undefined> {
    const { reason, message } = failure;
    status.markNotReady(reason, message);
    if (failure.stalling) {
      status.remove(Reconciling).markStalled(reason, message);
      if (error instanceof RevertConflictError) status.mark(Reverted, 'False', reason, message);
    } else {
      status.markReconciling(reason, message);
    }
    const previous = status.value;
    status.observeGeneration().update({
      conflicts: error instanceof RevertConflictError ? error.data.conflicts : previous.conflicts,
      changedPaths: error instanceof SafetyCheckFailedError ? error.data.verdict.changedPaths : previous.changedPaths,
      completionTime: failure.stalling ? status.timestamp() : previous.completionTime,
      safety: safety ? toSafetyStatus(safety) : previous.safety,
    });
    try {
      await status.persist();
    } catch (writeError) {
      if (writeError instanceof StatusRejectedError) return writeError;
      throw writeError;
    } finally {
      await this.options.cluster.recordEvent(status.rollback, 'Warning', reason, message);
    }
    return undefined;
  }
}

/**
 * The engine's result in memory: Ready=True and Reverted=True with the outcome's reason, Pushed
 * True or False, Reconciling and Stalled removed, and the commits, paths and heads. Returns the
 * outcome for the Event.
 */
function markSucceeded(status: RollbackStatus, result: RollbackResult, safety?: SafetyVerdict): { reason: string; message: string } {
  const outcome = describeOutcome(result);
  const pushed = isCommitOnBranch(result);
  const onBranch = result.pushedBranch ?? result.branch;
  status
    .remove(Reconciling, Stalled)
    .markReady(outcome.reason, outcome.message)
    .mark(Reverted, 'True', outcome.reason, outcome.message)
    .mark(
      Pushed,
      pushed ? 'True' : 'False',
      pushed ? Reason.Succeeded : outcome.reason,
      pushed ? `${outcome.pushedHead} is on ${onBranch}` : 'Nothing was pushed',
    );
  status.observeGeneration().update({
    revertedCommits: [...new Set(result.commits.flatMap((c) => c.reverts))],
    revertCommits: result.result === 'reverted' ? result.commits.map((c) => c.sha) : result.existingCommit ? [result.existingCommit] : [],
    alreadyReverted: result.alreadyReverted,
    changedPaths: result.changedPaths,
    conflicts: undefined,
    headBefore: result.previousHead,
    // On a push branch the target branch is unchanged until the merge (./pull-request-wait.ts).
    headAfter: result.pushedBranch ? undefined : outcome.pushedHead,
    pushedBranch: pushed ? result.pushedBranch : undefined,
    completionTime: status.timestamp(),
    safety: safety ? toSafetyStatus(safety) : status.value.safety,
  });
  return outcome;
}

/** The engine request for a rollback object (who asked: ./requested-by.ts). */
export function buildRequest(rollback: GitOpsRollback, repository: RollbackRequest['repository'], signing?: SigningKeyInput): RollbackRequest {
  const { spec } = rollback;
  return {
    repository,
    action: toAction(rollback),
    reason: spec.reason,
    incident: spec.incident,
    requestId: requestIdOf(rollback),
    requestedBy: requestedByOf(rollback),
    author: spec.author,
    signing,
    pushBranch: pushBranchOf(rollback),
    dryRun: spec.dryRun ?? false,
  };
}

function toAction(rollback: GitOpsRollback): RollbackAction {
  const { revert, restore } = rollback.spec;
  if (restore) return { kind: 'restore', revision: restore.revision, paths: restore.paths };
  return {
    kind: 'revert',
    commits: revert?.commits,
    range: revert?.range,
    mainline: revert?.mainline,
    paths: revert?.paths,
    squash: revert?.squash,
  };
}

function describeAction(rollback: GitOpsRollback): string {
  const { revert, restore } = rollback.spec;
  if (restore) return `${restore.paths.join(', ')} to ${shortSha(restore.revision)}`;
  if (revert?.range) return `commits ${shortSha(revert.range.from)}..${shortSha(revert.range.to)}`;
  const commits = revert?.commits ?? [];
  return commits.length === 1 ? `commit ${shortSha(commits[0])}` : `${commits.length} commits`;
}

/** True when `result` left the revert on spec.push.branch rather than the target branch. */
function isPushedToBranch(rollback: GitOpsRollback, result: RollbackResult): boolean {
  return result.pushedBranch !== undefined && isCommitOnBranch(result) && !rollback.spec.dryRun;
}

function describeOutcome(result: RollbackResult): { reason: string; message: string; pushedHead?: string } {
  const onBranch = result.pushedBranch ?? result.branch;
  // Pushed to a branch of its own: the target branch changes only when that branch is merged.
  const reason = result.pushedBranch ? Reason.PushedToBranch : Reason.Succeeded;
  const merge = result.pushedBranch ? `; merge it into ${result.branch} to roll back` : '';
  if (result.existingCommit) {
    return {
      reason,
      message: `Rollback commit ${shortSha(result.existingCommit)} is already on ${onBranch}${merge}`,
      pushedHead: result.existingCommit,
    };
  }
  switch (result.result) {
    case 'reverted':
      return {
        reason,
        message: result.pushedBranch
          ? `Pushed ${result.commits.length} commit(s) to the new branch ${onBranch} (from ${result.branch} at ${shortSha(result.previousHead)})${merge}`
          : `Pushed ${result.commits.length} commit(s) to ${result.branch}; head is now ${shortSha(result.head!)}`,
        pushedHead: result.head!,
      };
    case 'planned':
      return {
        reason: Reason.DryRunSucceeded,
        message: `Dry run: would push ${result.commits.length} commit(s) changing ${result.changedPaths.length} path(s)`,
      };
    case 'already-reverted':
      return {
        reason: Reason.AlreadyReverted,
        message: `Already reverted on ${result.branch}: ${result.alreadyReverted.map((sha) => shortSha(sha)).join(', ')}`,
      };
    case 'empty':
      return { reason: Reason.NothingToRevert, message: `Reverting changes nothing on ${result.branch}` };
  }
}
