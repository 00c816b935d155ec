/**
 * Rename detection for one side of a merge (base -> side), following git's merge-ort, which
 * calls diffcore_rename_extended without copies or break detection:
 *   1. exact renames (same blob) among all deleted and added non-empty files, ties broken in the
 *      order of ort's diff queue (find_identical_files; see collectSideChanges);
 *   2. sources not relevant to the merge are dropped (ort's "relevant sources");
 *   3. pairs whose basenames are unique among the remaining sources and targets, at >= 75%;
 *   4. the rest at >= 50%, best score first, each source and target used once.
 * Only regular files are scored; symlinks rename only on exact matches; submodules never.
 */
import { TreeLimitExceededError } from './errors.js';
import { GITLINK_MODE, SYMLINK_MODE, TREE_MODE, type ObjectStore } from './object-store.js';
import { DEFAULT_RENAME_SCORE, MAX_SCORE, SpanCache, estimateSimilarity } from './similarity.js';

/** A non-tree tree entry. */
export interface FileEntry {
  mode: string;
  oid: string;
}

/** Paths deleted and added on one side relative to the base, files only. */
export interface SideChanges {
  deleted: Map<string, FileEntry>;
  added: Map<string, FileEntry>;
  /**
   * Deleted and added paths in the order of merge-ort's diff queue for this side (see
   * {@link collectSideChanges}); when absent, path order. Exact renames break ties by it.
   */
  queue?: string[];
}

/** One detected rename. */
export interface Rename {
  source: string;
  target: string;
  /** 0..MAX_SCORE; MAX_SCORE for exact renames. */
  score: number;
}

/** ort's basename threshold: halfway between the rename threshold and 100% (75%). */
const BASENAME_SCORE = DEFAULT_RENAME_SCORE + Math.floor((MAX_SCORE - DEFAULT_RENAME_SCORE) * 0.5);
/** diffcore-rename.c NUM_CANDIDATE_PER_DST. */
const CANDIDATES_PER_TARGET = 4;
/** find_identical_files: after this many usable identical sources, the best so far wins. */
const IDENTICAL_CANDIDATES = 100;
/** merge-ort sets rename_empty = 0: empty files are neither rename sources nor targets. */
const EMPTY_BLOB = 'e69de29bb2d1d6434b8b29ae775ad8c2e48c5391';
/**
 * git's diff.renameLimit (default 1000): inexact detection is attempted only when sources x
 * targets <= limit^2 (too_many_rename_candidates). git then skips inexact renames; we refuse
 * the revert (TreeLimitExceededError) rather than compute a result git might not. git's merges
 * allow 7000 (merge.renameLimit); 49 million similarity estimates are minutes of CPU here.
 */
export const RENAME_LIMIT = 1000;

/** dir_rename_mask of merge-ort's collect_merge_info, from the point of view of one side. */
type DirRenameMask = 'none' | 'side' | 'other' | 'all';

interface WalkContext {
  out: SideChanges;
  /** Pairs walked in place (depth first, path order). */
  main: string[];
  /** Pairs of directories ort defers for this side, per directory, in deferral order. */
  deferred: Map<string, string[]>;
}

/**
 * Lists the files deleted and added between two trees, descending only into subtrees whose
 * OIDs differ, so the cost follows the size of the change, not of the repository.
 *
 * With the merge's other side (`other`), also records merge-ort's diff-queue order for this
 * side (collect_merge_info_callback, handle_deferred_entries): pairs in path order, except
 * that a directory where the other side equals the base (or that only this side has) is
 * deferred when ort's dir_rename_mask is not 0x07 there; deferred directories are walked
 * after everything else, in the iteration order of git's strintmap
 * (deferred[side].possible_trivial_merges), each in path order.
 */
