/**
 * What a refused push means, read from the server's words (the `ng` reason and the remote's
 * messages that PushRejectedError carries), so the person on call is told what to do rather
 * than "rejected". The patterns are the hosts' documented messages:
 *
 * - GitHub: `GH006: Protected branch update failed` (with "Changes must be made through a pull
 *   request." or "Commits must have verified signatures."), `GH013: Repository rule violations`;
 * - GitLab: "You are not allowed to push code to protected branches", push rules ("Commit must be
 *   signed" / "Commit signature is required"), "pre-receive hook declined";
 * - Azure DevOps: `TF402455: Pushes to this branch are not permitted; you must use a pull request`;
 * - Gitea / Forgejo: "protected branch", "Not allowed to push to protected branch";
 * - git itself: "non-fast-forward", "fetch first", "stale info", "failed to lock": the branch moved.
 */

export type PushRefusalKind = 'raced' | 'signature-required' | 'pull-request-required' | 'branch-protected' | 'hook-declined' | 'rejected';

export interface PushRefusal {
  kind: PushRefusalKind;
  /** What to do about it, for people; empty when there is nothing better than the server's words. */
  advice: string;
}

/** First match wins: a GH006 about signatures is a signature problem before it is a protection one. */
const RULES: [RegExp, PushRefusalKind, string][] = [
  [/stale|fetch first|non-fast-forward|failed to update ref|failed to lock|cannot lock/i, 'raced', ''],
  [
    /verified signatures|must be signed|signature is required|signed commits|unsigned commit|unverified signature|GPG signature/i,
    'signature-required',
    'the branch accepts only signed commits: set spec.signing (CLI: --signing-key) with a key the host trusts',
  ],
  [
    /TF402455|through a pull request|must use a pull request|pull request is required|merge request/i,
    'pull-request-required',
    'the branch takes changes only through pull requests: merge the revert through one, or let the rollback identity bypass the rule',
  ],
  [
    /GH006|GH013|protected branch|rule violation|not allowed to push|push rule|branch protection|denied to push/i,
    'branch-protected',
    "the branch is protected against this push: let the rollback's identity (deploy key, bot) push to it, or roll back through a pull request",
  ],
  [/hook declined|pre-receive/i, 'hook-declined', 'a server-side hook refused the push: its message above says why'],
];

export function classifyPushRefusal(reason: string): PushRefusal {
  for (const [pattern, kind, advice] of RULES) if (pattern.test(reason)) return { kind, advice };
  return { kind: 'rejected', advice: '' };
}
