/**
 * Flux in the loop: the steps of a rollback around the push that involve Flux.
 *
 * - {@link ApplyWait.prepare}, before the engine: checks the Flux references of the spec. Sets no
 *   condition; a missing object stalls the rollback before anything is pushed
 *   (KustomizationNotFound, CrossNamespaceRefForbidden).
 * - {@link ApplyWait.imageUpdates}: the suspension of `spec.suspendImageUpdates`, done right
 *   before the push and undone when nothing is pushed (./image-update-suspension.ts).
 * - {@link markPushed}, with the push's status: Pushed=True, Applied=Unknown
 *   WaitingForApply, Reconciling=True, Ready=Unknown; `status.pushTime` and the phases so far.
 * - {@link ApplyWait.check}, on that reconcile and every later one (the engine never runs again):
 *   picks the Kustomizations once (`spec.reconcile.kustomizations`, or those fed by the
 *   GitRepository whose path covers a changed path), requests a reconcile of the sources at once and
 *   of each Kustomization once its source serves the commit (src/flux/request-reconcile.ts says
 *   why), then reads their status without blocking a worker: Applied=True and
 *   Ready=True when all applied the commit; Stalled=True ApplyFailed when one failed on it;
 *   Stalled=True ApplyTimeout after `spec.reconcile.timeout`; otherwise a requeue to poll again.
 *   With no Kustomization to wait for, Ready=True as without Flux.
 */
import { ConditionType, Reason } from '../api/v1alpha1/conditions.js';
import {
  DEFAULT_RECONCILE_TIMEOUT,
  type GitOpsRollback,
  type GitOpsRollbackStatus,
  type KustomizationApplyStatus,
  type NamespacedObjectReference,
  type PhaseDurations,
} from '../api/v1alpha1/types.js';
import { assessKustomization, summarizeApply, type ApplySummary, type KustomizationApply } from '../flux/assess-apply.js';
import { parseDuration } from '../flux/duration.js';
import type { FluxPort, ObjectKey } from '../flux/flux-port.js';
import type { KustomizationView } from '../flux/kustomization.js';
import { formatRequestedAt, requestReconcileAfterArtifact, requestReconcileWithSource, uniqueKeys } from '../flux/request-reconcile.js';
import { selectKustomizations } from '../flux/select-kustomizations.js';
import { isCommitOnBranch } from '../git/commit-on-branch.js';
import type { RollbackResult } from '../git/engine.js';
import { StallingError } from './classify-error.js';
import { findCondition } from './conditions.js';
import { ImageUpdateSuspension } from './image-update-suspension.js';
import type { ClusterPort } from './ports.js';
import type { RollbackStatus } from './rollback-status.js';
import { shortSha } from '../short-sha.js';
import type { ProcessResult } from './work-queue.js';

const { Reconciling, Pushed, Applied } = ConditionType;

/** `spec.reconcile.timeout` when not given. */
export const DEFAULT_APPLY_TIMEOUT = DEFAULT_RECONCILE_TIMEOUT;
/** How often Kustomizations are read while waiting (the `flux` CLI polls every 2 s too). */
export const DEFAULT_APPLY_POLL_INTERVAL_MS = 2000;

export interface ApplyWaitOptions {
  flux: FluxPort;
  cluster: Pick<ClusterPort, 'recordEvent'>;
  allowCrossNamespaceRefs: boolean;
  pollIntervalMs?: number;
  now: () => Date;
}

/** What a check decided: the queue result, the status written, and the end when it ended. */
export interface ApplyCheck {
  result: ProcessResult;
  status: GitOpsRollbackStatus;
  finished?: { reason: string; ready: boolean };
}

/** True while a pushed rollback waits for Flux: Pushed=True and Applied=Unknown. */
export function isWaitingForApply(rollback: GitOpsRollback): boolean {
  const conditions = rollback.status?.conditions;
  return findCondition(conditions, Pushed)?.status === 'True' && findCondition(conditions, Applied)?.status === 'Unknown';
}

/** True when this rollback waits for Flux after pushing `result` (onto the target branch: a push branch waits for its merge first). */
export function shouldWaitForApply(rollback: GitOpsRollback, result: RollbackResult): boolean {
  return isCommitOnBranch(result) && result.pushedBranch === undefined && !rollback.spec.dryRun && awaitsFlux(rollback);
}

