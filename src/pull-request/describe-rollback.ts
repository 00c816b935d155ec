/**
 * The pull request's title and body: what a reviewer needs to approve a rollback in an incident —
 * why, which incident, which commits it reverts, what it changes, the safety verdict, and how to
 * find the GitOpsRollback that asked. Bounded: hosts cap bodies (GitHub at 65,536 characters).
 */
import { shortSha } from '../short-sha.js';
import { toOneLine } from '../one-line.js';
import type { PullRequestDraft } from './types.js';

export interface RollbackSummary {
  /** `namespace/name` of the GitOpsRollback; unset for the CLI. */
  request?: string;
  reason?: string;
  incident?: string;
  revertedCommits: string[];
  /** The commits on the push branch (subject lines with their sha). */
  commits: { sha: string; subject: string }[];
  changedPaths: string[];
  /** The safety check's report, a line each (verdict, counts per kind, blocked and allowed objects). */
  safety?: string[];
}

const MAX_TITLE = 200;
const MAX_LISTED = 50;
const MAX_BODY = 60_000;

export function describeRollback(summary: RollbackSummary, branches: { head: string; headCommit: string; base: string }): PullRequestDraft {
  const what = summary.revertedCommits.length === 1 ? shortSha(summary.revertedCommits[0]) : `${summary.revertedCommits.length} commits`;
  const title = toOneLine(
    `Rollback: revert ${what}${summary.incident ? ` (${summary.incident})` : ''}${summary.reason ? `: ${summary.reason}` : ''}`,
    MAX_TITLE,
  );
  const lines = [
    summary.request ? `Opened by gitops-rollback for GitOpsRollback \`${summary.request}\`.` : 'Opened by the gitops-rollback CLI.',
    '',
    `**Reason:** ${summary.reason ? toOneLine(summary.reason, 2000) : '(none given)'}`,
    `**Incident:** ${summary.incident ? toOneLine(summary.incident, 256) : '(none given)'}`,
    '',
    `**Reverts** (${summary.revertedCommits.length}):`,
    ...listed(summary.revertedCommits.map((sha) => `- ${sha}`)),
    '',
    `**Commits on \`${branches.head}\`:**`,
    ...listed(summary.commits.map((c) => `- ${shortSha(c.sha)} ${toOneLine(c.subject, 200)}`)),
    '',
    `**Changed paths** (${summary.changedPaths.length}):`,
    ...listed(summary.changedPaths.map((p) => `- \`${toOneLine(p, 300)}\``)),
    '',
    ...(summary.safety
      ? [
          '**Safety check:**',
          '```',
          ...listed(
            summary.safety.map((l) => toOneLine(l, 300)),
            '',
          ),
          '```',
        ]
      : ['**Safety check:** not run']),
    '',
    `Once merged into \`${branches.base}\`, the rollback waits for Flux to apply the merge.`,
  ];
  const body = lines.join('\n');
  return {
    head: branches.head,
    headCommit: branches.headCommit,
    base: branches.base,
    title,
    body: body.length > MAX_BODY ? `${body.slice(0, MAX_BODY - 3)}...` : body,
  };
}

function listed(lines: string[], bullet = '- '): string[] {
  if (lines.length === 0) return [`${bullet}(none)`];
  return lines.length > MAX_LISTED ? [...lines.slice(0, MAX_LISTED), `${bullet}… and ${lines.length - MAX_LISTED} more`] : lines;
}
