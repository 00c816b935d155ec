/**
 * Rename detection for one side of a merge (base -> side), following git's merge-ort, which
 * calls diffcore_rename_extended without copies or break detection:
 *   1. exact renames (same blob) among all deleted and added paths;
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
/**
 * git's diff.renameLimit (default 1000): inexact detection is attempted only when sources x
 * targets <= limit^2 (too_many_rename_candidates). git then skips inexact renames; we refuse
 * the revert (TreeLimitExceededError) rather than compute a result git might not. git's merges
 * allow 7000 (merge.renameLimit); 49 million similarity estimates are minutes of CPU here.
 */
export const RENAME_LIMIT = 1000;

/**
 * Lists the files deleted and added between two trees, descending only into subtrees whose
 * OIDs differ, so the cost follows the size of the change, not of the repository.
 */
export async function collectSideChanges(store: ObjectStore, base: string | null, side: string | null): Promise<SideChanges> {
  const changes: SideChanges = { deleted: new Map(), added: new Map() };
  await diffTrees(store, '', base, side, changes);
  return changes;
}

async function diffTrees(store: ObjectStore, dir: string, base: string | null, side: string | null, out: SideChanges): Promise<void> {
  if (base === side) return;
  const b = await readEntries(store, base);
  const s = await readEntries(store, side);
  for (const name of new Set([...b.keys(), ...s.keys()])) {
    const eb = b.get(name);
    const es = s.get(name);
    if (eb && es && eb.mode === es.mode && eb.oid === es.oid) continue;
    const path = dir + name;
    const bTree = eb?.mode === TREE_MODE ? eb.oid : null;
    const sTree = es?.mode === TREE_MODE ? es.oid : null;
    if (bTree || sTree) await diffTrees(store, `${path}/`, bTree, sTree, out);
    const bFile = eb && !bTree ? eb : undefined;
    const sFile = es && !sTree ? es : undefined;
    if (bFile && !sFile) out.deleted.set(path, bFile);
    if (sFile && !bFile) out.added.set(path, sFile);
  }
}

async function readEntries(store: ObjectStore, oid: string | null): Promise<Map<string, FileEntry>> {
  const map = new Map<string, FileEntry>();
  if (!oid) return map;
  for (const e of await store.walkTree(oid)) map.set(e.path, { mode: e.mode, oid: e.oid });
  return map;
}

/**
 * Detects renames among `changes`, keyed by source path. Inexact matching only considers
 * sources in `relevantSources` (ort skips the others: their renames cannot change the merge).
 */
export async function detectRenames(store: ObjectStore, changes: SideChanges, relevantSources: Set<string>): Promise<Map<string, Rename>> {
  const renames = new Map<string, Rename>();
  if (relevantSources.size === 0) return renames;
  const sources = sortedRenamable(changes.deleted);
  const targets = sortedRenamable(changes.added);
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

function sortedRenamable(map: Map<string, FileEntry>): string[] {
  return [...map.keys()].filter((p) => map.get(p)?.mode !== GITLINK_MODE).sort(comparePaths);
}

function isRegular(entry: FileEntry | undefined): boolean {
  return entry !== undefined && entry.mode !== SYMLINK_MODE && entry.mode !== GITLINK_MODE && entry.mode !== TREE_MODE;
}

/** Full paths in byte order, which is the order git's diff queue lists them. */
function comparePaths(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * find_exact_renames: each target takes the unused source with the same blob, preferring
 * one with the same basename, then the first in path order.
 */
function findExactRenames(changes: SideChanges, sources: string[], targets: string[], record: (s: string, t: string, score: number) => void): void {
  const byOid = new Map<string, string[]>();
  for (const s of sources) {
    const oid = changes.deleted.get(s)!.oid;
    byOid.set(oid, [...(byOid.get(oid) ?? []), s]);
  }
  const used = new Set<string>();
  for (const t of targets) {
    const candidates = (byOid.get(changes.added.get(t)!.oid) ?? []).filter((s) => !used.has(s));
    if (candidates.length === 0) continue;
    const best = candidates.find((s) => basenameOf(s) === basenameOf(t)) ?? candidates[0];
    used.add(best);
    record(best, t, MAX_SCORE);
  }
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
