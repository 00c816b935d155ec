/**
 * Turns rollbacks into bounded metric label values: repositories as host/path without
 * credentials, changed paths as components, specs as target kinds, condition reasons as results.
 */
import type { GitOpsRollbackSpec } from '../api/v1alpha1/types.js';
import type { RollbackResultLabel } from './operator-metrics.js';

/** Directory levels kept in a component label (`apps/frontend/overlays/prod` -> `apps/frontend`). */
export const COMPONENT_DEPTH = 2;

/**
 * The `repository` label: `host[:port]/path` without scheme, credentials, query or `.git`
 * (`https://user:pw@git.example.com/org/fleet.git` -> `git.example.com/org/fleet`). A value
 * that is not a URL (a local path) is kept as it is, less a trailing `.git`.
 */
export function toRepositoryLabel(url: string | undefined): string {
  if (!url) return 'unknown';
  let label: string;
  try {
    const parsed = new URL(url);
    label = parsed.protocol === 'file:' ? parsed.pathname : `${parsed.host}${parsed.pathname}`;
  } catch {
    // scp-like `git@host:org/repo.git`: drop the user part.
    label = url.replace(/^[^@/]+@/, '').replace(/^([^:/]+):/, '$1/');
  }
  return label.replace(/\/+$/, '').replace(/\.git$/, '');
}

/** The `component` label of a changed path: its directory, at most {@link COMPONENT_DEPTH} levels. */
export function toComponent(changedPath: string): string {
  const parts = changedPath.split('/').filter(Boolean);
  const directories = parts.slice(0, -1);
  return directories.length === 0 ? '.' : directories.slice(0, COMPONENT_DEPTH).join('/');
}

/** The distinct components of a rollback's changed paths, sorted. */
export function toComponents(changedPaths: readonly string[]): string[] {
  return [...new Set(changedPaths.map(toComponent))].sort();
}

/** The `target_kind` label: commit, commits, range, merge or restore. */
export function toTargetKind(spec: Pick<GitOpsRollbackSpec, 'revert' | 'restore'>): string {
  if (spec.restore) return 'restore';
  const revert = spec.revert;
  if (revert?.range) return 'range';
  if (revert?.mainline !== undefined) return 'merge';
  return (revert?.commits?.length ?? 0) > 1 ? 'commits' : 'commit';
}

/** Reasons of a rollback stopped by a safety gate. */
const BLOCKED_REASONS = new Set(['Blocked', 'SafetyCheckFailed', 'SafetyBlocked', 'BlockedBySafetyRule', 'UnsafeChange']);

/**
 * The `result` label of a finished rollback from the reason of its Ready condition:
 * Succeeded -> succeeded, AlreadyReverted and NothingToRevert -> already_reverted,
 * DryRunSucceeded -> dry_run, RevertConflict -> conflict, a safety gate's reason -> blocked,
 * any other (stalling) reason -> failed.
 */
export function toResultLabel(reason: string, ready: boolean): RollbackResultLabel {
  if (reason === 'RevertConflict') return 'conflict';
  if (BLOCKED_REASONS.has(reason) || /^Blocked|Blocked$/.test(reason)) return 'blocked';
  if (!ready) return 'failed';
  if (reason === 'AlreadyReverted' || reason === 'NothingToRevert') return 'already_reverted';
  if (reason === 'DryRunSucceeded') return 'dry_run';
  return 'succeeded';
}
