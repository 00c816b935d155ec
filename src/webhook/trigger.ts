import { createHash } from 'node:crypto';

/**
 * A trigger: one notification, from Flux or Alertmanager, that a Kustomization covered by a
 * policy is failing. The receiver turns requests into triggers; the controller decides on them.
 */

export type TriggerSource = 'flux' | 'alertmanager';

export interface Trigger {
  source: TriggerSource;
  policy: { namespace: string; name: string };
  kustomization: { namespace: string; name: string; uid?: string };
  /** The failing revision as Flux reports it (`main@sha1:<sha>`...), when the notification carries one. */
  revision?: string;
  /** The Flux event reason (`HealthCheckFailed`...) or the alert name. */
  reason: string;
  message?: string;
  /** Alertmanager: the alert's fingerprint and start, which identify one firing. */
  alert?: { fingerprint?: string; startsAt?: string };
}

/**
 * The key duplicates share: the involved object's uid (or namespace/name), the revision and the
 * reason for Flux; the alert's firing for Alertmanager. Flux retries and re-sends map to one key.
 * A SHA-256 (64 hex characters) of those parts: the caller chooses most of them, so the memory a
 * remembered key costs must not depend on their length.
 */
export function computeDedupeKey(trigger: Trigger): string {
  const { policy, kustomization } = trigger;
  const object = kustomization.uid ?? `${kustomization.namespace}/${kustomization.name}`;
  const firing = trigger.alert ? `${trigger.alert.fingerprint ?? ''}@${trigger.alert.startsAt ?? ''}` : (trigger.revision ?? '');
  // JSON keeps the parts apart whatever characters they hold.
  return createHash('sha256')
    .update(JSON.stringify([trigger.source, policy.namespace, policy.name, object, firing, trigger.reason]))
    .digest('hex');
}

/** The lane a trigger is processed in: one per policy namespace (tenant), see TriggerQueue. */
export function laneOf(trigger: Trigger): string {
  return trigger.policy.namespace;
}
