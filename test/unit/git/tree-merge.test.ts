import * as fs from 'node:fs';
import { ObjectStore } from '../../../src/git/object-store.js';
import { mergeTrees, type TreeMergeResult } from '../../../src/git/tree-merge.js';
import { GitFixture, commitSnapshot, type Snapshot } from '../../helpers/git-fixture.js';

const fx = new GitFixture();
afterAll(() => fx.cleanup());

interface Outcome {
  git: { clean: boolean; tree: string; conflictedPaths: string[] };
  engine: TreeMergeResult;
  store: ObjectStore;
}

/** Commits base, ours and theirs (children of base), then merges them with git and with the engine. */
async function mergeBoth(base: Snapshot, ours: Snapshot, theirs: Snapshot): Promise<Outcome> {
  const builder = new ObjectStore(fs, fx.gitdir);
  const b = await commitSnapshot(builder, base);
  const o = await commitSnapshot(builder, ours, [b.commit]);
  const t = await commitSnapshot(builder, theirs, [b.commit]);
  const git = fx.mergeTree(o.commit, t.commit);
  const store = new ObjectStore(fs, fx.gitdir);
  const engine = await mergeTrees(store, b.tree, o.tree, t.tree);
  return { git, engine, store };
}

const yaml = (...lines: string[]): string => lines.map((l) => `${l}\n`).join('');
const deploy = (image: string, replicas = 2): string =>
  yaml(
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata:',
    '  name: web',
    'spec:',
    `  replicas: ${replicas}`,
    '  template:',
    '    spec:',
    '      containers:',
    '        - name: web',
    `          image: ${image}`,
    '          ports:',
    '            - containerPort: 8080',
  );
const long = (tag: string): string => yaml(...Array.from({ length: 30 }, (_, i) => `line ${i} of a long manifest ${tag === 'base' || i !== 15 ? '' : tag}`));
const BIN = (n: number): Buffer => Buffer.from([0, 1, 2, n, 0, 5]);
const SUB1 = '1'.repeat(40),
  SUB2 = '2'.repeat(40),
  SUB3 = '3'.repeat(40);

interface Case {
  name: string;
  base: Snapshot;
  ours: Snapshot;
  theirs: Snapshot;
  /** git's outcome, asserted too so the name stays true. */
  clean: boolean;
  reason?: string;
  /** Extra check of the merged tree's content. */
  content?: Record<string, string>;
}

