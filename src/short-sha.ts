/**
 * How a commit is named to people in status, messages, Events and reports: the first 12 hex
 * digits of its SHA, as `flux` and GitHub show them. (Commit messages keep git's own 7-digit
 * form, which `git revert` writes.) A leaf module: it imports nothing, so every room may use it.
 */

/** The first 12 hex digits; "(unknown)" when there is no SHA. */
export function shortSha(sha: string | undefined): string {
  return sha ? sha.slice(0, 12) : '(unknown)';
}
