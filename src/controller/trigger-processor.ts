/**
 * Decides on one automated trigger and acts: reads the policy and the Kustomization fresh,
 * checks the policy's namespace, coverage, reason, that the Kustomization really fails at the
 * reported revision (its own status, not the caller's word), last good revision, duplicates,
 * cooldown, rate limit and the loop guard, then creates a GitOpsRollback owned by the policy (reverting lastGood..failing, limited
 * to the Kustomization's path). Every decision that stops a trigger the user asked for is a
 * Warning Event on the policy; a created rollback is a Normal `RollbackCreated` Event and the
 * policy's `status.lastRollback`. Transient API failures throw, for the queue to retry.
 */
import { DEFAULT_TRIGGER_REASONS, PolicyEventReason, type GitOpsRollbackPolicy } from '../api/v1alpha1/policy-types.js';
import { normalizeSourcePathInRoot } from '../flux/source-path.js';
import { MAX_TRIGGER_REASON, toOneLine } from '../webhook/event-text.js';
import { parseRevisionSha } from '../webhook/flux-event.js';
import type { Trigger } from '../webhook/trigger.js';
import {
  assessFluxFailure,
  buildAutomatedRollback,
  checkPolicyNamespace,
  checkRateLimits,
  computeRollbackName,
  findLastGoodRevision,
  findRollbackCommit,
  selectsKustomization,
  type Refusal,
} from './policy-decision.js';
import type { PolicyClusterPort, ReadCommitRange } from './policy-ports.js';

export interface TriggerLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface TriggerProcessorOptions {
  cluster: PolicyClusterPort;
  readCommitRange: ReadCommitRange;
  /** As the reconciler's flag: a GitRepository in another namespace than the policy's. */
  allowCrossNamespaceRefs?: boolean;
  /** `--allow-cross-namespace-policies`: a policy may name Kustomizations outside its namespace. */
  allowCrossNamespacePolicies?: boolean;
  logger?: TriggerLogger;
  now?: () => Date;
}

/** What became of a trigger (for logs, metrics and tests). */
export type TriggerOutcome =
  | { action: 'created'; rollback: string }
  | { action: 'duplicate'; rollback: string }
  | { action: 'ignored'; why: string }
  | { action: 'refused'; reason: string; message: string };

/**
 * The Kustomization's status does not (yet) show the failure the event reports: Flux sends its
 * event before it writes the status. Transient: the queue retries, then drops the trigger.
 */
export class TriggerNotSettledError extends Error {
  readonly code = 'TriggerNotSettledError' as const;
  constructor(readonly data: { kustomization: string; why: string }) {
    super(`Kustomization ${data.kustomization}: ${data.why}`);
    this.name = 'TriggerNotSettledError';
  }
}

export class TriggerProcessor {
  private readonly now: () => Date;

  constructor(private readonly options: TriggerProcessorOptions) {
    this.now = options.now ?? (() => new Date());
  }

  /** Processes one trigger. Throws only on transient failures (retry). */
  async process(trigger: Trigger): Promise<TriggerOutcome> {
    const outcome = await this.decide(trigger);
    const fields = { policy: `${trigger.policy.namespace}/${trigger.policy.name}`, kustomization: `${trigger.kustomization.namespace}/${trigger.kustomization.name}`, source: trigger.source, reason: trigger.reason, ...outcome };
    if (outcome.action === 'refused') this.options.logger?.warn(fields, 'Automated rollback refused');
    else this.options.logger?.info(fields, outcome.action === 'created' ? 'Automated rollback created' : 'Trigger needs no rollback');
    return outcome;
  }

