/**
 * Three-way merge of trees without a work tree, making the decisions of git's merge-ort
 * (git 2.39, default options: rename detection on, merge.directoryRenames=conflict).
 *
 * Phases:
 *   1. walk the three trees together, descending only where OIDs differ, and record
 *      trivially resolved paths ("taken") and file-level paths needing a decision ("plan");
 *   2. detect renames on a side only when some source is relevant (ort's optimisation);
 *   3. rewrite the plan for renames (content follows the renamed file);
 *   4. decide every planned path (content merge, modes, types, deletes);
 *   5. rebuild only the trees on changed paths, and write objects only if the merge is clean.
 */
import { createHash } from 'node:crypto';
import type { TreeEntry } from 'isomorphic-git';
import type { Conflict, ConflictReason } from './errors.js';
import { GITLINK_MODE, SYMLINK_MODE, TREE_MODE, type ObjectStore } from './object-store.js';
import { mergeContent } from './content-merge.js';
import { collectSideChanges, detectRenames, type FileEntry, type Rename } from './renames.js';

/** Result of {@link mergeTrees}. */
export interface TreeMergeResult {
  /** OID of the merged tree ('' when there are conflicts). */
  tree: string;
  conflicts: Conflict[];
  /** Paths of files whose entry in the result differs from ours, sorted (empty on conflict). */
  changedPaths: string[];
}

type Entry = FileEntry;
/** Entries of one path in base, ours and theirs. */
type Triple = [Entry | null, Entry | null, Entry | null];
type Side = 1 | 2;
const BASE = 0;
const OURS: Side = 1;
const THEIRS: Side = 2;
const SIDES: Side[] = [OURS, THEIRS];

/** A file added by `side` below directories the other side removed entirely. */
interface AddUnderRemovedDir {
  path: string;
  side: Side;
  removedDirs: string[];
}

interface MergeState {
  store: ObjectStore;
  roots: [string | null, string, string];
  /** Paths resolved without looking inside (whole subtrees or files); null = absent. */
  taken: Map<string, Entry | null>;
  /** Non-tree paths that need a decision. */
  plan: Map<string, Triple>;
  addsUnderRemovedDirs: AddUnderRemovedDir[];
  conflicts: Conflict[];
  /** OIDs found in the input trees: they need no writing (the remote has them). */
  known: Set<string>;
  /** Blobs created by content merges, written only if the merge is clean. */
  newBlobs: Map<string, Uint8Array>;
  newTrees: Map<string, TreeEntry[]>;
}

/**
 * Merges `ours` and `theirs` with `base` as their merge base (null = empty tree), as
 * `git merge-tree --write-tree` would. Subtrees whose OIDs settle the result are never read.
 * New blobs and trees are written through `store` only when there is no conflict, so
 * `store.written` lists exactly the objects a push must send.
 */
export async function mergeTrees(store: ObjectStore, base: string | null, ours: string, theirs: string): Promise<TreeMergeResult> {
  const state: MergeState = {
    store,
    roots: [base, ours, theirs],
    taken: new Map(),
    plan: new Map(),
    addsUnderRemovedDirs: [],
    conflicts: [],
    known: new Set([ours, theirs, ...(base ? [base] : [])]),
    newBlobs: new Map(),
    newTrees: new Map(),
  };
  await walkTrees(state, '', [base, ours, theirs], { 1: [], 2: [] });
  await applyRenames(state);
  const resolved = await resolvePlan(state);
  const tree = await buildResultTree(state, resolved);
  if (state.conflicts.length > 0) return { tree: '', conflicts: sortConflicts(state.conflicts), changedPaths: [] };
  await writeNewObjects(state);
  const changedPaths = await listChangedFiles(store, ours, tree);
  return { tree, conflicts: [], changedPaths };
}

// ---------------------------------------------------------------- phase 1: walk

function sameEntry(a: Entry | null | undefined, b: Entry | null | undefined): boolean {
  if (!a || !b) return !a && !b;
  return a.mode === b.mode && a.oid === b.oid;
}

function isTree(e: Entry | null | undefined): e is Entry {
  return !!e && e.mode === TREE_MODE;
}

async function readTreeMap(state: MergeState, oid: string | null): Promise<Map<string, Entry>> {
  const map = new Map<string, Entry>();
  if (!oid) return map;
  for (const e of await state.store.walkTree(oid)) {
    map.set(e.path, { mode: e.mode, oid: e.oid });
    state.known.add(e.oid);
  }
  return map;
}

