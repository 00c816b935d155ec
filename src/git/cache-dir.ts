/**
 * Housekeeping of the cache directory, whose volume has a size limit (an emptyDir with
 * `sizeLimit`: past it, the kubelet evicts the pod):
 *   - at open, a cache repository loses what an interrupted fetch left: a pack being received
 *     (`tmp_pack_*`, ./pack-indexer.ts), packs without an index and indexes without a pack, the
 *     staging directories of earlier versions, git's temporary files;
 *   - after a run, whole cache repositories are evicted, least recently used first, until the
 *     directory fits a byte budget. A repository in use (locked) is never evicted; an evicted
 *     one is fetched again (shallow) when next needed.
 * Callers hold the repository's lock for the first; eviction takes each lock itself.
 */
import { join } from 'node:path';
import { tryWithRepositoryLock } from './lock.js';
import type { Fs } from './object-store.js';
import { ObjectDatabase } from './pack-reader.js';

/** Default byte budget of the operator's cache: half the manager's 2 GiB emptyDir, leaving room for a fetch in flight. */
export const DEFAULT_CACHE_MAX_BYTES = 1 << 30;

/** Where versions before the streaming fetch staged a fetch's files, inside the gitdir. */
export const STAGING_PREFIX = 'fetch-staging-';

/** Cache repositories are named by the SHA-256 of their URL (./remote.ts cacheRepoPath). */
const CACHE_REPO_NAME = /^[0-9a-f]{64}$/;

/**
 * Removes what an interrupted or failed fetch left in `gitdir`, and marks the repository as
 * used now (eviction order). Returns the names removed. The caller holds the repository's lock,
 * so no fetch is writing meanwhile.
 */
export async function cleanCacheRepo(fs: Fs, gitdir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await listDir(fs, gitdir)) {
    if (!name.startsWith(STAGING_PREFIX)) continue;
    await fs.promises.rm(join(gitdir, name), { recursive: true, force: true });
    removed.push(name);
  }
  const packDir = join(gitdir, 'objects', 'pack');
  const names = new Set(await listDir(fs, packDir));
  for (const name of names) {
    const stem = name.replace(/\.(pack|idx)$/, '');
    const orphan =
      (name.endsWith('.pack') && !names.has(`${stem}.idx`)) ||
      (name.endsWith('.idx') && !names.has(`${stem}.pack`)) ||
      name.startsWith('tmp_') ||
      name.startsWith('.tmp-');
    if (!orphan) continue;
    await fs.promises.rm(join(packDir, name), { force: true });
    removed.push(`objects/pack/${name}`);
  }
  const now = new Date();
  await fs.promises.utimes(gitdir, now, now).catch(() => {});
  return removed;
}

export interface EvictionOptions {
  cacheDir: string;
  /** Byte budget for all cache repositories together. */
  maxBytes: number;
  /** Where the repository lock files are (the engine's `<cacheDir>/locks`). */
  lockDir: string;
  fs: Fs;
}

/**
 * Deletes cache repositories, least recently used first (the gitdir's mtime, set at open),
 * until their total size is at most `maxBytes`. Skips repositories in use. Returns the gitdirs
 * removed and the size left.
 */
export async function evictCaches(opts: EvictionOptions): Promise<{ removed: string[]; bytes: number }> {
  const { fs, cacheDir } = opts;
  const repos: { gitdir: string; bytes: number; usedAt: number }[] = [];
  for (const name of await listDir(fs, cacheDir)) {
    if (!CACHE_REPO_NAME.test(name)) continue;
    const gitdir = join(cacheDir, name);
    try {
      repos.push({ gitdir, bytes: await sizeOf(fs, gitdir), usedAt: (await fs.promises.stat(gitdir)).mtimeMs });
    } catch {
      // Removed meanwhile.
    }
  }
  let bytes = repos.reduce((sum, r) => sum + r.bytes, 0);
  const removed: string[] = [];
  for (const repo of repos.sort((a, b) => a.usedAt - b.usedAt)) {
    if (bytes <= opts.maxBytes) break;
    const outcome = await tryWithRepositoryLock(
      repo.gitdir,
      async () => {
        ObjectDatabase.forget(repo.gitdir);
        await fs.promises.rm(repo.gitdir, { recursive: true, force: true });
      },
      { lockDir: opts.lockDir },
    );
    if (!outcome.ran) continue;
    bytes -= repo.bytes;
    removed.push(repo.gitdir);
  }
  return { removed, bytes };
}

/** Bytes of the files under `path` (not following symbolic links). */
async function sizeOf(fs: Fs, path: string): Promise<number> {
  const stat = await fs.promises.lstat(path);
  if (!stat.isDirectory()) return stat.size;
  let total = 0;
  for (const name of await listDir(fs, path)) total += await sizeOf(fs, join(path, name)).catch(() => 0);
  return total;
}

async function listDir(fs: Fs, dir: string): Promise<string[]> {
  try {
    return await fs.promises.readdir(dir);
  } catch {
    return [];
  }
}
