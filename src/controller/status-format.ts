/**
 * How the controller writes a time in status, messages and Events: RFC 3339 in whole seconds
 * (metav1.Time's wire form, so a value read back compares equal). Commits are named with
 * src/short-sha.ts.
 */

/** RFC 3339 in whole seconds, e.g. 2026-11-30T06:26:56Z. */
export function formatTimestamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
