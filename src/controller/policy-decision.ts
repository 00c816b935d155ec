/**
 * The pure decisions of automated rollbacks: which Kustomizations a policy covers, the last
 * good revision, cooldown and rate limit, the loop guard, and the GitOpsRollback to create.
 * No I/O: the trigger processor and the revision tracker call these with what they read.
 */
import { createHash } from 'node:crypto';
import { parseDuration } from '../flux/duration.js';
import {
  DEFAULT_COOLDOWN,
  KUSTOMIZATION_ANNOTATION,
  POLICY_KIND,
  PolicyEventReason,
  POLICY_UID_LABEL,
  TRIGGER_ANNOTATION,
  type GitOpsRollbackPolicy,
  type KustomizationRevisions,
  type LabelSelector,
} from '../api/v1alpha1/policy-types.js';
import { API_VERSION, KIND, type GitOpsRollback } from '../api/v1alpha1/types.js';
import type { Kustomization } from '../flux/kustomization.js';
import { readinessOf } from '../flux/readiness.js';
import { normalizeSourcePathInRoot } from '../flux/source-path.js';
import type { RangeCommit } from '../git/read-range.js';
import { toOneLine } from '../webhook/event-text.js';
import { formatTimestamp } from './status-format.js';
import { objectKey } from '../object-key.js';
import { shortSha } from '../short-sha.js';

/** A reason not to act, as an Event reason and message. */
export interface Refusal {
  reason: string;
  message: string;
}

/** Whether `labels` satisfy a metav1.LabelSelector (an empty selector matches everything). */
export function matchesLabelSelector(selector: LabelSelector, labels: Record<string, string> = {}): boolean {
  const byLabels = Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels[key] === value);
  return (
    byLabels &&
    (selector.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
      switch (operator) {
        case 'In':
          return key in labels && values.includes(labels[key]);
        case 'NotIn':
          return !(key in labels) || !values.includes(labels[key]);
        case 'Exists':
          return key in labels;
        case 'DoesNotExist':
          return !(key in labels);
        default:
          return false;
      }
    })
  );
}

/** The namespace of the Kustomizations a policy covers. */
export function kustomizationNamespaceOf(policy: GitOpsRollbackPolicy): string {
  return policy.spec.kustomizations.namespace ?? policy.metadata.namespace!;
}

/**
 * A policy naming Kustomizations outside its own namespace is refused unless the operator allows
 * it (`--allow-cross-namespace-policies`): a tenant's policy must not read, nor roll back, nor copy
 * into its status another tenant's Kustomizations. Undefined when the policy may act.
 */
export function checkPolicyNamespace(policy: GitOpsRollbackPolicy, allowCrossNamespace: boolean): Refusal | undefined {
  const target = kustomizationNamespaceOf(policy);
  if (target === policy.metadata.namespace || allowCrossNamespace) return undefined;
  return {
    reason: PolicyEventReason.CrossNamespacePolicyForbidden,
    message: `The policy names Kustomizations in namespace ${target}, outside its own namespace ${policy.metadata.namespace}; the operator does not allow cross-namespace policies (--allow-cross-namespace-policies)`,
  };
}

/**
 * What a Flux event's claim is worth against the Kustomization's own status: the revision to roll
 * back, only when the Kustomization really fails at it — its Ready condition is False for its
 * current generation and the event's revision is its `lastAttemptedRevision` (the revision comes
 * from the status, never from the caller's text). `ignore` when the status contradicts the event
 * (Ready=True: nothing fails); `wait` when the status may not have caught up with the event yet
 * (Flux sends the event before it writes the status): retried, then dropped.
 */
export type FailureAssessment = { failingRevision: string } | { ignore: string } | { wait: string };

export function assessFluxFailure(kustomization: Kustomization, reportedRevision: string | undefined): FailureAssessment {
  const attempted = kustomization.status?.lastAttemptedRevision;
  const readiness = readinessOf(kustomization.metadata.generation, kustomization.status);
  if (readiness.ready) return { ignore: `the Kustomization is Ready at ${attempted ?? 'its revision'}; nothing is failing` };
  if (!readiness.failing) return { wait: 'the Kustomization is not (yet) failing for its current generation' };
  if (!attempted) return { wait: 'the Kustomization has no lastAttemptedRevision' };
  if (reportedRevision !== undefined && reportedRevision !== attempted)
    return { wait: `the event reports ${toOneLine(reportedRevision, 80)}, the Kustomization last attempted ${attempted}` };
  return { failingRevision: attempted };
}

