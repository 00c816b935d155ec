/**
 * Judges whether Kustomizations have applied a commit, from their status alone (what
 * kustomize-controller writes): applied (`lastAppliedRevision` is the commit, `Ready=True` for
 * the current generation, see readiness.ts), failed on that commit (`Ready=False` with
 * `lastAttemptedRevision` the commit, and `Stalled=True` or a failure reason), or still waiting.
 */
import type { ObjectKey } from './flux-port.js';
import type { KustomizationView } from './kustomization.js';
import { findCondition, readinessOf } from './readiness.js';
import { isRevisionOf } from './revision.js';
import { shortSha } from '../short-sha.js';

export type ApplyState = 'applied' | 'waiting' | 'failed';

export interface KustomizationApply extends ObjectKey {
  state: ApplyState;
  /** status.lastAppliedRevision as Flux reports it. */
  revision?: string;
  /** True once the Kustomization applied the commit and is Ready. */
  ready: boolean;
  /** One line for people: what the Kustomization is doing. */
  message: string;
}

export interface ApplySummary {
  state: ApplyState;
  message: string;
  kustomizations: KustomizationApply[];
}

/** kustomize-controller's Ready=False reasons that mean the attempt failed (not "in progress"). */
export const FAILURE_REASONS: ReadonlySet<string> = new Set([
  'ArtifactFailed',
  'BuildFailed',
  'HealthCheckFailed',
  'PruneFailed',
  'ReconciliationFailed',
  'InvalidCELExpression',
]);

/** Where one Kustomization stands with `commit`; `kustomization` null means it does not exist. */
export function assessKustomization(key: ObjectKey, kustomization: KustomizationView | null, commit: string): KustomizationApply {
  const base = { namespace: key.namespace, name: key.name };
  const label = `Kustomization ${key.namespace}/${key.name}`;
  if (!kustomization) return { ...base, state: 'waiting', ready: false, message: `${label} was not found` };
  const status = kustomization.status ?? {};
  const revision = status.lastAppliedRevision;
  const withRevision = revision ? { revision } : {};
  const readiness = readinessOf(kustomization.generation, status);
  const ready = readiness.condition;
  const stalled = findCondition(status.conditions, 'Stalled');

  if (readiness.ready && isRevisionOf(revision, commit)) {
    return { ...base, ...withRevision, state: 'applied', ready: true, message: `${label} applied ${revision}` };
  }
  const failedOnCommit =
    readiness.failing && isRevisionOf(status.lastAttemptedRevision, commit) && (stalled?.status === 'True' || FAILURE_REASONS.has(ready?.reason ?? ''));
  if (failedOnCommit && ready) {
    const detail = [ready.reason, ready.message].filter(Boolean).join(': ');
    return {
      ...base,
      ...withRevision,
      state: 'failed',
      ready: false,
      message: `${label} failed to apply ${status.lastAttemptedRevision}${detail ? `: ${detail}` : ''}`,
    };
  }
  const doing = kustomization.suspend
    ? 'is suspended'
    : [
        revision ? `last applied ${revision}` : 'has applied nothing yet',
        ready ? `Ready=${ready.status}${ready.reason ? ` ${ready.reason}` : ''}` : undefined,
        readiness.observed ? undefined : 'generation not yet observed',
      ]
        .filter(Boolean)
        .join(', ');
  return { ...base, ...withRevision, state: 'waiting', ready: false, message: `${label} ${doing}; waiting for ${shortSha(commit)}` };
}

/** All applied, one failed, or waiting; the message names the ones that are not done. */
export function summarizeApply(kustomizations: KustomizationApply[], commit: string): ApplySummary {
  const failed = kustomizations.filter((k) => k.state === 'failed');
  if (failed.length > 0) return { state: 'failed', message: failed.map((k) => k.message).join('; '), kustomizations };
  const waiting = kustomizations.filter((k) => k.state === 'waiting');
  if (waiting.length === 0) {
    const names = kustomizations.map((k) => `${k.namespace}/${k.name}`).join(', ');
    return { state: 'applied', message: `${shortSha(commit)} is applied by Kustomization(s) ${names}`, kustomizations };
  }
  return { state: 'waiting', message: waiting.map((k) => k.message).join('; '), kustomizations };
}