/** Walks one directory of the three trees; `removed[s]` are ancestors side s removed. */
async function walkTrees(state: MergeState, dir: string, oids: (string | null)[], removed: Record<Side, string[]>): Promise<void> {
  const maps = await Promise.all(oids.map((oid) => readTreeMap(state, oid)));
  const names = new Set(maps.flatMap((m) => [...m.keys()]));
  for (const name of names) {
    const triple = maps.map((m) => m.get(name) ?? null) as Triple;
    await walkEntry(state, dir + name, triple, removed);
  }
}

async function walkEntry(state: MergeState, path: string, [b, o, t]: Triple, removed: Record<Side, string[]>): Promise<void> {
  noteAddUnderRemovedDir(state, path, [b, o, t], removed);
  // Deleted on both sides: still a possible rename source on each side (ort: sides never
  // "match" when absent), so files are planned and deleted directories walked.
  const bothDeleted = !o && !t && !!b;
  if (!bothDeleted && sameEntry(o, t) && !removesBaseFilesAlike(b, o)) return void state.taken.set(path, o);
  if (!bothDeleted && sameEntry(b, o)) return void state.taken.set(path, t);
  if (!bothDeleted && sameEntry(b, t)) return void state.taken.set(path, o);
  const trees = [b, o, t].map((e) => (isTree(e) ? e.oid : null));
  if (trees.some((x) => x)) {
    const nextRemoved = { 1: [...removed[1]], 2: [...removed[2]] };
    for (const s of SIDES) if (trees[BASE] && !trees[s]) nextRemoved[s].push(path);
    await walkTrees(state, `${path}/`, trees, nextRemoved);
  }
  const files = [b, o, t].map((e) => (e && !isTree(e) ? e : null)) as Triple;
  if (files.some((e) => e)) state.plan.set(path, files);
}

/**
 * Both sides hold `o` where base held a different tree, or a file replaced by a tree: the
 * base files missing from `o` were removed by both sides, and each side may have renamed them
 * (ort recurses into matching trees for that reason), so the walk must see them.
 */
function removesBaseFilesAlike(b: Entry | null, o: Entry | null): boolean {
  return !!b && !sameEntry(b, o) && (isTree(b) || isTree(o));
}

function noteAddUnderRemovedDir(state: MergeState, path: string, triple: Triple, removed: Record<Side, string[]>): void {
  if (triple[BASE]) return;
  for (const s of SIDES) {
    const other: Side = s === OURS ? THEIRS : OURS;
    if (triple[s] && removed[other].length > 0) state.addsUnderRemovedDirs.push({ path, side: s, removedDirs: removed[other] });
  }
}

// ---------------------------------------------------------------- phases 2-3: renames

/**
 * Detects renames per side and rewrites the plan so content follows a renamed file. Only
 * the cases below are resolved the way git does; every other rename interplay becomes a
 * conflict, since a wrong clean tree would be pushed while a conflict only stops the run.
 */
async function applyRenames(state: MergeState): Promise<void> {
  const relevant = { 1: contentRelevantSources(state, OURS), 2: contentRelevantSources(state, THEIRS) };
  const renames: Record<Side, Map<string, Rename>> = { 1: new Map(), 2: new Map() };
  const targets: Record<Side, Map<string, Entry>> = { 1: new Map(), 2: new Map() };
  for (const s of SIDES) {
    const locationDirs = state.addsUnderRemovedDirs.filter((a) => a.side !== s).flatMap((a) => a.removedDirs);
    if (relevant[s].size === 0 && locationDirs.length === 0) continue;
    const changes = await collectSideChanges(state.store, state.roots[BASE], state.roots[s], state.roots[s === OURS ? THEIRS : OURS]);
    const sources = new Set(relevant[s]);
    for (const p of changes.deleted.keys()) if (locationDirs.some((d) => isUnder(p, d))) sources.add(p);
    renames[s] = await detectRenames(state.store, changes, sources);
    targets[s] = changes.added;
  }
  checkDirectoryRenames(state, renames);
  const claimed = new Map<string, string>();
  for (const source of new Set([...relevant[1], ...relevant[2]])) {
    const r1 = relevant[1].has(source) ? renames[1].get(source) : undefined;
    const r2 = relevant[2].has(source) ? renames[2].get(source) : undefined;
    if (!r1 && !r2) continue;
    for (const r of [r1, r2]) {
      if (r && claimed.has(r.target) && claimed.get(r.target) !== source) addConflict(state, r.target, 'rename/rename');
      if (r) claimed.set(r.target, source);
    }
    if (r1 && r2) await applyBothRenamed(state, source, r1, r2);
    else if (r1) await applyOneRenamed(state, source, OURS, r1, targets[1]);
    else if (r2) await applyOneRenamed(state, source, THEIRS, r2, targets[2]);
  }
}

