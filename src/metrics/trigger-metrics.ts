/**
 * Metrics of automated triggers: webhook requests (gitops_rollback_webhook_requests_total
 * {source, code}) and rollbacks a policy created (gitops_rollback_automatic_total{policy, reason}).
 * The webhook receiver calls these through callbacks main.ts wires; it never imports metrics.
 */
import type { OperatorMetrics } from './operator-metrics.js';

/** Reasons longer than this are cut, and anything but [A-Za-z0-9_.-] becomes `_` (bounded labels). */
const MAX_LABEL_LENGTH = 64;

/** Counts one webhook request by source (e.g. `flux`, `alertmanager`) and HTTP status code. */
export function recordWebhookRequest(metrics: OperatorMetrics, source: string, code: number | string): void {
  metrics.webhookRequests.inc({ source: sanitize(source), code: String(code) });
}

/** Counts one rollback created automatically by `policy` (`namespace/name`) for `reason`. */
export function recordAutomaticRollback(metrics: OperatorMetrics, policy: string, reason: string): void {
  metrics.automatic.inc({
    policy: metrics.labelValues.policy.bound(sanitize(policy, /[^A-Za-z0-9_./-]/g)),
    reason: metrics.labelValues.reason.bound(sanitize(reason)),
  });
}

function sanitize(value: string, disallowed = /[^A-Za-z0-9_.-]/g): string {
  return (value || 'unknown').replace(disallowed, '_').slice(0, MAX_LABEL_LENGTH);
}
