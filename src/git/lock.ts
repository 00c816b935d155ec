/**
 * Serializes writers per repository: one fetch/revert/push at a time per key (typically the
 * cache gitdir or the redacted remote URL), different keys in parallel. Optionally also across
 * processes, through an O_EXCL lock file, so two CLI runs sharing a cache directory do not
 * interleave.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { GitTimeoutError, redactUrl } from './errors.js';

export interface RepositoryLockOptions {
  /** Directory for cross-process lock files; without it the lock is in-process only. */
  lockDir?: string;
  /** How long to wait for the cross-process lock before GitTimeoutError (default 120 s). */
  timeoutMs?: number;
}

const DEFAULT_LOCK_TIMEOUT_MS = 120_000;
/** A lock file with no readable pid that is older than this was left by a crash mid-write. */
const EMPTY_LOCK_STALE_MS = 10_000;
const MIN_BACKOFF_MS = 10;
const MAX_BACKOFF_MS = 250;

/** Tail of the FIFO promise chain per key; absent when nobody holds or waits for the key. */
const tails = new Map<string, Promise<void>>();

/**
 * Runs `fn` while holding the lock for `key`: callers with the same key run one at a time in
 * arrival order, other keys run in parallel. With `lockDir`, also holds
 * `<lockDir>/<sha256(key)>.lock` (created O_EXCL, containing our pid; a lock whose pid is dead
 * is stale and broken). The lock is released whether `fn` resolves or throws.
 * Throws GitTimeoutError when the cross-process lock is not acquired within `timeoutMs`.
 */
export async function withRepositoryLock<T>(key: string, fn: () => Promise<T>, opts: RepositoryLockOptions = {}): Promise<T> {
  return withInProcessLock(key, async () => {
    if (!opts.lockDir) return fn();
    const lockPath = await acquireLockFile(key, opts.lockDir, opts.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS);
    try {
      return await fn();
    } finally {
      await unlink(lockPath).catch(() => {});
    }
  });
}

/** Chains `fn` after the previous holder of `key`; the chain never rejects. */
async function withInProcessLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const previous = tails.get(key) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((resolve) => (release = resolve));
  const tail = previous.then(() => mine);
  tails.set(key, tail);
  try {
    await previous;
    return await fn();
  } finally {
    release();
    // Forget the key when nobody queued behind us, so the map does not grow forever.
    if (tails.get(key) === tail) tails.delete(key);
  }
}

/** Path of the lock file for `key`: hashed so URLs and paths make safe, credential-free names. */
export function lockFilePath(lockDir: string, key: string): string {
  return join(lockDir, `${createHash('sha256').update(key).digest('hex')}.lock`);
}

async function acquireLockFile(key: string, lockDir: string, timeoutMs: number): Promise<string> {
  await mkdir(lockDir, { recursive: true });
  const lockPath = lockFilePath(lockDir, key);
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    if (await tryCreateLockFile(lockPath)) return lockPath;
    await breakStaleLock(lockPath);
    if (Date.now() >= deadline) {
      throw new GitTimeoutError({ operation: 'Acquiring the repository lock', url: redactUrl(key), timeoutMs });
    }
    await sleep(Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** attempt));
  }
}

/** Creates the lock file exclusively and writes our pid; false if it already exists. */
async function tryCreateLockFile(lockPath: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(lockPath, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    await handle.writeFile(`${process.pid}\n`);
  } finally {
    await handle.close();
  }
  return true;
}

/** Removes the lock file if its owner is gone (dead pid, or empty and old: crashed mid-write). */
async function breakStaleLock(lockPath: string): Promise<void> {
  const content = await readLockFile(lockPath);
  if (content === undefined) return; // released meanwhile: retry right away
  if (!(await isStale(lockPath, content))) return;
  // Re-read just before unlinking to narrow the race with another process that broke the same
  // stale lock and already created its own.
  if ((await readLockFile(lockPath)) !== content) return;
  await unlink(lockPath).catch(() => {});
}

async function readLockFile(lockPath: string): Promise<string | undefined> {
  try {
    return await readFile(lockPath, 'utf8');
  } catch {
    return undefined;
  }
}

async function isStale(lockPath: string, content: string): Promise<boolean> {
  const pid = parseInt(content.trim(), 10);
  if (Number.isInteger(pid) && pid > 0) return !isProcessAlive(pid);
  try {
    return Date.now() - (await stat(lockPath)).mtimeMs > EMPTY_LOCK_STALE_MS;
  } catch {
    return false;
  }
}

/** Signal 0 checks existence; EPERM means it exists but belongs to another user. */
function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