/** Sources deleted on `side` whose other-side version differs from base (ort's relevance). */
function contentRelevantSources(state: MergeState, side: Side): Set<string> {
  const other: Side = side === OURS ? THEIRS : OURS;
  const out = new Set<string>();
  for (const [path, triple] of state.plan) {
    if (triple[BASE] && !triple[side] && !sameEntry(triple[BASE], triple[other])) out.add(path);
  }
  return out;
}

function isUnder(path: string, dir: string): boolean {
  return path.startsWith(`${dir}/`);
}

/**
 * A side added files in a directory the other side removed entirely. If that other side
 * renamed anything out of the directory, git (merge.directoryRenames=conflict) may report
 * the directory as renamed and the added file's location as a conflict. We conflict whenever
 * such a rename exists; git does so only when most renames agree on one target directory.
 */
function checkDirectoryRenames(state: MergeState, renames: Record<Side, Map<string, Rename>>): void {
  for (const add of state.addsUnderRemovedDirs) {
    const other: Side = add.side === OURS ? THEIRS : OURS;
    const movedOut = [...renames[other].values()].some((r) => add.removedDirs.some((d) => isUnder(r.source, d) && !isUnder(r.target, d)));
    if (movedOut) addConflict(state, add.path, 'directory-rename');
  }
}

/** Both sides renamed `source`: same target merges there, different targets conflict. */
async function applyBothRenamed(state: MergeState, source: string, r1: Rename, r2: Rename): Promise<void> {
  if (r1.target !== r2.target) {
    addConflict(state, source, 'rename/rename');
    return;
  }
  const baseEntry = state.plan.get(source)![BASE];
  const ours = await entryAt(state, state.roots[OURS], r1.target);
  const theirs = await entryAt(state, state.roots[THEIRS], r1.target);
  state.plan.set(source, [null, null, null]);
  state.plan.set(r1.target, [baseEntry, ours, theirs]);
}

/** `side` renamed `source`; the other side modified or deleted it. */
async function applyOneRenamed(state: MergeState, source: string, side: Side, rename: Rename, added: Map<string, Entry>): Promise<void> {
  const other: Side = side === OURS ? THEIRS : OURS;
  const triple = state.plan.get(source)!;
  const otherEntry = triple[other];
  if (!otherEntry) {
    const otherAtSource = await entryAt(state, state.roots[other], source);
    addConflict(state, rename.target, otherAtSource ? 'rename' : 'rename/delete');
    return;
  }
  // Only a file at the target is a rename/add. A directory there, or a file at one of its
  // parents, is settled like ort does once the result is known: it only conflicts if a file
  // and a non-empty directory end up at one path (composeTree). Such a directory may well
  // empty out, e.g. when it only held the rename's own source (case: revert of `a` -> `a/b`).
  const otherAtTarget = await entryAt(state, state.roots[other], rename.target);
  if (otherAtTarget && !isTree(otherAtTarget)) {
    addConflict(state, rename.target, 'rename/add');
    return;
  }
  const sideEntry = added.get(rename.target)!;
  const merged: Triple = side === OURS ? [triple[BASE], sideEntry, otherEntry] : [triple[BASE], otherEntry, sideEntry];
  state.plan.set(source, [null, null, null]);
  // The walk may have taken the renaming side's file whole where the other side kept a base directory.
  state.taken.delete(rename.target);
  state.plan.set(rename.target, merged);
}

/** The entry at `path` in tree `root`, reading only the trees on that path. */
async function entryAt(state: MergeState, root: string | null, path: string): Promise<Entry | null> {
  let entry: Entry | null = root ? { mode: TREE_MODE, oid: root } : null;
  for (const part of path.split('/')) {
    if (!isTree(entry)) return null;
    entry = (await readTreeMap(state, entry.oid)).get(part) ?? null;
  }
  return entry;
}

// ---------------------------------------------------------------- phase 4: decide paths

type Kind = 'file' | 'symlink' | 'submodule';

function kindOf(e: Entry): Kind {
  if (e.mode === SYMLINK_MODE) return 'symlink';
  if (e.mode === GITLINK_MODE) return 'submodule';
  return 'file';
}

type Decision = { entry: Entry | null } | { conflict: ConflictReason };

