/**
 * Decides on one automated trigger and acts, as an ordered list of steps (like source-controller's
 * sub-reconcilers): read the policy and check it, read the Kustomization and check coverage, find
 * the failing revision in the Kustomization's own status (never the caller's word), the last good
 * revision (the policy's record, else Flux's status.history), duplicates and rate limits, the source, and the commits (the loop guard); then create a
 * GitOpsRollback owned by the policy (reverting lastGood..failing, limited to the Kustomization's
 * path). A step ends the decision by throwing a {@link TriggerStop}; a refusal the user should hear
 * about is a Warning Event on the policy, a created rollback a Normal `RollbackCreated` Event and
 * the policy's `status.lastRollback`. Transient API failures throw, for the queue to retry.
 */
import { DEFAULT_TRIGGER_REASONS, PolicyEventReason, type GitOpsRollbackPolicy } from '../api/v1alpha1/policy-types.js';
import type { GitOpsRollback } from '../api/v1alpha1/types.js';
import type { ObjectKey } from '../flux/flux-port.js';
import { lastHealthyFromHistory } from '../flux/status-history.js';
import type { Kustomization } from '../flux/kustomization.js';
import { normalizeSourcePathInRoot } from '../flux/source-path.js';
import type { RangeCommit } from '../git/read-range.js';
import { MAX_TRIGGER_REASON, toOneLine } from '../webhook/event-text.js';
import { parseRevisionSha } from '../webhook/flux-event.js';
import type { Trigger } from '../webhook/trigger.js';
import {
  assessFluxFailure,
  buildAutomatedRollback,
  checkPolicyNamespace,
  checkRateLimits,
  computeRollbackName,
  describeLastGood,
  findLastGoodRevision,
  findRollbackCommit,
  selectsKustomization,
  type LastGood,
  type LastGoodSource,
  type Refusal,
} from './policy-decision.js';
import type { PolicyClusterPort, ReadCommitRange } from './policy-ports.js';
import { refusals, rollbackCreatedMessage } from './trigger-refusals.js';
import { formatTimestamp } from './status-format.js';
import { CodedError } from '../coded-error.js';
import { objectKey } from '../object-key.js';
import { writePolicyStatus } from './policy-status.js';

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
  | { action: 'created'; rollback: string; lastGoodSource: LastGoodSource }
  | { action: 'duplicate'; rollback: string }
  | { action: 'ignored'; why: string }
  | { action: 'refused'; reason: string; message: string };

/**
 * The Kustomization's status does not (yet) show the failure the event reports: Flux sends its
 * event before it writes the status. Transient: the queue retries, then drops the trigger.
 */
export class TriggerNotSettledError extends CodedError {
  readonly code = 'TriggerNotSettledError' as const;
  constructor(readonly data: { kustomization: string; why: string }) {
    super(`Kustomization ${data.kustomization}: ${data.why}`);
  }
}

/** Ends a decision early with its outcome; thrown by a step, caught by {@link TriggerProcessor}. */
export class TriggerStop extends CodedError {
  readonly code = 'TriggerStop' as const;
  constructor(readonly outcome: Exclude<TriggerOutcome, { action: 'created' }>) {
    super(outcome.action === 'refused' ? outcome.message : outcome.action);
  }
}

// Declared as functions returning never, so TypeScript knows a step ends where it calls them.
function ignore(why: string): never {
  throw new TriggerStop({ action: 'ignored', why });
}
function refuse(refusal: Refusal): never {
  throw new TriggerStop({ action: 'refused', ...refusal });
}
function duplicate(rollback: string): never {
  throw new TriggerStop({ action: 'duplicate', rollback });
}

/** Step 1: the policy, fresh; present, active and triggered by this reason. */
export async function readPolicy(trigger: Trigger, cluster: PolicyClusterPort): Promise<GitOpsRollbackPolicy> {
  const policy = await cluster.getPolicy(trigger.policy.namespace, trigger.policy.name);
  if (!policy || policy.metadata.deletionTimestamp) ignore('policy not found');
  if (policy.spec.suspend) ignore('policy suspended');
  if (trigger.source === 'flux' && !(policy.spec.reasons ?? DEFAULT_TRIGGER_REASONS).includes(trigger.reason))
    ignore(`reason ${trigger.reason} does not trigger`);
  return policy;
}

/** Step 2: the policy names Kustomizations only where the operator lets it. */
export function checkPolicyScope(policy: GitOpsRollbackPolicy, allowCrossNamespacePolicies: boolean): void {
  const confined = checkPolicyNamespace(policy, allowCrossNamespacePolicies);
  if (confined) refuse(confined);
}

