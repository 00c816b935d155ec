/**
 * `rollback --kustomization`: where to roll a Kustomization back to, and the GitOpsRollback that
 * does it. Pure: the command reads the objects, this decides.
 *
 * The current revision is what Flux last tried (`status.lastAttemptedRevision`, else
 * lastAppliedRevision). The target is `--to REVISION`, or the last healthy revision other than the
 * current one: from Flux's own `status.history` first (kustomize-controller 1.7+ keeps the last
 * reconciliations, newest first), then from the GitOpsRollbackPolicy records of the operator.
 */
import type { GitOpsRollbackPolicy } from '../api/v1alpha1/policy-types.js';
import { API_VERSION, KIND, type GitOpsRollback } from '../api/v1alpha1/types.js';
import { findLastGoodRevision } from '../controller/policy-decision.js';
import { lastHealthyFromHistory } from '../flux/status-history.js';
import type { Kustomization } from '../flux/kustomization.js';
import { parseRevision } from '../flux/revision.js';
import { normalizeSourcePathInRoot } from '../flux/source-path.js';
import { shortSha } from '../short-sha.js';
import { UsageError } from './usage-error.js';

export interface RollbackTarget {
  /** The last good commit (exclusive end of the range). */
  from: string;
  /** The current commit (the newest one reverted). */
  to: string;
  /** Where `from` came from, for the person at the terminal. */
  source: string;
}

export interface RollbackRequestOptions {
  /** An explicit target revision (--to), 7 to 40 hex characters. */
  to?: string;
  reason?: string;
  incident?: string;
  dryRun?: boolean;
}

/** The range to revert for this Kustomization; UsageError when there is nothing to go back to. */
export function chooseRollbackTarget(kustomization: Kustomization, policies: GitOpsRollbackPolicy[], wanted: { to?: string }): RollbackTarget {
  const { namespace, name } = kustomization.metadata;
  const current = parseRevision(kustomization.status?.lastAttemptedRevision ?? kustomization.status?.lastAppliedRevision ?? '')?.digest;
  if (!current) throw new UsageError(`Kustomization ${namespace}/${name} has applied no git revision yet: nothing to roll back`);
  if (wanted.to !== undefined) {
    if (!/^[0-9a-fA-F]{7,40}$/.test(wanted.to)) throw new UsageError(`--to must be a commit id (7 to 40 hex characters), got "${wanted.to}"`);
    return { from: wanted.to.toLowerCase(), to: current, source: '--to' };
  }
  const fromHistory = lastHealthyFromHistory(kustomization.status?.history, current);
  if (fromHistory) return { from: fromHistory, to: current, source: "Flux's status.history" };
  for (const policy of policies) {
    const entry = policy.status?.kustomizations?.find((k) => k.namespace === namespace && k.name === name);
    // The policies' own rule: the last healthy revision, else the one before it, never the current one.
    const sha = findLastGoodRevision(entry, current, (revision) => (revision ? parseRevision(revision)?.digest : undefined));
    if (sha) return { from: sha, to: current, source: `GitOpsRollbackPolicy ${policy.metadata.namespace}/${policy.metadata.name}` };
  }
  throw new UsageError(
    `No healthy revision of Kustomization ${namespace}/${name} other than the current ${shortSha(current)} is known (neither Flux's status.history nor a GitOpsRollbackPolicy has one); give --to REVISION`,
  );
}

/**
 * The GitOpsRollback for `target`: the range after it up to the current revision, limited to the
 * Kustomization's path, squashed into one commit, waiting for this Kustomization.
 */
export function buildKustomizationRollback(kustomization: Kustomization, target: RollbackTarget, options: RollbackRequestOptions): GitOpsRollback {
  const { namespace, name } = kustomization.metadata as { namespace: string; name: string };
  const sourceRef = kustomization.spec?.sourceRef;
  if (sourceRef?.kind !== 'GitRepository') {
    throw new UsageError(`Kustomization ${namespace}/${name} applies a ${sourceRef?.kind ?? 'missing'} source; only GitRepository sources can be rolled back`);
  }
  const path = normalizeSourcePathInRoot(kustomization.spec?.path);
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    // Kubernetes names are at most 253 characters; generateName adds 5.
    metadata: { generateName: `rollback-${name.slice(0, 200)}-`, namespace },
    spec: {
      sourceRef: {
        kind: 'GitRepository',
        name: sourceRef.name,
        ...(sourceRef.namespace && sourceRef.namespace !== namespace ? { namespace: sourceRef.namespace } : {}),
      },
      revert: { range: { from: target.from, to: target.to }, squash: true, ...(path ? { paths: [path] } : {}) },
      ...(options.reason !== undefined ? { reason: options.reason } : {}),
      ...(options.incident !== undefined ? { incident: options.incident } : {}),
      ...(options.dryRun ? { dryRun: true } : {}),
      reconcile: { kustomizations: [{ name, namespace }] },
    },
  };
}