async function resolvePlan(state: MergeState): Promise<Map<string, Entry | null>> {
  const resolved = new Map<string, Entry | null>();
  const conflicted = new Set(state.conflicts.map((c) => c.path));
  for (const [path, triple] of state.plan) {
    if (conflicted.has(path)) continue;
    const decision = await decideEntry(state, triple);
    if ('conflict' in decision) addConflict(state, path, decision.conflict);
    else resolved.set(path, decision.entry);
  }
  return resolved;
}

/** handle_content_merge and the trivial rules before it, for one non-tree path. */
async function decideEntry(state: MergeState, [b, o, t]: Triple): Promise<Decision> {
  if (sameEntry(o, t)) return { entry: o };
  if (sameEntry(b, o)) return { entry: t };
  if (sameEntry(b, t)) return { entry: o };
  if (!o || !t) return { conflict: 'modify/delete' };
  const kind = kindOf(o);
  if (kind !== kindOf(t)) return { conflict: b ? typeChangeReason(o, t) : 'add/add' };
  const mode = mergeModes(b, o, t);
  let oid: string;
  if (o.oid === t.oid || (b && o.oid === b.oid)) oid = t.oid;
  else if (b && t.oid === b.oid) oid = o.oid;
  else if (kind === 'symlink') return { conflict: b ? 'symlink' : 'add/add' };
  else if (kind === 'submodule') return { conflict: b ? 'submodule' : 'add/add' };
  else {
    // A base of another type is no base: git then merges two-way, from an empty file.
    const baseBlob = b && kindOf(b) === 'file' ? await state.store.readBlob(b.oid) : new Uint8Array();
    const result = mergeContent(baseBlob, await state.store.readBlob(o.oid), await state.store.readBlob(t.oid));
    if (!result.clean) return { conflict: result.reason === 'binary' ? 'binary' : b ? 'content' : 'add/add' };
    oid = hashObject('blob', result.content);
    if (!state.known.has(oid)) state.newBlobs.set(oid, result.content);
  }
  if (mode === null) return { conflict: b ? 'mode' : 'add/add' };
  return { entry: { mode, oid } };
}

/** ort: a->mode == b->mode or a->mode == o->mode takes b's; b == o takes a's; else conflict. */
function mergeModes(b: Entry | null, o: Entry, t: Entry): string | null {
  if (o.mode === t.mode || o.mode === b?.mode) return t.mode;
  if (t.mode === b?.mode) return o.mode;
  return null;
}

function typeChangeReason(o: Entry, t: Entry): ConflictReason {
  const kinds = [kindOf(o), kindOf(t)];
  if (kinds.includes('submodule')) return 'submodule';
  if (kinds.includes('symlink')) return 'symlink';
  return 'content';
}

// ---------------------------------------------------------------- phase 5: build trees

interface Node {
  entry?: Entry | null;
  children?: Map<string, Node>;
}

/** Builds the merged tree in memory; returns its OID ('' if it is empty or conflicted). */
async function buildResultTree(state: MergeState, resolved: Map<string, Entry | null>): Promise<string> {
  const root: Node = { children: new Map() };
  const all = [...state.taken, ...resolved].sort((x, y) => depth(x[0]) - depth(y[0]));
  for (const [path, entry] of all) await insertPath(state, root, path, entry);
  if (state.conflicts.length > 0) return '';
  const tree = composeTree(state, '', root);
  return tree?.oid ?? hashTree(state, []);
}

function depth(path: string): number {
  return path.split('/').length;
}

async function insertPath(state: MergeState, root: Node, path: string, entry: Entry | null): Promise<void> {
  const parts = path.split('/');
  let node = root;
  for (const part of parts.slice(0, -1)) {
    let child = node.children!.get(part);
    if (!child) {
      child = { children: new Map() };
      node.children!.set(part, child);
    }
    if (isTree(child.entry)) await expandNode(state, child);
    child.children ??= new Map();
    node = child;
  }
  const last = parts[parts.length - 1];
  const existing = node.children!.get(last);
  if (existing?.children && isTree(entry)) {
    for (const [name, e] of await readTreeMap(state, entry.oid)) if (!existing.children.has(name)) existing.children.set(name, { entry: e });
    return;
  }
  if (existing) existing.entry = entry;
  else node.children!.set(last, { entry });
}

/** Replaces a tree entry taken whole by its children, so a deeper path can change. */
async function expandNode(state: MergeState, node: Node): Promise<void> {
  const oid = node.entry!.oid;
  node.entry = undefined;
  node.children = new Map();
  for (const [name, e] of await readTreeMap(state, oid)) node.children.set(name, { entry: e });
}

