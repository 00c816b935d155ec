/**
 * What the CLI prints: a short text report for a person in an incident, or one JSON object on
 * the last line of stdout for tools.
 */
import type { Conflict } from '../git/errors.js';
import type { RollbackResult } from '../git/engine.js';
import { getSubject } from '../git/message.js';
import { formatVerdictLines, summarizeVerdict, type SafetyReport, type SafetyVerdict } from '../safety/evaluate-safety.js';
import { shortSha } from '../short-sha.js';

export interface JsonReport {
  result: RollbackResult['result'] | 'conflict' | 'blocked' | 'error';
  branch: string;
  head: string | null;
  previousHead?: string;
  commits: { sha: string; tree: string; reverts: string[] }[];
  alreadyReverted: string[];
  empty: string[];
  conflicts: Conflict[];
  changedPaths: string[];
  /** Whether the new commits carry a signature (--signing-key). */
  signed: boolean;
  /** The branch the commits went to when not `branch` (--push-branch). */
  pushedBranch?: string;
  /** The pull request opened from it (--pull-request). */
  pullRequest?: { provider: string; number: number; url: string; state: string };
  /** The safety check's verdict; absent when nothing was computed to check. */
  safety?: SafetyReport;
  error?: { code: string; message: string };
}

export function toJsonReport(result: RollbackResult, safety?: SafetyVerdict): JsonReport {
  return {
    result: result.result,
    branch: result.branch,
    head: result.head,
    previousHead: result.previousHead,
    commits: result.commits.map(({ sha, tree, reverts }) => ({ sha, tree, reverts })),
    alreadyReverted: result.alreadyReverted,
    empty: result.empty,
    conflicts: [],
    changedPaths: result.changedPaths,
    signed: result.signed,
    ...(result.pushedBranch ? { pushedBranch: result.pushedBranch } : {}),
    ...(safety ? { safety: summarizeVerdict(safety) } : {}),
  };
}

export function toFailureReport(branch: string, code: string, message: string, conflicts: Conflict[] = [], safety?: SafetyVerdict): JsonReport {
  return {
    result: conflicts.length ? 'conflict' : safety?.verdict === 'Blocked' ? 'blocked' : 'error',
    branch,
    head: null,
    commits: [],
    alreadyReverted: [],
    empty: [],
    conflicts,
    changedPaths: safety?.changedPaths ?? [],
    signed: false,
    ...(safety ? { safety: summarizeVerdict(safety) } : {}),
    error: { code, message },
  };
}

const HEADLINES: Record<RollbackResult['result'], string> = {
  reverted: 'Rolled back',
  planned: 'Dry run: this is what would be pushed (nothing was written)',
  'already-reverted': 'Nothing to do: already reverted on the branch',
  empty: 'Nothing to do: the rollback would not change anything on the branch',
};

/** The text report of a finished run. */
export function formatText(result: RollbackResult, safety?: SafetyVerdict): string {
  const lines = [`${HEADLINES[result.result]} (${result.branch} at ${shortSha(result.previousHead)})`];
  for (const commit of result.commits) lines.push(`  ${shortSha(commit.sha)} ${getSubject(commit.message)}`);
  if (result.signed) lines.push('Signed: yes');
  if (result.alreadyReverted.length) lines.push(`Already reverted: ${result.alreadyReverted.map(shortSha).join(', ')}`);
  if (result.existingCommit) lines.push(`This request already ran: ${shortSha(result.existingCommit)}`);
  if (result.empty.length) lines.push(`No effect on the current head: ${result.empty.map(shortSha).join(', ')}`);
  if (result.changedPaths.length) {
    lines.push(`Changed paths (${result.changedPaths.length}):`);
    for (const p of result.changedPaths.slice(0, 50)) lines.push(`  ${p}`);
    if (result.changedPaths.length > 50) lines.push(`  ... and ${result.changedPaths.length - 50} more`);
  }
  if (safety) lines.push(...formatVerdictLines(safety));
  if (result.head && result.pushedBranch) lines.push(`${result.pushedBranch} (new, from ${result.branch}) is at ${result.head}`);
  else if (result.head) lines.push(`${result.branch} is now at ${result.head}`);
  return lines.join('\n');
}
