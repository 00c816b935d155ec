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
import type { Condition, GitOpsRollback, GitOpsRollbackStatus } from '../api/v1alpha1/types.js';
import type { RollbackRequest, RollbackResult } from '../git/engine.js';
import { RevertConflictError } from '../git/errors.js';
import type { RollbackAction } from '../git/plan.js';
import type { SafetyVerdict } from '../safety/evaluate-safety.js';
import { SafetyCheckFailedError } from '../safety/safety-gate.js';
import type { FluxPort } from '../flux/flux-port.js';
import { ApplyWait, isWaitingForApply, markPushed, shouldWaitForApply } from './apply-wait.js';
import { classifyError, type ClassifiedError } from './classify-error.js';
import type { ImageUpdateSuspension } from './image-update-suspension.js';
import { findCondition, removeConditions, setCondition, type ConditionUpdate } from './conditions.js';
import { checkSafetyGrant } from './grants.js';
import type { ClusterPort, RunEngine } from './ports.js';
import { resolveRepository } from './resolve-repository.js';
import { notifyObserver, type RollbackObserver } from './rollback-observer.js';
import { toSafetyStatus } from './safety-status.js';
import { guardStatusWrites, StatusRejectedError } from './status-write.js';
import type { ProcessResult } from './work-queue.js';

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

  private readonly options: ReconcilerOptions;

  constructor(options: ReconcilerOptions) {
    this.now = options.now ?? (() => new Date());
    // Every status write bounded, and ending Stalled if refused for good (status-write.ts).
    this.options = { ...options, cluster: guardStatusWrites(options.cluster, this.now) };
    if (options.flux) {
      const { flux } = options;
      const { cluster, allowCrossNamespaceRefs = false, applyPollIntervalMs: pollIntervalMs } = this.options;
      this.applyWait = new ApplyWait({ flux, cluster, allowCrossNamespaceRefs, pollIntervalMs, now: this.now });
    }
  }

  /** Reconciles the object with key `namespace/name`. */
  async reconcile(key: string): Promise<ProcessResult> {
    const [namespace, name] = key.split('/');
    const rollback = await this.options.cluster.getRollback(namespace, name);
    const observer = this.options.observer;
    if (!rollback || rollback.metadata.deletionTimestamp || isFinished(rollback)) {
      notifyObserver(() => observer?.onForgotten?.(key));
      return {};
    }

    const log = { object: key, uid: rollback.metadata.uid, reconcileID: randomUUID() };
    if (this.applyWait && isWaitingForApply(rollback)) return this.checkApply(this.applyWait, rollback, log);
    let status = await this.markReconciling(rollback);
    notifyObserver(() => observer?.onProgress?.({ ...rollback, status }));
    let repositoryUrl = rollback.spec.repository?.url;
    const safety = { protectedKinds: this.options.protectedKinds, allow: rollback.spec.safety?.allow };
    const gate: { verdict?: SafetyVerdict } = {};
    let images: ImageUpdateSuspension | undefined;
    try {
      const resolveStart = Date.now();
      const repository = await resolveRepository(this.options.cluster, rollback, this.options.allowCrossNamespaceRefs ?? false);
      await checkSafetyGrant(this.options.cluster, rollback);
      repositoryUrl = repository.url;
      if (this.applyWait) status = await this.applyWait.prepare(rollback, status);
      const resolveMs = Date.now() - resolveStart;
      // Image automation is suspended right before the push, and resumed if nothing is pushed.
      images = this.applyWait?.imageUpdates(rollback);
      const beforePublish = images && (async () => void (status = await images!.suspend(status)));
      const result = await this.options.runEngine(buildRequest(rollback, repository), { safety, onVerdict: (verdict) => (gate.verdict = verdict), beforePublish, signal: this.options.signal });
      if (images) status = await images.settle(result, status);
      const waiting = this.applyWait !== undefined && shouldWaitForApply(rollback, result);
      status = await this.recordSuccess(rollback, status, result, gate.verdict, (s) => markPushed(rollback, s, { resolveMs, result, waiting }, this.now()));
      if (waiting) {
        this.options.logger?.info({ ...log, head: result.head }, 'Rollback pushed; waiting for Flux to apply it');
        return await this.checkApply(this.applyWait!, { ...rollback, status }, log);
      }
      const finished = { ...rollback, status };
      if (isFinished(finished)) {
        const reason = findCondition(status.conditions, Ready)?.reason ?? Reason.Succeeded;
        notifyObserver(() => observer?.onFinished?.({ rollback: finished, reason, ready: true, repositoryUrl, result }));
      }
      this.options.logger?.info({ ...log, result: result.result, head: result.head }, 'Rollback finished');
      return {};
    } catch (error) {
      if (error instanceof StatusRejectedError) return this.endRejected(rollback, error, log);
      if (images) status = await images.resume(status);
      if (this.options.signal?.aborted) {
        // Another replica may lead now: leave the status to it, the run was stopped at a safe point.
        this.options.logger?.info({ ...log }, 'Rollback stopped: this replica no longer leads');
        return { error, retry: true };
      }
      const classified = classifyError(error);
      const rejected = await this.recordFailure(rollback, status, classified, error, gate.verdict);
      if (rejected) return this.endRejected(rollback, rejected, log);
      if (classified.stalling) notifyObserver(() => observer?.onFinished?.({ rollback: { ...rollback, status }, reason: classified.reason, ready: false, repositoryUrl }));
      this.options.logger?.error({ ...log, reason: classified.reason, stalling: classified.stalling, err: classified.message }, 'Rollback failed');
      return classified.stalling ? {} : { error, retry: true };
    }
  }

  /** Reconciling=True and Ready=Unknown before any work; an Event on the first transition. */
  private async markReconciling(rollback: GitOpsRollback): Promise<GitOpsRollbackStatus> {
    const previous = rollback.status ?? {};
    const wasReconciling = findCondition(previous.conditions, Reconciling)?.status === 'True';
    const message = `Rolling back ${describeAction(rollback)}`;
    let conditions = previous.conditions ?? [];
    conditions = this.set(conditions, rollback, { type: Reconciling, status: 'True', reason: Reason.Progressing, message });
    if (!wasReconciling) conditions = this.set(conditions, rollback, { type: Ready, status: 'Unknown', reason: Reason.Progressing, message });
    const status: GitOpsRollbackStatus = { ...previous, conditions, observedGeneration: rollback.metadata.generation, startTime: previous.startTime ?? this.timestamp() };
    await this.options.cluster.patchRollbackStatus(rollback, status);
    if (!wasReconciling) await this.options.cluster.recordEvent(rollback, 'Normal', Reason.Progressing, message);
    return status;
  }

  /** Waits for Flux without blocking: one look at the Kustomizations, then a requeue or the end. */
  private async checkApply(applyWait: ApplyWait, rollback: GitOpsRollback, log: object): Promise<ProcessResult> {
    const status = rollback.status ?? {};
    try {
      const check = await applyWait.check(rollback, status);
      if (check.finished) {
        const { reason, ready } = check.finished;
        notifyObserver(() => this.options.observer?.onFinished?.({ rollback: { ...rollback, status: check.status }, reason, ready, repositoryUrl: rollback.spec.repository?.url }));
        this.options.logger?.[ready ? 'info' : 'error']({ ...log, reason }, ready ? 'Rollback applied' : 'Rollback not applied');
      }
      return check.result;
    } catch (error) {
      if (error instanceof StatusRejectedError) return this.endRejected(rollback, error, log);
      const classified = classifyError(error);
      const rejected = await this.recordFailure(rollback, status, classified, error);
      if (rejected) return this.endRejected(rollback, rejected, log);
      this.options.logger?.error({ ...log, reason: classified.reason, stalling: classified.stalling, err: classified.message }, 'Waiting for apply failed');
      return classified.stalling ? {} : { error, retry: true };
    }
  }

  /** The status was refused and a minimal Stalled one written instead: an Event, and the end. */
  private async endRejected(rollback: GitOpsRollback, error: StatusRejectedError, log: object): Promise<ProcessResult> {
    await this.options.cluster.recordEvent(rollback, 'Warning', Reason.StatusRejected, error.message);
    notifyObserver(() => this.options.observer?.onFinished?.({ rollback, reason: Reason.StatusRejected, ready: false, repositoryUrl: rollback.spec.repository?.url }));
    this.options.logger?.error({ ...log, reason: Reason.StatusRejected, err: error.message }, 'Status refused by the API server; rollback stalled');
    return {};
  }

  private async recordSuccess(
    rollback: GitOpsRollback,
    previous: GitOpsRollbackStatus,
    result: RollbackResult,
    safety?: SafetyVerdict,
    adjust: (status: GitOpsRollbackStatus) => GitOpsRollbackStatus = (s) => s,
  ): Promise<GitOpsRollbackStatus> {
    const outcome = describeOutcome(result);
    let conditions = removeConditions(previous.conditions ?? [], Reconciling, Stalled);
    conditions = this.set(conditions, rollback, { type: Ready, status: 'True', reason: outcome.reason, message: outcome.message });
    conditions = this.set(conditions, rollback, { type: Reverted, status: 'True', reason: outcome.reason, message: outcome.message });
    const pushed = result.result === 'reverted' || result.existingCommit !== undefined;
    conditions = this.set(conditions, rollback, {
      type: Pushed,
      status: pushed ? 'True' : 'False',
      reason: pushed ? Reason.Succeeded : outcome.reason,
      message: pushed ? `${outcome.pushedHead} is on ${result.branch}` : 'Nothing was pushed',
    });
    let status: GitOpsRollbackStatus = {
      ...previous,
      conditions,
      observedGeneration: rollback.metadata.generation,
      revertedCommits: [...new Set(result.commits.flatMap((c) => c.reverts))],
      revertCommits: result.result === 'reverted' ? result.commits.map((c) => c.sha) : result.existingCommit ? [result.existingCommit] : [],
      alreadyReverted: result.alreadyReverted,
      changedPaths: result.changedPaths,
      conflicts: undefined,
      headBefore: result.previousHead,
      headAfter: outcome.pushedHead,
      completionTime: this.timestamp(),
      safety: safety ? toSafetyStatus(safety) : previous.safety,
    };
    status = adjust(status);
    await this.options.cluster.patchRollbackStatus(rollback, status);
    await this.options.cluster.recordEvent(rollback, 'Normal', outcome.reason, outcome.message);
    return status;
  }

  /** Writes the failure; returns the StatusRejectedError when a minimal status had to replace it. */
  private async recordFailure(rollback: GitOpsRollback, previous: GitOpsRollbackStatus, failure: ClassifiedError, error: unknown, safety?: SafetyVerdict): Promise<StatusRejectedError | undefined> {
    let conditions = previous.conditions ?? [];
    const update = { reason: failure.reason, message: failure.message };
    conditions = this.set(conditions, rollback, { type: Ready, status: 'False', ...update });
    if (failure.stalling) {
      conditions = removeConditions(conditions, Reconciling);
      conditions = this.set(conditions, rollback, { type: Stalled, status: 'True', ...update });
      if (error instanceof RevertConflictError) conditions = this.set(conditions, rollback, { type: Reverted, status: 'False', ...update });
    } else {
      conditions = this.set(conditions, rollback, { type: Reconciling, status: 'True', ...update });
    }
    const status: GitOpsRollbackStatus = {
      ...previous,
      conditions,
      observedGeneration: rollback.metadata.generation,
      conflicts: error instanceof RevertConflictError ? error.data.conflicts : previous.conflicts,
      changedPaths: error instanceof SafetyCheckFailedError ? error.data.verdict.changedPaths : previous.changedPaths,
      completionTime: failure.stalling ? this.timestamp() : previous.completionTime,
      safety: safety ? toSafetyStatus(safety) : previous.safety,
    };
    try {
      await this.options.cluster.patchRollbackStatus(rollback, status);
    } catch (writeError) {
      if (writeError instanceof StatusRejectedError) return writeError;
      throw writeError;
    } finally {
      await this.options.cluster.recordEvent(rollback, 'Warning', failure.reason, failure.message);
    }
    return undefined;
  }

  private set(conditions: Condition[], rollback: GitOpsRollback, update: ConditionUpdate): Condition[] {
    return setCondition(conditions, update, rollback.metadata.generation ?? 0, this.now());
  }

  private timestamp(): string {
    return this.now().toISOString().replace(/\.\d{3}Z$/, 'Z');
  }
}

