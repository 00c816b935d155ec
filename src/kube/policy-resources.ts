/**
 * Reads and writes what automated rollbacks use, through @kubernetes/client-node:
 * GitOpsRollbackPolicies and their status, and the GitOpsRollbacks a policy creates. With
 * FluxResources (Kustomizations) and an EventRecorder (Events) it implements the controller's
 * PolicyClusterPort.
 */
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { POLICY_PLURAL, POLICY_UID_LABEL, type GitOpsRollbackPolicy } from '../api/v1alpha1/policy-types.js';
import { GROUP, PLURAL, VERSION, type GitOpsRollback } from '../api/v1alpha1/types.js';
import { createApiClient } from './client.js';
import { isStatus, orNullOn404 } from './resources.js';

const REQUEST_TIMEOUT_MS = 15_000;

export class PolicyResources {
  private readonly custom: CustomObjectsApi;

  constructor(kubeConfig: KubeConfig) {
    this.custom = createApiClient(kubeConfig, CustomObjectsApi, { timeoutMs: REQUEST_TIMEOUT_MS });
  }

  async getPolicy(namespace: string, name: string): Promise<GitOpsRollbackPolicy | null> {
    return orNullOn404(
      this.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: POLICY_PLURAL, name }) as Promise<GitOpsRollbackPolicy>,
    );
  }

  /**
   * Applies a merge patch to the status subresource, carrying the resourceVersion read: the API
   * server applies it only if nobody wrote the policy since.
   */
  async patchPolicyStatus(policy: GitOpsRollbackPolicy, patch: object): Promise<'patched' | 'conflict'> {
    const { namespace, name, uid, resourceVersion } = policy.metadata;
    try {
      await this.custom.patchNamespacedCustomObjectStatus(
        {
          group: GROUP,
          version: VERSION,
          namespace: namespace!,
          plural: POLICY_PLURAL,
          name: name!,
          body: { metadata: { uid, resourceVersion }, status: patch },
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      return 'patched';
    } catch (error) {
      if (isStatus(error, 409)) return 'conflict';
      throw error;
    }
  }

  /** The rollbacks carrying the policy's uid label, in the policy's namespace. */
  async listPolicyRollbacks(policy: GitOpsRollbackPolicy): Promise<GitOpsRollback[]> {
    const list = (await this.custom.listNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: policy.metadata.namespace!,
      plural: PLURAL,
      labelSelector: `${POLICY_UID_LABEL}=${policy.metadata.uid}`,
    })) as { items: GitOpsRollback[] };
    return list.items;
  }

  /** Creates a rollback; 'exists' when the name is taken (the API server's duplicate check). */
  async createRollback(rollback: GitOpsRollback): Promise<'created' | 'exists'> {
    try {
      await this.custom.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: rollback.metadata.namespace!,
        plural: PLURAL,
        body: rollback,
      });
      return 'created';
    } catch (error) {
      if (isStatus(error, 409)) return 'exists';
      throw error;
    }
  }
}
