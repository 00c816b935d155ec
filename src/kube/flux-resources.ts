/**
 * Flux objects through @kubernetes/client-node: reads Kustomizations
 * (kustomize.toolkit.fluxcd.io/v1), annotates GitRepositories and Kustomizations to request a
 * reconcile, and suspends ImageUpdateAutomations (image.toolkit.fluxcd.io v1, or v1beta2 on
 * older Flux). Implements the FluxPort of src/flux.
 */
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import type { FluxPort, KustomizationView, ObjectKey, ReconcilableKind, SuspendOutcome } from '../flux/flux-port.js';
import { REQUESTED_AT_ANNOTATION } from '../flux/request-reconcile.js';
import { FLUX_SOURCE_GROUP, FLUX_SOURCE_VERSION, isStatus } from './resources.js';
import { createApiClient } from './client.js';

export const FLUX_KUSTOMIZE_GROUP = 'kustomize.toolkit.fluxcd.io';
export const FLUX_KUSTOMIZE_VERSION = 'v1';
export const FLUX_IMAGE_GROUP = 'image.toolkit.fluxcd.io';
/** Newest first: Flux 2.7+ serves v1; older installations only v1beta2. */
export const FLUX_IMAGE_VERSIONS = ['v1', 'v1beta2'] as const;

const PLURALS: Record<ReconcilableKind, { group: string; version: string; plural: string }> = {
  GitRepository: { group: FLUX_SOURCE_GROUP, version: FLUX_SOURCE_VERSION, plural: 'gitrepositories' },
  Kustomization: { group: FLUX_KUSTOMIZE_GROUP, version: FLUX_KUSTOMIZE_VERSION, plural: 'kustomizations' },
};

interface KustomizationObject {
  metadata: { name: string; namespace: string; generation?: number };
  spec?: { sourceRef?: { kind: string; name: string; namespace?: string }; path?: string; suspend?: boolean };
  status?: KustomizationView['status'];
}

interface ListResult<T> {
  items?: T[];
  metadata?: { continue?: string };
}

const mergePatch = () => setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** The view of a Kustomization object the wait for apply uses. */
export function toKustomizationView(object: KustomizationObject): KustomizationView {
  const { metadata, spec = {}, status } = object;
  return {
    namespace: metadata.namespace,
    name: metadata.name,
    generation: metadata.generation,
    sourceRef: spec.sourceRef ?? { kind: '', name: '' },
    path: spec.path,
    suspend: spec.suspend,
    status,
  };
}

export class FluxResources implements FluxPort {
  private readonly custom: CustomObjectsApi;

  /** `requestTimeoutMs` bounds each API request (default: client.ts's policy). */
  constructor(kubeConfig: KubeConfig, requestTimeoutMs?: number) {
    this.custom = createApiClient(kubeConfig, CustomObjectsApi, { timeoutMs: requestTimeoutMs });
  }

  /** Every Kustomization (paged); none when the Kustomization CRD is not installed (HTTP 404). */
  async listKustomizations(namespace?: string): Promise<KustomizationView[]> {
    const { group, version, plural } = PLURALS.Kustomization;
    const views: KustomizationView[] = [];
    let next: string | undefined;
    do {
      let page: ListResult<KustomizationObject>;
      try {
        page = (await (namespace
          ? this.custom.listNamespacedCustomObject({ group, version, plural, namespace, limit: 500, _continue: next })
          : this.custom.listClusterCustomObject({ group, version, plural, limit: 500, _continue: next }))) as ListResult<KustomizationObject>;
      } catch (error) {
        if (isStatus(error, 404)) return [];
        throw error;
      }
      views.push(...(page.items ?? []).map(toKustomizationView));
      next = page.metadata?.continue || undefined;
    } while (next);
    return views;
  }

  async getKustomization(key: ObjectKey): Promise<KustomizationView | null> {
    const { group, version, plural } = PLURALS.Kustomization;
    try {
      const object = (await this.custom.getNamespacedCustomObject({ group, version, plural, namespace: key.namespace, name: key.name })) as KustomizationObject;
      return toKustomizationView(object);
    } catch (error) {
      if (isStatus(error, 404)) return null;
      throw error;
    }
  }

  async requestReconcile(kind: ReconcilableKind, key: ObjectKey, requestedAt: string): Promise<boolean> {
    const { group, version, plural } = PLURALS[kind];
    const body = { metadata: { annotations: { [REQUESTED_AT_ANNOTATION]: requestedAt } } };
    try {
      await this.custom.patchNamespacedCustomObject({ group, version, plural, namespace: key.namespace, name: key.name, body }, mergePatch());
      return true;
    } catch (error) {
      if (isStatus(error, 404)) return false;
      throw error;
    }
  }

  async getArtifactRevision(key: ObjectKey): Promise<string | null> {
    const { group, version, plural } = PLURALS.GitRepository;
    try {
      const object = (await this.custom.getNamespacedCustomObject({ group, version, plural, namespace: key.namespace, name: key.name })) as { status?: { artifact?: { revision?: string } } };
      return object.status?.artifact?.revision ?? null;
    } catch (error) {
      if (isStatus(error, 404)) return null;
      throw error;
    }
  }

  async suspendImageUpdateAutomation(key: ObjectKey): Promise<SuspendOutcome> {
    for (const version of FLUX_IMAGE_VERSIONS) {
      const target = { group: FLUX_IMAGE_GROUP, version, plural: 'imageupdateautomations', namespace: key.namespace, name: key.name };
      let object: { spec?: { suspend?: boolean } };
      try {
        object = (await this.custom.getNamespacedCustomObject(target)) as typeof object;
      } catch (error) {
        // 404: no such object in this version, or the version is not served; try the next one.
        if (isStatus(error, 404)) continue;
        throw error;
      }
      if (object.spec?.suspend === true) return 'already-suspended';
      await this.custom.patchNamespacedCustomObject({ ...target, body: { spec: { suspend: true } } }, mergePatch());
      return 'suspended';
    }
    return 'not-found';
  }

  async resumeImageUpdateAutomation(key: ObjectKey): Promise<boolean> {
    for (const version of FLUX_IMAGE_VERSIONS) {
      const target = { group: FLUX_IMAGE_GROUP, version, plural: 'imageupdateautomations', namespace: key.namespace, name: key.name };
      try {
        await this.custom.patchNamespacedCustomObject({ ...target, body: { spec: { suspend: false } } }, mergePatch());
        return true;
      } catch (error) {
        if (isStatus(error, 404)) continue;
        throw error;
      }
    }
    return false;
  }
}
