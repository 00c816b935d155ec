/**
 * The CLI's --pull-request: the pull request from --push-branch into --branch, described as the
 * operator describes it, through the same clients (src/pull-request/). The CLI's network policy
 * is the user's own (LOCAL_NETWORK_POLICY), as for the git remote.
 */
import type { RollbackResult } from '../git/engine.js';
import { getSubject } from '../git/message.js';
import { LOCAL_NETWORK_POLICY } from '../git/url-policy.js';
import { createHttpApiTransport } from '../pull-request/api-client.js';
import { pullRequestClientFactory } from '../pull-request/create-client.js';
import { describeRollback } from '../pull-request/describe-rollback.js';
import { formatVerdictLines, type SafetyVerdict } from '../safety/evaluate-safety.js';
import type { CliCommand } from './args.js';
import type { JsonReport } from './report.js';

export async function openCliPullRequest(
  command: CliCommand,
  result: RollbackResult,
  verdict?: SafetyVerdict,
): Promise<NonNullable<JsonReport['pullRequest']>> {
  const { provider, apiUrl, token } = command.pullRequest!;
  const { request } = command;
  const clients = pullRequestClientFactory(createHttpApiTransport({ policy: LOCAL_NETWORK_POLICY, timeoutMs: command.timeoutMs }));
  const client = clients({ provider, repositoryUrl: request.repository.url, apiUrl, token });
  const draft = describeRollback(
    {
      reason: request.reason,
      incident: request.incident,
      revertedCommits: [...new Set(result.commits.flatMap((c) => c.reverts))],
      commits: result.commits.map((c) => ({ sha: c.sha, subject: getSubject(c.message) })),
      changedPaths: result.changedPaths,
      safety: verdict ? formatVerdictLines(verdict) : undefined,
    },
    { head: result.pushedBranch!, headCommit: (result.head ?? result.existingCommit)!, base: result.branch },
  );
  const opened = await client.open(draft);
  return { provider, number: opened.number, url: opened.url, state: opened.state };
}
