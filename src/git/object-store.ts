/**
 * Reads and writes git objects in a bare repository, and remembers every object it writes:
 * those are exactly the objects a push must send. Reads go through our own pack reader
 * (./pack-reader.ts, shared per repository by the whole process) and parse trees and commits
 * exactly as isomorphic-git does; writes are loose objects (./loose-objects.ts) whose trees and
 * commits are serialized byte for byte as isomorphic-git's GitTree and GitCommit render them.
 */
import type { TreeEntry } from 'isomorphic-git';
import type * as nodeFs from 'node:fs';
import { TreeLimitExceededError } from './errors.js';
import { normalizeNewlines, parseCommit, parseTagTarget, type Person } from './commit-parse.js';
import { summarizeCommit, type CommitSummary } from './commit-summary.js';
import { writeLooseObject } from './loose-objects.js';
import { MalformedTreeError, NotFoundError, ObjectTypeError, UnsafeFilepathError } from './object-errors.js';
import { EMPTY_TREE_OID, ObjectDatabase, type GitObject } from './pack-reader.js';
import type { CommitSigner } from './commit-signing.js';

export type Fs = typeof nodeFs;

export const TREE_MODE = '040000';
export const GITLINK_MODE = '160000';
export const SYMLINK_MODE = '120000';

export interface CommitData {
  oid: string;
  tree: string;
  parents: string[];
  message: string;
  author: { name: string; email: string; timestamp: number; timezoneOffset: number };
  committer: { name: string; email: string; timestamp: number; timezoneOffset: number };
}

/**
 * Tree entries the walks of one store (merge, diffs, rename candidates: {@link ObjectStore.walkTree})
 * may visit before TreeLimitExceededError. Every visit counts, cached or not: a tree bomb is a few
 * trees visited 2^n times. A walk descends only where trees differ, so a revert visits about the
 * entries of the directories it changes, three or four times over: a revert of 30,000 paths
 * stays well below. Reaching the bound costs about 3 s of CPU on a busy 2-core machine.
 */
export const MAX_TREE_ENTRIES_VISITED = 1_000_000;

export class ObjectStore {
  private readonly db: ObjectDatabase;
  private readonly trees = new Map<string, TreeEntry[]>();
  private readonly commits = new Map<string, CommitData>();
  private readonly summaries = new Map<string, CommitSummary>();
  private treeEntriesVisited = 0;
  /** OIDs of objects this store wrote, in write order. */
  readonly written = new Set<string>();

  constructor(
    readonly fs: Fs,
    readonly gitdir: string,
    readonly maxTreeEntries = MAX_TREE_ENTRIES_VISITED,
  ) {
    this.db = ObjectDatabase.open(fs, gitdir);
  }

  /** The entries of a tree (a commit or tag is peeled to its tree), in isomorphic-git's order. */
  async readTree(oid: string): Promise<TreeEntry[]> {
    return this.readTreeEntries(oid);
  }

  /**
   * readTree for walks that descend into subtrees (merge, diffs): counts the entries toward
   * `maxTreeEntries` and throws TreeLimitExceededError past it. Path lookups use readTree.
   */
  async walkTree(oid: string): Promise<TreeEntry[]> {
    const entries = this.readTreeEntries(oid);
    this.treeEntriesVisited += entries.length;
    if (this.treeEntriesVisited > this.maxTreeEntries) {
      throw new TreeLimitExceededError({ limit: 'tree-entries', max: this.maxTreeEntries, detail: `at tree ${oid}` });
    }
    return entries;
  }

  private readTreeEntries(oid: string): TreeEntry[] {
    let entries = this.trees.get(oid);
    if (!entries) {
      let target = oid;
      for (;;) {
        if (target === EMPTY_TREE_OID) {
          entries = [];
          break;
        }
        const object = this.read(target);
        if (object.type === 'tag') target = parseTagTarget(object.body);
        else if (object.type === 'commit') target = parseCommit(object.body).tree;
        else if (object.type === 'tree') {
          entries = parseTree(object.body);
          break;
        } else throw new ObjectTypeError({ oid: target, actual: object.type, expected: 'tree' });
      }
      this.trees.set(oid, entries);
    }
    return entries;
  }

  async readBlob(oid: string): Promise<Uint8Array> {
    let target = oid;
    for (;;) {
      const object = this.read(target);
      if (object.type === 'blob') return new Uint8Array(object.body);
      if (object.type !== 'tag') throw new ObjectTypeError({ oid: target, actual: object.type, expected: 'blob' });
      target = parseTagTarget(object.body);
    }
  }

