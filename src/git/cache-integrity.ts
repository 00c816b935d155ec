/**
 * The integrity check of the cache directory at start-up, for a cache that outlives the pod (a
 * PersistentVolumeClaim): a node crash, a full volume or a torn write can leave a cache
 * repository that the engine would trust and then fail on in the middle of an incident. Like
 * `git fsck --connectivity-only` limited to what a fetch relies on, and far cheaper: no object is
 * walked, only each file's shape is checked:
 *
 *   - `config` is present;
 *   - every `objects/pack/*.pack` has its `.idx` and every `.idx` its `.pack`; each index is a
 *     well-formed v2 index (./pack-reader.ts PackIndex) whose own SHA-1 trailer matches; each pack
 *     starts with `PACK`, declares as many objects as its index, ends with the checksum its
 *     index records, and is longer than the largest offset its index names;
 *   - every ref (loose and packed) and every `shallow` boundary names an object that is there
 *     (looked up in the indexes, or as a loose file; nothing is inflated).
 *
 * A repository that fails is removed with the reason, so the next rollback (or prefetch) fetches
 * it clean. Cost: reading the indexes (24 bytes per object) and 32 bytes per pack.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { tryWithRepositoryLock } from './lock.js';
import type { Fs } from './object-store.js';
import { ObjectDatabase, PackIndex } from './pack-reader.js';
import { STAGING_PREFIX } from './cache-dir.js';

/** Cache repositories are named by the SHA-256 of their URL (./remote.ts cacheRepoPath). */
const CACHE_REPO_NAME = /^[0-9a-f]{64}$/;
const OID_PATTERN = /^[0-9a-f]{40}$/;
/** Refs (and shallow lines) checked per repository: a cache holds a few tracking refs, so more means damage. */
const MAX_REFS = 10_000;

/** A repository found broken: its gitdir and what is wrong (paths inside it; never a URL or a credential). */
export interface BrokenCache {
  gitdir: string;
  problem: string;
}

export interface CacheVerification {
  /** Repositories checked and found sound. */
  sound: number;
  /** Repositories found broken and removed. */
  removed: BrokenCache[];
  /** Repositories in use by a live process (not checked). */
  skipped: number;
}

/**
 * Checks every cache repository under `cacheDir` and removes the broken ones. Each is checked
 * under its repository lock (`lockDir`), without waiting: one in use by a live process is
 * skipped. Never throws for a repository's content; a removal that fails is reported as skipped.
 */
export async function verifyCaches(opts: { fs: Fs; cacheDir: string; lockDir: string }): Promise<CacheVerification> {
  const { fs } = opts;
  const outcome: CacheVerification = { sound: 0, removed: [], skipped: 0 };
  for (const name of await listDir(fs, opts.cacheDir)) {
    if (!CACHE_REPO_NAME.test(name)) continue;
    const gitdir = join(opts.cacheDir, name);
    const checked = await tryWithRepositoryLock(
      gitdir,
      async () => {
        const problem = await checkCacheRepo(fs, gitdir);
        // The check opened this repository's packs; a removal must not leave them open.
        ObjectDatabase.forget(gitdir);
        if (problem !== undefined) await fs.promises.rm(gitdir, { recursive: true, force: true });
        return problem;
      },
      { lockDir: opts.lockDir },
    ).catch(() => ({ ran: false as const }));
    if (!checked.ran) outcome.skipped++;
    else if (checked.value === undefined) outcome.sound++;
    else outcome.removed.push({ gitdir, problem: checked.value });
  }
  return outcome;
}

/**
 * What is wrong with the cache repository at `gitdir`, or undefined when it is sound (see the
 * file comment). The caller holds the repository's lock.
 */
export async function checkCacheRepo(fs: Fs, gitdir: string): Promise<string | undefined> {
  try {
    if (!(await isFile(fs, join(gitdir, 'config')))) return 'config is missing';
    const packProblem = await checkPacks(fs, join(gitdir, 'objects', 'pack'));
    if (packProblem) return packProblem;
    return await checkRefs(fs, gitdir);
  } catch (error) {
    // An unreadable file is as broken as a malformed one; the message names a path inside the cache.
    return `unreadable: ${(error as Error).message}`;
  }
}

async function checkPacks(fs: Fs, packDir: string): Promise<string | undefined> {
  const names = new Set(await listDir(fs, packDir));
  for (const name of names) {
    // git's and isomorphic-git's temporary files are an interrupted write's, removed at open (./cache-dir.ts).
    if (name.startsWith('tmp_') || name.startsWith('.tmp-')) continue;
    const stem = name.replace(/\.(pack|idx)$/, '');
    if (name.endsWith('.pack') && !names.has(`${stem}.idx`)) return `objects/pack/${name} has no index`;
    if (name.endsWith('.idx') && !names.has(`${stem}.pack`)) return `objects/pack/${name} has no pack`;
    if (!name.endsWith('.idx')) continue;
    const problem = await checkPack(fs, join(packDir, `${stem}.pack`), join(packDir, name));
    if (problem) return `objects/pack/${stem}: ${problem}`;
  }
  return undefined;
}

