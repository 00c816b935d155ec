/**
 * The one writer of a policy's status, as StatusPatcher (status-write.ts) is for a rollback's:
 * callers build the whole status they want, and only the difference from the status read is sent,
 * as a merge patch (./merge-patch.ts) guarded by the resourceVersion read. No field list to keep
 * in sync: a field that went away is removed because the diff says so.
 */
import type { GitOpsRollbackPolicy, GitOpsRollbackPolicyStatus } from '../api/v1alpha1/policy-types.js';
import { diffMergePatch } from './merge-patch.js';
import type { PolicyClusterPort } from './policy-ports.js';

/** 'conflict': someone wrote the policy since it was read (read it again and retry). */
export type PolicyStatusWrite = 'unchanged' | 'written' | 'conflict';

export async function writePolicyStatus(
  cluster: Pick<PolicyClusterPort, 'patchPolicyStatus'>,
  policy: GitOpsRollbackPolicy,
  status: GitOpsRollbackPolicyStatus,
): Promise<PolicyStatusWrite> {
  const patch = diffMergePatch(policy.status, status);
  if (!patch) return 'unchanged';
  return (await cluster.patchPolicyStatus(policy, patch)) === 'patched' ? 'written' : 'conflict';
}
