/**
 * Asks Flux to reconcile now instead of at its next interval, as `flux reconcile kustomization
 * --with-source` does: the `reconcile.fluxcd.io/requestedAt` annotation (an RFC3339Nano
 * timestamp) on the GitRepositories first, then on the Kustomizations.
 */
import type { FluxPort, ObjectKey, ReconcilableKind } from './flux-port.js';

/** The annotation Flux controllers watch for on-demand reconciliation. */
export const REQUESTED_AT_ANNOTATION = 'reconcile.fluxcd.io/requestedAt';

/** `date` as Go's time.RFC3339Nano prints it in UTC: fraction without trailing zeros. */
export function formatRequestedAt(date: Date): string {
  const iso = date.toISOString();
  const [seconds, fraction] = iso.slice(0, -1).split('.');
  const trimmed = (fraction ?? '').replace(/0+$/, '');
  return `${seconds}${trimmed ? `.${trimmed}` : ''}Z`;
}

export interface ReconcileRequest {
  kind: ReconcilableKind;
  key: ObjectKey;
  /** False when the object did not exist. */
  found: boolean;
}

/**
 * Annotates every source, then every Kustomization, with the same timestamp; returns what was
 * asked and whether each object existed. Sources and Kustomizations are de-duplicated.
 */
export async function requestReconcileWithSource(flux: FluxPort, sources: ObjectKey[], kustomizations: ObjectKey[], now: Date): Promise<ReconcileRequest[]> {
  const requestedAt = formatRequestedAt(now);
  const requests: ReconcileRequest[] = [];
  const targets: [ReconcilableKind, ObjectKey][] = [
    ...uniqueKeys(sources).map((key): [ReconcilableKind, ObjectKey] => ['GitRepository', key]),
    ...uniqueKeys(kustomizations).map((key): [ReconcilableKind, ObjectKey] => ['Kustomization', key]),
  ];
  for (const [kind, key] of targets) requests.push({ kind, key, found: await flux.requestReconcile(kind, key, requestedAt) });
  return requests;
}

/** `keys` without repeats, in first-seen order. */
export function uniqueKeys(keys: ObjectKey[]): ObjectKey[] {
  const seen = new Set<string>();
  return keys.filter((key) => {
    const id = `${key.namespace}/${key.name}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}