  /** A commit (a tag is peeled to its commit); `oid` of the result is the commit's. */
  async readCommit(oid: string): Promise<CommitData> {
    let commit = this.commits.get(oid);
    if (!commit) {
      let target = oid;
      for (;;) {
        const object = this.read(target);
        if (object.type === 'commit') break;
        if (object.type !== 'tag') throw new ObjectTypeError({ oid: target, actual: object.type, expected: 'commit' });
        target = parseTagTarget(object.body);
      }
      const c = parseCommit(this.read(target).body);
      commit = { oid: target, tree: c.tree, parents: c.parent, message: c.message, author: c.author!, committer: c.committer! };
      this.commits.set(oid, commit);
    }
    return commit;
  }

  /** What a history walk needs of a commit (./commit-summary.ts); a tag is peeled as by readCommit. */
  readCommitSummary(oid: string): CommitSummary {
    let summary = this.summaries.get(oid);
    if (!summary) {
      let target = oid;
      let object = this.read(target, false);
      while (object.type === 'tag') object = this.read((target = parseTagTarget(object.body)), false);
      if (object.type !== 'commit') throw new ObjectTypeError({ oid: target, actual: object.type, expected: 'commit' });
      summary = summarizeCommit(target, object.body);
      this.summaries.set(oid, summary);
    }
    return summary;
  }

  /**
   * The commits here whose id starts with `prefix` (at most `max`): trees and blobs do not count,
   * as in git's lookup of a commit-ish. Objects not fetched yet (a shallow cache) are not seen.
   */
  async findCommitsByPrefix(prefix: string, max = 8): Promise<string[]> {
    return this.db.findPrefix(prefix, max).filter((oid) => this.db.read(oid)?.type === 'commit');
  }

  /** True when the object exists locally (loose or packed). */
  async has(oid: string): Promise<boolean> {
    return this.db.has(oid);
  }

  private read(oid: string, keep = true): GitObject {
    const object = this.db.read(oid, { keep });
    if (!object) throw new NotFoundError({ what: oid });
    return object;
  }

  async writeBlob(blob: Uint8Array): Promise<string> {
    const oid = await writeLooseObject(this.fs, this.gitdir, 'blob', blob);
    this.written.add(oid);
    return oid;
  }

  /** Writes a tree; entries are sorted in git's order. */
  async writeTree(entries: TreeEntry[]): Promise<string> {
    const oid = await writeLooseObject(this.fs, this.gitdir, 'tree', renderTree(entries));
    this.written.add(oid);
    return oid;
  }

  /**
   * Writes a commit; with `signer`, a signed one, as git does: the signature is made over the
   * commit object without it, then carried in a `gpgsig` header after the committer.
   */
  async writeCommit(commit: Omit<CommitData, 'oid'>, signer?: CommitSigner): Promise<string> {
    let body = renderCommit(commit);
    // The unsigned object's exact bytes are the payload.
    if (signer) body = renderCommit(commit, await signer.sign(body));
    const oid = await writeLooseObject(this.fs, this.gitdir, 'commit', body);
    this.written.add(oid);
    return oid;
  }
}

// ---------------------------------------------------------------------------------------------
// Serializing, exactly as isomorphic-git 1.44 does it (GitTree.toObject, GitCommit.render), so
// that object ids do not change with the writer.

/** isomorphic-git's limitModeToAllowed: any spelling of a mode to one of git's five. */
function normalizeMode(mode: string): string {
  if (/^0?4/.test(mode)) return TREE_MODE;
  if (/^1006/.test(mode)) return '100644';
  if (/^1007/.test(mode)) return '100755';
  if (/^120/.test(mode)) return SYMLINK_MODE;
  if (/^160/.test(mode)) return GITLINK_MODE;
  throw new MalformedTreeError({ detail: `Could not understand file mode: ${mode}` });
}

/** Compares as git sorts tree entries: by name, a directory's with a slash after it. */
function compareTreeEntries(a: { mode: string; path: string }, b: { mode: string; path: string }): number {
  return compareStrings(a.mode === TREE_MODE ? `${a.path}/` : a.path, b.mode === TREE_MODE ? `${b.path}/` : b.path);
}

/** A tree object's body: per entry, in git's order, "<mode without leading 0> <name>\0<20-byte oid>". */
export function renderTree(entries: readonly TreeEntry[]): Buffer {
  const sorted = entries.map((entry) => ({ mode: normalizeMode(entry.mode), path: entry.path, oid: entry.oid })).sort(compareTreeEntries);
  return Buffer.concat(sorted.flatMap((entry) => [Buffer.from(`${entry.mode.replace(/^0/, '')} ${entry.path}\0`, 'utf8'), Buffer.from(entry.oid, 'hex')]));
}

/** A commit object's body: tree, parents, author, committer, gpgsig when signed, a blank line, the message. */
export function renderCommit(commit: Omit<CommitData, 'oid'>, gpgsig?: string): Buffer {
  let headers = `tree ${commit.tree || EMPTY_TREE_OID}\n`;
  for (const parent of commit.parents) headers += `parent ${parent}\n`;
  headers += `author ${formatPerson(commit.author)}\n`;
  headers += `committer ${formatPerson(commit.committer)}\n`;
  if (gpgsig !== undefined) headers += `gpgsig${indent(gpgsig)}`;
  return Buffer.from(`${headers}\n${normalizeNewlines(commit.message)}`, 'utf8');
}

