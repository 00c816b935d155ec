/**
 * The GitOpsRollbackPolicy resource (rollback.gitops.dev/v1alpha1): which Flux Kustomizations may
 * be rolled back automatically when Flux (or Alertmanager) reports them failing, and how. Pure
 * data; ./policy-schema.ts describes the same shape for the API server.
 */
import type { Condition, ObjectMeta } from './types.js';

export const POLICY_KIND = 'GitOpsRollbackPolicy';
export const POLICY_PLURAL = 'gitopsrollbackpolicies';
export const POLICY_SINGULAR = 'gitopsrollbackpolicy';
export const POLICY_SHORT_NAMES = ['gorp', 'rollbackpolicy'];

/** Flux event reasons that trigger a rollback when a policy names none. */
export const DEFAULT_TRIGGER_REASONS = ['HealthCheckFailed', 'ReconciliationFailed'];
/** Time between two automatic rollbacks of one Kustomization when a policy names none. */
export const DEFAULT_COOLDOWN = '15m';
/** The alert label naming the Kustomization when a policy names none. */
export const DEFAULT_KUSTOMIZATION_LABEL = 'kustomization';

/** Label on every GitOpsRollback a policy creates: the policy's uid (names may exceed 63 characters). */
export const POLICY_UID_LABEL = 'rollback.gitops.dev/policy-uid';
/** Annotations on every GitOpsRollback a policy creates: the Kustomization and what triggered it. */
export const KUSTOMIZATION_ANNOTATION = 'rollback.gitops.dev/kustomization';
export const TRIGGER_ANNOTATION = 'rollback.gitops.dev/trigger';

/** Reasons of the Events a policy gets, one per decision on a trigger. */
export const PolicyEventReason = {
  RollbackCreated: 'RollbackCreated',
  CooldownActive: 'CooldownActive',
  RateLimited: 'RateLimited',
  RollbackLoopPrevented: 'RollbackLoopPrevented',
  NoHealthyRevision: 'NoHealthyRevision',
  NothingToRevert: 'NothingToRevert',
  CrossNamespaceRefForbidden: 'CrossNamespaceRefForbidden',
  UnsupportedSource: 'UnsupportedSource',
  CommitRangeUnreadable: 'CommitRangeUnreadable',
  /** The policy names Kustomizations in another namespace; the operator does not allow it. */
  CrossNamespacePolicyForbidden: 'CrossNamespacePolicyForbidden',
} as const;

/** metav1.LabelSelector. */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}

/** Which Kustomizations the policy covers: by name, by label, or both (either matches). */
export interface KustomizationSelector {
  /** Namespace of the Kustomizations; defaults to the policy's namespace. */
  namespace?: string;
  names?: string[];
  selector?: LabelSelector;
}

export interface RateLimit {
  /** At most this many automatic rollbacks by the policy... */
  maxRollbacks: number;
  /** ...within this duration (e.g. `1h`). */
  window: string;
}

/** How Prometheus Alertmanager alerts map to the policy's Kustomizations. */
export interface AlertmanagerMapping {
  /** Alerts must carry all these labels with these values. */
  matchLabels?: Record<string, string>;
  /** The alert label naming the Kustomization (default `kustomization`). */
  kustomizationLabel?: string;
}

export interface GitOpsRollbackPolicySpec {
  kustomizations: KustomizationSelector;
  /** Flux event reasons that trigger a rollback (default HealthCheckFailed, ReconciliationFailed). */
  reasons?: string[];
  /** One revert commit for the whole range (default) or one per reverted commit. */
  squash?: boolean;
  /** Minimum time between two automatic rollbacks of one Kustomization (default 15m). */
  cooldown?: string;
  rateLimit?: RateLimit;
  alertmanager?: AlertmanagerMapping;
  /**
   * A Secret in the policy's namespace whose `token` key signs (generic-hmac) or authorizes
   * requests. Required by the CRD; a policy stored without one (before it was required) has every
   * request refused.
   */
  secretRef?: { name: string };
  /** Written as the rollbacks' `Incident:` trailer. */
  incident?: string;
  /** Stop acting on triggers without deleting the policy. */
  suspend?: boolean;
}

/** The healthy revisions the operator saw one Kustomization apply (Ready=True), newest first. */
export interface KustomizationRevisions {
  namespace: string;
  name: string;
  /** The revision applied at the last Ready=True, in Flux's format (`main@sha1:<sha>`). */
  lastHealthyRevision: string;
  /** The healthy revision before it, if any: the good one when the last one turns out bad. */
  previousHealthyRevision?: string;
  lastHealthyTime: string;
}

export interface GitOpsRollbackPolicyStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  kustomizations?: KustomizationRevisions[];
  /** The last GitOpsRollback the policy created. */
  lastRollback?: { name: string; time: string };
}

export interface GitOpsRollbackPolicy {
  apiVersion: string;
  kind: typeof POLICY_KIND;
  metadata: ObjectMeta;
  spec: GitOpsRollbackPolicySpec;
  status?: GitOpsRollbackPolicyStatus;
}
