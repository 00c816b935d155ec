/**
 * Keeps each policy's `status.kustomizations` up to date: for every Kustomization the policy
 * covers, the revision it last applied healthy (Ready=True for the current generation) and the
 * one before. Flux's own status cannot give this: on HealthCheckFailed `lastAppliedRevision` is
 * already the failing revision, so the last good one must be remembered by someone.
 *
 * A policy that names Kustomizations outside its namespace, when the operator does not allow it,
 * records none: its status says why (Ready=False, CrossNamespacePolicyForbidden) and copies no
 * other tenant's Kustomization names or revisions.
 *
 * One sync per policy key; writes are guarded by resourceVersion, so replicas (or the trigger
 * processor) writing at the same time retry instead of overwriting each other.
 */
import { PolicyEventReason, type GitOpsRollbackPolicy, type KustomizationRevisions } from '../api/v1alpha1/policy-types.js';
import type { Condition } from '../api/v1alpha1/types.js';
import type { Kustomization } from '../flux/kustomization.js';
import { checkPolicyNamespace, isHealthy, recordHealthyRevision, selectsKustomization } from './policy-decision.js';
import type { PolicyClusterPort } from './policy-ports.js';
import { writePolicyStatus } from './policy-status.js';
import type { ProcessResult } from './work-queue.js';
import { formatTimestamp } from './status-format.js';
import { objectKey, splitObjectKey } from '../object-key.js';

export interface RevisionTrackerOptions {
  cluster: PolicyClusterPort;
  /** The Kustomizations as the informer last saw them. */
  listKustomizations: () => Kustomization[];
  /** Whether that list is complete (the informer synced): until then nothing is written. */
  hasSynced: () => boolean;
  /** `--allow-cross-namespace-policies`: a policy may name Kustomizations outside its namespace. */
  allowCrossNamespacePolicies?: boolean;
  now?: () => Date;
}

export class RevisionTracker {
  private readonly now: () => Date;

  constructor(private readonly options: RevisionTrackerOptions) {
    this.now = options.now ?? (() => new Date());
  }

  /** The keys (`namespace/name`) of the policies covering a Kustomization. */
  static policiesCovering(policies: GitOpsRollbackPolicy[], kustomization: Kustomization): string[] {
    return policies.filter((p) => selectsKustomization(p, kustomization)).map(objectKey);
  }

  /** Brings the policy `namespace/name`'s record of healthy revisions up to date. */
  async syncPolicy(key: string): Promise<ProcessResult> {
    // An empty list before the first sync would erase every record.
    if (!this.options.hasSynced()) return { requeueAfterMs: 5000 };
    const { namespace, name } = splitObjectKey(key);
    const policy = await this.options.cluster.getPolicy(namespace, name);
    if (!policy || policy.metadata.deletionTimestamp) return {};
    const previous = policy.status?.kustomizations ?? [];
    const refusal = checkPolicyNamespace(policy, this.options.allowCrossNamespacePolicies ?? false);
    const entries = refusal ? [] : this.computeEntries(policy, previous);
    const conditions = this.computeConditions(policy, refusal);
    const result = await writePolicyStatus(this.options.cluster, policy, {
      ...policy.status,
      observedGeneration: policy.metadata.generation,
      kustomizations: entries,
      conditions,
    });
    return result === 'conflict' ? { error: new Error(`Policy ${key} changed meanwhile`), retry: true } : {};
  }

  /**
   * Ready=False with the refusal's reason while the policy is refused; the condition goes away
   * (other conditions stay) once it is accepted. Undefined when there are no conditions at all.
   */
  private computeConditions(policy: GitOpsRollbackPolicy, refusal: { reason: string; message: string } | undefined): Condition[] | undefined {
    const others = (policy.status?.conditions ?? []).filter((c) => c.type !== 'Ready');
    const ready = policy.status?.conditions?.find((c) => c.type === 'Ready');
    if (!refusal) {
      const kept =
        ready && ready.status === 'False' && ready.reason === PolicyEventReason.CrossNamespacePolicyForbidden ? others : (policy.status?.conditions ?? []);
      return kept.length ? kept : undefined;
    }
    const same =
      ready?.status === 'False' &&
      ready.reason === refusal.reason &&
      ready.message === refusal.message &&
      ready.observedGeneration === policy.metadata.generation;
    const condition: Condition = same
      ? ready
      : {
          type: 'Ready',
          status: 'False',
          reason: refusal.reason,
          message: refusal.message,
          observedGeneration: policy.metadata.generation,
          lastTransitionTime: formatTimestamp(this.now()),
        };
    return [...others, condition];
  }

  /** The covered Kustomizations' entries, sorted; entries of ones no longer covered are dropped. */
  private computeEntries(policy: GitOpsRollbackPolicy, previous: KustomizationRevisions[]): KustomizationRevisions[] {
    const entries: KustomizationRevisions[] = [];
    for (const kustomization of this.options.listKustomizations()) {
      if (!selectsKustomization(policy, kustomization)) continue;
      const { namespace, name } = kustomization.metadata as { namespace: string; name: string };
      const before = previous.find((e) => e.namespace === namespace && e.name === name);
      if (isHealthy(kustomization)) entries.push(recordHealthyRevision(before, namespace, name, kustomization.status!.lastAppliedRevision!, this.now()));
      else if (before) entries.push(before);
    }
    return entries.sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
  }
}