const cases: Case[] = [
  {
    name: 'edits to different files merge cleanly',
    base: { 'a.yaml': deploy('v1'), 'b.yaml': deploy('v1') },
    ours: { 'a.yaml': deploy('v2'), 'b.yaml': deploy('v1') },
    theirs: { 'a.yaml': deploy('v1'), 'b.yaml': deploy('v1', 3) },
    clean: true,
  },
  {
    name: 'distant edits to one file merge cleanly',
    base: { 'a.yaml': deploy('v1') },
    ours: { 'a.yaml': deploy('v2') },
    theirs: { 'a.yaml': deploy('v1').replace('name: web\nspec', 'name: api\nspec') },
    clean: true,
  },
  {
    name: 'overlapping edits conflict on content',
    base: { 'a.yaml': deploy('v1') },
    ours: { 'a.yaml': deploy('v2') },
    theirs: { 'a.yaml': deploy('v3') },
    clean: false,
    reason: 'content',
  },
  {
    name: 'adjacent edits conflict on content',
    base: { 'a.yaml': yaml('a', 'b', 'c', 'd') },
    ours: { 'a.yaml': yaml('a', 'B', 'c', 'd') },
    theirs: { 'a.yaml': yaml('a', 'b', 'C', 'd') },
    clean: false,
    reason: 'content',
  },
  {
    name: 'identical edits on both sides merge cleanly',
    base: { 'a.yaml': deploy('v1'), x: 'x\n' },
    ours: { 'a.yaml': deploy('v2'), x: 'x\n' },
    theirs: { 'a.yaml': deploy('v2'), x: 'y\n' },
    clean: true,
  },
  {
    name: 'adds and deletes on both sides merge cleanly',
    base: { a: 'a\n', b: 'b\n', 'd/c': 'c\n' },
    ours: { a: 'a\n', 'd/c': 'c\n', 'd/new': 'n\n' },
    theirs: { b: 'b\n', 'd/c': 'c\n', 'e/f': 'f\n' },
    clean: true,
  },
  {
    name: 'add/add with different content conflicts',
    base: { a: 'a\n' },
    ours: { a: 'a\n', n: yaml('x', 'y') },
    theirs: { a: 'a\n', n: yaml('x', 'z') },
    clean: false,
    reason: 'add/add',
  },
  {
    name: 'add/add with identical content merges cleanly',
    base: { a: 'a\n' },
    ours: { a: 'a\n', n: 'same\n' },
    theirs: { a: 'a\n', n: 'same\n' },
    clean: true,
  },
  {
    name: 'add/add of an empty file and a full one takes the full one (git two-way merge)',
    base: { a: 'a\n' },
    ours: { a: 'a\n', n: '' },
    theirs: { a: 'a\n', n: 'full\n' },
    clean: true,
  },
  {
    name: 'add/add with same content and different modes conflicts',
    base: { a: 'a\n' },
    ours: { a: 'a\n', n: 'x\n' },
    theirs: { a: 'a\n', n: { content: 'x\n', exec: true } },
    clean: false,
  },
  {
    name: 'modify/delete conflicts',
    base: { a: deploy('v1'), b: 'b\n' },
    ours: { a: deploy('v2'), b: 'b\n' },
    theirs: { b: 'b\n' },
    clean: false,
    reason: 'modify/delete',
  },
  { name: 'delete on both sides merges cleanly', base: { a: 'a\n', b: 'b\n' }, ours: { b: 'b\n' }, theirs: { b: 'B\n' }, clean: true },
  {
    name: 'executable bit on one side and content on the other merge cleanly',
    base: { 's.sh': yaml('echo 1', 'echo 2', 'echo 3') },
    ours: { 's.sh': { content: yaml('echo 1', 'echo 2', 'echo 3'), exec: true } },
    theirs: { 's.sh': yaml('echo 1', 'echo 2', 'echo 4') },
    clean: true,
  },
  {
    name: 'binary changed on both sides conflicts as binary',
    base: { 'b.bin': BIN(1) },
    ours: { 'b.bin': BIN(2) },
    theirs: { 'b.bin': BIN(3) },
    clean: false,
    reason: 'binary',
  },
  {
    name: 'binary changed on one side merges cleanly',
    base: { 'b.bin': BIN(1), a: 'a\n' },
    ours: { 'b.bin': BIN(2), a: 'a\n' },
    theirs: { 'b.bin': BIN(1), a: 'b\n' },
    clean: true,
  },
  {
    name: 'symlink retargeted on both sides conflicts as symlink',
    base: { l: { link: 'a' } },
    ours: { l: { link: 'b' } },
    theirs: { l: { link: 'c' } },
    clean: false,
    reason: 'symlink',
  },
  {
    name: 'symlink retargeted on one side merges cleanly',
    base: { l: { link: 'a' }, x: 'x\n' },
    ours: { l: { link: 'b' }, x: 'x\n' },
    theirs: { l: { link: 'a' }, x: 'y\n' },
    clean: true,
  },
  {
    name: 'submodule moved on both sides conflicts as submodule',
    base: { m: { gitlink: SUB1 } },
    ours: { m: { gitlink: SUB2 } },
    theirs: { m: { gitlink: SUB3 } },
    clean: false,
    reason: 'submodule',
  },
  {
    name: 'submodule moved on one side merges cleanly',
    base: { m: { gitlink: SUB1 }, x: 'x\n' },
    ours: { m: { gitlink: SUB2 }, x: 'x\n' },
    theirs: { m: { gitlink: SUB1 }, x: 'y\n' },
    clean: true,
  },
  {
    name: 'file on one side and directory on the other conflicts as file/directory',
    base: { a: 'a\n' },
    ours: { a: 'a\n', d: 'file\n' },
    theirs: { a: 'a\n', 'd/x': 'x\n' },
    clean: false,
    reason: 'file/directory',
  },
  {
    name: 'file replaced by a directory on one side while modified on the other conflicts',
    base: { d: yaml('1', '2') },
    ours: { 'd/x': 'x\n' },
    theirs: { d: yaml('1', '3') },
    clean: false,
  },
  {
    name: 'file turned symlink on one side and modified on the other conflicts',
    base: { a: yaml('1', '2') },
    ours: { a: { link: 'target' } },
    theirs: { a: yaml('1', '3') },
    clean: false,
  },
  {
    name: 'directory emptied by both sides vanishes',
    base: { 'd/x': 'x\n', 'd/y': 'y\n', k: 'k\n' },
    ours: { 'd/y': 'y\n', k: 'k\n' },
    theirs: { 'd/x': 'x\n', k: 'k\n' },
    clean: true,
  },
  {
    name: 'missing final newline is a line of its own',
    base: { a: 'a\nb\nc' },
    ours: { a: 'a\nB\nc' },
    theirs: { a: 'a\nb\nc\n' },
    clean: false,
    reason: 'content',
  },
  {
    name: 'rename on theirs with a modification on ours merges content at the new path',
    base: { 'apps/web.yaml': long('base'), k: 'k\n' },
    ours: { 'apps/web.yaml': long('base').replace('line 2 ', 'line two '), k: 'k\n' },
    theirs: { 'apps/frontend.yaml': long('base').replace('line 29 ', 'line 29 renamed '), k: 'k\n' },
    clean: true,
  },
  {
    name: 'rename on ours with a modification on theirs merges content at the new path',
    base: { 'a/web.yaml': long('base'), 'b/other': 'o\n' },
    ours: { 'b/web.yaml': long('base'), 'b/other': 'o\n' },
    theirs: { 'a/web.yaml': long('tweak'), 'b/other': 'o\n' },
    clean: true,
  },
  {
    name: 'rename into a directory the other side did not touch merges cleanly',
    base: { 'a/web.yaml': long('base'), 'z/deep/keep': 'k\n', 'z/deep/k2': 'k2\n' },
    ours: { 'a/web.yaml': long('tweak'), 'z/deep/keep': 'k\n', 'z/deep/k2': 'k2\n' },
    theirs: { 'z/deep/web.yaml': long('base'), 'z/deep/keep': 'k\n', 'z/deep/k2': 'k2\n' },
    clean: true,
  },
  {
    name: 'rename on one side with conflicting edits conflicts on content',
    base: { 'web.yaml': long('base') },
    ours: { 'web.yaml': long('ours') },
    theirs: { 'site.yaml': long('theirs') },
    clean: false,
  },
  {
    name: 'same rename on both sides merges content at the target',
    base: { 'web.yaml': long('base') },
    ours: { 'site.yaml': long('base').replace('line 1 ', 'line one ') },
    theirs: { 'site.yaml': long('base').replace('line 28 ', 'line 28th ') },
    clean: true,
  },
  {
    name: 'rename on one side and delete on the other conflicts as rename/delete',
    base: { 'web.yaml': long('base'), k: 'k\n' },
    ours: { 'site.yaml': long('base'), k: 'k\n' },
    theirs: { k: 'K\n' },
    clean: false,
    reason: 'rename/delete',
  },
  {
    name: 'renames to different targets conflict as rename/rename',
    base: { 'web.yaml': long('base') },
    ours: { 'site.yaml': long('base') },
    theirs: { 'www.yaml': long('base') },
    clean: false,
    reason: 'rename/rename',
  },
  {
    name: 'rename target added on the other side conflicts as rename/add',
    base: { 'web.yaml': long('base') },
    ours: { 'site.yaml': long('base') },
    theirs: { 'web.yaml': long('tweak'), 'site.yaml': 'other\n' },
    clean: false,
    reason: 'rename/add',
  },
  {
    name: 'file added in a directory the other side renamed conflicts as directory-rename',
    base: { 'old/a.yaml': long('a'), 'old/b.yaml': deploy('b'), k: 'k\n' },
    ours: { 'new/a.yaml': long('a'), 'new/b.yaml': deploy('b'), k: 'k\n' },
    theirs: { 'old/a.yaml': long('a'), 'old/b.yaml': deploy('b'), 'old/c.yaml': 'c\n', k: 'k\n' },
    clean: false,
    reason: 'directory-rename',
  },
  {
    name: 'file added in a directory the other side deleted merges cleanly',
    base: { 'old/a.yaml': long('a'), k: 'k\n' },
    ours: { k: 'k\n' },
    theirs: { 'old/a.yaml': long('a'), 'old/c.yaml': 'c\n', k: 'k\n' },
    clean: true,
  },
  {
    name: 'a revert of a renamed-then-renamed-again file conflicts as rename/rename',
    base: { 'mid.yaml': long('base') },
    ours: { 'final.yaml': long('base') },
    theirs: { 'first.yaml': long('base') },
    clean: false,
    reason: 'rename/rename',
  },
  // Renames across a file<->directory change. ort only conflicts when a file and a non-empty
  // directory meet in the result: a directory emptied by the rename itself is no obstacle.
  {
    name: 'revert of a file-to-directory move keeps the later edit at the file path (git clean)',
    base: { 'd/p.yaml/main.yaml': long('base'), k: 'k\n' },
    ours: { 'd/p.yaml/main.yaml': long('edit'), k: 'k\n' },
    theirs: { 'd/p.yaml': long('base'), k: 'k\n' },
    clean: true,
    content: { 'd/p.yaml': long('edit') },
  },
  {
    name: 'revert of a file-to-directory move with an inexact rename merges content at the file path',
    base: { 'd/p.yaml/main.yaml': long('base'), k: 'k\n' },
    ours: { 'd/p.yaml/main.yaml': long('base').replace('line 2 ', 'line two '), k: 'k\n' },
    theirs: { 'd/p.yaml': long('base').replace('line 29 ', 'line 29 old '), k: 'k\n' },
    clean: true,
  },
  {
    name: 'rename onto a directory whose other files the renaming side deleted unchanged merges cleanly',
    base: { 'd/p.yaml/main.yaml': long('base'), 'd/p.yaml/extra.yaml': 'x\n', k: 'k\n' },
    ours: { 'd/p.yaml/main.yaml': long('edit'), 'd/p.yaml/extra.yaml': 'x\n', k: 'k\n' },
    theirs: { 'd/p.yaml': long('base'), k: 'k\n' },
    clean: true,
  },
  {
    name: 'rename onto a directory that still holds a file added on the other side conflicts',
    base: { 'd/p.yaml/main.yaml': long('base'), k: 'k\n' },
    ours: { 'd/p.yaml/main.yaml': long('edit'), 'd/p.yaml/extra.yaml': 'x\n', k: 'k\n' },
    theirs: { 'd/p.yaml': long('base'), k: 'k\n' },
    clean: false,
  },
  {
    name: 'rename onto a directory that still holds a subtree added on the other side conflicts',
    base: { 'd/p.yaml/main.yaml': long('base'), k: 'k\n' },
    ours: { 'd/p.yaml/main.yaml': long('edit'), 'd/p.yaml/sub/x.yaml': 'x\n', k: 'k\n' },
    theirs: { 'd/p.yaml': long('base'), k: 'k\n' },
    clean: false,
  },
  {
    name: 'rename onto a directory whose other file the other side modified conflicts',
    base: { 'd/p.yaml/main.yaml': long('base'), 'd/p.yaml/extra.yaml': 'x\n', k: 'k\n' },
    ours: { 'd/p.yaml/main.yaml': long('edit'), 'd/p.yaml/extra.yaml': 'y\n', k: 'k\n' },
    theirs: { 'd/p.yaml': long('base'), k: 'k\n' },
    clean: false,
  },
  {
    name: 'rename onto a directory the other side left untouched merges cleanly',
    base: { 'x/a': 'a\n', 's.yaml': long('base'), k: 'k\n' },
    ours: { 'x/a': 'a\n', 's.yaml': long('edit'), k: 'k\n' },
    theirs: { x: long('base'), k: 'k\n' },
    clean: true,
  },
  {
    name: 'rename onto a directory whose file the other side modified conflicts',
    base: { 'x/a': 'a\n', 's.yaml': long('base'), k: 'k\n' },
    ours: { 'x/a': 'b\n', 's.yaml': long('edit'), k: 'k\n' },
    theirs: { x: long('base'), k: 'k\n' },
    clean: false,
  },
  {
    name: 'revert of an edit to a file later moved into a directory of its name undoes it there (git clean)',
    base: { 'p.yaml': long('edit'), k: 'k\n' },
    ours: { 'p.yaml/main.yaml': long('edit'), k: 'k\n' },
    theirs: { 'p.yaml': long('base'), k: 'k\n' },
    clean: true,
    content: { 'p.yaml/main.yaml': long('base') },
  },
  {
    name: 'file moved into a directory of its name with a sibling added merges cleanly',
    base: { 'p.yaml': long('edit'), k: 'k\n' },
    ours: { 'p.yaml/main.yaml': long('edit'), 'p.yaml/extra.yaml': 'x\n', k: 'k\n' },
    theirs: { 'p.yaml': long('base'), k: 'k\n' },
    clean: true,
  },
  {
    name: 'file replaced by a directory of its name without a detected rename conflicts',
    base: { 'p.yaml': long('edit'), k: 'k\n' },
    ours: { 'p.yaml/main.yaml': 'unrelated\n', k: 'k\n' },
    theirs: { 'p.yaml': long('base'), k: 'k\n' },
    clean: false,
  },
  {
    name: 'rename below a path whose file the renaming side deleted and the other kept merges cleanly',
    base: { 'p.yaml': 'p\n', 'q.yaml': long('base'), k: 'k\n' },
    ours: { 'p.yaml/q.yaml': long('base'), k: 'k\n' },
    theirs: { 'p.yaml': 'p\n', 'q.yaml': long('edit'), k: 'k\n' },
    clean: true,
  },
  {
    name: 'rename below a path whose file the other side modified conflicts',
    base: { 'p.yaml': 'p\n', 'q.yaml': long('base'), k: 'k\n' },
    ours: { 'p.yaml/q.yaml': long('base'), k: 'k\n' },
    theirs: { 'p.yaml': 'P\n', 'q.yaml': long('edit'), k: 'k\n' },
    clean: false,
  },
  {
    name: 'rename out of a directory onto its own path conflicts when the other side added a file there',
    base: { 'a/b': long('base'), k: 'k\n' },
    ours: { a: long('base').replace('line 3 ', 'x'), k: 'k\n' },
    theirs: { 'a/b': long('edit'), 'a/c': 'c\n', k: 'k\n' },
    clean: false,
  },
  {
    name: "rename out of a directory onto its own path merges the other side's edit there",
    base: { 'a/b/c': long('base'), k: 'k\n' },
    ours: { 'a/b': long('base'), k: 'k\n' },
    theirs: { 'a/b/c': long('edit'), k: 'k\n' },
    clean: true,
  },
  // ort recurses into trees both sides changed alike: files they both removed are rename sources.
  {
    name: 'a file both sides renamed differently out of a directory they changed alike conflicts as rename/rename',
    base: { 'apps/web/a.yaml': long('base'), 'apps/web/keep': 'k\n' },
    ours: { 'apps/web/keep': 'k\n', 'apps/api/b.yaml': long('base') },
    theirs: { 'apps/web/keep': 'k\n', 'staging/c.yaml': long('base').replace('line 3 ', 'line three ') },
    clean: false,
    reason: 'rename/rename',
  },
  {
    name: 'a file both sides renamed alike out of a directory they changed alike merges at the target',
    base: { 'apps/web/a.yaml': long('base'), 'apps/web/keep': 'k\n' },
    ours: { 'apps/web/keep': 'k\n', 'x/a.yaml': long('base').replace('line 1 ', 'line one ') },
    theirs: { 'apps/web/keep': 'k\n', 'x/a.yaml': long('base').replace('line 28 ', 'line 28th ') },
    clean: true,
  },
  {
    name: 'a file both sides replaced by the same directory and renamed differently conflicts as rename/rename',
    base: { 'p.yaml': long('base') },
    ours: { 'p.yaml/a': 'a\n', 'q.yaml': long('base') },
    theirs: { 'p.yaml/a': 'a\n', 'r.yaml': long('base') },
    clean: false,
    reason: 'rename/rename',
  },
];