  private async decide(trigger: Trigger): Promise<TriggerOutcome> {
    const { cluster } = this.options;
    const policy = await cluster.getPolicy(trigger.policy.namespace, trigger.policy.name);
    if (!policy || policy.metadata.deletionTimestamp) return { action: 'ignored', why: 'policy not found' };
    if (policy.spec.suspend) return { action: 'ignored', why: 'policy suspended' };
    if (trigger.source === 'flux' && !(policy.spec.reasons ?? DEFAULT_TRIGGER_REASONS).includes(trigger.reason)) return { action: 'ignored', why: `reason ${trigger.reason} does not trigger` };
    const confined = checkPolicyNamespace(policy, this.options.allowCrossNamespacePolicies ?? false);
    if (confined) return this.refuse(policy, confined);

    const kustomization = await cluster.getKustomization(trigger.kustomization.namespace, trigger.kustomization.name);
    if (!kustomization) return { action: 'ignored', why: 'Kustomization not found' };
    if (trigger.kustomization.uid && kustomization.metadata.uid !== trigger.kustomization.uid) return { action: 'ignored', why: 'event about a previous object of that name' };
    if (!selectsKustomization(policy, kustomization)) return { action: 'ignored', why: 'Kustomization not covered by the policy' };

    const key = `${kustomization.metadata.namespace}/${kustomization.metadata.name}`;
    let failingRevision = kustomization.status?.lastAppliedRevision;
    if (trigger.source === 'flux') {
      // An OCI digest or a tag can never be rolled back: no need to wait for the status.
      if (trigger.revision !== undefined && !parseRevisionSha(trigger.revision)) return { action: 'ignored', why: `no git commit revision (${trigger.revision})` };
      const assessment = assessFluxFailure(kustomization, trigger.revision);
      if ('ignore' in assessment) return { action: 'ignored', why: assessment.ignore };
      if ('wait' in assessment) throw new TriggerNotSettledError({ kustomization: key, why: assessment.wait });
      failingRevision = assessment.failingRevision;
    }
    const failingSha = parseRevisionSha(failingRevision);
    if (!failingRevision || !failingSha) return { action: 'ignored', why: `no git commit revision (${failingRevision ?? 'none'})` };

    const entry = policy.status?.kustomizations?.find((k) => k.namespace === kustomization.metadata.namespace && k.name === kustomization.metadata.name);
    const lastGoodSha = findLastGoodRevision(entry, failingSha, parseRevisionSha);
    if (!lastGoodSha) {
      return this.refuse(policy, { reason: PolicyEventReason.NoHealthyRevision, message: `Kustomization ${key} failed at ${failingRevision}, but no earlier healthy revision is known to roll back to` });
    }

    const name = computeRollbackName(kustomization, failingSha);
    const rollbacks = await cluster.listPolicyRollbacks(policy);
    if (rollbacks.some((r) => r.metadata.name === name)) return { action: 'duplicate', rollback: name };
    const limited = checkRateLimits(policy, key, rollbacks, this.now());
    if (limited) return this.refuse(policy, limited);

    const sourceRef = kustomization.spec?.sourceRef;
    if (sourceRef?.kind !== 'GitRepository') {
      return this.refuse(policy, { reason: PolicyEventReason.UnsupportedSource, message: `Kustomization ${key} applies a ${sourceRef?.kind ?? 'missing'} source; only GitRepository sources can be rolled back` });
    }
    const source = { namespace: sourceRef.namespace ?? kustomization.metadata.namespace!, name: sourceRef.name };
    if (source.namespace !== policy.metadata.namespace && !this.options.allowCrossNamespaceRefs) {
      return this.refuse(policy, { reason: PolicyEventReason.CrossNamespaceRefForbidden, message: `GitRepository ${source.namespace}/${source.name} of Kustomization ${key} is outside the policy's namespace; the operator does not allow cross-namespace references` });
    }
    try {
      normalizeSourcePathInRoot(kustomization.spec?.path);
    } catch (error) {
      return this.refuse(policy, { reason: PolicyEventReason.UnsupportedSource, message: (error as Error).message });
    }

    let commits;
    try {
      commits = await this.options.readCommitRange(source, lastGoodSha, failingSha);
    } catch (error) {
      return this.refuse(policy, { reason: PolicyEventReason.CommitRangeUnreadable, message: `Cannot read commits ${lastGoodSha.slice(0, 12)}..${failingSha.slice(0, 12)} of GitRepository ${source.namespace}/${source.name}: ${(error as Error).message}` });
    }
    if (!commits.length) return this.refuse(policy, { reason: PolicyEventReason.NothingToRevert, message: `No commits between ${lastGoodSha.slice(0, 12)} and ${failingSha.slice(0, 12)} for Kustomization ${key}` });
    const loop = findRollbackCommit(commits);
    if (loop) {
      return this.refuse(policy, {
        reason: PolicyEventReason.RollbackLoopPrevented,
        message: `Commit ${loop.oid.slice(0, 12)} in ${lastGoodSha.slice(0, 12)}..${failingSha.slice(0, 12)} is itself a rollback; not reverting it automatically (Kustomization ${key})`,
      });
    }

    const rollback = buildAutomatedRollback({ policy, kustomization, source, lastGoodSha, failingSha, failingRevision, trigger });
    const created = await cluster.createRollback(rollback);
    if (created === 'exists') return { action: 'duplicate', rollback: name };
    const paths = rollback.spec.revert?.paths?.join(', ') ?? 'the whole repository';
    await cluster.recordEvent(policy, 'Normal', PolicyEventReason.RollbackCreated,
      `Created GitOpsRollback ${name}: revert ${commits.length} commit(s) ${lastGoodSha.slice(0, 12)}..${failingSha.slice(0, 12)} in ${paths} for Kustomization ${key} (${trigger.source} ${toOneLine(trigger.reason, MAX_TRIGGER_REASON)})`);
    await this.recordLastRollback(policy, name);
    return { action: 'created', rollback: name };
  }

  private async refuse(policy: GitOpsRollbackPolicy, refusal: Refusal): Promise<TriggerOutcome> {
    await this.options.cluster.recordEvent(policy, 'Warning', refusal.reason, refusal.message);
    return { action: 'refused', ...refusal };
  }

  /**
   * status.lastRollback, re-read and retried on a conflict with the revision tracker. Best
   * effort: the rollback exists either way, so a failure here is logged, not retried.
   */
  private async recordLastRollback(policy: GitOpsRollbackPolicy, name: string): Promise<void> {
    const time = this.now().toISOString().replace(/\.\d{3}Z$/, 'Z');
    try {
      let current: GitOpsRollbackPolicy | null = policy;
      for (let attempt = 0; current && attempt < 5; attempt++) {
        if ((await this.options.cluster.replacePolicyStatus(current, { ...current.status, lastRollback: { name, time } })) === 'replaced') return;
        current = await this.options.cluster.getPolicy(policy.metadata.namespace!, policy.metadata.name!);
      }
    } catch (error) {
      this.options.logger?.warn({ policy: `${policy.metadata.namespace}/${policy.metadata.name}`, err: (error as Error).message }, 'Cannot record the last rollback in the policy status');
    }
  }
}
