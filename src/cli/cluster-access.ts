/**
 * What the CLI's cluster commands (`rollback --kustomization`, `history --kustomization`) read
 * and write, through the kubeconfig as kubectl finds it (--kubeconfig, $KUBECONFIG, in-cluster,
 * ~/.kube/config) and its current context's namespace. Loaded only by those commands.
 */
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { POLICY_PLURAL, type GitOpsRollbackPolicy } from '../api/v1alpha1/policy-types.js';
import { GROUP, PLURAL, VERSION, type GitOpsRollback } from '../api/v1alpha1/types.js';
import { GIT_REPOSITORY_RESOURCE, KUSTOMIZATION_RESOURCE } from '../flux/api-resources.js';
import { toGitRepositoryView, type GitRepository, type GitRepositoryView } from '../flux/git-repository.js';
import type { Kustomization } from '../flux/kustomization.js';
import { createApiClient, loadKubeConfig } from '../kube/client.js';
import { isStatus, orNullOn404 } from '../kube/resources.js';

export interface OnCallCluster {
  /** The current context's namespace (kubectl's default), else `default`. */
  defaultNamespace: string;
  getKustomization(namespace: string, name: string): Promise<Kustomization | null>;
  getGitRepository(namespace: string, name: string): Promise<GitRepositoryView | null>;
  /** The Secret's data, decoded; null when it does not exist or the user may not read it. */
  getSecretData(namespace: string, name: string): Promise<Record<string, string> | null>;
  listPolicies(namespace: string): Promise<GitOpsRollbackPolicy[]>;
  listRollbacks(namespace: string): Promise<GitOpsRollback[]>;
  getRollback(namespace: string, name: string): Promise<GitOpsRollback | null>;
  /** Creates the rollback (generateName honoured); resolves with the stored object. */
  createRollback(rollback: GitOpsRollback): Promise<GitOpsRollback>;
}

export function connectCluster(kubeconfigPath?: string): OnCallCluster {
  const kubeConfig: KubeConfig = loadKubeConfig(kubeconfigPath);
  const custom = createApiClient(kubeConfig, CustomObjectsApi);
  const core = createApiClient(kubeConfig, CoreV1Api);
  const context = kubeConfig.getContextObject(kubeConfig.getCurrentContext());
  const rollbacks = { group: GROUP, version: VERSION, plural: PLURAL };
  return {
    defaultNamespace: context?.namespace || 'default',
    getKustomization: (namespace, name) =>
      orNullOn404(custom.getNamespacedCustomObject({ ...KUSTOMIZATION_RESOURCE, namespace, name }) as Promise<Kustomization>),
    getGitRepository: async (namespace, name) => {
      const object = await orNullOn404(custom.getNamespacedCustomObject({ ...GIT_REPOSITORY_RESOURCE, namespace, name }) as Promise<GitRepository>);
      return object && toGitRepositoryView(object);
    },
    getSecretData: async (namespace, name) => {
      try {
        const secret = await core.readNamespacedSecret({ namespace, name });
        return Object.fromEntries(Object.entries(secret.data ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]));
      } catch (error) {
        if (isStatus(error, 404) || isStatus(error, 403)) return null;
        throw error;
      }
    },
    listPolicies: async (namespace) =>
      ((await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, plural: POLICY_PLURAL, namespace })) as { items: GitOpsRollbackPolicy[] })
        .items,
    listRollbacks: async (namespace) => ((await custom.listNamespacedCustomObject({ ...rollbacks, namespace })) as { items: GitOpsRollback[] }).items,
    getRollback: (namespace, name) => orNullOn404(custom.getNamespacedCustomObject({ ...rollbacks, namespace, name }) as Promise<GitOpsRollback>),
    createRollback: async (rollback) =>
      (await custom.createNamespacedCustomObject({ ...rollbacks, namespace: rollback.metadata.namespace!, body: rollback })) as GitOpsRollback,
  };
}

/** `[NS/]NAME` as kubectl takes it, the namespace defaulting to the context's. */
export function splitReference(reference: string, defaultNamespace: string): { namespace: string; name: string } {
  const parts = reference.split('/');
  return parts.length === 2 ? { namespace: parts[0]!, name: parts[1]! } : { namespace: defaultNamespace, name: parts[0]! };
}
