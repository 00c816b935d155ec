/**
 * A rollback's status as the reconcile changes it: conditions are marked in memory (each with
 * the object's generation and a transition time taken here), fields are set beside them, and
 * `persist` hands the whole to the one StatusPatcher, which writes what changed. Mirrors Flux:
 * `conditions.MarkTrue/MarkFalse/MarkStalled` change the object, a deferred patch writes it
 * (kustomize-controller `Reconcile` → `finalizeStatus` → `patch`).
 *
 * A reconcile persists at its end, and also where a crash must find a record: before the push
 * (Reconciling=True, the automations suspended) and right after it (Pushed=True, headAfter),
 * because the next reconcile resumes from what is stored (./apply-wait.ts, the engine's
 * existing-commit check).
 */
import { ConditionType } from '../api/v1alpha1/conditions.js';
import type { Condition, GitOpsRollback, GitOpsRollbackStatus } from '../api/v1alpha1/types.js';
import { findCondition, removeConditions, setCondition } from './conditions.js';
import { formatTimestamp } from './status-format.js';
import type { StatusPatcher } from './status-write.js';

const { Ready, Reconciling, Stalled } = ConditionType;

export class RollbackStatus {
  private current: GitOpsRollbackStatus;

  constructor(
    /** The object whose status this is. */
    readonly rollback: GitOpsRollback,
    private readonly patcher: StatusPatcher,
    private readonly now: () => Date,
  ) {
    this.current = rollback.status ?? {};
  }

  /** The status as marked so far (written or not). */
  get value(): GitOpsRollbackStatus {
    return this.current;
  }

  condition(type: string): Condition | undefined {
    return findCondition(this.current.conditions, type);
  }

  /** Sets the condition of `type`; the transition time changes only with its status. */
  mark(type: string, status: Condition['status'], reason: string, message: string): this {
    const conditions = setCondition(this.current.conditions ?? [], { type, status, reason, message }, this.rollback.metadata.generation ?? 0, this.now());
    return this.update({ conditions });
  }

  markReady(reason: string, message: string): this {
    return this.mark(Ready, 'True', reason, message);
  }

  markNotReady(reason: string, message: string): this {
    return this.mark(Ready, 'False', reason, message);
  }

  markReadyUnknown(reason: string, message: string): this {
    return this.mark(Ready, 'Unknown', reason, message);
  }

  markReconciling(reason: string, message: string): this {
    return this.mark(Reconciling, 'True', reason, message);
  }

  markStalled(reason: string, message: string): this {
    return this.mark(Stalled, 'True', reason, message);
  }

  /** Drops conditions (kstatus removes abnormal ones once false rather than writing False). */
  remove(...types: string[]): this {
    return this.update({ conditions: removeConditions(this.current.conditions ?? [], ...types) });
  }

  /** Sets fields besides the conditions; an undefined value removes the field. */
  update(fields: Partial<GitOpsRollbackStatus>): this {
    this.current = { ...this.current, ...fields };
    return this;
  }

  /** status.observedGeneration: the spec generation this reconcile acted on. */
  observeGeneration(): this {
    return this.update({ observedGeneration: this.rollback.metadata.generation });
  }

  /** Now (or `date`) as status times are written. */
  timestamp(date: Date = this.now()): string {
    return formatTimestamp(date);
  }

  /** Writes what changed since the last write; StatusRejectedError when refused for good. */
  async persist(): Promise<void> {
    await this.patcher.write(this.current);
  }
}
