/**
 * Flux source revisions as they appear in `status.lastAppliedRevision` and
 * `status.lastAttemptedRevision`: `main@sha1:<sha>` (Flux 2.0+), `sha1:<sha>` (a commit without a
 * named ref), `refs/heads/main@sha1:<sha>`, and the legacy `main/<sha>` of Flux before 2.0.
 */

export interface ParsedRevision {
  /** The named ref (`main`, `refs/heads/main`), when the revision carries one. */
  ref?: string;
  /** The digest algorithm (`sha1`, `sha256`); absent for the legacy and bare forms. */
  algorithm?: string;
  /** The commit id, lower case. */
  digest: string;
}

const CURRENT = /^(?:(.+)@)?(sha1|sha256):([0-9a-f]{40}|[0-9a-f]{64})$/i;
const LEGACY = /^(.+)\/([0-9a-f]{40}|[0-9a-f]{64})$/i;
const BARE = /^([0-9a-f]{40}|[0-9a-f]{64})$/i;

/** Splits a Flux revision into ref and commit id; null when it is not a git revision. */
export function parseRevision(revision: string): ParsedRevision | null {
  const value = revision.trim();
  const current = CURRENT.exec(value);
  if (current) return { ...(current[1] ? { ref: current[1] } : {}), algorithm: current[2].toLowerCase(), digest: current[3].toLowerCase() };
  const legacy = LEGACY.exec(value);
  if (legacy) return { ref: legacy[1], digest: legacy[2].toLowerCase() };
  const bare = BARE.exec(value);
  if (bare) return { digest: bare[1].toLowerCase() };
  return null;
}

/** True when `revision` (any Flux format) names exactly the commit `sha` (a full commit id). */
export function isRevisionOf(revision: string | undefined, sha: string): boolean {
  if (!revision) return false;
  return parseRevision(revision)?.digest === sha.toLowerCase();
}
