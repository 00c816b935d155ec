/**
 * Reads and writes git objects in a bare repository through isomorphic-git, with a shared
 * cache, and remembers every object it writes: those are exactly the objects a push must send.
 */
import git, { type TreeEntry } from 'isomorphic-git';
import type * as nodeFs from 'node:fs';

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

export class ObjectStore {
  /** isomorphic-git's object cache (parsed packfile indexes); one per store. */
  private readonly cache = {};
  private readonly trees = new Map<string, TreeEntry[]>();
  private readonly commits = new Map<string, CommitData>();
  /** OIDs of objects this store wrote, in write order. */
  readonly written = new Set<string>();

  constructor(readonly fs: Fs, readonly gitdir: string) {}

  async readTree(oid: string): Promise<TreeEntry[]> {
    let entries = this.trees.get(oid);
    if (!entries) {
      const result = await git.readTree({ fs: this.fs, gitdir: this.gitdir, oid, cache: this.cache });
      entries = result.tree;
      this.trees.set(oid, entries);
    }
    return entries;
  }

  async readBlob(oid: string): Promise<Uint8Array> {
    const { blob } = await git.readBlob({ fs: this.fs, gitdir: this.gitdir, oid, cache: this.cache });
    return blob;
  }

  async readCommit(oid: string): Promise<CommitData> {
    let commit = this.commits.get(oid);
    if (!commit) {
      const result = await git.readCommit({ fs: this.fs, gitdir: this.gitdir, oid, cache: this.cache });
      const c = result.commit;
      commit = {
        oid: result.oid,
        tree: c.tree,
        parents: c.parent,
        message: c.message,
        author: c.author,
        committer: c.committer,
      };
      this.commits.set(oid, commit);
    }
    return commit;
  }

  /** True when the object exists locally (loose or packed). */
  async has(oid: string): Promise<boolean> {
    try {
      await git.readObject({ fs: this.fs, gitdir: this.gitdir, oid, format: 'deflated', cache: this.cache });
      return true;
    } catch {
      return false;
    }
  }

  async writeBlob(blob: Uint8Array): Promise<string> {
    const oid = await git.writeBlob({ fs: this.fs, gitdir: this.gitdir, blob });
    this.written.add(oid);
    return oid;
  }

  /** Writes a tree; entries are sorted by isomorphic-git in git's order. */
  async writeTree(entries: TreeEntry[]): Promise<string> {
    const oid = await git.writeTree({ fs: this.fs, gitdir: this.gitdir, tree: entries });
    this.written.add(oid);
    return oid;
  }

  async writeCommit(commit: Omit<CommitData, 'oid'>): Promise<string> {
    const oid = await git.writeCommit({
      fs: this.fs,
      gitdir: this.gitdir,
      commit: { tree: commit.tree, parent: commit.parents, message: commit.message, author: commit.author, committer: commit.committer },
    });
    this.written.add(oid);
    return oid;
  }
}
