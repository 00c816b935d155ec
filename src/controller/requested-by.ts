/**
 * Who asked for a rollback, in git: the value of its revert commits' `Requested-By:` trailer and
 * of status.requestedBy, from the object alone (the manual procedure's `On-call: <name>` line).
 *
 * The operator cannot see who created an object; the API server can. config/admission's
 * MutatingAdmissionPolicy writes the authenticated username into REQUESTED_BY_ANNOTATION on
 * create and keeps it on every update, so that annotation is the one fact read here. A rollback
 * a GitOpsRollbackPolicy created carries the controller's own username there, which says little:
 * for it the trailer names the policy (its controller owner reference) and the event that
 * triggered it (the trigger and Kustomization annotations the policy wrote), then the stamped
 * creator. Owner references and those annotations are the creator's to write, so the stamped
 * username stays in the text: a rollback a person dressed up as a policy's still says who made it.
 */
import { KUSTOMIZATION_ANNOTATION, POLICY_KIND, TRIGGER_ANNOTATION } from '../api/v1alpha1/policy-types.js';
import { GROUP, REQUESTED_BY_ANNOTATION, type GitOpsRollback } from '../api/v1alpha1/types.js';
import { sanitizeRequestedBy } from '../git/commit-fields.js';

/** How a trigger source reads in a sentence (the trigger annotation is `<source>/<reason>`). */
const SOURCE_NAMES: Record<string, string> = { flux: 'Flux', alertmanager: 'Alertmanager' };
/** Characters kept of each half of a policy's text (policy and event; creator): both fit MAX_REQUESTED_BY_LENGTH. */
const MAX_PART_LENGTH = 500;

/**
 * The `Requested-By:` value for a rollback: the requested-by annotation, or for a rollback a
 * GitOpsRollbackPolicy controls `GitOpsRollbackPolicy <ns>/<name> (<reason> from <source> on
 * Kustomization <ns>/<name>), created by <annotation>`. One line, bounded (sanitizeRequestedBy);
 * undefined when the object says nothing about who asked.
 */
export function requestedByOf(rollback: GitOpsRollback): string | undefined {
  const { annotations = {}, namespace, ownerReferences = [] } = rollback.metadata;
  const policy = ownerReferences.find((owner) => owner.controller && owner.kind === POLICY_KIND && owner.apiVersion.split('/')[0] === GROUP);
  if (!policy) return sanitizeRequestedBy(annotations[REQUESTED_BY_ANNOTATION]);
  const event = describeTrigger(annotations[TRIGGER_ANNOTATION], annotations[KUSTOMIZATION_ANNOTATION]);
  const asked = sanitizeRequestedBy(`${POLICY_KIND} ${namespace}/${policy.name}${event ? ` (${event})` : ''}`, MAX_PART_LENGTH);
  const creator = sanitizeRequestedBy(annotations[REQUESTED_BY_ANNOTATION], MAX_PART_LENGTH);
  return creator ? `${asked}, created by ${creator}` : asked;
}

/** `HealthCheckFailed from Flux on Kustomization flux-system/apps`, from what the policy annotated. */
function describeTrigger(trigger: string | undefined, kustomization: string | undefined): string {
  const parts: string[] = [];
  if (trigger) {
    const slash = trigger.indexOf('/');
    const [source, reason] = slash < 0 ? ['', trigger] : [trigger.slice(0, slash), trigger.slice(slash + 1)];
    parts.push(source ? `${reason} from ${SOURCE_NAMES[source] ?? source}` : reason);
  }
  if (kustomization) parts.push(`on Kustomization ${kustomization}`);
  return parts.join(' ');
}