/** Whether the policy covers the Kustomization: its namespace, and named or selected. */
export function selectsKustomization(policy: GitOpsRollbackPolicy, kustomization: Kustomization): boolean {
  const { names, selector } = policy.spec.kustomizations;
  if (kustomization.metadata.namespace !== kustomizationNamespaceOf(policy)) return false;
  if (names?.includes(kustomization.metadata.name!)) return true;
  return selector !== undefined && matchesLabelSelector(selector, kustomization.metadata.labels);
}

/** Ready=True for the current generation: the applied revision passed Flux's health checks. */
export function isHealthy(kustomization: Kustomization): boolean {
  return readinessOf(kustomization.metadata.generation, kustomization.status).ready && Boolean(kustomization.status?.lastAppliedRevision);
}

/**
 * The policy's record for a Kustomization after it was seen healthy at `revision`: unchanged
 * (same object) when the revision is the recorded one; otherwise the previous one moves down.
 */
export function recordHealthyRevision(
  previous: KustomizationRevisions | undefined,
  namespace: string,
  name: string,
  revision: string,
  now: Date,
): KustomizationRevisions {
  if (previous && previous.lastHealthyRevision === revision) return previous;
  const entry: KustomizationRevisions = { namespace, name, lastHealthyRevision: revision, lastHealthyTime: formatTimestamp(now) };
  if (previous) entry.previousHealthyRevision = previous.lastHealthyRevision;
  return entry;
}

/**
 * The last revision seen healthy that is not the failing one (on HealthCheckFailed Flux already
 * reports the failing revision as lastAppliedRevision; after an alert on a healthy revision, the
 * one before it). Shas, via `toSha`.
 */
export function findLastGoodRevision(
  entry: KustomizationRevisions | undefined,
  failingSha: string,
  toSha: (revision: string | undefined) => string | undefined,
): string | undefined {
  if (!entry) return undefined;
  for (const revision of [entry.lastHealthyRevision, entry.previousHealthyRevision]) {
    const sha = toSha(revision);
    if (sha && sha !== failingSha) return sha;
  }
  return undefined;
}

/**
 * Where a trigger's last good revision was found: the policy's own record (the revision tracker's
 * `status.kustomizations`), or Flux's `status.history` of the Kustomization when the policy has
 * none (it never saw the Kustomization healthy: created, or the operator installed, while it was
 * already failing).
 */
export type LastGoodSource = 'policy-status' | 'flux-history';

export interface LastGood {
  sha: string;
  source: LastGoodSource;
}

/** The last good revision and where it was found, as the policy's Event and the rollback's reason say it. */
export function describeLastGood({ sha, source }: LastGood): string {
  return `last healthy revision ${shortSha(sha)} from ${source === 'flux-history' ? "Flux's status.history" : "the policy's status"}`;
}

/**
 * Cooldown (per Kustomization) and rate limit (per policy) over the rollbacks the policy already
 * created. Undefined when a new rollback is allowed.
 */
export function checkRateLimits(policy: GitOpsRollbackPolicy, kustomizationKey: string, rollbacks: GitOpsRollback[], now: Date): Refusal | undefined {
  const created = (rollback: GitOpsRollback) => Date.parse(rollback.metadata.creationTimestamp ?? '') || now.getTime();
  const cooldownMs = parseDuration(policy.spec.cooldown ?? DEFAULT_COOLDOWN);
  const last = rollbacks
    .filter((r) => r.metadata.annotations?.[KUSTOMIZATION_ANNOTATION] === kustomizationKey)
    .map(created)
    .sort((a, b) => b - a)[0];
  if (last !== undefined && now.getTime() - last < cooldownMs) {
    const waitS = Math.ceil((cooldownMs - (now.getTime() - last)) / 1000);
    return {
      reason: 'CooldownActive',
      message: `Kustomization ${kustomizationKey} was rolled back ${Math.round((now.getTime() - last) / 1000)}s ago; cooldown ${policy.spec.cooldown ?? DEFAULT_COOLDOWN} (${waitS}s left)`,
    };
  }
  const limit = policy.spec.rateLimit;
  if (limit) {
    const windowMs = parseDuration(limit.window);
    const recent = rollbacks.filter((r) => now.getTime() - created(r) < windowMs).length;
    if (recent >= limit.maxRollbacks) {
      return { reason: 'RateLimited', message: `The policy created ${recent} rollback(s) within ${limit.window}; the limit is ${limit.maxRollbacks}` };
    }
  }
  return undefined;
}

