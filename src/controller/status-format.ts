/**
 * How the controller writes a commit and a time in status, messages and Events: the first 12
 * hex digits of a SHA (as `flux` and GitHub show them), and an RFC 3339 time in whole seconds
 * (metav1.Time's wire form, so a value read back compares equal).
 */

/** The first 12 hex digits; "(unknown)" when there is no SHA. */
export function shortSha(sha: string | undefined): string {
  return sha ? sha.slice(0, 12) : '(unknown)';
}

/** RFC 3339 in whole seconds, e.g. 2026-11-30T06:26:56Z. */
export function formatTimestamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
