/**
 * Lists what the cache prefetcher chooses from, through @kubernetes/client-node: the
 * GitOpsRollbackPolicies, the Kustomizations (as objects: labels and sourceRef) and the
 * GitRepositories carrying a label selector, in the watched namespace or all of them. Paged, like
 * client-go's pager, so a large cluster is read in bounded pieces; a kind whose CRD is not
 * installed lists as empty.
 */
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { POLICY_PLURAL, type GitOpsRollbackPolicy } from '../api/v1alpha1/policy-types.js';
import { GROUP, VERSION } from '../api/v1alpha1/types.js';
import { GIT_REPOSITORY_RESOURCE, KUSTOMIZATION_RESOURCE, type ApiResource } from '../flux/api-resources.js';
import type { Kustomization } from '../flux/kustomization.js';
import { createApiClient } from './client.js';
import { isStatus } from './resources.js';

const PAGE_SIZE = 500;
const REQUEST_TIMEOUT_MS = 15_000;
const POLICY_RESOURCE: ApiResource = { group: GROUP, version: VERSION, plural: POLICY_PLURAL };

interface ListPage<T> {
  items?: T[];
  metadata?: { continue?: string };
}

/** A GitRepository as a label selector lists it: only its identity is used (it is resolved by name later). */
export interface ListedGitRepository {
  metadata: { namespace?: string; name?: string };
}

export class PrefetchSources {
  private readonly custom: CustomObjectsApi;

  /** `watchNamespace`: list there only (--watch-namespace), else across the cluster. */
  constructor(
    kubeConfig: KubeConfig,
    private readonly watchNamespace: string | undefined,
  ) {
    this.custom = createApiClient(kubeConfig, CustomObjectsApi, { timeoutMs: REQUEST_TIMEOUT_MS });
  }

  /** The policies: identity and which Kustomizations they cover. */
  listPolicies(): Promise<GitOpsRollbackPolicy[]> {
    return this.list(POLICY_RESOURCE, (p: GitOpsRollbackPolicy) => ({ ...p, metadata: identity(p.metadata), status: undefined }));
  }

  /** The Kustomizations: identity, labels and sourceRef (never the inventory). */
  listKustomizations(): Promise<Kustomization[]> {
    return this.list(KUSTOMIZATION_RESOURCE, (k: Kustomization) => ({
      metadata: { ...identity(k.metadata), labels: k.metadata.labels },
      spec: { sourceRef: k.spec?.sourceRef },
    }));
  }

  /** GitRepositories matching `labelSelector` (Kubernetes selector syntax, checked by the API server): their identity. */
  listGitRepositories(labelSelector: string): Promise<ListedGitRepository[]> {
    return this.list(GIT_REPOSITORY_RESOURCE, (r: ListedGitRepository) => ({ metadata: identity(r.metadata) }), labelSelector);
  }

  /** Every page of a list; each item is cut to what the prefetcher reads as it arrives. */
  private async list<T>({ group, version, plural }: ApiResource, slim: (item: T) => T, labelSelector?: string): Promise<T[]> {
    const items: T[] = [];
    let next: string | undefined;
    do {
      const query = { group, version, plural, labelSelector, limit: PAGE_SIZE, _continue: next };
      let page: ListPage<T>;
      try {
        page = (await (this.watchNamespace
          ? this.custom.listNamespacedCustomObject({ ...query, namespace: this.watchNamespace })
          : this.custom.listClusterCustomObject(query))) as ListPage<T>;
      } catch (error) {
        if (isStatus(error, 404)) return [];
        throw error;
      }
      items.push(...(page.items ?? []).map(slim));
      next = page.metadata?.continue || undefined;
    } while (next);
    return items;
  }
}

function identity(metadata: { namespace?: string; name?: string; uid?: string }): { namespace?: string; name?: string; uid?: string } {
  return { namespace: metadata.namespace, name: metadata.name, uid: metadata.uid };
}