/** True when the rollback names what Flux should apply: a GitRepository, or Kustomizations. */
export function awaitsFlux(rollback: GitOpsRollback): boolean {
  return rollback.spec.reconcile !== undefined || rollback.spec.sourceRef !== undefined;
}

/** The wait's timeout in milliseconds; a malformed duration stalls with InvalidSpec. */
export function readApplyTimeoutMs(rollback: GitOpsRollback): number {
  const timeout = rollback.spec.reconcile?.timeout ?? DEFAULT_APPLY_TIMEOUT;
  try {
    return parseDuration(timeout);
  } catch {
    throw new StallingError(Reason.InvalidSpec, `spec.reconcile.timeout "${timeout}" is not a duration such as 30s, 5m or 1h`);
  }
}

const seconds = (ms: number) => Math.max(0, Math.round(ms) / 1000);

/**
 * Adds the phase durations of the engine run (resolve, revert, push; `total` since creation when
 * nothing will be awaited) and, when `waiting`, turns the push's status into the waiting one:
 * Pushed=True stays, Applied=Unknown WaitingForApply, Reconciling=True, Ready=Unknown, no
 * completionTime, `pushTime` now.
 */
export function markPushed(
  rollback: GitOpsRollback,
  status: RollbackStatus,
  timing: { resolveMs: number; result: RollbackResult; waiting: boolean },
  now: Date,
): void {
  const { durations } = timing.result;
  const phases: PhaseDurations = {
    ...status.value.phases,
    resolve: seconds(timing.resolveMs),
    revert: seconds(durations.fetch + durations.compute),
    push: seconds(durations.push),
  };
  status.update({ phases: timing.waiting ? phases : { ...phases, total: sinceCreation(rollback, now) } });
  if (timing.waiting) markWaitingForApply(status, now, `Pushed ${shortSha(status.value.headAfter)}`);
}

/**
 * status.headAfter reached the target branch (`how`: pushed, or its pull request merged): Applied=Unknown
 * WaitingForApply, Reconciling=True, Ready=Unknown, no completionTime, `pushTime` now.
 */
export function markWaitingForApply(status: RollbackStatus, now: Date, how: string): void {
  const message = `${how}; waiting for Flux to apply it`;
  status
    .markReconciling(Reason.WaitingForApply, message)
    .markReadyUnknown(Reason.WaitingForApply, message)
    .mark(Applied, 'Unknown', Reason.WaitingForApply, message);
  status.update({ completionTime: undefined, pushTime: now.toISOString(), kustomizations: undefined });
}

/** Rollbacks whose Kustomizations are remembered as not yet asked to reconcile, at most. */
const MAX_PENDING_ROLLBACKS = 10_000;

export class ApplyWait {
  private readonly pollIntervalMs: number;
  /**
   * Per rollback uid, the Kustomizations not yet asked to reconcile (their source had not served
   * the commit yet). Lost on restart: then all are asked once more, which is harmless.
   */
  private readonly pendingRequests = new Map<string, ObjectKey[]>();
  /** Per rollback uid, the reconcile asked of each Kustomization that failed on the commit (its requestedAt). */
  private readonly failureRetries = new Map<string, Map<string, string>>();

  constructor(private readonly options: ApplyWaitOptions) {
    this.pollIntervalMs = options.pollIntervalMs ?? DEFAULT_APPLY_POLL_INTERVAL_MS;
  }

  /**
   * Before the engine runs: the timeout parses, the named Kustomizations exist, and the
   * ImageUpdateAutomations of `spec.suspendImageUpdates` are in an allowed namespace. Suspending
   * them waits for the push ({@link imageUpdates}). Throws StallingError when something is missing.
   */
  async prepare(rollback: GitOpsRollback): Promise<void> {
    const { flux } = this.options;
    readApplyTimeoutMs(rollback);
    for (const key of this.keysOf(rollback, rollback.spec.reconcile?.kustomizations, 'Kustomization')) {
      if (!(await flux.getKustomization(key)))
        throw new StallingError(Reason.KustomizationNotFound, `Kustomization ${key.namespace}/${key.name} was not found`);
    }
    this.keysOf(rollback, rollback.spec.suspendImageUpdates, 'ImageUpdateAutomation');
  }