export async function collectSideChanges(store: ObjectStore, base: string | null, side: string | null, other?: string | null): Promise<SideChanges> {
  const changes: SideChanges = { deleted: new Map(), added: new Map() };
  const ctx: WalkContext = { out: changes, main: [], deferred: new Map() };
  await diffTrees(store, '', base, side, other ?? null, 'none', null, ctx);
  if (other !== undefined) {
    changes.queue = [...ctx.main.sort(comparePaths)];
    for (const dir of strmapIterationOrder([...ctx.deferred.keys()])) changes.queue.push(...ctx.deferred.get(dir)!.sort(comparePaths));
  }
  return changes;
}

async function diffTrees(
  store: ObjectStore,
  dir: string,
  base: string | null,
  side: string | null,
  other: string | null,
  mask: DirRenameMask,
  group: string[] | null,
  ctx: WalkContext,
): Promise<void> {
  if (base === side) return;
  const b = await readEntries(store, base);
  const s = await readEntries(store, side);
  const o = group ? new Map<string, FileEntry>() : await readEntries(store, other);
  // traverse_trees_wrapper's pre-scan: a file only the kept side has makes directory renames relevant.
  if (!group && (mask === 'side' || mask === 'other')) {
    const only = mask === 'side' ? s : o;
    const rest = mask === 'side' ? o : s;
    for (const [name, e] of only) if (e.mode !== TREE_MODE && !isFileAt(b, name) && !isFileAt(rest, name)) mask = 'all';
  }
  for (const name of new Set([...b.keys(), ...s.keys()])) {
    const eb = b.get(name);
    const es = s.get(name);
    if (eb && es && eb.mode === es.mode && eb.oid === es.oid) continue;
    const path = dir + name;
    const bTree = eb?.mode === TREE_MODE ? eb.oid : null;
    const sTree = es?.mode === TREE_MODE ? es.oid : null;
    const bFile = eb && !bTree ? eb : undefined;
    const sFile = es && !sTree ? es : undefined;
    const into = group ?? ctx.main;
    if (bFile && !sFile) {
      ctx.out.deleted.set(path, bFile);
      into.push(path);
    }
    if (sFile && !bFile) {
      ctx.out.added.set(path, sFile);
      into.push(path);
    }
    if (!bTree && !sTree) continue;
    const eo = o.get(name);
    const oTree = eo?.mode === TREE_MODE ? eo.oid : null;
    if (group) {
      await diffTrees(store, `${path}/`, bTree, sTree, null, mask, group, ctx);
      continue;
    }
    // collect_rename_info: a directory the base and one side have, the other side not.
    let childMask = mask;
    if (mask !== 'all' && bTree && !!sTree !== !!oTree) childMask = sTree ? 'side' : 'other';
    const otherMatchesBase = eo !== undefined && eb !== undefined && eo.mode === eb.mode && eo.oid === eb.oid;
    const onlyThisSide = !eb && !eo && sTree !== null;
    if (childMask !== 'all' && (otherMatchesBase || onlyThisSide)) {
      const deferred: string[] = [];
      ctx.deferred.set(path, deferred);
      await diffTrees(store, `${path}/`, bTree, sTree, null, childMask, deferred, ctx);
      continue;
    }
    await diffTrees(store, `${path}/`, bTree, sTree, oTree, childMask, null, ctx);
  }
}

function isFileAt(entries: Map<string, FileEntry>, name: string): boolean {
  const e = entries.get(name);
  return e !== undefined && e.mode !== TREE_MODE;
}

async function readEntries(store: ObjectStore, oid: string | null): Promise<Map<string, FileEntry>> {
  const map = new Map<string, FileEntry>();
  if (!oid) return map;
  for (const e of await store.walkTree(oid)) map.set(e.path, { mode: e.mode, oid: e.oid });
  return map;
}

/** strhash (hashmap.c): FNV-1, 32 bits. */
function strhash(key: string): number {
  let hash = 0x811c9dc5;
  for (const c of Buffer.from(key)) hash = (Math.imul(hash, 0x01000193) ^ c) >>> 0;
  return hash;
}

