/**
 * The safety verdict as the GitOpsRollback reports it: status.safety, and the condition message
 * of a blocked rollback (Stalled=True, reason SafetyCheckFailed) with how to allow it.
 */
import { SAFETY_ALLOW_ANNOTATION, type SafetyStatus } from '../api/v1alpha1/types.js';
import { formatBlockedMessage, listBlockedKinds, summarizeVerdict, type SafetyVerdict } from '../safety/evaluate-safety.js';

/** status.safety for a verdict (the first 100 objects listed; the summary counts them all). */
export function toSafetyStatus(verdict: SafetyVerdict): SafetyStatus {
  return summarizeVerdict(verdict, 100);
}

/** The Stalled condition's message: what blocks, in which files, and how to allow it. */
export function formatSafetyFailure(verdict: SafetyVerdict): string {
  return `${formatBlockedMessage(verdict)}. Nothing was pushed. To allow, create a new GitOpsRollback with spec.safety.allow: [${listBlockedKinds(verdict).join(', ')}] (its Namespace must grant these kinds: annotation ${SAFETY_ALLOW_ANNOTATION})`;
}
