/**
 * Which GitRepositories the cache prefetcher fetches, decided from what was listed (no I/O): the
 * sources of the Kustomizations each GitOpsRollbackPolicy covers, with the tenancy rules a
 * rollback of them would meet (./trigger-processor.ts resolveSource and ./policy-decision.ts
 * checkPolicyNamespace), then the GitRepositories picked by the operator's label selector. Each
 * appears once; policy-covered ones first (they are what automated rollbacks will revert), each
 * group sorted, and at most a fixed number per pass, since tenants can add policies at will.
 */
import type { GitOpsRollbackPolicy } from '../api/v1alpha1/policy-types.js';
import type { ObjectKey } from '../flux/flux-port.js';
import type { Kustomization } from '../flux/kustomization.js';
import { checkPolicyNamespace, selectsKustomization } from './policy-decision.js';

/** GitRepositories fetched per pass at most; the rest wait for a pass with room (logged). */
export const MAX_PREFETCH_SOURCES = 200;

export interface PrefetchSelectionInput {
  policies: GitOpsRollbackPolicy[];
  kustomizations: Kustomization[];
  /** GitRepositories matching --cache-prefetch-selector (none without the flag). */
  labelled: ObjectKey[];
  /** --allow-cross-namespace-refs: a Kustomization's source may be in another namespace than the policy. */
  allowCrossNamespaceRefs: boolean;
  /** --allow-cross-namespace-policies: a policy may cover Kustomizations outside its namespace. */
  allowCrossNamespacePolicies: boolean;
  /** Default {@link MAX_PREFETCH_SOURCES}. */
  maxSources?: number;
}

export interface PrefetchSelection {
  /** The GitRepositories to fetch, in order. */
  sources: ObjectKey[];
  /** How many more were selected than `maxSources` allowed. */
  dropped: number;
}

/** The GitRepositories to prefetch (see the file comment). */
export function selectPrefetchSources(input: PrefetchSelectionInput): PrefetchSelection {
  const covered = new Map<string, ObjectKey>();
  for (const policy of input.policies) {
    // A refused policy acts on nothing, so nothing is fetched for it either.
    if (checkPolicyNamespace(policy, input.allowCrossNamespacePolicies)) continue;
    for (const kustomization of input.kustomizations) {
      if (!selectsKustomization(policy, kustomization)) continue;
      const source = gitSourceOf(kustomization);
      if (!source) continue;
      if (source.namespace !== policy.metadata.namespace && !input.allowCrossNamespaceRefs) continue;
      covered.set(keyOf(source), source);
    }
  }
  const labelled = new Map<string, ObjectKey>();
  for (const source of input.labelled) if (!covered.has(keyOf(source))) labelled.set(keyOf(source), source);
  const ordered = [...sortByKey(covered), ...sortByKey(labelled)];
  const max = input.maxSources ?? MAX_PREFETCH_SOURCES;
  return { sources: ordered.slice(0, max), dropped: Math.max(0, ordered.length - max) };
}

/** The GitRepository a Kustomization applies from; undefined for another kind of source (a Bucket, an OCIRepository). */
function gitSourceOf(kustomization: Kustomization): ObjectKey | undefined {
  const ref = kustomization.spec?.sourceRef;
  if (ref?.kind !== 'GitRepository' || !ref.name) return undefined;
  return { namespace: ref.namespace ?? kustomization.metadata.namespace!, name: ref.name };
}

function keyOf(key: ObjectKey): string {
  return `${key.namespace}/${key.name}`;
}

function sortByKey(map: Map<string, ObjectKey>): ObjectKey[] {
  return [...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, key]) => key);
}