/** Step 3: the Kustomization, fresh; the object the event was about, covered by the policy. */
export async function readKustomization(trigger: Trigger, policy: GitOpsRollbackPolicy, cluster: PolicyClusterPort): Promise<Kustomization> {
  const kustomization = await cluster.getKustomization(trigger.kustomization.namespace, trigger.kustomization.name);
  if (!kustomization) ignore('Kustomization not found');
  if (trigger.kustomization.uid && kustomization.metadata.uid !== trigger.kustomization.uid) ignore('event about a previous object of that name');
  if (!selectsKustomization(policy, kustomization)) ignore('Kustomization not covered by the policy');
  return kustomization;
}

/**
 * Step 4: the revision that fails, from the Kustomization's status. A Flux event must agree with
 * it; when the status has not caught up yet, {@link TriggerNotSettledError} (retried).
 */
export function findFailingRevision(trigger: Trigger, kustomization: Kustomization): { revision: string; sha: string } {
  let revision = kustomization.status?.lastAppliedRevision;
  if (trigger.source === 'flux') {
    // An OCI digest or a tag can never be rolled back: no need to wait for the status.
    if (trigger.revision !== undefined && !parseRevisionSha(trigger.revision)) ignore(`no git commit revision (${trigger.revision})`);
    const assessment = assessFluxFailure(kustomization, trigger.revision);
    if ('ignore' in assessment) ignore(assessment.ignore);
    if ('wait' in assessment) throw new TriggerNotSettledError({ kustomization: objectKey(kustomization), why: assessment.wait });
    revision = assessment.failingRevision;
  }
  const sha = parseRevisionSha(revision);
  if (!revision || !sha) ignore(`no git commit revision (${revision ?? 'none'})`);
  return { revision, sha };
}

/**
 * Step 5: the last healthy revision before the failing one: the one the policy recorded (the
 * revision tracker records what it sees healthy), else the newest healthy snapshot of the
 * Kustomization's own `status.history` (the tracker never saw it healthy: the policy was created,
 * or the operator installed, while the Kustomization was already failing). Refused
 * NoHealthyRevision when neither has one other than the failing revision.
 */
export function findLastGood(policy: GitOpsRollbackPolicy, kustomization: Kustomization, failing: { revision: string; sha: string }): LastGood {
  const { namespace, name } = kustomization.metadata;
  const entry = policy.status?.kustomizations?.find((k) => k.namespace === namespace && k.name === name);
  const recorded = findLastGoodRevision(entry, failing.sha, parseRevisionSha);
  if (recorded) return { sha: recorded, source: 'policy-status' };
  // Only a sha1 commit id (parseRevisionSha): the engine and the CRD's range take those.
  const fromHistory = parseRevisionSha(lastHealthyFromHistory(kustomization.status?.history, failing.sha));
  if (fromHistory) return { sha: fromHistory, source: 'flux-history' };
  refuse(refusals.noHealthyRevision(objectKey(kustomization), failing.revision));
}

/** Step 6: not rolled back already (the name is deterministic), and within cooldown and rate limits. */
export async function checkPriorRollbacks(
  policy: GitOpsRollbackPolicy,
  kustomization: Kustomization,
  failingSha: string,
  cluster: PolicyClusterPort,
  now: Date,
): Promise<string> {
  const name = computeRollbackName(kustomization, failingSha);
  const rollbacks: GitOpsRollback[] = await cluster.listPolicyRollbacks(policy);
  if (rollbacks.some((r) => r.metadata.name === name)) duplicate(name);
  const limited = checkRateLimits(policy, objectKey(kustomization), rollbacks, now);
  if (limited) refuse(limited);
  return name;
}

/** Step 7: the GitRepository to revert in: a Git source the policy may reach, and a path inside it. */
export function resolveSource(policy: GitOpsRollbackPolicy, kustomization: Kustomization, allowCrossNamespaceRefs: boolean): ObjectKey {
  const key = objectKey(kustomization);
  const sourceRef = kustomization.spec?.sourceRef;
  if (sourceRef?.kind !== 'GitRepository') refuse(refusals.unsupportedSourceKind(key, sourceRef?.kind));
  const source = { namespace: sourceRef.namespace ?? kustomization.metadata.namespace!, name: sourceRef.name };
  if (source.namespace !== policy.metadata.namespace && !allowCrossNamespaceRefs) refuse(refusals.crossNamespaceSource(key, source));
  try {
    normalizeSourcePathInRoot(kustomization.spec?.path);
  } catch (error) {
    refuse(refusals.unsupportedPath((error as Error).message));
  }
  return source;
}

