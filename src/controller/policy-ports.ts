/**
 * What the automated-trigger side of the controller needs from the outside world, as plain
 * interfaces: policies, Flux Kustomizations, the rollbacks a policy created, Events, and the
 * commits of a range. src/kube and src/git implement them; unit tests use fakes here.
 */
import type { GitOpsRollbackPolicy } from '../api/v1alpha1/policy-types.js';
import type { GitOpsRollback } from '../api/v1alpha1/types.js';
import type { ObjectKey } from '../flux/flux-port.js';
import type { Kustomization } from '../flux/kustomization.js';
import type { RangeCommit } from '../git/read-range.js';
import type { MergePatch } from './merge-patch.js';

export interface PolicyClusterPort {
  getPolicy(namespace: string, name: string): Promise<GitOpsRollbackPolicy | null>;
  /**
   * Applies a merge patch to the status, guarded by the resourceVersion the policy was read at:
   * 'conflict' when someone wrote it meanwhile (read it again and retry). Written through
   * ./policy-status.ts, which derives the patch.
   */
  patchPolicyStatus(policy: GitOpsRollbackPolicy, patch: MergePatch): Promise<'patched' | 'conflict'>;
  getKustomization(namespace: string, name: string): Promise<Kustomization | null>;
  /** The GitOpsRollbacks the policy created (by label), newest or not. */
  listPolicyRollbacks(policy: GitOpsRollbackPolicy): Promise<GitOpsRollback[]>;
  /** Creates the rollback; 'exists' when one of that name is already there (a duplicate). */
  createRollback(rollback: GitOpsRollback): Promise<'created' | 'exists'>;
  recordEvent(policy: GitOpsRollbackPolicy, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
}

/** The commits of `from..to` on the branch of the GitRepository `source`, newest first. */
export type ReadCommitRange = (source: ObjectKey, from: string, to: string) => Promise<RangeCommit[]>;
