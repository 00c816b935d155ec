/**
 * Reads and writes the cluster objects the controller uses, through @kubernetes/client-node:
 * GitOpsRollbacks and their status, Flux GitRepositories, Secrets.
 */
import { ApiException, CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type GitOpsRollback } from '../api/v1alpha1/types.js';
import { GIT_REPOSITORY_RESOURCE } from '../flux/api-resources.js';
import { toGitRepositoryView, type GitRepository, type GitRepositoryView } from '../flux/git-repository.js';
import { createApiClient } from './client.js';

/** True for an API error with this HTTP status. */
export function isStatus(error: unknown, code: number): boolean {
  return error instanceof ApiException && error.code === code;
}

/** What `read` resolves with, or null when the API answers 404 Not Found. */
export async function orNullOn404<T>(read: Promise<T>): Promise<T | null> {
  try {
    return await read;
  } catch (error) {
    if (isStatus(error, 404)) return null;
    throw error;
  }
}

export class ClusterResources {
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;

  /** `requestTimeoutMs` bounds each API request (default: client.ts's policy). */
  constructor(kubeConfig: KubeConfig, requestTimeoutMs?: number) {
    this.custom = createApiClient(kubeConfig, CustomObjectsApi, { timeoutMs: requestTimeoutMs });
    this.core = createApiClient(kubeConfig, CoreV1Api, { timeoutMs: requestTimeoutMs });
  }

  async getRollback(namespace: string, name: string): Promise<GitOpsRollback | null> {
    return orNullOn404(this.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL, name }) as Promise<GitOpsRollback>);
  }

  /**
   * Sends a merge patch of the status (the controller computes it: null removes a field) to the
   * status subresource. Guarded by the uid so a deleted and re-created object of the same name
   * never gets its predecessor's status.
   */
  async patchRollbackStatus(rollback: GitOpsRollback, patch: Record<string, unknown>): Promise<void> {
    const { namespace, name, uid } = rollback.metadata;
    const body = { metadata: { uid }, status: patch };
    await this.custom.patchNamespacedCustomObjectStatus(
      { group: GROUP, version: VERSION, namespace: namespace!, plural: PLURAL, name: name!, body },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }

  /** The GitRepository's spec, with its annotations (cross-namespace consent). */
  /** Deletes the rollback if it is still the object with this uid; already gone is fine. */
  async deleteRollback(namespace: string, name: string, uid: string): Promise<void> {
    try {
      await this.custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL, name, body: { preconditions: { uid } } });
    } catch (error) {
      if (isStatus(error, 404) || isStatus(error, 409)) return;
      throw error;
    }
  }

  async getGitRepository(namespace: string, name: string): Promise<GitRepositoryView | null> {
    const { group, version, plural } = GIT_REPOSITORY_RESOURCE;
    const object = await orNullOn404(this.custom.getNamespacedCustomObject({ group, version, namespace, plural, name }) as Promise<GitRepository>);
    return object && toGitRepositoryView(object);
  }

  /** A Namespace's annotations; null when it does not exist. */
  async getNamespaceAnnotations(name: string): Promise<Record<string, string> | null> {
    const namespace = await orNullOn404(this.core.readNamespace({ name }));
    return namespace ? (namespace.metadata?.annotations ?? {}) : null;
  }

  async getSecretData(namespace: string, name: string): Promise<Record<string, string> | null> {
    const secret = await orNullOn404(this.core.readNamespacedSecret({ namespace, name }));
    if (!secret) return null;
    const data: Record<string, string> = {};
    for (const [key, value] of Object.entries(secret.data ?? {})) data[key] = Buffer.from(value, 'base64').toString('utf8');
    for (const [key, value] of Object.entries(secret.stringData ?? {})) data[key] = value;
    return data;
  }
}
