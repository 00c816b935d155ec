/**
 * Builds throwaway repositories with the git CLI so tests can compare the engine with git
 * itself (the oracle). Every command runs with a fixed identity and default merge options.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { TreeEntry } from 'isomorphic-git';
import type { ObjectStore } from '../../src/git/object-store.js';

/** Files of a commit: path -> content, or `{ link }` for a symlink, `{ content, exec }`, `{ gitlink }`. */
export type FileSpec = string | Buffer | { content: string | Buffer; exec?: boolean } | { link: string } | { gitlink: string };
export type Snapshot = Record<string, FileSpec>;

const ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@example.com',
  GIT_AUTHOR_DATE: '1700000000 +0000',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@example.com',
  GIT_COMMITTER_DATE: '1700000000 +0000',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
};

/** A temporary repository; `gitdir` is its .git directory. */
export class GitFixture {
  readonly dir: string;
  readonly gitdir: string;

  constructor() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tree-merge-'));
    this.gitdir = path.join(this.dir, '.git');
    this.git('init', '-q', '-b', 'main');
  }

  git(...args: string[]): string {
    return execFileSync('git', args, { cwd: this.dir, env: ENV, encoding: 'utf8', maxBuffer: 1 << 28 }).trim();
  }

  /** Writes a blob with `git hash-object -w` and returns its OID. */
  blob(content: string | Buffer): string {
    return execFileSync('git', ['hash-object', '-w', '--stdin'], { cwd: this.dir, env: ENV, input: content, encoding: 'utf8' }).trim();
  }

  /** Builds a tree for a snapshot through a temporary index; returns the tree OID. */
  tree(snapshot: Snapshot): string {
    const index = path.join(this.gitdir, `index-${process.pid}`);
    fs.rmSync(index, { force: true });
    const lines: string[] = [];
    for (const [p, spec] of Object.entries(snapshot)) {
      if (typeof spec === 'string' || Buffer.isBuffer(spec)) lines.push(`100644 ${this.blob(spec)}\t${p}`);
      else if ('link' in spec) lines.push(`120000 ${this.blob(spec.link)}\t${p}`);
      else if ('gitlink' in spec) lines.push(`160000 ${spec.gitlink}\t${p}`);
      else lines.push(`${spec.exec ? '100755' : '100644'} ${this.blob(spec.content)}\t${p}`);
    }
    const env = { ...ENV, GIT_INDEX_FILE: index };
    execFileSync('git', ['update-index', '--index-info'], { cwd: this.dir, env, input: lines.join('\n') + '\n' });
    const oid = execFileSync('git', ['write-tree'], { cwd: this.dir, env, encoding: 'utf8' }).trim();
    fs.rmSync(index, { force: true });
    return oid;
  }

  commit(snapshot: Snapshot, parents: string[] = []): string {
    const tree = this.tree(snapshot);
    return this.git('commit-tree', tree, ...parents.flatMap((p) => ['-p', p]), '-m', 'c');
  }

  /** Runs `git merge-tree --write-tree`; clean merges return the tree, conflicts the paths. */
  mergeTree(ours: string, theirs: string): { clean: boolean; tree: string; conflictedPaths: string[] } {
    const r = spawnSync('git', ['-c', 'merge.conflictStyle=merge', 'merge-tree', '--write-tree', '--name-only', '--no-messages', ours, theirs], {
      cwd: this.dir,
      env: ENV,
      encoding: 'utf8',
    });
    if (r.status !== 0 && r.status !== 1) throw new Error(`git merge-tree failed: ${r.stderr}`);
    const lines = r.stdout.split('\n').filter((l) => l.length > 0);
    return { clean: r.status === 0, tree: lines[0], conflictedPaths: [...new Set(lines.slice(1))].sort() };
  }

  /** The content of `path` in a tree. */
  show(tree: string, p: string): string {
    return this.git('cat-file', 'blob', `${tree}:${p}`);
  }

  cleanup(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Writes a snapshot's blobs and trees in-process (much faster than the CLI); returns the tree. */
export async function writeSnapshot(store: ObjectStore, snapshot: Snapshot): Promise<string> {
  const root: DirSpec = new Map();
  for (const [p, spec] of Object.entries(snapshot)) {
    const parts = p.split('/');
    let dir = root;
    for (const part of parts.slice(0, -1)) {
      let next = dir.get(part);
      if (!(next instanceof Map)) {
        next = new Map();
        dir.set(part, next);
      }
      dir = next;
    }
    dir.set(parts[parts.length - 1], spec);
  }
  return writeDir(store, root);
}

type DirSpec = Map<string, FileSpec | DirSpec>;

async function writeDir(store: ObjectStore, dir: DirSpec): Promise<string> {
  const entries: TreeEntry[] = [];
  for (const [name, spec] of dir) {
    if (spec instanceof Map) entries.push({ mode: '040000', path: name, oid: await writeDir(store, spec), type: 'tree' });
    else if (typeof spec === 'string' || Buffer.isBuffer(spec))
      entries.push({ mode: '100644', path: name, oid: await store.writeBlob(toBytes(spec)), type: 'blob' });
    else if ('link' in spec) entries.push({ mode: '120000', path: name, oid: await store.writeBlob(toBytes(spec.link)), type: 'blob' });
    else if ('gitlink' in spec) entries.push({ mode: '160000', path: name, oid: spec.gitlink, type: 'commit' });
    else entries.push({ mode: spec.exec ? '100755' : '100644', path: name, oid: await store.writeBlob(toBytes(spec.content)), type: 'blob' });
  }
  return store.writeTree(entries);
}

function toBytes(s: string | Buffer): Uint8Array {
  return typeof s === 'string' ? new Uint8Array(Buffer.from(s)) : new Uint8Array(s);
}

/** Commits a snapshot in-process; returns the commit and tree OIDs. */
export async function commitSnapshot(store: ObjectStore, snapshot: Snapshot, parents: string[] = []): Promise<{ commit: string; tree: string }> {
  const tree = await writeSnapshot(store, snapshot);
  const who = { name: 't', email: 't@example.com', timestamp: 1700000000, timezoneOffset: 0 };
  const commit = await store.writeCommit({ tree, parents, message: 'c\n', author: who, committer: who });
  return { commit, tree };
}
