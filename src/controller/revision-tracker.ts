/**
 * Keeps each policy's `status.kustomizations` up to date: for every Kustomization the policy
 * covers, the revision it last applied healthy (Ready=True for the current generation) and the
 * one before. Flux's own status cannot give this: on HealthCheckFailed `lastAppliedRevision` is
 * already the failing revision, so the last good one must be remembered by someone.
 *
 * One sync per policy key; writes are guarded by resourceVersion, so replicas (or the trigger
 * processor) writing at the same time retry instead of overwriting each other.
 */
import type { GitOpsRollbackPolicy, KustomizationRevisions } from '../api/v1alpha1/policy-types.js';
import { isHealthy, recordHealthyRevision, selectsKustomization } from './policy-decision.js';
import type { KustomizationView, PolicyClusterPort } from './policy-ports.js';
import type { ProcessResult } from './work-queue.js';

export interface RevisionTrackerOptions {
  cluster: PolicyClusterPort;
  /** The Kustomizations as the informer last saw them. */
  listKustomizations: () => KustomizationView[];
  /** Whether that list is complete (the informer synced): until then nothing is written. */
  hasSynced: () => boolean;
  now?: () => Date;
}

export class RevisionTracker {
  private readonly now: () => Date;

  constructor(private readonly options: RevisionTrackerOptions) {
    this.now = options.now ?? (() => new Date());
  }

  /** The keys (`namespace/name`) of the policies covering a Kustomization. */
  static policiesCovering(policies: GitOpsRollbackPolicy[], kustomization: KustomizationView): string[] {
    return policies.filter((p) => selectsKustomization(p, kustomization)).map((p) => `${p.metadata.namespace}/${p.metadata.name}`);
  }

  /** Brings the policy `namespace/name`'s record of healthy revisions up to date. */
  async syncPolicy(key: string): Promise<ProcessResult> {
    // An empty list before the first sync would erase every record.
    if (!this.options.hasSynced()) return { requeueAfterMs: 5000 };
    const [namespace, name] = key.split('/');
    const policy = await this.options.cluster.getPolicy(namespace, name);
    if (!policy || policy.metadata.deletionTimestamp) return {};
    const previous = policy.status?.kustomizations ?? [];
    const entries = this.computeEntries(policy, previous);
    if (JSON.stringify(entries) === JSON.stringify(previous) && policy.status?.observedGeneration === policy.metadata.generation) return {};
    const result = await this.options.cluster.replacePolicyStatus(policy, { ...policy.status, observedGeneration: policy.metadata.generation, kustomizations: entries });
    return result === 'conflict' ? { error: new Error(`Policy ${key} changed meanwhile`), retry: true } : {};
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
