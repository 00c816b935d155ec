/**
 * Flux objects through @kubernetes/client-node, in the shapes of src/flux's model: reads
 * Kustomizations (as views for the wait for apply, as objects for policies) and GitRepository
 * artifacts, annotates GitRepositories and Kustomizations to request a reconcile, and suspends
 * ImageUpdateAutomations (v1, or v1beta2 on older Flux). Implements the FluxPort of src/flux.
 */
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import {
  FLUX_IMAGE_GROUP,
  GIT_REPOSITORY_RESOURCE,
  IMAGE_UPDATE_AUTOMATION_PLURAL,
  IMAGE_UPDATE_AUTOMATION_VERSIONS,
  KUSTOMIZATION_RESOURCE,
  type ApiResource,
} from '../flux/api-resources.js';
import type { FluxCondition, FluxPort, ObjectKey, ReconcilableKind, SuspendOutcome } from '../flux/flux-port.js';
import { SOURCE_VERIFIED_CONDITION, type GitRepository } from '../flux/git-repository.js';
import { toKustomizationView, type Kustomization, type KustomizationView } from '../flux/kustomization.js';
import { REQUESTED_AT_ANNOTATION } from '../flux/request-reconcile.js';
import { isStatus, orNullOn404 } from './resources.js';
import { createApiClient } from './client.js';

const RESOURCES: Record<ReconcilableKind, ApiResource> = {
  GitRepository: GIT_REPOSITORY_RESOURCE,
  Kustomization: KUSTOMIZATION_RESOURCE,
};

interface ListResult<T> {
  items?: T[];
  metadata?: { continue?: string };
}

const mergePatch = () => setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export class FluxResources implements FluxPort {
  private readonly custom: CustomObjectsApi;

  /** `requestTimeoutMs` bounds each API request (default: client.ts's policy). */
  constructor(kubeConfig: KubeConfig, requestTimeoutMs?: number) {
    this.custom = createApiClient(kubeConfig, CustomObjectsApi, { timeoutMs: requestTimeoutMs });
  }

  /** Every Kustomization (paged); none when the Kustomization CRD is not installed (HTTP 404). */
  async listKustomizations(namespace?: string): Promise<KustomizationView[]> {
    const { group, version, plural } = KUSTOMIZATION_RESOURCE;
    const views: KustomizationView[] = [];
    let next: string | undefined;
    do {
      let page: ListResult<Kustomization>;
      try {
        page = (await (namespace
          ? this.custom.listNamespacedCustomObject({ group, version, plural, namespace, limit: 500, _continue: next })
          : this.custom.listClusterCustomObject({ group, version, plural, limit: 500, _continue: next }))) as ListResult<Kustomization>;
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
    const object = await this.getKustomizationObject(key);
    return object && toKustomizationView(object);
  }

  /** The Kustomization object as stored now (what policies read), or null when it does not exist. */
  async getKustomizationObject(key: ObjectKey): Promise<Kustomization | null> {
    const { group, version, plural } = KUSTOMIZATION_RESOURCE;
    return orNullOn404(this.custom.getNamespacedCustomObject({ group, version, plural, namespace: key.namespace, name: key.name }) as Promise<Kustomization>);
  }

  async requestReconcile(kind: ReconcilableKind, key: ObjectKey, requestedAt: string): Promise<boolean> {
    const { group, version, plural } = RESOURCES[kind];
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
    return (await this.getGitRepositoryObject(key))?.status?.artifact?.revision ?? null;
  }

  async getSourceVerified(key: ObjectKey): Promise<FluxCondition | null> {
    return (await this.getGitRepositoryObject(key))?.status?.conditions?.find((c) => c.type === SOURCE_VERIFIED_CONDITION) ?? null;
  }

  private getGitRepositoryObject(key: ObjectKey): Promise<GitRepository | null> {
    const { group, version, plural } = GIT_REPOSITORY_RESOURCE;
    return orNullOn404(this.custom.getNamespacedCustomObject({ group, version, plural, namespace: key.namespace, name: key.name }) as Promise<GitRepository>);
  }

  async suspendImageUpdateAutomation(key: ObjectKey): Promise<SuspendOutcome> {
    for (const version of IMAGE_UPDATE_AUTOMATION_VERSIONS) {
      const target = { group: FLUX_IMAGE_GROUP, version, plural: IMAGE_UPDATE_AUTOMATION_PLURAL, namespace: key.namespace, name: key.name };
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
    for (const version of IMAGE_UPDATE_AUTOMATION_VERSIONS) {
      const target = { group: FLUX_IMAGE_GROUP, version, plural: IMAGE_UPDATE_AUTOMATION_PLURAL, namespace: key.namespace, name: key.name };
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
