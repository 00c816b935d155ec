/**
 * Serializes writers per repository: one fetch/revert/push at a time per key (the cache gitdir),
 * different keys in parallel. Optionally also across processes, through an O_EXCL lock file,
 * so two CLI runs sharing a cache directory do not interleave.
 *
 * A lock file names its owner by process instance, not by pid alone: in a container the
 * operator is pid 1 before and after a restart, and the cache volume survives the restart, so
 * a pid says nothing about who wrote the file. The file holds `<pid> <start> <nonce>`: the
 * start time of the process (Linux: field 22 of /proc/<pid>/stat, clock ticks since boot) and a
 * random nonce per process. The owner is alive only if that pid runs and started at that time;
 * a file with our own pid is never ours (this process holds no lock file it is waiting for).
 * The operator also removes every stale lock file at start-up ({@link removeStaleLockFiles}).
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, open, readFile, readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { GitTimeoutError, redactUrl } from './errors.js';
import { backoffDelay, sleep } from '../retry-timing.js';

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

/** Who we are in lock files: pid, process start time (or '-' where unknown), random nonce. */
const OWNER = `${process.pid} ${readStartTime(process.pid) ?? '-'} ${randomBytes(8).toString('hex')}`;

/**
 * Runs `fn` while holding the lock for `key`: callers with the same key run one at a time in
 * arrival order, other keys run in parallel. With `lockDir`, also holds
 * `<lockDir>/<sha256(key)>.lock` (created O_EXCL, naming this process instance; a lock whose
 * owner is gone is stale and broken). The lock is released whether `fn` resolves or throws.
 * Throws GitTimeoutError when the cross-process lock is not acquired within `timeoutMs`.
 */
export async function withRepositoryLock<T>(key: string, fn: () => Promise<T>, opts: RepositoryLockOptions = {}): Promise<T> {
  return withInProcessLock(key, async () => {
    if (!opts.lockDir) return fn();
    const lockPath = await acquireLockFile(key, opts.lockDir, opts.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS);
    try {
      return await fn();
    } finally {
      await releaseLockFile(lockPath);
    }
  });
}

/**
 * Like {@link withRepositoryLock}, but never waits: returns `{ ran: false }` at once when the
 * key is held, here or by another live process. For housekeeping (cache eviction) that must
 * not delete a repository in use and has no reason to queue.
 */
export async function tryWithRepositoryLock<T>(
  key: string,
  fn: () => Promise<T>,
  opts: { lockDir?: string } = {},
): Promise<{ ran: true; value: T } | { ran: false }> {
  if (tails.has(key)) return { ran: false };
  return withInProcessLock(key, async () => {
    if (!opts.lockDir) return { ran: true as const, value: await fn() };
    await mkdir(opts.lockDir, { recursive: true });
    const lockPath = lockFilePath(opts.lockDir, key);
    if (!(await tryCreateLockFile(lockPath))) {
      await breakStaleLock(lockPath);
      if (!(await tryCreateLockFile(lockPath))) return { ran: false as const };
    }
    try {
      return { ran: true as const, value: await fn() };
    } finally {
      await releaseLockFile(lockPath);
    }
  });
}

/**
 * Removes the lock files in `lockDir` whose owner is gone (all of them, after a container
 * restart). Called once at operator start-up; a lock held by a live process stays.
 * Returns the number of files removed.
 */
export async function removeStaleLockFiles(lockDir: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(lockDir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names.filter((n) => n.endsWith('.lock'))) {
    if (await breakStaleLock(join(lockDir, name))) removed++;
  }
  return removed;
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
    await sleep(backoffDelay({ baseMs: MIN_BACKOFF_MS, maxMs: MAX_BACKOFF_MS }, attempt + 1));
  }
}

/** Creates the lock file exclusively and writes our owner line; false if it already exists. */
async function tryCreateLockFile(lockPath: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(lockPath, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    await handle.writeFile(`${OWNER}\n`);
  } catch (error) {
    // A full disk: leave no empty lock file behind, and say which file could not be written.
    await unlink(lockPath).catch(() => {});
    throw Object.assign(error as NodeJS.ErrnoException, { path: (error as NodeJS.ErrnoException).path ?? lockPath });
  } finally {
    await handle.close();
  }
  return true;
}

/** Removes our lock file, unless someone else's replaced it (it was broken as stale). */
async function releaseLockFile(lockPath: string): Promise<void> {
  if ((await readLockFile(lockPath))?.trim() !== OWNER) return;
  await unlink(lockPath).catch(() => {});
}

/**
 * Removes the lock file if its owner is gone (see {@link isStale}); true when removed.
 */
async function breakStaleLock(lockPath: string): Promise<boolean> {
  const content = await readLockFile(lockPath);
  if (content === undefined) return false; // released meanwhile: retry right away
  if (!(await isStale(lockPath, content))) return false;
  // Re-read just before unlinking to narrow the race with another process that broke the same
  // stale lock and already created its own.
  if ((await readLockFile(lockPath)) !== content) return false;
  await unlink(lockPath).catch(() => {});
  return true;
}

async function readLockFile(lockPath: string): Promise<string | undefined> {
  try {
    return await readFile(lockPath, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * A lock is stale when its owner is gone: our own pid (a previous process with our pid, e.g.
 * pid 1 of the container before a restart: this process never waits on a file it holds), a
 * dead pid, or a live pid that started at another time (reused). A file without a pid (crashed
 * mid-write) is stale once older than EMPTY_LOCK_STALE_MS. Files written by older versions
 * hold only a pid: they get the pid checks.
 */
async function isStale(lockPath: string, content: string): Promise<boolean> {
  const [pidText, start] = content.trim().split(' ');
  const pid = parseInt(pidText, 10);
  if (Number.isInteger(pid) && pid > 0) {
    if (pid === process.pid) return true;
    if (!isProcessAlive(pid)) return true;
    const current = readStartTime(pid);
    return start !== undefined && start !== '-' && current !== undefined && current !== start;
  }
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

/**
 * The start time of a process in clock ticks since boot (field 22 of /proc/<pid>/stat), or
 * undefined where there is no /proc. Fields are counted after the last ')', since the command
 * name (field 2) may hold spaces and parentheses.
 */
function readStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state), so field 22 is fields[19].
    return /^\d+$/.test(fields[19] ?? '') ? fields[19] : undefined;
  } catch {
    return undefined;
  }
}
