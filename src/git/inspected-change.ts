/**
 * The computed change as the engine shows it to its caller before publishing (the `inspect`
 * hook): the trees before and after, the changed paths, and readers for a file at either version.
 */
import type { ObjectStore } from './object-store.js';
import type { Plan } from './plan.js';
import { readEntryAt } from './tree-paths.js';

export interface InspectedChange {
  store: ObjectStore;
  /** The branch head the rollback was computed on, and its tree. */
  head: string;
  baseTree: string;
  /** The rollback's last commit, and its tree. */
  newHead: string;
  resultTree: string;
  changedPaths: string[];
  /** The blob at `path` in the base tree; null when absent or not a file. */
  readBefore(path: string): Promise<Uint8Array | null>;
  /** The blob at `path` in the result tree; null when absent or not a file. */
  readAfter(path: string): Promise<Uint8Array | null>;
}

/** Describes a planned rollback (outcome `rollback`) for inspection. */
export async function describePlannedChange(store: ObjectStore, plan: Plan): Promise<InspectedChange> {
  const baseTree = (await store.readCommit(plan.head)).tree;
  const newHead = plan.newHead!;
  const resultTree = (await store.readCommit(newHead)).tree;
  return {
    store,
    head: plan.head,
    baseTree,
    newHead,
    resultTree,
    changedPaths: plan.changedPaths,
    readBefore: (path) => readBlobAt(store, baseTree, path),
    readAfter: (path) => readBlobAt(store, resultTree, path),
  };
}

/** The content of the file (or symlink target) at `path`; null for a missing path, tree or gitlink. */
export async function readBlobAt(store: ObjectStore, tree: string, path: string): Promise<Uint8Array | null> {
  const entry = await readEntryAt(store, tree, path);
  if (!entry || entry.type !== 'blob') return null;
  return store.readBlob(entry.oid);
}
