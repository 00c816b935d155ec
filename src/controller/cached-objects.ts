/**
 * What the operator's informers keep of each object: only the fields a handler or a cache reader
 * uses (like controller-runtime's cache transforms, which drop managedFields by default). A
 * Kustomization's inventory, a rollback's lists and every managedFields entry or
 * last-applied-configuration annotation stay out of memory, so the caches grow with the number of
 * objects, not with what tenants write into them.
 */
import type { GitOpsRollback } from '../api/v1alpha1/types.js';
import type { Kustomization } from '../flux/kustomization.js';
import type { FluxCondition } from '../flux/readiness.js';

/** A condition without its message (handlers read type, status, reason and generation). */
function slimCondition<C extends FluxCondition>(condition: C): C {
  const { type, status, reason, observedGeneration, lastTransitionTime } = condition;
  return { type, status, reason, observedGeneration, lastTransitionTime, message: '' } as C;
}

/**
 * A GitOpsRollback as the informer keeps it: identity, labels and owners (history limit), and
 * the conditions that say whether it finished. The reconciler always reads the object itself.
 */
export function slimRollback(rollback: GitOpsRollback): GitOpsRollback {
  const { name, namespace, uid, resourceVersion, generation, creationTimestamp, deletionTimestamp, labels, ownerReferences } = rollback.metadata ?? {};
  return {
    apiVersion: rollback.apiVersion,
    kind: rollback.kind,
    metadata: {
      name,
      namespace,
      uid,
      resourceVersion,
      generation,
      creationTimestamp,
      deletionTimestamp,
      labels,
      ownerReferences: ownerReferences?.map(({ apiVersion, kind, name: owner, uid: ownerUid, controller }) => ({
        apiVersion,
        kind,
        name: owner,
        uid: ownerUid,
        controller,
      })),
    },
    spec: {},
    status: { conditions: rollback.status?.conditions?.filter((c) => c.type === 'Ready' || c.type === 'Stalled').map(slimCondition) },
  };
}

/** A Flux Kustomization as the revision tracker reads it: coverage (namespace, name, labels, path, source) and health. */
export function slimKustomization(kustomization: Kustomization): Kustomization {
  const { name, namespace, uid, generation, labels, resourceVersion } = kustomization.metadata ?? {};
  const status = kustomization.status;
  const spec = kustomization.spec;
  return {
    apiVersion: kustomization.apiVersion,
    kind: kustomization.kind,
    metadata: { name, namespace, uid, generation, labels, resourceVersion },
    spec: spec && { path: spec.path, sourceRef: spec.sourceRef },
    status: status && {
      lastAppliedRevision: status.lastAppliedRevision,
      lastAttemptedRevision: status.lastAttemptedRevision,
      observedGeneration: status.observedGeneration,
      conditions: status.conditions?.filter((c) => c.type === 'Ready').map(slimCondition),
    },
  };
}
