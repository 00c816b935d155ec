/**
 * The CLI's `revert` and `restore` commands: parse, run the engine with the safety gate, report.
 * Loaded by the entry (gitops-rollback.ts) only for these commands, after the compile cache is
 * enabled; `--help`, `request`, `history` and `rollback` never load the engine.
 * Exit status: 0 done (reverted, planned, already-reverted, empty), 1 conflict, 2 bad input or error.
 */
import { isCommitOnBranch } from '../git/commit-on-branch.js';
import { runRollback, type RollbackResult } from '../git/engine.js';
import { GitRollbackError, PushRejectedError, RevertConflictError } from '../git/errors.js';
import { classifyPushRefusal } from '../git/push-refusal.js';
import { LOCAL_NETWORK_POLICY } from '../git/url-policy.js';
import { formatVerdictLines, listBlockedKinds, type SafetyVerdict } from '../safety/evaluate-safety.js';
import { createSafetyGate, SafetyCheckFailedError } from '../safety/safety-gate.js';
import { USAGE, UsageError, parseCommandLine, type CliCommand } from './args.js';
import { formatText, toFailureReport, toJsonReport, type JsonReport } from './report.js';
import { reportProgress } from './progress.js';

export async function runRevertCommand(argv: string[]): Promise<number> {
  let command: CliCommand;
  try {
    command = parseCommandLine(argv, process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`gitops-rollback: ${error.message}\n\n${USAGE}\n`);
    return 2;
  }
  const branch = command.request.repository.branch;
  const json = command.output === 'json';
  const gate = createSafetyGate({ allow: command.allowKinds });
  // The CLI runs for the person who typed the URL, on their machine: http:// and internal hosts
  // are theirs to use (LOCAL_NETWORK_POLICY), but plain HTTP is never silent.
  if (/^http:\/\//i.test(command.request.repository.url)) {
    process.stderr.write('gitops-rollback: warning: http:// sends credentials and content unencrypted and unauthenticated; prefer https://\n');
  }
  try {
    const result = await runRollback(command.request, {
      cacheDir: command.cacheDir,
      timeoutMs: command.timeoutMs,
      policy: LOCAL_NETWORK_POLICY,
      onProgress: json ? undefined : reportProgress,
      inspect: gate.inspect,
    });
    const pullRequest =
      command.pullRequest && isCommitOnBranch(result) && result.pushedBranch ? await openPullRequest(command, result, gate.verdict) : undefined;
    if (pullRequest?.failure) {
      process.stderr.write(`gitops-rollback: ${result.pushedBranch} was pushed, but the pull request failed: ${pullRequest.failure.message}\n`);
      if (json)
        process.stdout.write(
          `${JSON.stringify({ ...toJsonReport(result, gate.verdict), error: { code: pullRequest.failure.code, message: pullRequest.failure.message } })}\n`,
        );
      else process.stdout.write(`${formatText(result, gate.verdict)}\n`);
      return 2;
    }
    const opened = pullRequest?.opened;
    if (json) process.stdout.write(`${JSON.stringify({ ...toJsonReport(result, gate.verdict), ...(opened ? { pullRequest: opened } : {}) })}\n`);
    else process.stdout.write(`${formatText(result, gate.verdict)}\n${opened ? `Pull request #${opened.number} (${opened.state}): ${opened.url}\n` : ''}`);
    return 0;
  } catch (error) {
    if (error instanceof SafetyCheckFailedError) return reportBlocked(error, branch, json);
    // The engine types its own failures (./git/engine-errors.ts); anything else is ours, a bug.
    const known = error instanceof GitRollbackError;
    const message = known ? error.message : `Internal error: ${(error as Error).message}`;
    const conflicts = error instanceof RevertConflictError ? error.data.conflicts : [];
    const advice = error instanceof PushRejectedError ? classifyPushRefusal(error.data.reason).advice : '';
    process.stderr.write(
      `gitops-rollback: ${message}\n${advice ? `What to do: ${advice}\n` : ''}${conflicts.length ? 'Nothing was written: the branch is unchanged.\n' : ''}`,
    );
    if (json) process.stdout.write(`${JSON.stringify(toFailureReport(branch, known ? error.code : 'InternalError', message, conflicts))}\n`);
    return conflicts.length ? 1 : 2;
  }
}

/**
 * --pull-request, after the push onto --push-branch: opens (or finds) the pull request. Its
 * modules load only then, to keep the revert's start-up short.
 */
async function openPullRequest(
  command: CliCommand,
  result: RollbackResult,
  verdict: SafetyVerdict | undefined,
): Promise<{ opened?: NonNullable<JsonReport['pullRequest']>; failure?: { code: string; message: string } }> {
  const { openCliPullRequest } = await import('./open-pull-request.js');
  try {
    return { opened: await openCliPullRequest(command, result, verdict) };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return { failure: { code: typeof code === 'string' ? code : 'Error', message: (error as Error).message } };
  }
}

/** A rollback the safety check blocked: the verdict, how to allow it, exit 2; nothing written. */
function reportBlocked(error: SafetyCheckFailedError, branch: string, json: boolean): number {
  const { verdict } = error.data;
  const allow = listBlockedKinds(verdict)
    .map((kind) => `--allow-kind ${kind}`)
    .join(' ');
  process.stderr.write(`gitops-rollback: ${error.message}\nNothing was written: the branch is unchanged. To allow it, run again with ${allow}\n`);
  if (json) process.stdout.write(`${JSON.stringify(toFailureReport(branch, error.code, error.message, [], verdict))}\n`);
  else process.stdout.write(`${formatVerdictLines(verdict).join('\n')}\n`);
  return 2;
}
