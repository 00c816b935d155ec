/**
 * A history limit for the GitOpsRollbacks a GitOpsRollbackPolicy creates, as CronJob's
 * successfulJobsHistoryLimit does for Jobs: of one policy's finished rollbacks, the newest
 * `limit` are kept and older ones deleted. A rollback still working is never deleted, nor one the
 * policy's cooldown or rate limit still counts (created within the longer of the two), so
 * pruning never lets a policy act sooner or more often than it says.
 */
import { DEFAULT_COOLDOWN, POLICY_KIND, POLICY_UID_LABEL, type GitOpsRollbackPolicy } from '../api/v1alpha1/policy-types.js';
import type { GitOpsRollback } from '../api/v1alpha1/types.js';
import { parseDuration } from '../flux/duration.js';
import type { ProcessResult } from './work-queue.js';
import { splitObjectKey } from '../object-key.js';

/** Default of --rollback-history-limit. */
export const DEFAULT_ROLLBACK_HISTORY_LIMIT = 10;

export interface RollbackHistoryPort {
  /** The rollbacks as the informer last saw them (all namespaces watched). */
  listRollbacks(): GitOpsRollback[];
  getPolicy(namespace: string, name: string): Promise<GitOpsRollbackPolicy | null>;
  /** Deletes the rollback if it is still the object with this uid (a precondition); gone is fine. */
  deleteRollback(namespace: string, name: string, uid: string): Promise<void>;
}

export interface RollbackHistoryOptions {
  port: RollbackHistoryPort;
  /** Finished rollbacks kept per policy. */
  limit: number;
  isFinished: (rollback: GitOpsRollback) => boolean;
  now?: () => Date;
}

/** The key (`namespace/name`) of the policy that created a rollback, if one did. */
export function policyKeyOf(rollback: GitOpsRollback): string | undefined {
  if (!rollback.metadata.labels?.[POLICY_UID_LABEL]) return undefined;
  const owner = rollback.metadata.ownerReferences?.find((o) => o.kind === POLICY_KIND && o.controller);
  return owner ? `${rollback.metadata.namespace}/${owner.name}` : undefined;
}

/**
 * Which of one policy's rollbacks to delete now, and when to look again (the earliest time a kept
 * surplus rollback leaves the protection window). Pure.
 */
export function selectRollbacksToPrune(
  rollbacks: GitOpsRollback[],
  options: { limit: number; protectMs: number; now: Date; isFinished: (rollback: GitOpsRollback) => boolean },
): { prune: GitOpsRollback[]; recheckAfterMs?: number } {
  const created = (r: GitOpsRollback) => Date.parse(r.metadata.creationTimestamp ?? '') || options.now.getTime();
  const finished = rollbacks.filter((r) => options.isFinished(r) && !r.metadata.deletionTimestamp).sort((a, b) => created(b) - created(a));
  const prune: GitOpsRollback[] = [];
  let recheckAfterMs: number | undefined;
  for (const rollback of finished.slice(options.limit)) {
    const age = options.now.getTime() - created(rollback);
    if (age >= options.protectMs) prune.push(rollback);
    else recheckAfterMs = Math.min(recheckAfterMs ?? Infinity, options.protectMs - age + 1000);
  }
  return { prune, recheckAfterMs };
}

/** How long a policy's rollbacks still count: the longer of its cooldown and rate-limit window. */
export function protectionOf(policy: GitOpsRollbackPolicy): number {
  const cooldown = parseDuration(policy.spec.cooldown ?? DEFAULT_COOLDOWN);
  const window = policy.spec.rateLimit ? parseDuration(policy.spec.rateLimit.window) : 0;
  return Math.max(cooldown, window);
}

export class RollbackHistory {
  private readonly now: () => Date;

  constructor(private readonly options: RollbackHistoryOptions) {
    this.now = options.now ?? (() => new Date());
  }

  /** Prunes the finished rollbacks of the policy `namespace/name` beyond the limit. */
  async prunePolicy(key: string): Promise<ProcessResult> {
    const { namespace, name } = splitObjectKey(key);
    const policy = await this.options.port.getPolicy(namespace, name);
    // Without its policy there is no window to respect; garbage collection removes them anyway.
    if (!policy) return {};
    const rollbacks = this.options.port
      .listRollbacks()
      .filter((r) => r.metadata.namespace === namespace && r.metadata.labels?.[POLICY_UID_LABEL] === policy.metadata.uid);
    const { prune, recheckAfterMs } = selectRollbacksToPrune(rollbacks, {
      limit: this.options.limit,
      protectMs: protectionOf(policy),
      now: this.now(),
      isFinished: this.options.isFinished,
    });
    for (const rollback of prune) await this.options.port.deleteRollback(namespace, rollback.metadata.name!, rollback.metadata.uid!);
    return recheckAfterMs === undefined ? {} : { requeueAfterMs: recheckAfterMs };
  }
}
