/**
 * What the Flux integration needs from the cluster, as plain data and one interface:
 * src/kube/flux-resources.ts implements it with client-node; unit tests use fakes.
 */
import type { KustomizationView } from './kustomization.js';

/** An object named by namespace and name. */
export interface ObjectKey {
  namespace: string;
  name: string;
}

/** A condition of a Flux object, the fields we read. */
export interface FluxCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

/** Kinds a reconcile can be requested for. */
export type ReconcilableKind = 'GitRepository' | 'Kustomization';

/** The outcome of suspending one ImageUpdateAutomation. */
export type SuspendOutcome = 'suspended' | 'already-suspended' | 'not-found';

export interface FluxPort {
  /** Kustomizations in `namespace`, or in every namespace when it is undefined. */
  listKustomizations(namespace?: string): Promise<KustomizationView[]>;
  /** The Kustomization as stored now, or null when it does not exist. */
  getKustomization(key: ObjectKey): Promise<KustomizationView | null>;
  /**
   * Merge-patches `metadata.annotations["reconcile.fluxcd.io/requestedAt"] = requestedAt` on the
   * object, as `flux reconcile` does. Returns false when the object does not exist.
   */
  requestReconcile(kind: ReconcilableKind, key: ObjectKey, requestedAt: string): Promise<boolean>;
  /**
   * `status.artifact.revision` of a GitRepository (e.g. `main@sha1:<sha>`): what source-controller
   * serves to the Kustomizations now. Null when the object or its artifact does not exist.
   */
  getArtifactRevision(key: ObjectKey): Promise<string | null>;
  /** The GitRepository's SourceVerified condition (set when spec.verify is on); null when absent. */
  getSourceVerified(key: ObjectKey): Promise<FluxCondition | null>;
  /** Sets `spec.suspend: true` on an ImageUpdateAutomation (image.toolkit.fluxcd.io). */
  suspendImageUpdateAutomation(key: ObjectKey): Promise<SuspendOutcome>;
  /** Sets `spec.suspend: false` again; false when the object does not exist. */
  resumeImageUpdateAutomation(key: ObjectKey): Promise<boolean>;
}
