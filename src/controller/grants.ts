/**
 * Permissions a GitOpsRollback cannot give itself, read from objects its author does not control:
 * a GitRepository's consent to be used from other namespaces, and a Namespace's grant of
 * spec.safety.allow. Both are comma-separated annotations (a list, or `*` for any), in the spirit
 * of Flux's own cross-namespace rules, where the source side decides who may use it.
 */
import { Reason } from '../api/v1alpha1/conditions.js';
import { ALLOWED_NAMESPACES_ANNOTATION, SAFETY_ALLOW_ANNOTATION, type GitOpsRollback } from '../api/v1alpha1/types.js';
import { StallingError } from './classify-error.js';
import type { ClusterPort } from './ports.js';

/** The entries of a comma-separated annotation, trimmed, empty ones dropped. */
function parseList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
}

/** Whether a GitRepository with these annotations consents to be used from `namespace`. */
export function allowsNamespace(annotations: Record<string, string> | undefined, namespace: string): boolean {
  const allowed = parseList(annotations?.[ALLOWED_NAMESPACES_ANNOTATION]);
  return allowed.includes('*') || allowed.includes(namespace);
}

/** The kinds of `requested` a Namespace with these annotations does not grant (case as written). */
export function findUngrantedKinds(annotations: Record<string, string> | undefined, requested: string[]): string[] {
  const granted = parseList(annotations?.[SAFETY_ALLOW_ANNOTATION]).map((kind) => kind.toLowerCase());
  if (granted.includes('*')) return [];
  return requested.filter((kind) => !granted.includes(kind.toLowerCase()));
}

/**
 * Throws Stalled SafetyAllowNotGranted when spec.safety.allow names kinds the rollback's Namespace
 * does not grant, saying which annotation an administrator would add. Nothing is computed or pushed.
 */
export async function checkSafetyGrant(cluster: ClusterPort, rollback: GitOpsRollback): Promise<void> {
  const requested = rollback.spec.safety?.allow ?? [];
  if (!requested.length) return;
  const namespace = rollback.metadata.namespace!;
  const annotations = cluster.getNamespaceAnnotations ? await cluster.getNamespaceAnnotations(namespace) : null;
  const missing = findUngrantedKinds(annotations ?? undefined, requested);
  if (!missing.length) return;
  throw new StallingError(
    Reason.SafetyAllowNotGranted,
    `spec.safety.allow lists ${missing.join(', ')}, which namespace ${namespace} does not grant. A cluster administrator grants it by annotating the Namespace: ` +
      `kubectl annotate namespace ${namespace} ${SAFETY_ALLOW_ANNOTATION}=${missing.join(',')}`,
  );
}