/** The engine request for a rollback object. */
export function buildRequest(rollback: GitOpsRollback, repository: RollbackRequest['repository']): RollbackRequest {
  const { spec } = rollback;
  return {
    repository,
    action: toAction(rollback),
    reason: spec.reason,
    incident: spec.incident,
    requestId: requestIdOf(rollback),
    author: spec.author,
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
  if (restore) return `${restore.paths.join(', ')} to ${restore.revision.slice(0, 12)}`;
  if (revert?.range) return `commits ${revert.range.from.slice(0, 12)}..${revert.range.to.slice(0, 12)}`;
  const commits = revert?.commits ?? [];
  return commits.length === 1 ? `commit ${commits[0].slice(0, 12)}` : `${commits.length} commits`;
}

function describeOutcome(result: RollbackResult): { reason: string; message: string; pushedHead?: string } {
  const short = (sha: string) => sha.slice(0, 12);
  if (result.existingCommit) {
    return { reason: Reason.Succeeded, message: `Rollback commit ${short(result.existingCommit)} is already on ${result.branch}`, pushedHead: result.existingCommit };
  }
  switch (result.result) {
    case 'reverted':
      return { reason: Reason.Succeeded, message: `Pushed ${result.commits.length} commit(s) to ${result.branch}; head is now ${short(result.head!)}`, pushedHead: result.head! };
    case 'planned':
      return { reason: Reason.DryRunSucceeded, message: `Dry run: would push ${result.commits.length} commit(s) changing ${result.changedPaths.length} path(s)` };
    case 'already-reverted':
      return { reason: Reason.AlreadyReverted, message: `Already reverted on ${result.branch}: ${result.alreadyReverted.map(short).join(', ')}` };
    case 'empty':
      return { reason: Reason.NothingToRevert, message: `Reverting changes nothing on ${result.branch}` };
  }
}