  /** This run's suspension of `spec.suspendImageUpdates`; undefined for a dry run or none. */
  imageUpdates(rollback: GitOpsRollback): ImageUpdateSuspension | undefined {
    const keys = this.keysOf(rollback, rollback.spec.suspendImageUpdates, 'ImageUpdateAutomation');
    if (rollback.spec.dryRun || keys.length === 0) return undefined;
    return new ImageUpdateSuspension(rollback, { flux: this.options.flux, cluster: this.options.cluster, keys });
  }

  /**
   * One look at Flux for a pushed rollback (`status` is what the last reconcile wrote). The first
   * look picks the Kustomizations and requests the reconcile; every look judges their status.
   * Conditions: see the file comment. Writes status only when something changed (the patcher).
   */
  async check(rollback: GitOpsRollback, status: RollbackStatus): Promise<ApplyCheck> {
    const now = this.options.now();
    const commit = status.value.headAfter;
    if (!commit) throw new StallingError(Reason.InternalError, 'The rollback is marked pushed but status.headAfter is empty');
    if (status.value.kustomizations === undefined) {
      const targets = await this.chooseTargets(rollback, status.value);
      if (targets.kustomizations.length === 0) return this.finishWithoutWaiting(rollback, status, targets.sources, now);
      const requests = await requestReconcileWithSource(this.options.flux, targets.sources, [], now);
      status.update({ kustomizations: targets.kustomizations.map(({ name, namespace }) => ({ name, namespace, ready: false })) });
      this.rememberPending(rollback, targets.kustomizations);
      const asked = requests.filter((r) => r.found).map((r) => `${r.kind} ${r.key.namespace}/${r.key.name}`);
      await this.options.cluster.recordEvent(
        rollback,
        'Normal',
        Reason.WaitingForApply,
        `Requested a reconcile of ${asked.join(', ') || 'nothing (objects not found)'}; waiting for ${shortSha(commit)} to be applied`,
      );
    }

    const keys = status.value.kustomizations ?? [];
    const views = await Promise.all(keys.map((key) => this.options.flux.getKustomization(key)));
    await this.requestPendingKustomizations(rollback, keys, views, commit, now);
    const assessed = await this.confirmFailures(
      rollback,
      keys.map((key, i) => assessKustomization(key, views[i], commit)),
      views,
      now,
    );
    const summary = summarizeApply(assessed, commit);
    const kustomizations: KustomizationApplyStatus[] = summary.kustomizations.map(({ name, namespace, revision, ready, message }) => ({
      name,
      namespace,
      ...(revision ? { revision } : {}),
      ready,
      message,
    }));
    const deadline = Date.parse(status.value.pushTime ?? now.toISOString()) + readApplyTimeoutMs(rollback);
    status.update({ kustomizations });

    const refusal = await this.readSourceRefusal(rollback, commit);
    if (refusal) {
      const refused = { ...summary, message: `source-controller refused the signature of ${shortSha(commit)}: ${refusal}` };
      return this.finish(rollback, status, refused, now, { ready: false, reason: Reason.SourceVerificationFailed });
    }
    if (summary.state === 'applied') return this.finish(rollback, status, summary, now, { ready: true, reason: Reason.Succeeded });
    if (summary.state === 'failed') return this.finish(rollback, status, summary, now, { ready: false, reason: Reason.ApplyFailed });
    if (now.getTime() >= deadline) {
      const timeout = rollback.spec.reconcile?.timeout ?? DEFAULT_APPLY_TIMEOUT;
      const timedOut = { ...summary, message: `Not applied within ${timeout}: ${summary.message}` };
      return this.finish(rollback, status, timedOut, now, { ready: false, reason: Reason.ApplyTimeout });
    }

    const message = `Waiting for ${shortSha(commit)}: ${summary.message}`;
    status
      .mark(Applied, 'Unknown', Reason.WaitingForApply, message)
      .markReadyUnknown(Reason.WaitingForApply, message)
      .markReconciling(Reason.WaitingForApply, message);
    await status.persist();
    return { result: { requeueAfterMs: Math.max(1, Math.min(this.pollIntervalMs, deadline - now.getTime())) }, status: status.value };
  }