/**
 * The order hashmap_iter_next visits keys added in this order to a new strmap (hashmap.c):
 * 64 buckets, each a list with the newest entry first; past 80% load the table grows 4x,
 * moving entries bucket by bucket (which reverses their relative order).
 */
export function strmapIterationOrder(keys: string[]): string[] {
  let table: string[][] = Array.from({ length: 64 }, () => []);
  let count = 0;
  for (const key of keys) {
    table[strhash(key) & (table.length - 1)].unshift(key);
    count += 1;
    if (count > Math.floor((table.length * 80) / 100)) {
      const grown: string[][] = Array.from({ length: table.length * 4 }, () => []);
      for (const chain of table) for (const k of chain) grown[strhash(k) & (grown.length - 1)].unshift(k);
      table = grown;
    }
  }
  return table.flat();
}

/**
 * Detects renames among `changes`, keyed by source path. Inexact matching only considers
 * sources in `relevantSources` (ort skips the others: their renames cannot change the merge).
 */
export async function detectRenames(store: ObjectStore, changes: SideChanges, relevantSources: Set<string>): Promise<Map<string, Rename>> {
  const renames = new Map<string, Rename>();
  if (relevantSources.size === 0) return renames;
  const queue = changes.queue ?? [...changes.deleted.keys(), ...changes.added.keys()].sort(comparePaths);
  const sources = queue.filter((p) => isRenamable(changes.deleted.get(p)));
  const targets = queue.filter((p) => isRenamable(changes.added.get(p)));
  const usedTargets = new Set<string>();
  const record = (source: string, target: string, score: number): void => {
    renames.set(source, { source, target, score });
    usedTargets.add(target);
  };
  findExactRenames(changes, sources, targets, record);
  const remaining = (): string[] => sources.filter((p) => !renames.has(p) && relevantSources.has(p) && isRegular(changes.deleted.get(p)));
  const open = (): string[] => targets.filter((p) => !usedTargets.has(p) && isRegular(changes.added.get(p)));
  const blobs = new BlobCache(store);
  await findBasenameRenames(changes, remaining(), open(), blobs, record);
  const [sourcesLeft, targetsLeft] = [remaining(), open()];
  if (sourcesLeft.length * targetsLeft.length > RENAME_LIMIT * RENAME_LIMIT) {
    throw new TreeLimitExceededError({
      limit: 'rename-candidates',
      max: RENAME_LIMIT,
      detail: `${sourcesLeft.length} sources with ${targetsLeft.length} targets`,
    });
  }
  await findInexactRenames(changes, sourcesLeft, targetsLeft, blobs, record);
  return renames;
}

/** diffcore_rename_extended's registration: no submodules, no empty files (rename_empty = 0). */
function isRenamable(entry: FileEntry | undefined): boolean {
  return entry !== undefined && entry.mode !== GITLINK_MODE && entry.oid !== EMPTY_BLOB;
}

function isRegular(entry: FileEntry | undefined): boolean {
  return entry !== undefined && entry.mode !== SYMLINK_MODE && entry.mode !== GITLINK_MODE && entry.mode !== TREE_MODE;
}