describe('mergeTrees agrees with git merge-tree', () => {
  test.each(cases)('$name', async (c) => {
    const { git, engine } = await mergeBoth(c.base, c.ours, c.theirs);
    expect(git.clean).toBe(c.clean);
    expect(engine.conflicts.length === 0).toBe(git.clean);
    if (git.clean) expect(engine.tree).toBe(git.tree);
    if (c.reason) expect(engine.conflicts.map((x) => x.reason)).toContain(c.reason);
    for (const [p, text] of Object.entries(c.content ?? {})) expect(fx.show(git.tree, p)).toBe(text.trimEnd());
  });
});

describe('mergeTrees result', () => {
  test('changedPaths lists the files that differ from ours', async () => {
    const { engine } = await mergeBoth(
      { 'a/x': '1\n', 'a/y': '1\n', b: '1\n' },
      { 'a/x': '2\n', 'a/y': '1\n', b: '1\n' },
      { 'a/x': '1\n', b: '1\n', 'c/d': 'new\n' },
    );
    expect(engine.changedPaths).toEqual(['a/y', 'c/d']);
  });

  test('written holds only objects the merge created', async () => {
    const { engine, store, git } = await mergeBoth(
      { 'd/a': long('base'), 'e/b': 'b\n' },
      { 'd/a': long('base').replace('line 1 ', 'L1 '), 'e/b': 'b\n' },
      { 'd/a': long('tweak'), 'e/b': 'b\n' },
    );
    expect(engine.tree).toBe(git.tree);
    // one merged blob, the new d/ and the new root
    expect(store.written.size).toBe(3);
    expect(store.written.has(engine.tree)).toBe(true);
  });

  test('a conflicting merge writes nothing', async () => {
    const { engine, store } = await mergeBoth({ a: deploy('v1') }, { a: deploy('v2') }, { a: deploy('v3') });
    expect(engine.conflicts).toEqual([{ path: 'a', reason: 'content' }]);
    expect(store.written.size).toBe(0);
  });
});

