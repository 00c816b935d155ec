/**
 * Flux's own deploy history: `Kustomization.status.history` (kustomize-controller 1.7+; fluxcd/pkg
 * apis/meta history.go), at most 5 snapshots, newest first, each the reconciliations of one
 * digest with one outcome: `lastReconciledStatus` "ReconciliationSucceeded" for a healthy apply,
 * a failure reason otherwise; `metadata.revision` names the source revision (`main@sha1:<sha>`).
 * The object is the cluster's, written by whoever may write Kustomization status: read defensively.
 */
import type { HistorySnapshot } from './kustomization.js';
import { parseRevision } from './revision.js';

/** What kustomize-controller writes for a reconciliation that applied and passed its health checks. */
export const HEALTHY_SNAPSHOT_STATUS = 'ReconciliationSucceeded';
/** Flux keeps 5; more than this is not Flux's and is not read. */
const MAX_SNAPSHOTS = 20;

/** The commit of the newest healthy snapshot that is not `failingSha`; undefined when there is none. */
export function lastHealthyFromHistory(history: unknown, failingSha: string): string | undefined {
  for (const snapshot of readSnapshots(history)) {
    if (snapshot.lastReconciledStatus !== HEALTHY_SNAPSHOT_STATUS) continue;
    const sha = parseRevision(snapshot.metadata?.revision ?? '')?.digest;
    if (sha && sha !== failingSha.toLowerCase()) return sha;
  }
  return undefined;
}

/** The well-formed snapshots, newest first (by lastReconciled; Flux already sorts them so). */
export function readSnapshots(history: unknown): HistorySnapshot[] {
  if (!Array.isArray(history)) return [];
  const snapshots = history.slice(0, MAX_SNAPSHOTS).filter(isSnapshot);
  return snapshots.sort((a, b) => (Date.parse(b.lastReconciled) || 0) - (Date.parse(a.lastReconciled) || 0));
}

function isSnapshot(value: unknown): value is HistorySnapshot {
  if (value === null || typeof value !== 'object') return false;
  const s = value as Record<string, unknown>;
  const metadata = s.metadata;
  return (
    typeof s.lastReconciledStatus === 'string' &&
    typeof s.lastReconciled === 'string' &&
    (metadata === undefined || (metadata !== null && typeof metadata === 'object' && isStringOrAbsent((metadata as Record<string, unknown>).revision)))
  );
}

/** metadata.revision must be a string when present: a number or an object is not Flux's. */
function isStringOrAbsent(value: unknown): boolean {
  return value === undefined || typeof value === 'string';
}