/** A commit that is itself a rollback (a Rollback-Request trailer, or git's revert line), if any. */
export function findRollbackCommit(commits: RangeCommit[]): RangeCommit | undefined {
  return commits.find((c) => /^Rollback-Request:\s*\S/m.test(c.message) || /^This reverts commit [0-9a-f]{7,40}/m.test(c.message));
}

/**
 * The deterministic name of the rollback of one failing revision of one Kustomization: every
 * replica, every retry and every re-sent event computes the same, so the API server itself
 * refuses duplicates (409).
 */
export function computeRollbackName(kustomization: Kustomization, failingSha: string): string {
  const { namespace, name, uid } = kustomization.metadata;
  const hash = createHash('sha256')
    .update(`${namespace}/${name}/${uid ?? ''}@${failingSha}`)
    .digest('hex')
    .slice(0, 10);
  const prefix = (name ?? 'kustomization').slice(0, 40).replace(/[-.]+$/, '');
  return `${prefix}-rollback-${hash}`;
}

/** The longest part of an event's message an automated rollback's reason quotes. */
const MAX_REASON_DETAIL = 256;
/** The longest reason of an automated rollback (one line; the CRD allows 4096). */
const MAX_AUTOMATED_REASON = 1024;

export interface AutomatedRollbackInput {
  policy: GitOpsRollbackPolicy;
  kustomization: Kustomization;
  source: { namespace: string; name: string };
  lastGoodSha: string;
  /** Where lastGoodSha was found: the reason names it (the trigger processor always says). */
  lastGoodSource?: LastGoodSource;
  failingSha: string;
  failingRevision: string;
  trigger: { source: string; reason: string; message?: string };
}

/**
 * The GitOpsRollback for a trigger: revert lastGood..failing limited to the Kustomization's
 * path, owned by the policy (so it is garbage-collected with it and listed by its uid label).
 */
export function buildAutomatedRollback(input: AutomatedRollbackInput): GitOpsRollback {
  const { policy, kustomization, source, lastGoodSha, lastGoodSource, failingSha, trigger } = input;
  const policyNamespace = policy.metadata.namespace!;
  const kustomizationKey = objectKey(kustomization);
  // Empty: the whole repository, so no paths limit.
  const path = normalizeSourcePathInRoot(kustomization.spec?.path);
  // The caller's text (reason, message) is one bounded line: it ends up in the commit message.
  const detail = trigger.message ? `: ${toOneLine(trigger.message, MAX_REASON_DETAIL)}` : '';
  const lastGoodNote = lastGoodSource ? ` (${describeLastGood({ sha: lastGoodSha, source: lastGoodSource })})` : '';
  const reason = toOneLine(
    `Automated rollback by GitOpsRollbackPolicy ${policyNamespace}/${policy.metadata.name}: Kustomization ${kustomizationKey} reported ${toOneLine(trigger.reason, 128)} (${trigger.source}) for revision ${input.failingRevision}${lastGoodNote}${detail}`,
    MAX_AUTOMATED_REASON,
  );
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: {
      name: computeRollbackName(kustomization, failingSha),
      namespace: policyNamespace,
      labels: { [POLICY_UID_LABEL]: policy.metadata.uid! },
      annotations: { [KUSTOMIZATION_ANNOTATION]: kustomizationKey, [TRIGGER_ANNOTATION]: `${trigger.source}/${toOneLine(trigger.reason, 128)}` },
      ownerReferences: [{ apiVersion: API_VERSION, kind: POLICY_KIND, name: policy.metadata.name!, uid: policy.metadata.uid!, controller: true }],
    },
    spec: {
      sourceRef: { kind: 'GitRepository', name: source.name, ...(source.namespace !== policyNamespace ? { namespace: source.namespace } : {}) },
      revert: { range: { from: lastGoodSha, to: failingSha }, ...(path ? { paths: [path] } : {}), squash: policy.spec.squash ?? true },
      reason,
      ...(policy.spec.incident ? { incident: policy.spec.incident } : {}),
    },
  };
}
