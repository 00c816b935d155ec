/**
 * Reads and writes refs as git's files backend does (refs/files-backend.c): a ref is the loose
 * file `<gitdir>/<name>` holding an object id or `ref: <other name>` (a symref), else its line in
 * `packed-refs` (`<oid> <name>`, with `#` headers and `^<oid>` peeled lines); the loose file wins.
 * Symrefs are followed at most five deep (git's SYMREF_MAXDEPTH). A write goes to
 * `<name>.lock` and is renamed over the ref, so a reader sees the old id or the new one, never
 * part of it. Names are checked as `git check-ref-format` does, and must start with `refs/`: a
 * name never climbs out of the refs directory. In the engine's own cache repositories the
 * callers hold the repository's lock (./lock.ts), so a `.lock` file found there is one an
 * interrupted write left, and is taken over; in a user's repository it may be a git process's at
 * work, and the write is refused, as git refuses it.
 */
import type { Dirent } from 'node:fs';
import { dirname, join } from 'node:path';
import { InvalidRequestError, PushRejectedError } from './errors.js';
import type { Fs } from './object-store.js';

const OID = /^[0-9a-f]{40}$/;
/** The old value of a ref that does not exist yet (git's null oid). */
export const ZERO_OID = '0'.repeat(40);
/** git's SYMREF_MAXDEPTH. */
const MAX_SYMREF_DEPTH = 5;

/**
 * The object id `ref` (a full name such as `refs/heads/main`, or `HEAD`) points at, following
 * symrefs; undefined when there is no such ref, it is malformed, or its symrefs go too deep.
 * Throws the file system's error for anything but a missing file.
 */
export async function resolveRef(fs: Fs, gitdir: string, ref: string): Promise<string | undefined> {
  let name = ref;
  let packed: Map<string, string> | undefined;
  for (let depth = 0; depth <= MAX_SYMREF_DEPTH; depth++) {
    if (name !== 'HEAD' && !isValidRefName(name)) return undefined;
    const value = (await readLooseRef(fs, gitdir, name)) ?? (packed ??= await readPackedRefs(fs, gitdir)).get(name);
    if (value === undefined) return undefined;
    if (OID.test(value)) return value;
    if (!value.startsWith('ref:')) return undefined;
    name = value.slice('ref:'.length).trim();
  }
  return undefined;
}

export interface WriteRefOptions {
  /**
   * A `<ref>.lock` already there: `take-over` in our cache repositories (we hold the repository's
   * lock, so an interrupted write of ours left it); `refuse` (the default) elsewhere: a git
   * process may be writing the ref (PushRejectedError, as git's "Unable to create ... .lock").
   */
  existingLock?: 'take-over' | 'refuse';
  /**
   * The id the ref must still hold once it is locked (40 zeros: it must not exist), checked
   * under the lock as git's update-ref does; PushRejectedError (stale) otherwise.
   */
  expectedOld?: string;
}

/**
 * Points `ref` (`refs/...`) at `oid`. Throws InvalidRequestError for a malformed name or id,
 * PushRejectedError when the lock is taken or the ref moved (options), the file system's error
 * otherwise (a ref named as a directory of another, `refs/heads/a` under `refs/heads/a/b`...).
 */
export async function writeRef(fs: Fs, gitdir: string, ref: string, oid: string, options: WriteRefOptions = {}): Promise<void> {
  if (!isValidRefName(ref)) throw new InvalidRequestError(`not a valid ref name: ${ref.slice(0, 256)}`, { ref: ref.slice(0, 256) });
  if (!OID.test(oid)) throw new InvalidRequestError(`not a full object id: ${oid.slice(0, 64)}`, { oid: oid.slice(0, 64) });
  const path = join(gitdir, ref);
  const lock = `${path}.lock`;
  await fs.promises.mkdir(dirname(path), { recursive: true });
  try {
    await fs.promises.writeFile(lock, `${oid}\n`, { flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    if (options.existingLock !== 'take-over') {
      throw new PushRejectedError({ ref, reason: `${ref}.lock exists: another git process seems to be writing this repository (if none is, remove the file)` });
    }
    await fs.promises.writeFile(lock, `${oid}\n`);
  }
  try {
    if (options.expectedOld !== undefined && ((await resolveRef(fs, gitdir, ref)) ?? ZERO_OID) !== options.expectedOld) {
      throw new PushRejectedError({ ref, reason: 'stale: branch moved' });
    }
    await fs.promises.rename(lock, path);
  } catch (error) {
    await fs.promises.rm(lock, { force: true });
    throw error;
  }
}

/**
 * The names of the refs under `prefix` (e.g. `refs/heads`), loose or packed, without the prefix
 * and sorted: `listRefs(fs, gitdir, 'refs/heads')` lists the branches as `git branch` does.
 */
export async function listRefs(fs: Fs, gitdir: string, prefix: string): Promise<string[]> {
  const names = new Set<string>();
  const walk = async (dir: string, relative: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await fs.promises.readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return;
      throw error;
    }
    for (const entry of entries) {
      const name = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(join(dir, entry.name), name);
      else if (entry.isFile() && !entry.name.endsWith('.lock')) names.add(name);
    }
  };
  await walk(join(gitdir, prefix), '');
  for (const name of (await readPackedRefs(fs, gitdir)).keys()) {
    if (name.startsWith(`${prefix}/`)) names.add(name.slice(prefix.length + 1));
  }
  return [...names].sort();
}

/** `git check-ref-format` (without --allow-onelevel), for names under `refs/`. */
export function isValidRefName(name: string): boolean {
  if (!name.startsWith('refs/') || name.endsWith('/') || name.endsWith('.') || name.includes('@{') || name.includes('..')) return false;
  for (let i = 0; i < name.length; i++) {
    // Control characters and space, DEL, then ~ ^ : ? * [ and backslash.
    const code = name.charCodeAt(i);
    if (code <= 0x20 || code === 0x7f || '~^:?*[\\'.includes(name[i])) return false;
  }
  return name.split('/').every((part) => part !== '' && !part.startsWith('.') && !part.endsWith('.lock'));
}

async function readLooseRef(fs: Fs, gitdir: string, name: string): Promise<string | undefined> {
  try {
    return (await fs.promises.readFile(join(gitdir, name), 'utf8')).trim();
  } catch (error) {
    if (isMissing(error) || (error as NodeJS.ErrnoException).code === 'EISDIR') return undefined;
    throw error;
  }
}

/** `packed-refs`: name -> id. */
async function readPackedRefs(fs: Fs, gitdir: string): Promise<Map<string, string>> {
  const refs = new Map<string, string>();
  let text: string;
  try {
    text = await fs.promises.readFile(join(gitdir, 'packed-refs'), 'utf8');
  } catch (error) {
    if (isMissing(error)) return refs;
    throw error;
  }
  for (const line of text.split('\n')) {
    const match = /^([0-9a-f]{40}) (\S.*)$/.exec(line.trimEnd());
    if (match) refs.set(match[2], match[1]);
  }
  return refs;
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