/** A pack against its index: header, object count, trailer, and length past every offset. */
async function checkPack(fs: Fs, packPath: string, idxPath: string): Promise<string | undefined> {
  const raw = await fs.promises.readFile(idxPath);
  let index: PackIndex;
  try {
    index = new PackIndex(raw, idxPath);
  } catch (error) {
    return (error as Error).message.replace(`${idxPath}: `, 'index: ');
  }
  const idxSum = createHash('sha1')
    .update(raw.subarray(0, raw.length - 20))
    .digest();
  if (!idxSum.equals(raw.subarray(raw.length - 20))) return 'index checksum mismatch';

  const size = (await fs.promises.stat(packPath)).size;
  if (size < 12 + 20) return `pack is truncated (${size} bytes)`;
  const handle = await fs.promises.open(packPath, 'r');
  try {
    const header = Buffer.alloc(12);
    const trailer = Buffer.alloc(20);
    await handle.read(header, 0, 12, 0);
    await handle.read(trailer, 0, 20, size - 20);
    const version = header.readUInt32BE(4);
    if (header.toString('latin1', 0, 4) !== 'PACK' || (version !== 2 && version !== 3)) return 'not a packfile';
    if (header.readUInt32BE(8) !== index.count) return `pack holds ${header.readUInt32BE(8)} objects, its index ${index.count}`;
    if (!trailer.equals(index.packChecksum)) return 'pack does not match its index (checksum mismatch)';
  } finally {
    await handle.close();
  }
  const maxOffset = index.maxOffset();
  if (maxOffset >= size - 20) return `pack is truncated (${size} bytes, an object at offset ${maxOffset})`;
  return undefined;
}

/** Every ref and every shallow boundary names an object that is present. */
async function checkRefs(fs: Fs, gitdir: string): Promise<string | undefined> {
  const db = ObjectDatabase.open(fs, gitdir);
  const refs = [...(await readLooseRefs(fs, gitdir, 'refs')), ...(await readPackedRefs(fs, gitdir))];
  if (refs.length > MAX_REFS) return `${refs.length} refs, more than a cache holds`;
  for (const { name, oid } of refs) {
    if (!OID_PATTERN.test(oid)) return `${name} does not hold an object id`;
    // Looked up, not inflated: nothing a tenant's server sent is unpacked in the operator's process.
    if (!db.has(oid)) return `${name} points at ${oid}, which is missing`;
  }
  const shallow = (await readText(fs, join(gitdir, 'shallow'))) ?? '';
  const boundaries = shallow.split('\n').filter(Boolean);
  if (boundaries.length > MAX_REFS) return `shallow lists ${boundaries.length} commits, more than a cache holds`;
  for (const oid of boundaries) {
    if (!OID_PATTERN.test(oid) || !db.has(oid)) return `shallow names ${oid.slice(0, 40)}, which is missing`;
  }
  return undefined;
}

/** Loose refs under `refs/` (the staging directories of a fetch are not refs). */
async function readLooseRefs(fs: Fs, gitdir: string, relative: string): Promise<{ name: string; oid: string }[]> {
  const refs: { name: string; oid: string }[] = [];
  for (const name of await listDir(fs, join(gitdir, relative))) {
    if (name.startsWith(STAGING_PREFIX)) continue;
    const path = `${relative}/${name}`;
    const stat = await fs.promises.lstat(join(gitdir, path));
    if (stat.isDirectory()) refs.push(...(await readLooseRefs(fs, gitdir, path)));
    else if (stat.isFile()) {
      const text = ((await readText(fs, join(gitdir, path))) ?? '').trim();
      // A symbolic ref names another ref, checked on its own.
      if (!text.startsWith('ref: ')) refs.push({ name: path, oid: text });
    }
    if (refs.length > MAX_REFS) break;
  }
  return refs;
}

async function readPackedRefs(fs: Fs, gitdir: string): Promise<{ name: string; oid: string }[]> {
  const text = (await readText(fs, join(gitdir, 'packed-refs'))) ?? '';
  return text
    .split('\n')
    .filter((line) => line && !line.startsWith('#') && !line.startsWith('^'))
    .map((line) => {
      const [oid, name = ''] = line.split(' ');
      return { name: `packed-refs ${name}`, oid };
    });
}

async function readText(fs: Fs, path: string): Promise<string | undefined> {
  try {
    return await fs.promises.readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function isFile(fs: Fs, path: string): Promise<boolean> {
  try {
    return (await fs.promises.stat(path)).isFile();
  } catch {
    return false;
  }
}

async function listDir(fs: Fs, dir: string): Promise<string[]> {
  try {
    return await fs.promises.readdir(dir);
  } catch {
    return [];
  }
}
