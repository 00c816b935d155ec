/**
 * The leader Lease's timings, apart from the elector (./leader-election.ts) so the operator's
 * flags can show them as defaults without loading the Kubernetes client.
 */

/** controller-runtime's defaults (15 s, 10 s, 2 s); the operator's --leader-election-* flags default to them. */
export const DEFAULT_LEASE_TIMINGS = Object.freeze({ leaseDurationSeconds: 15, renewDeadlineSeconds: 10, retryPeriodSeconds: 2 });