describe('mergeTrees cost', () => {
  test('a one-file change in a wide tree reads only the trees on its path', async () => {
    const snapshot: Snapshot = {};
    for (let d = 0; d < 40; d++) for (let f = 0; f < 8; f++) snapshot[`dir${d}/sub/f${f}.yaml`] = `v: ${d}-${f}\n`;
    const builder = new ObjectStore(fs, fx.gitdir);
    const base = await commitSnapshot(builder, snapshot);
    const ours = await commitSnapshot(builder, { ...snapshot, 'dir7/sub/f3.yaml': 'v: changed\n' });
    const theirs = await commitSnapshot(builder, { ...snapshot, 'dir20/sub/f9.yaml': 'v: other\n' });
    const store = new ObjectStore(fs, fx.gitdir);
    const reads: string[] = [];
    const readTree = store.readTree.bind(store);
    store.readTree = async (oid: string) => {
      reads.push(oid);
      return readTree(oid);
    };
    const result = await mergeTrees(store, base.tree, ours.tree, theirs.tree);
    expect(result.conflicts).toEqual([]);
    expect(result.changedPaths).toEqual(['dir20/sub/f9.yaml']);
    // 3 roots, then per changed dir: base/ours/theirs dir7 and dir20 (+ sub), plus the diff against ours
    expect(new Set(reads).size).toBeLessThanOrEqual(14);
  });
});