function formatPerson({ name, email, timestamp, timezoneOffset }: Person): string {
  return `${name} <${email}> ${timestamp} ${formatTimezoneOffset(timezoneOffset)}`;
}

/** -120 -> "+0200" (minutes west, isomorphic-git's sign); -0 -> "-0000", 0 -> "+0000". */
function formatTimezoneOffset(minutesWest: number): string {
  const east = minutesWest === 0 ? minutesWest : -minutesWest;
  const negative = east < 0 || Object.is(east, -0);
  const minutes = Math.abs(minutesWest);
  const hours = Math.floor(minutes / 60);
  return `${negative ? '-' : '+'}${String(hours).padStart(2, '0')}${String(minutes - hours * 60).padStart(2, '0')}`;
}

/** Each line of the trimmed text after a space, and a final newline (a header's continuation lines). */
function indent(text: string): string {
  return (
    text
      .trim()
      .split('\n')
      .map((line) => ` ${line}`)
      .join('\n') + '\n'
  );
}

// ---------------------------------------------------------------------------------------------
// Parsing, exactly as isomorphic-git 1.44 does it (GitTree, GitCommit, GitAnnotatedTag), so
// that results do not change with the reader.

function mode2type(mode: string): TreeEntry['type'] {
  switch (mode) {
    case '040000':
      return 'tree';
    case '100644':
    case '100755':
    case '120000':
      return 'blob';
    case '160000':
      return 'commit';
  }
  throw new MalformedTreeError({ detail: `Unexpected GitTree entry mode: ${mode}` });
}

/** Tree entries (mode SP name NUL 20-byte oid), sorted by path in code-point order. */
export function parseTree(buffer: Buffer): TreeEntry[] {
  const entries: TreeEntry[] = [];
  let cursor = 0;
  while (cursor < buffer.length) {
    const space = buffer.indexOf(32, cursor);
    if (space === -1)
      throw new MalformedTreeError({ detail: `GitTree: Error parsing buffer at byte location ${cursor}: Could not find the next space character.` });
    const nul = buffer.indexOf(0, cursor);
    if (nul === -1)
      throw new MalformedTreeError({ detail: `GitTree: Error parsing buffer at byte location ${cursor}: Could not find the next null character.` });
    let mode = buffer.toString('utf8', cursor, space);
    if (mode === '40000') mode = '040000';
    const type = mode2type(mode);
    const path = buffer.toString('utf8', space + 1, nul);
    assertSafeEntryName(path);
    const oid = buffer.toString('hex', nul + 1, nul + 21);
    cursor = nul + 21;
    entries.push({ mode, path, oid, type });
  }
  entries.sort((a, b) => compareStrings(a.path, b.path));
  return entries;
}

/** isomorphic-git's check of git's verify_path() (UnsafeFilepathError). */
function assertSafeEntryName(path: string): void {
  const hfsClean = path.replace(/[\u200C-\u200F\u202A-\u202E\u206A-\u206F\uFEFF]/g, '');
  const ntfsClean = hfsClean.split(':')[0];
  const normalized = ntfsClean.toLowerCase().replace(/[. ]+$/, '');
  if (path.includes('\\') || path.includes('/') || hfsClean === '.' || hfsClean === '..' || normalized === '.git' || /^\.?git~[1-9]$/.test(normalized)) {
    throw new UnsafeFilepathError({ filepath: path });
  }
}

const NEEDS_CODE_POINT_ORDER = /[\uD800-\uFFFF]/;

function isLoneSurrogate(s: string, i: number, code: number): boolean {
  if (code < 0xd800 || code > 0xdfff) return false;
  if (code <= 0xdbff) {
    const next = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
    return next < 0xdc00 || next > 0xdfff;
  }
  const prev = i > 0 ? s.charCodeAt(i - 1) : 0;
  return prev < 0xd800 || prev > 0xdbff;
}

/** Compares by code point (the order of the UTF-8 bytes), as isomorphic-git's compareStrings. */
function compareStrings(a: string, b: string): number {
  if (!NEEDS_CODE_POINT_ORDER.test(a) && !NEEDS_CODE_POINT_ORDER.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      if (isLoneSurrogate(a, i, x)) x = 0xfffd;
      if (isLoneSurrogate(b, i, y)) y = 0xfffd;
      if (x === y) continue;
      if (x >= 0xd800 && y >= 0xd800) {
        x += x >= 0xe000 ? -0x800 : 0x2000;
        y += y >= 0xe000 ? -0x800 : 0x2000;
      }
      return x < y ? -1 : 1;
    }
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}