  /**
   * A failure on the commit counts once Flux confirmed it on one more reconcile, asked for after
   * the failure was seen. Right after the revert is applied, the Deployment may still report the
   * broken rollout's ProgressDeadlineExceeded; kustomize-controller's health check then fails at
   * once ("failed early due to stalled resources", 0.3 s after the apply with v1.9.6) and would
   * not look again before its retry interval. The retry is answered when the Kustomization's
   * `status.lastHandledReconcileAt` equals the request; until then the failure is "waiting".
   */
  private async confirmFailures(
    rollback: GitOpsRollback,
    assessed: KustomizationApply[],
    views: (KustomizationView | null)[],
    now: Date,
  ): Promise<KustomizationApply[]> {
    const uid = rollback.metadata.uid ?? '';
    return Promise.all(
      assessed.map(async (apply, i) => {
        if (apply.state !== 'failed') return apply;
        const id = `${apply.namespace}/${apply.name}`;
        const asked = this.failureRetries.get(uid)?.get(id);
        if (asked !== undefined && views[i]?.status?.lastHandledReconcileAt === asked) return apply;
        if (asked === undefined) {
          const requestedAt = formatRequestedAt(now);
          await this.options.flux.requestReconcile('Kustomization', { namespace: apply.namespace, name: apply.name }, requestedAt);
          if (this.failureRetries.size >= MAX_PENDING_ROLLBACKS) this.failureRetries.clear();
          this.failureRetries.set(uid, new Map([...(this.failureRetries.get(uid) ?? []), [id, requestedAt]]));
        }
        return { ...apply, state: 'waiting' as const, message: `${apply.message}; asked Flux to check once more` };
      }),
    );
  }

  private rememberPending(rollback: GitOpsRollback, keys: ObjectKey[]): void {
    if (this.pendingRequests.size >= MAX_PENDING_ROLLBACKS) this.pendingRequests.clear();
    this.pendingRequests.set(
      rollback.metadata.uid ?? '',
      keys.map(({ namespace, name }) => ({ namespace, name })),
    );
  }

  /** Asks the Kustomizations whose source now serves the commit (all of them after a restart). */
  private async requestPendingKustomizations(
    rollback: GitOpsRollback,
    keys: ObjectKey[],
    views: (KustomizationView | null)[],
    commit: string,
    now: Date,
  ): Promise<void> {
    const uid = rollback.metadata.uid ?? '';
    const pending = this.pendingRequests.get(uid) ?? keys;
    if (pending.length === 0) return;
    const isPending = (key: ObjectKey) => pending.some((p) => p.namespace === key.namespace && p.name === key.name);
    const candidates = keys.flatMap((key, i) => (isPending(key) ? [{ key, view: views[i] }] : []));
    this.pendingRequests.set(uid, await requestReconcileAfterArtifact(this.options.flux, candidates, commit, now));
  }

  /** Applied=True and Ready=True, or Applied=False and Stalled=True with the reason; an Event. */
  private async finish(
    rollback: GitOpsRollback,
    status: RollbackStatus,
    summary: ApplySummary,
    now: Date,
    end: { ready: boolean; reason: string },
  ): Promise<ApplyCheck> {
    this.pendingRequests.delete(rollback.metadata.uid ?? '');
    this.failureRetries.delete(rollback.metadata.uid ?? '');
    const { message } = summary;
    status.remove(Reconciling).mark(Applied, end.ready ? 'True' : 'False', end.reason, message);
    if (end.ready) status.markReady(end.reason, message);
    else status.markNotReady(end.reason, message).markStalled(end.reason, message);
    const { pushTime, phases } = status.value;
    const pushedAt = pushTime ? Date.parse(pushTime) : now.getTime();
    status.update({
      completionTime: status.timestamp(now),
      phases: { ...phases, apply: seconds(now.getTime() - pushedAt), ...(end.ready ? { total: sinceCreation(rollback, now) } : {}) },
    });
    await status.persist();
    await this.options.cluster.recordEvent(rollback, end.ready ? 'Normal' : 'Warning', end.ready ? Reason.Applied : end.reason, message);
    return { result: {}, status: status.value, finished: end };
  }