/** Step 8: the commits lastGood..failing, at least one, none of them a rollback itself (the loop guard). */
export async function readCommitsToRevert(
  source: ObjectKey,
  lastGood: string,
  failing: string,
  kustomization: string,
  readCommitRange: ReadCommitRange,
): Promise<RangeCommit[]> {
  let commits: RangeCommit[];
  try {
    commits = await readCommitRange(source, lastGood, failing);
  } catch (error) {
    refuse(refusals.commitRangeUnreadable(source, lastGood, failing, (error as Error).message));
  }
  if (!commits.length) refuse(refusals.nothingToRevert(kustomization, lastGood, failing));
  const loop = findRollbackCommit(commits);
  if (loop) refuse(refusals.rollbackLoop(kustomization, loop.oid, lastGood, failing));
  return commits;
}

export class TriggerProcessor {
  private readonly now: () => Date;

  constructor(private readonly options: TriggerProcessorOptions) {
    this.now = options.now ?? (() => new Date());
  }

  /** Processes one trigger. Throws only on transient failures (retry). */
  async process(trigger: Trigger): Promise<TriggerOutcome> {
    const outcome = await this.decide(trigger);
    const fields = {
      policy: `${trigger.policy.namespace}/${trigger.policy.name}`,
      kustomization: `${trigger.kustomization.namespace}/${trigger.kustomization.name}`,
      source: trigger.source,
      reason: trigger.reason,
      ...outcome,
    };
    if (outcome.action === 'refused') this.options.logger?.warn(fields, 'Automated rollback refused');
    else this.options.logger?.info(fields, outcome.action === 'created' ? 'Automated rollback created' : 'Trigger needs no rollback');
    return outcome;
  }

  private async decide(trigger: Trigger): Promise<TriggerOutcome> {
    const { cluster, readCommitRange } = this.options;
    let policy: GitOpsRollbackPolicy | undefined;
    try {
      policy = await readPolicy(trigger, cluster);
      checkPolicyScope(policy, this.options.allowCrossNamespacePolicies ?? false);
      const kustomization = await readKustomization(trigger, policy, cluster);
      const failing = findFailingRevision(trigger, kustomization);
      const lastGood = findLastGood(policy, kustomization, failing);
      const lastGoodSha = lastGood.sha;
      const name = await checkPriorRollbacks(policy, kustomization, failing.sha, cluster, this.now());
      const source = resolveSource(policy, kustomization, this.options.allowCrossNamespaceRefs ?? false);
      const commits = await readCommitsToRevert(source, lastGoodSha, failing.sha, objectKey(kustomization), readCommitRange);
      const rollback = buildAutomatedRollback({
        policy,
        kustomization,
        source,
        lastGoodSha,
        lastGoodSource: lastGood.source,
        failingSha: failing.sha,
        failingRevision: failing.revision,
        trigger,
      });
      if ((await cluster.createRollback(rollback)) === 'exists') return { action: 'duplicate', rollback: name };
      const message = rollbackCreatedMessage({
        name,
        commits: commits.length,
        from: lastGoodSha,
        to: failing.sha,
        paths: rollback.spec.revert?.paths?.join(', ') ?? 'the whole repository',
        kustomization: objectKey(kustomization),
        trigger: `${trigger.source} ${toOneLine(trigger.reason, MAX_TRIGGER_REASON)}`,
        lastGood: describeLastGood(lastGood),
      });
      await cluster.recordEvent(policy, 'Normal', PolicyEventReason.RollbackCreated, message);
      await this.recordLastRollback(policy, name);
      return { action: 'created', rollback: name, lastGoodSource: lastGood.source };
    } catch (error) {
      if (!(error instanceof TriggerStop)) throw error;
      const { outcome } = error;
      // Every refusal comes after step 1, so there is a policy to tell.
      if (outcome.action === 'refused' && policy) await cluster.recordEvent(policy, 'Warning', outcome.reason, outcome.message);
      return outcome;
    }
  }

  /**
   * status.lastRollback, re-read and retried on a conflict with the revision tracker. Best
   * effort: the rollback exists either way, so a failure here is logged, not retried.
   */
  private async recordLastRollback(policy: GitOpsRollbackPolicy, name: string): Promise<void> {
    const time = formatTimestamp(this.now());
    try {
      let current: GitOpsRollbackPolicy | null = policy;
      for (let attempt = 0; current && attempt < 5; attempt++) {
        if ((await writePolicyStatus(this.options.cluster, current, { ...current.status, lastRollback: { name, time } })) !== 'conflict') return;
        current = await this.options.cluster.getPolicy(policy.metadata.namespace!, policy.metadata.name!);
      }
    } catch (error) {
      this.options.logger?.warn({ policy: objectKey(policy), err: (error as Error).message }, 'Cannot record the last rollback in the policy status');
    }
  }
}
