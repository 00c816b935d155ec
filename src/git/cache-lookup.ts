/**
 * Whether a branch is already in the cache: what makes a rollback's fetch incremental (a "have"
 * sent, only new objects received) instead of a shallow clone. The operator asks before a run to
 * count cache hits and misses; nothing is fetched, locked or written.
 */
import { join } from 'node:path';
import type { Fs } from './object-store.js';
import { resolveRef } from './refs.js';
import { cacheRepoPath } from './remote.js';

/** The remote-tracking ref a fetch of `branch` writes (./remote.ts fetchBranch). */
function trackingRef(branch: string): string {
  return `refs/remotes/origin/${branch}`;
}

/**
 * True when the cache repository of `url` exists and holds the remote-tracking ref of `branch`,
 * i.e. a fetch of the branch would be incremental.
 */
export async function isBranchCached(fs: Fs, cacheDir: string, url: string, branch: string): Promise<boolean> {
  const gitdir = cacheRepoPath(cacheDir, url);
  if (!fs.existsSync(join(gitdir, 'config'))) return false;
  try {
    return (await resolveRef(fs, gitdir, trackingRef(branch))) !== undefined;
  } catch {
    return false;
  }
}
