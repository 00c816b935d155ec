/**
 * Node's on-disk module compile cache for the CLI (module.enableCompileCache): the modules the
 * CLI loads are compiled once and their V8 code cache is reused by later runs, which cuts the
 * start-up. Imports only node: built-ins, so the entry can enable it before loading anything else.
 *
 * The directory is Node's: NODE_COMPILE_CACHE when set (Node has then enabled it already),
 * otherwise `<os.tmpdir()>/node-compile-cache` (Node keeps one subdirectory per Node version and
 * user id in it). NODE_DISABLE_COMPILE_CACHE=1 turns it off. Never fails the CLI: a directory
 * that cannot be created or written (read-only or missing tmp) only means no cache
 * (enableCompileCache reports FAILED; it does not throw).
 *
 * The default directory is shared by every user of the machine, and cache entries hold code that
 * Node runs. So the CLI creates it itself (mode 0700, not recursively) and uses it only when it is
 * then a real directory owned by this user that no one else can write to; otherwise (another
 * user made it, or it cannot be created) the CLI runs without the cache. Creating it here also
 * keeps Node's own recursive mkdir away from odd temporary directories: Node 24.21 loops forever
 * in `mkdir -p` under /proc (TMPDIR=/proc), where mkdir answers ENOENT.
 */
import * as fs from 'node:fs';
import { constants, enableCompileCache } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';

export type CompileCacheOutcome =
  { status: 'enabled' | 'already-enabled'; directory?: string } | { status: 'disabled' | 'failed' | 'skipped'; message?: string };

/** Node's default compile cache root: `<os.tmpdir()>/node-compile-cache`. */
export function defaultCompileCacheRoot(): string {
  return path.join(os.tmpdir(), 'node-compile-cache');
}

/** Why a shared compile cache root must not be used, or undefined when it may. */
export function unsafeCacheRootReason(root: string, uid: number | undefined = process.getuid?.()): string | undefined {
  let stat: fs.Stats | undefined;
  try {
    stat = fs.lstatSync(root, { throwIfNoEntry: false });
  } catch (error) {
    return `cannot inspect ${root}: ${(error as Error).message}`;
  }
  if (!stat) return undefined;
  if (!stat.isDirectory()) return `${root} is not a directory`;
  if (uid !== undefined && stat.uid !== uid) return `${root} belongs to another user`;
  if (uid !== undefined && (stat.mode & 0o022) !== 0) return `${root} is writable by other users`;
  return undefined;
}

/** Enables the compile cache for this process; never throws. */
export function enableCliCompileCache(env: NodeJS.ProcessEnv = process.env): CompileCacheOutcome {
  try {
    if (env.NODE_DISABLE_COMPILE_CACHE) return { status: 'disabled' };
    let directory: string | undefined;
    if (!env.NODE_COMPILE_CACHE) {
      directory = defaultCompileCacheRoot();
      try {
        fs.mkdirSync(directory, { mode: 0o700 });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return { status: 'skipped', message: (error as Error).message };
      }
      const reason = unsafeCacheRootReason(directory);
      if (reason) return { status: 'skipped', message: reason };
    }
    const result = enableCompileCache(directory);
    const { ENABLED, ALREADY_ENABLED, DISABLED } = constants.compileCacheStatus;
    if (result.status === ENABLED) return { status: 'enabled', directory: result.directory };
    if (result.status === ALREADY_ENABLED) return { status: 'already-enabled', directory: result.directory };
    if (result.status === DISABLED) return { status: 'disabled' };
    return { status: 'failed', message: result.message };
  } catch (error) {
    return { status: 'failed', message: (error as Error).message };
  }
}
