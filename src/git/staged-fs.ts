/**
 * Fetches into a temporary location: a view of the file system in which every write under a
 * gitdir lands in a staging directory inside it (`<gitdir>/fetch-staging-<random>`), reads see
 * the staged files first, and nothing reaches the repository until the operation succeeded.
 *
 * isomorphic-git's fetch writes `shallow` and the remote-tracking refs before it has read the
 * pack, then the pack, then its index: a fetch that fails or is cut off half-way (a stalled or
 * hostile server, a crash) left refs naming commits the cache does not have, and packs without
 * an index. Through this view a failed fetch leaves the repository exactly as it was; a
 * successful one is moved in packs first (each `.pack` before its `.idx`, so readers that find
 * an index find its pack), then the other files, the refs last, so a ref never names an object
 * that is not there. A staging directory left by a crash is removed at the next open
 * (./cache-dir.ts).
 */
import { randomBytes } from 'node:crypto';
import { dirname, join, relative, sep } from 'node:path';
import type { Fs } from './object-store.js';

export const STAGING_PREFIX = 'fetch-staging-';

/**
 * Runs `fn` with a file system whose writes under `gitdir` are staged, then moves them into
 * `gitdir` if `fn` resolves, or drops them if it throws. Callers hold the repository's lock.
 */
export async function withStagedWrites<T>(fs: Fs, gitdir: string, fn: (staged: Fs) => Promise<T>): Promise<T> {
  const staging = new Staging(fs, gitdir);
  try {
    const result = await fn(staging.view());
    await staging.commit();
    return result;
  } finally {
    await fs.promises.rm(staging.dir, { recursive: true, force: true });
  }
}

class Staging {
  readonly dir: string;
  /** Paths relative to gitdir written in staging. */
  private readonly written = new Set<string>();
  /** Paths relative to gitdir removed (e.g. `shallow` when the history became complete). */
  private readonly removed = new Set<string>();

  constructor(
    private readonly fs: Fs,
    private readonly gitdir: string,
  ) {
    this.dir = join(gitdir, `${STAGING_PREFIX}${randomBytes(6).toString('hex')}`);
  }

  /** The path relative to gitdir when `path` is inside it (and not in staging), else null. */
  private relativeOf(path: string): string | null {
    const rel = relative(this.gitdir, path);
    if (rel === '' || rel.startsWith('..') || rel.startsWith(sep) || rel.startsWith(STAGING_PREFIX)) return null;
    return rel;
  }

  /** Where a read of `path` goes: the staged copy if written, a missing path if removed. */
  private readPath(path: string): string {
    const rel = this.relativeOf(path);
    if (rel === null) return path;
    if (this.written.has(rel)) return join(this.dir, rel);
    if (this.removed.has(rel)) return join(this.dir, '.removed', rel);
    return path;
  }

  view(): Fs {
    const real = this.fs.promises;
    const promises = {
      readFile: async (path: string, options?: unknown) => real.readFile(this.readPath(path), options as never),
      stat: async (path: string, options?: unknown) => real.stat(this.readPath(path), options as never),
      lstat: async (path: string, options?: unknown) => real.lstat(this.readPath(path), options as never),
      readlink: async (path: string, options?: unknown) => real.readlink(this.readPath(path), options as never),
      readdir: async (path: string, options?: unknown) => this.readdir(path, options),
      writeFile: async (path: string, data: unknown, options?: unknown) => {
        const rel = this.relativeOf(path);
        if (rel === null) return real.writeFile(path, data as never, options as never);
        const target = join(this.dir, rel);
        await real.mkdir(dirname(target), { recursive: true });
        await real.writeFile(target, data as never, options as never);
        this.written.add(rel);
        this.removed.delete(rel);
      },
      // Directories are made on demand in staging (writeFile) and on commit.
      mkdir: async (path: string, options?: unknown) => {
        if (this.relativeOf(path) === null) return real.mkdir(path, options as never);
        return undefined;
      },
      unlink: async (path: string) => this.remove(path),
      rm: async (path: string, options?: { recursive?: boolean; force?: boolean }) => this.remove(path, options),
      rmdir: async (path: string) => {
        if (this.relativeOf(path) !== null) throw new Error(`A staged fetch does not remove directories (${path})`);
        return real.rmdir(path);
      },
      symlink: async () => {
        throw new Error('A staged fetch does not create symbolic links');
      },
    };
    return { promises } as unknown as Fs;
  }

  private async readdir(path: string, options?: unknown): Promise<string[]> {
    const rel = this.relativeOf(path);
    const lists: string[][] = [];
    for (const dir of rel === null ? [path] : [path, join(this.dir, rel)]) {
      try {
        lists.push((await this.fs.promises.readdir(dir, options as never)) as unknown as string[]);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    if (lists.length === 0) {
      throw Object.assign(new Error(`ENOENT: no such directory, readdir '${path}'`), { code: 'ENOENT' });
    }
    const names = new Set(lists.flat());
    for (const name of names) if (rel !== null && this.removed.has(join(rel, name))) names.delete(name);
    if (rel === '') for (const name of names) if (name.startsWith(STAGING_PREFIX)) names.delete(name);
    return [...names];
  }

  private async remove(path: string, options?: { force?: boolean }): Promise<void> {
    const rel = this.relativeOf(path);
    if (rel === null) return this.fs.promises.rm(path, options);
    const exists = this.written.has(rel) || (!this.removed.has(rel) && this.fs.existsSync(path));
    if (!exists) {
      if (options?.force) return;
      throw Object.assign(new Error(`ENOENT: no such file, unlink '${path}'`), { code: 'ENOENT' });
    }
    if (this.written.delete(rel)) await this.fs.promises.rm(join(this.dir, rel), { force: true });
    this.removed.add(rel);
  }

  /** Moves the staged files into gitdir: packs, then indexes, then other objects and files, refs last. */
  async commit(): Promise<void> {
    const rank = (rel: string): number => {
      if (rel.endsWith('.pack')) return 0;
      if (rel.endsWith('.idx')) return 1;
      if (rel.startsWith(`objects${sep}`)) return 2;
      if (rel.startsWith(`refs${sep}`) || rel === 'packed-refs') return 4;
      return 3;
    };
    const moves = [...this.written].sort((a, b) => rank(a) - rank(b));
    for (const rel of moves.filter((r) => rank(r) < 4)) await this.moveIn(rel);
    for (const rel of this.removed) await this.fs.promises.rm(join(this.gitdir, rel), { force: true });
    for (const rel of moves.filter((r) => rank(r) === 4)) await this.moveIn(rel);
  }

  private async moveIn(rel: string): Promise<void> {
    const target = join(this.gitdir, rel);
    await this.fs.promises.mkdir(dirname(target), { recursive: true });
    await this.fs.promises.rename(join(this.dir, rel), target);
  }
}