  /**
   * Flux's message when the rollback's GitRepository (spec.verify on) refused the pushed commit's
   * signature: SourceVerified=False naming the commit. source-controller then keeps serving the
   * previous artifact, so waiting longer would only end in ApplyTimeout.
   */
  private async readSourceRefusal(rollback: GitOpsRollback, commit: string): Promise<string | undefined> {
    const { sourceRef } = rollback.spec;
    if (sourceRef?.kind !== 'GitRepository') return undefined;
    const verified = await this.options.flux.getSourceVerified({ namespace: sourceRef.namespace ?? rollback.metadata.namespace!, name: sourceRef.name });
    return verified?.status === 'False' && verified.message?.includes(commit) ? verified.message : undefined;
  }

  /** No Kustomization to wait for: the GitRepository is still asked to reconcile; Ready=True. */
  private async finishWithoutWaiting(rollback: GitOpsRollback, status: RollbackStatus, sources: ObjectKey[], now: Date): Promise<ApplyCheck> {
    if (sources.length > 0) await requestReconcileWithSource(this.options.flux, sources, [], now);
    const { headAfter, pushTime, phases } = status.value;
    status.remove(Reconciling, Applied).markReady(Reason.Succeeded, `Pushed ${shortSha(headAfter)}; no Kustomization to wait for`);
    const pushedAt = new Date(pushTime ? Date.parse(pushTime) : now.getTime());
    status.update({ kustomizations: [], completionTime: status.timestamp(pushedAt), phases: { ...phases, total: sinceCreation(rollback, pushedAt) } });
    await status.persist();
    return { result: {}, status: status.value, finished: { ready: true, reason: Reason.Succeeded } };
  }

  /** The Kustomizations to wait for, and the GitRepositories feeding them. */
  private async chooseTargets(rollback: GitOpsRollback, status: GitOpsRollbackStatus): Promise<{ kustomizations: ObjectKey[]; sources: ObjectKey[] }> {
    const namespace = rollback.metadata.namespace!;
    const { sourceRef, reconcile } = rollback.spec;
    const source = sourceRef ? { namespace: sourceRef.namespace ?? namespace, name: sourceRef.name } : undefined;
    const named = this.keysOf(rollback, reconcile?.kustomizations, 'Kustomization');
    if (named.length > 0) {
      // As `flux reconcile ks --with-source`: each Kustomization's own GitRepository too.
      const views = await Promise.all(named.map((key) => this.options.flux.getKustomization(key)));
      const fed = views.flatMap((view) =>
        view?.sourceRef.kind === 'GitRepository' ? [{ namespace: view.sourceRef.namespace ?? view.namespace, name: view.sourceRef.name }] : [],
      );
      return { kustomizations: named, sources: uniqueKeys([...(source ? [source] : []), ...fed]) };
    }
    if (!source) return { kustomizations: [], sources: [] };
    const all = await this.options.flux.listKustomizations(this.options.allowCrossNamespaceRefs ? undefined : namespace);
    // A commit recorded after a crash comes without its changed paths: every Kustomization of the source.
    const changedPaths = status.changedPaths?.length ? status.changedPaths : [''];
    const selected = selectKustomizations(all, source, changedPaths);
    return { kustomizations: selected.map(({ namespace: ns, name }) => ({ namespace: ns, name })), sources: [source] };
  }

  /** References with their namespace filled in; another namespace needs --allow-cross-namespace-refs. */
  private keysOf(rollback: GitOpsRollback, references: NamespacedObjectReference[] | undefined, kind: string): ObjectKey[] {
    const namespace = rollback.metadata.namespace!;
    const keys = (references ?? []).map((ref) => ({ namespace: ref.namespace ?? namespace, name: ref.name }));
    const crossing = keys.find((key) => key.namespace !== namespace);
    if (crossing && !this.options.allowCrossNamespaceRefs) {
      throw new StallingError(
        Reason.CrossNamespaceRefForbidden,
        `${kind} ${crossing.namespace}/${crossing.name} is in another namespace; the operator does not allow cross-namespace references`,
      );
    }
    return uniqueKeys(keys);
  }
}

/** Seconds from the object's creation to `end` (creationTimestamp has whole seconds). */
function sinceCreation(rollback: GitOpsRollback, end: Date): number | undefined {
  const created = rollback.metadata.creationTimestamp;
  return created ? seconds(end.getTime() - Date.parse(created)) : undefined;
}
