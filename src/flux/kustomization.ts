/**
 * A Flux Kustomization (kustomize.toolkit.fluxcd.io/v1) as we read it: the API object's parts
 * (kustomize-controller/api/v1 kustomization_types.go: Kustomization, KustomizationSpec,
 * KustomizationStatus), what policies and informers use, and the flat view the wait for apply
 * uses, made from it here only.
 */
import type { FluxStatus } from './readiness.js';

/** spec.sourceRef; `namespace` defaults to the Kustomization's own. */
export interface KustomizationSourceRef {
  kind: string;
  name: string;
  namespace?: string;
}

export interface KustomizationStatus extends FluxStatus {
  lastAppliedRevision?: string;
  lastAttemptedRevision?: string;
  lastHandledReconcileAt?: string;
  /** Flux's recent reconciliations, newest first (kustomize-controller 1.7+): see ./status-history.ts. */
  history?: HistorySnapshot[];
}

/** One entry of status.history (fluxcd/pkg apis/meta Snapshot). */
export interface HistorySnapshot {
  digest?: string;
  firstReconciled?: string;
  lastReconciled: string;
  lastReconciledDuration?: string;
  /** "ReconciliationSucceeded", or the failure's reason (HealthCheckFailed, ReconciliationFailed, PruneFailed). */
  lastReconciledStatus: string;
  totalReconciliations?: number;
  /** `revision` (and `originRevision`) of the source applied. */
  metadata?: { revision?: string; originRevision?: string };
}

/** The API object, as a GET, a list or a watch returns it (the fields we read). */
export interface Kustomization {
  apiVersion?: string;
  kind?: string;
  metadata: { name?: string; namespace?: string; uid?: string; resourceVersion?: string; generation?: number; labels?: Record<string, string> };
  spec?: {
    /** The directory applied, relative to the source root (`./apps`, `apps/`, `./`). */
    path?: string;
    sourceRef?: KustomizationSourceRef;
    suspend?: boolean;
  };
  status?: KustomizationStatus;
}

/** The parts of a Kustomization the wait for apply reads, flat. */
export interface KustomizationView {
  namespace: string;
  name: string;
  generation?: number;
  sourceRef: KustomizationSourceRef;
  /** spec.path: the directory applied, relative to the source root (`./apps`, `apps/`, `./`). */
  path?: string;
  /** spec.suspend. */
  suspend?: boolean;
  status?: KustomizationStatus;
}

/** The view of a Kustomization object the wait for apply uses. */
export function toKustomizationView(object: Kustomization): KustomizationView {
  const { metadata, spec = {}, status } = object;
  return {
    // The API server always sets both on a stored object.
    namespace: metadata.namespace!,
    name: metadata.name!,
    generation: metadata.generation,
    sourceRef: spec.sourceRef ?? { kind: '', name: '' },
    path: spec.path,
    suspend: spec.suspend,
    status,
  };
}
