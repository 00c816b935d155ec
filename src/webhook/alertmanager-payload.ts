/**
 * Prometheus Alertmanager webhook payloads (version 4) and their mapping to a policy's
 * Kustomizations by alert labels: a firing alert that carries all of the policy's
 * `alertmanager.matchLabels` and names a Kustomization in its `kustomization` label (or the label
 * the policy names) becomes one trigger. Resolved alerts trigger nothing.
 */
import { DEFAULT_KUSTOMIZATION_LABEL, type GitOpsRollbackPolicy } from '../api/v1alpha1/policy-types.js';
import { MAX_TRIGGER_MESSAGE, MAX_TRIGGER_REASON, toOneLine } from './event-text.js';
import { InvalidPayloadError, isJsonObject } from './flux-event.js';
import type { Trigger } from './trigger.js';

export interface Alert {
  status: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt?: string;
  fingerprint?: string;
}

export interface AlertmanagerPayload {
  version?: string;
  status?: string;
  alerts: Alert[];
}

/** The most alerts one request may carry (Alertmanager's max_alerts truncates groups anyway). */
const MAX_ALERTS = 1000;

/** Validates a parsed JSON body as an Alertmanager webhook payload. Throws InvalidPayloadError. */
export function parseAlertmanagerPayload(body: unknown): AlertmanagerPayload {
  if (!isJsonObject(body)) throw new InvalidPayloadError('The body is not a JSON object');
  if (!Array.isArray(body.alerts)) throw new InvalidPayloadError('alerts must be an array');
  if (body.alerts.length > MAX_ALERTS) throw new InvalidPayloadError(`More than ${MAX_ALERTS} alerts`);
  const alerts = body.alerts.map((alert: unknown, index: number): Alert => {
    if (!isJsonObject(alert)) throw new InvalidPayloadError(`alerts[${index}] is not an object`);
    if (typeof alert.status !== 'string') throw new InvalidPayloadError(`alerts[${index}].status must be a string`);
    return {
      status: alert.status,
      labels: readStringMap(alert.labels, `alerts[${index}].labels`),
      annotations: isJsonObject(alert.annotations) ? readStringMap(alert.annotations, `alerts[${index}].annotations`) : {},
      startsAt: typeof alert.startsAt === 'string' ? alert.startsAt : undefined,
      fingerprint: typeof alert.fingerprint === 'string' ? alert.fingerprint : undefined,
    };
  });
  return { version: typeof body.version === 'string' ? body.version : undefined, status: typeof body.status === 'string' ? body.status : undefined, alerts };
}

/** The triggers a payload makes for `policy`: one per firing alert that maps to a Kustomization. */
export function mapAlertsToTriggers(payload: AlertmanagerPayload, policy: GitOpsRollbackPolicy): Trigger[] {
  const mapping = policy.spec.alertmanager ?? {};
  const labelName = mapping.kustomizationLabel ?? DEFAULT_KUSTOMIZATION_LABEL;
  const namespace = policy.spec.kustomizations.namespace ?? policy.metadata.namespace!;
  const triggers: Trigger[] = [];
  for (const alert of payload.alerts) {
    if (alert.status !== 'firing') continue;
    if (!Object.entries(mapping.matchLabels ?? {}).every(([key, value]) => alert.labels[key] === value)) continue;
    const name = alert.labels[labelName];
    // A Kubernetes object name, or no trigger (the label is the caller's text).
    if (!name || name.length > 253) continue;
    triggers.push({
      source: 'alertmanager',
      policy: { namespace: policy.metadata.namespace!, name: policy.metadata.name! },
      kustomization: { namespace, name },
      reason: toOneLine(alert.labels.alertname ?? 'Alert', MAX_TRIGGER_REASON) || 'Alert',
      message: toOneLine(alert.annotations.summary ?? alert.annotations.description ?? '', MAX_TRIGGER_MESSAGE),
      // Only their identity matters (the dedupe key hashes them); bounded like a label value.
      alert: { fingerprint: alert.fingerprint?.slice(0, 64), startsAt: alert.startsAt?.slice(0, 64) },
    });
  }
  return triggers;
}

function readStringMap(value: unknown, label: string): Record<string, string> {
  if (!isJsonObject(value)) throw new InvalidPayloadError(`${label} must be an object`);
  const map: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry !== 'string') throw new InvalidPayloadError(`${label}.${key} must be a string`);
    map[key] = entry;
  }
  return map;
}
