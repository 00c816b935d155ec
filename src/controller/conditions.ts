/**
 * Condition bookkeeping in the metav1.Condition shape: a list keyed by type, the transition
 * time kept while the status stays the same, observedGeneration on each.
 */
import type { Condition } from '../api/v1alpha1/types.js';
import { formatTimestamp } from './status-format.js';

export interface ConditionUpdate {
  type: string;
  status: Condition['status'];
  reason: string;
  message: string;
}

/** Returns a new list with `update` set (replacing the condition of the same type). */
export function setCondition(conditions: Condition[], update: ConditionUpdate, generation: number, now: Date): Condition[] {
  const previous = conditions.find((c) => c.type === update.type);
  const lastTransitionTime = previous && previous.status === update.status ? previous.lastTransitionTime : formatTimestamp(now);
  const next: Condition = { ...update, message: truncate(update.message), observedGeneration: generation, lastTransitionTime };
  return [...conditions.filter((c) => c.type !== update.type), next];
}

/** Returns a new list without conditions of the given types (kstatus removes false abnormal ones). */
export function removeConditions(conditions: Condition[], ...types: string[]): Condition[] {
  return conditions.filter((c) => !types.includes(c.type));
}

export function findCondition(conditions: Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/** Condition messages are capped (the API allows 32 KiB; people read the first lines). */
function truncate(message: string): string {
  return message.length > 4096 ? `${message.slice(0, 4093)}...` : message;
}
