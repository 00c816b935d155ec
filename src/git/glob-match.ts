/**
 * Wildcard matching for known_hosts host patterns: `*` matches any run of characters (also
 * none), `?` exactly one, everything else itself — OpenSSH's `match_pattern` (match.c). OpenSSH
 * recurses on every `*`, and a RegExp built from the pattern backtracks: both take exponential
 * time on patterns such as `*a*a*a*a*a*a*a*a*b` (a 64-character host name took over 100 s).
 * known_hosts comes from a tenant's Secret, so this matcher is iterative with a single resume
 * point (the last `*` seen): at most (pattern length + 1) × (name length + 1) steps.
 */

/** Counts the matcher's steps, so tests can bound its work without timing it. */
export interface MatchStats {
  steps: number;
}

/** True when `pattern` (with `*` and `?` wildcards) matches all of `name`; case-sensitive. */
export function matchGlob(pattern: string, name: string, stats?: MatchStats): boolean {
  let p = 0;
  let n = 0;
  // Where the last `*` was, and the name position it currently swallows up to.
  let starAt = -1;
  let resumeAt = 0;
  while (n < name.length) {
    if (stats) stats.steps++;
    const c = pattern[p];
    if (c === '*') {
      starAt = p++;
      resumeAt = n;
    } else if (p < pattern.length && (c === '?' || c === name[n])) {
      p++;
      n++;
    } else if (starAt >= 0) {
      // Let the last `*` swallow one more character and retry the rest of the pattern from there.
      // Earlier stars never need revisiting: the last one can absorb whatever they would have.
      p = starAt + 1;
      n = ++resumeAt;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}