describe('mergeTrees on random YAML edits', () => {
  test('agrees with git on 300 seeded random cases', async () => {
    const rand = seeded(20240607);
    const disagreements: string[] = [];
    const seen = { clean: 0, conflict: 0, realMerges: 0 };
    for (let i = 0; i < 300; i++) {
      const base = randomYaml(rand);
      const ours = mutate(base, rand);
      const theirs = mutate(base, rand);
      const { git, engine } = await mergeBoth({ 'app/config.yaml': base }, { 'app/config.yaml': ours }, { 'app/config.yaml': theirs });
      const agree = git.clean ? engine.tree === git.tree : engine.conflicts.length > 0;
      if (!agree) disagreements.push(JSON.stringify({ base, ours, theirs, gitClean: git.clean }));
      seen[git.clean ? 'clean' : 'conflict']++;
      if (git.clean && ours !== base && theirs !== base && ours !== theirs) seen.realMerges++;
    }
    expect(disagreements).toEqual([]);
    // The generator must exercise both decisions and real three-way merges.
    expect(seen.clean).toBeGreaterThan(50);
    expect(seen.conflict).toBeGreaterThan(50);
    expect(seen.realMerges).toBeGreaterThan(20);
  });
});

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const KEYS = ['name', 'image', 'replicas', 'port', 'env', 'value', '- name: x', '- name: y', '', '---', 'labels:', '  app: web'];

function randomYaml(rand: () => number): string {
  const n = 4 + Math.floor(rand() * 14);
  return Array.from({ length: n }, () => `${KEYS[Math.floor(rand() * KEYS.length)]}${rand() < 0.5 ? `: ${Math.floor(rand() * 4)}` : ''}\n`).join('');
}

function mutate(text: string, rand: () => number): string {
  const lines = text.split(/(?<=\n)/);
  const edits = Math.floor(rand() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rand() * (lines.length + 1));
    const op = rand();
    const line = `${KEYS[Math.floor(rand() * KEYS.length)]}: ${Math.floor(rand() * 4)}\n`;
    if (op < 0.35 && at < lines.length) lines[at] = line;
    else if (op < 0.65) lines.splice(at, 0, line);
    else if (op < 0.9 && at < lines.length) lines.splice(at, 1);
    else if (lines.length > 0) lines[lines.length - 1] = lines[lines.length - 1].replace(/\n$/, '');
  }
  return lines.join('');
}