/**
 * Turns a node into a tree entry. Empty directories vanish; a file and a non-empty
 * directory at one path is a file/directory conflict. This is ort's rule (process_entry's
 * df_conflict): a directory the merge empties, e.g. by renames out of it, lets a file take
 * its path cleanly, so renames across file<->directory changes are only decided here.
 */
function composeTree(state: MergeState, path: string, node: Node): Entry | null {
  let dir: Entry | null = null;
  if (node.children) {
    const entries: TreeEntry[] = [];
    for (const [name, child] of node.children) {
      const e = composeTree(state, path ? `${path}/${name}` : name, child);
      if (e) entries.push({ mode: e.mode, path: name, oid: e.oid, type: typeOfMode(e.mode) });
    }
    dir = entries.length > 0 ? { mode: TREE_MODE, oid: hashTree(state, entries) } : null;
  }
  const own = node.entry ?? null;
  if (own && !isTree(own) && dir) {
    addConflict(state, path, 'file/directory');
    return own;
  }
  return own && (isTree(own) || !dir) ? own : dir;
}

function typeOfMode(mode: string): TreeEntry['type'] {
  if (mode === TREE_MODE) return 'tree';
  if (mode === GITLINK_MODE) return 'commit';
  return 'blob';
}

/** Git orders tree entries by name bytes, comparing a directory as if it ended in '/'. */
function sortTreeEntries(entries: TreeEntry[]): TreeEntry[] {
  const key = (e: TreeEntry): Buffer => Buffer.from(e.mode === TREE_MODE ? `${e.path}/` : e.path);
  return [...entries].sort((x, y) => Buffer.compare(key(x), key(y)));
}

/** Computes a tree's OID in memory and queues it for writing unless it already exists. */
function hashTree(state: MergeState, entries: TreeEntry[]): string {
  const sorted = sortTreeEntries(entries);
  const body = Buffer.concat(sorted.map((e) => Buffer.concat([Buffer.from(`${e.mode.replace(/^0+/, '')} ${e.path}\0`), Buffer.from(e.oid, 'hex')])));
  const oid = hashObject('tree', body);
  if (!state.known.has(oid)) state.newTrees.set(oid, sorted);
  return oid;
}

function hashObject(type: 'blob' | 'tree', body: Uint8Array): string {
  return createHash('sha1').update(`${type} ${body.length}\0`).update(body).digest('hex');
}

/** Writes queued objects; checks the store agrees on every OID we computed. */
async function writeNewObjects(state: MergeState): Promise<void> {
  for (const [oid, content] of state.newBlobs) verifyOid(oid, await state.store.writeBlob(content));
  // Trees were queued children first, so every tree is written after its subtrees.
  for (const [oid, entries] of state.newTrees) verifyOid(oid, await state.store.writeTree(entries));
}

function verifyOid(expected: string, actual: string): void {
  if (expected !== actual) throw new Error(`Object store wrote ${actual} where ${expected} was computed`);
}

// ---------------------------------------------------------------- results

function addConflict(state: MergeState, path: string, reason: ConflictReason): void {
  if (!state.conflicts.some((c) => c.path === path)) state.conflicts.push({ path, reason });
}

function sortConflicts(conflicts: Conflict[]): Conflict[] {
  return [...conflicts].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Files whose entry differs between two trees, descending only where OIDs differ. */
async function listChangedFiles(store: ObjectStore, from: string, to: string): Promise<string[]> {
  const out: string[] = [];
  await diffFiles(store, '', from, to, out);
  return out.sort();
}

async function diffFiles(store: ObjectStore, dir: string, from: string | null, to: string | null, out: string[]): Promise<void> {
  if (from === to) return;
  const a = new Map((from ? await store.walkTree(from) : []).map((e) => [e.path, e]));
  const b = new Map((to ? await store.walkTree(to) : []).map((e) => [e.path, e]));
  for (const name of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(name);
    const y = b.get(name);
    if (x && y && x.mode === y.mode && x.oid === y.oid) continue;
    const xTree = x?.mode === TREE_MODE ? x.oid : null;
    const yTree = y?.mode === TREE_MODE ? y.oid : null;
    if (xTree || yTree) await diffFiles(store, `${dir}${name}/`, xTree, yTree, out);
    const xFile = x && !xTree ? x : undefined;
    const yFile = y && !yTree ? y : undefined;
    if (xFile || yFile) {
      if (!xFile || !yFile || xFile.mode !== yFile.mode || xFile.oid !== yFile.oid) out.push(dir + name);
    }
  }
}