/** Full paths in byte order, which is the order git's diff queue lists them. */
function comparePaths(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * find_exact_renames and find_identical_files (diffcore-rename.c): targets in queue order
 * (rename_dst), each taking among the unused sources with the same blob, in queue order
 * (rename_src), the first with the same basename (basename_same), else the first; only the
 * first 100 usable sources are looked at. Symlinks pair only with the same mode.
 */
function findExactRenames(changes: SideChanges, sources: string[], targets: string[], record: (s: string, t: string, score: number) => void): void {
  const byOid = new Map<string, string[]>();
  for (const s of sources) {
    const oid = changes.deleted.get(s)!.oid;
    byOid.set(oid, [...(byOid.get(oid) ?? []), s]);
  }
  const used = new Set<string>();
  for (const t of targets) {
    const target = changes.added.get(t)!;
    let best: string | undefined;
    let left = IDENTICAL_CANDIDATES;
    for (const s of byOid.get(target.oid) ?? []) {
      const source = changes.deleted.get(s)!;
      if ((!isRegularMode(source.mode) || !isRegularMode(target.mode)) && source.mode !== target.mode) continue;
      if (used.has(s)) continue;
      if (basenameOf(s) === basenameOf(t)) {
        best = s;
        break;
      }
      best ??= s;
      if (--left === 0) break;
    }
    if (best === undefined) continue;
    used.add(best);
    record(best, t, MAX_SCORE);
  }
}

function isRegularMode(mode: string): boolean {
  return mode !== SYMLINK_MODE && mode !== GITLINK_MODE && mode !== TREE_MODE;
}

function basenameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** find_basename_matches: pairs basenames unique on both sides when similar enough. */
async function findBasenameRenames(
  changes: SideChanges,
  sources: string[],
  targets: string[],
  blobs: BlobCache,
  record: (s: string, t: string, score: number) => void,
): Promise<void> {
  const uniqueSources = uniqueByBasename(sources);
  const uniqueTargets = uniqueByBasename(targets);
  for (const s of sources) {
    const base = basenameOf(s);
    const t = uniqueTargets.get(base);
    if (uniqueSources.get(base) !== s || t === undefined) continue;
    const score = await scorePair(changes, s, t, BASENAME_SCORE, blobs);
    if (score >= BASENAME_SCORE) record(s, t, score);
  }
}

function uniqueByBasename(paths: string[]): Map<string, string | undefined> {
  const map = new Map<string, string | undefined>();
  for (const p of paths) {
    const base = basenameOf(p);
    map.set(base, map.has(base) ? undefined : p);
  }
  return map;
}

interface Candidate {
  source: string;
  target: string;
  score: number;
  nameScore: number;
  order: number;
}

/** The matrix pass of diffcore_rename: up to four candidates per target, best first. */
async function findInexactRenames(
  changes: SideChanges,
  sources: string[],
  targets: string[],
  blobs: BlobCache,
  record: (s: string, t: string, score: number) => void,
): Promise<void> {
  const candidates: Candidate[] = [];
  for (const t of targets) {
    const forTarget: Candidate[] = [];
    for (const s of sources) {
      const score = await scorePair(changes, s, t, DEFAULT_RENAME_SCORE, blobs);
      if (score < DEFAULT_RENAME_SCORE) continue;
      forTarget.push({ source: s, target: t, score, nameScore: basenameOf(s) === basenameOf(t) ? 1 : 0, order: candidates.length + forTarget.length });
    }
    forTarget.sort(compareCandidates);
    candidates.push(...forTarget.slice(0, CANDIDATES_PER_TARGET));
  }
  candidates.sort(compareCandidates);
  const usedSources = new Set<string>();
  const usedTargets = new Set<string>();
  for (const c of candidates) {
    if (usedSources.has(c.source) || usedTargets.has(c.target)) continue;
    usedSources.add(c.source);
    usedTargets.add(c.target);
    record(c.source, c.target, c.score);
  }
}

function compareCandidates(a: Candidate, b: Candidate): number {
  return b.score - a.score || b.nameScore - a.nameScore || a.order - b.order;
}

async function scorePair(changes: SideChanges, source: string, target: string, minimum: number, blobs: BlobCache): Promise<number> {
  const src = await blobs.read(changes.deleted.get(source)!.oid);
  const dst = await blobs.read(changes.added.get(target)!.oid);
  return estimateSimilarity(src, dst, minimum, blobs.spans);
}

/** Keeps blobs read for scoring, and their span counts, for the length of one detection. */
class BlobCache {
  readonly spans = new SpanCache();
  private readonly blobs = new Map<string, Uint8Array>();

  constructor(private readonly store: ObjectStore) {}

  async read(oid: string): Promise<Uint8Array> {
    let blob = this.blobs.get(oid);
    if (!blob) {
      blob = await this.store.readBlob(oid);
      this.blobs.set(oid, blob);
    }
    return blob;
  }
}
