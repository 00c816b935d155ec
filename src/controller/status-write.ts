/**
 * Every status write of a rollback goes through here (StatusPatcher): the status is bounded first
 * (status-bounds.ts), only what changed is sent, and if the API server still refuses it as invalid or too large, a minimal
 * status takes its place — Ready=False and Stalled=True with reason StatusRejected — so the
 * rollback ends instead of retrying a write that can never succeed.
 */
import { ConditionType, Reason } from '../api/v1alpha1/conditions.js';
import type { GitOpsRollback, GitOpsRollbackStatus } from '../api/v1alpha1/types.js';
import { removeConditions, setCondition } from './conditions.js';
import { diffMergePatch } from './merge-patch.js';
import type { ClusterPort } from './ports.js';
import { boundStatus, truncateBytes } from './status-bounds.js';
import { formatTimestamp } from './status-format.js';
import { CodedError } from '../coded-error.js';

/** HTTP statuses that mean "this body will never be accepted" (not a transient failure). */
const REJECTED = new Set([400, 413, 422]);

/** The status write was refused for good; a minimal Stalled status was written instead. */
export class StatusRejectedError extends CodedError {
  readonly code = 'StatusRejectedError' as const;
  constructor(readonly data: { httpStatus: number; message: string }) {
    super(data.message);
  }
}

/**
 * The one writer of a rollback's status during a reconcile. It remembers what is stored (the
 * status read, then each status written) and sends only the difference as a merge patch
 * (./merge-patch.ts); an unchanged status is not written at all. Every status is bounded first.
 */
export class StatusPatcher {
  private stored: GitOpsRollbackStatus;

  constructor(
    private readonly cluster: Pick<ClusterPort, 'patchRollbackStatus'>,
    private readonly rollback: GitOpsRollback,
    private readonly now: () => Date,
  ) {
    this.stored = rollback.status ?? {};
  }

  /** Writes `status`; when refused for good, writes the minimal status and throws StatusRejectedError. */
  async write(status: GitOpsRollbackStatus): Promise<void> {
    try {
      await this.send(boundStatus(status));
    } catch (error) {
      const httpStatus = rejectedStatusOf(error);
      if (httpStatus === undefined) throw error;
      const message = truncateBytes(`The API server refused the status (HTTP ${httpStatus}): ${describeRejection(error)}`, 1024);
      await this.send(buildMinimalStatus(this.rollback, status, message, this.now()));
      throw new StatusRejectedError({ httpStatus, message });
    }
  }

  private async send(status: GitOpsRollbackStatus): Promise<void> {
    const patch = diffMergePatch(this.stored, status);
    if (!patch) return;
    await this.cluster.patchRollbackStatus(this.rollback, patch);
    this.stored = status;
  }
}

/** Conditions saying why, the generation, the times and the heads: what is needed to act. */
export function buildMinimalStatus(rollback: GitOpsRollback, status: GitOpsRollbackStatus, message: string, now: Date): GitOpsRollbackStatus {
  const generation = rollback.metadata.generation ?? 0;
  let conditions = removeConditions(status.conditions ?? [], ConditionType.Reconciling).map((c) => ({ ...c, message: truncateBytes(c.message, 1024) }));
  const update = { reason: Reason.StatusRejected, message };
  conditions = setCondition(conditions, { type: ConditionType.Ready, status: 'False', ...update }, generation, now);
  conditions = setCondition(conditions, { type: ConditionType.Stalled, status: 'True', ...update }, generation, now);
  const { observedGeneration, startTime, headBefore, headAfter, pushTime } = status;
  const completionTime = status.completionTime ?? formatTimestamp(now);
  return { observedGeneration: observedGeneration ?? rollback.metadata.generation, conditions, startTime, completionTime, headBefore, headAfter, pushTime };
}

/** The HTTP status of an API error that refuses the body for good, else undefined. */
function rejectedStatusOf(error: unknown): number | undefined {
  if (!error || typeof error !== 'object' || !('code' in error) || typeof error.code !== 'number') return undefined;
  return REJECTED.has(error.code) ? error.code : undefined;
}

/** The API's own message (metav1.Status.message), cut short; never the body we sent. */
function describeRejection(error: unknown): string {
  const body = (error as { body?: unknown }).body;
  try {
    const parsed = typeof body === 'string' ? (JSON.parse(body) as { message?: string }) : (body as { message?: string } | undefined);
    if (parsed?.message) return truncateBytes(parsed.message, 512);
  } catch {
    // Not JSON: fall through.
  }
  return 'invalid or too large';
}
