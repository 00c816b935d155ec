/**
 * Path-level operations on trees that touch only the trees along the path: look up an entry,
 * replace or remove it, and list the paths where two trees differ.
 */
import type { TreeEntry } from 'isomorphic-git';
import { InvalidRequestError } from './errors.js';
import { TREE_MODE, type ObjectStore } from './object-store.js';

/**
 * Normalizes user-given paths: strips './' and trailing '/', rejects absolute paths, '..',
 * '.git' and empty components, and drops paths already covered by a parent path.
 */
export function normalizePaths(paths: string[]): string[] {
  const cleaned = paths.map((raw) => {
    const path = raw
      .trim()
      .replace(/^(\.\/)+/, '')
      .replace(/\/+$/, '');
    const parts = path.split('/');
    if (!path || raw.startsWith('/') || parts.some((p) => p === '' || p === '.' || p === '..' || p === '.git')) {
      throw new InvalidRequestError(`Invalid path "${raw}": paths are relative to the repository root, without "..", "." or ".git"`, { path: raw });
    }
    return path;
  });
  const unique = [...new Set(cleaned)].sort();
  return unique.filter((p) => !unique.some((q) => q !== p && p.startsWith(`${q}/`)));
}

/** The entry at `path` in a tree, or null. */
export async function readEntryAt(store: ObjectStore, tree: string, path: string): Promise<TreeEntry | null> {
  const parts = path.split('/');
  let entries = await store.readTree(tree);
  for (let i = 0; i < parts.length; i++) {
    const entry = entries.find((e) => e.path === parts[i]);
    if (!entry) return null;
    if (i === parts.length - 1) return entry;
    if (entry.type !== 'tree') return null;
    entries = await store.readTree(entry.oid);
  }
  return null;
}

/**
 * Returns a tree equal to `tree` except that `path` holds `entry` (or nothing when null).
 * Directories left empty disappear, as in git. Returns null when the whole tree is empty.
 */
export async function replaceEntryAt(store: ObjectStore, tree: string | null, path: string, entry: TreeEntry | null): Promise<string | null> {
  const [name, ...rest] = path.split('/');
  const entries = tree ? [...(await store.readTree(tree))] : [];
  const index = entries.findIndex((e) => e.path === name);
  const current = index >= 0 ? entries[index] : null;
  let replacement: TreeEntry | null;
  if (rest.length === 0) {
    replacement = entry ? { ...entry, path: name } : null;
  } else {
    const subtree = current?.type === 'tree' ? current.oid : null;
    const oid = await replaceEntryAt(store, subtree, rest.join('/'), entry);
    replacement = oid ? { mode: TREE_MODE, path: name, oid, type: 'tree' } : null;
  }
  if (current && replacement && current.oid === replacement.oid && current.mode === replacement.mode) return tree;
  if (index >= 0) entries.splice(index, 1);
  if (replacement) entries.push(replacement);
  if (!entries.length) return null;
  return store.writeTree(entries);
}

/** Paths (files, symlinks, gitlinks) whose entry differs between two trees, sorted. */
export async function diffTreePaths(store: ObjectStore, a: string | null, b: string | null, prefix = ''): Promise<string[]> {
  if (a === b) return [];
  const left = a ? await store.walkTree(a) : [];
  const right = b ? await store.walkTree(b) : [];
  const leftByName = new Map(left.map((e) => [e.path, e]));
  const rightByName = new Map(right.map((e) => [e.path, e]));
  const names = [...new Set([...leftByName.keys(), ...rightByName.keys()])].sort();
  const changed: string[] = [];
  for (const name of names) {
    const l = leftByName.get(name);
    const r = rightByName.get(name);
    if (l && r && l.oid === r.oid && l.mode === r.mode) continue;
    const path = prefix + name;
    const lTree = l?.type === 'tree' ? l.oid : null;
    const rTree = r?.type === 'tree' ? r.oid : null;
    if (lTree || rTree) changed.push(...(await diffTreePaths(store, lTree, rTree, `${path}/`)));
    if ((l && l.type !== 'tree') || (r && r.type !== 'tree')) changed.push(path);
  }
  return changed.sort();
}
