/**
 * Oracle test: the engine's revert must equal `git revert` (the git CLI decides).
 *
 * For each seed a random history is built with git (test/helpers/random-history.ts) and cloned
 * bare for the engine. Several targets (one commit, 2-3 commits, a merge with -m 1) are reverted
 * by the engine (dry run) and by `git revert --no-edit` in the work tree, then compared:
 * - git clean      -> engine clean, same number of commits, same tree and message per commit,
 *                     same changed paths;
 * - git conflicts  -> engine throws RevertConflictError at the same commit;
 * - git "nothing to commit" (skipped with --skip) -> engine lists the commit as empty;
 * - git clean but engine conflicts: tolerated only for rename-ish reasons (conservative rename
 *   handling), and counted.
 * Commits the engine skips as already reverted (by reading "This reverts commit" lines) are
 * agreement when git finds their revert empty; otherwise counted as an idempotency divergence
 * (by design: later commits changed the same lines), except when the request itself also
 * reverts that revert: then skipping is wrong and fails.
 * Targets are named newest first by committer date, the order the engine applies them in.
 *
 * Reproduce one seed: ORACLE_SEED=123 (keeps its repositories and prints where they are).
 * More seeds: ORACLE_SEEDS=600, ORACLE_FIRST_SEED=1000.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runRollback, type RollbackResult } from '../../src/git/engine.js';
import { RevertConflictError, type Conflict } from '../../src/git/errors.js';
import { ObjectStore } from '../../src/git/object-store.js';
import { collectSideChanges, detectRenames } from '../../src/git/renames.js';
import { AUTHOR, GitRunner, Rng, buildRandomHistory, pickRevertTarget, type RandomHistory, type RevertTarget } from '../helpers/random-history.js';

const SINGLE_SEED = process.env.ORACLE_SEED ? Number(process.env.ORACLE_SEED) : undefined;
const SEED_COUNT = SINGLE_SEED !== undefined ? 1 : Number(process.env.ORACLE_SEEDS ?? 48);
const FIRST_SEED = SINGLE_SEED ?? Number(process.env.ORACLE_FIRST_SEED ?? 1);
const TARGETS_PER_HISTORY = 7;
const SEEDS_PER_BATCH = 8;

type Category = 'clean' | 'conflict' | 'empty' | 'already-reverted' | 'conservative' | 'already-reverted-divergent';

const stats: Record<Category, number> = { clean: 0, conflict: 0, empty: 0, 'already-reverted': 0, conservative: 0, 'already-reverted-divergent': 0 };
const notes: string[] = [];
const timings = { build: 0, engine: 0, git: 0 };
const counts = { cases: 0, failures: 0 };
let root = '';

interface GitCommit {
  sha: string;
  tree: string;
  message: string;
  reverts: string;
}

type GitOutcome =
  | { kind: 'done'; commits: GitCommit[]; empty: string[]; changedPaths: string[] }
  | { kind: 'conflict'; at: string; empty: string[]; output: string }
  | { kind: 'error'; detail: string };

type EngineOutcome = { kind: 'done'; result: RollbackResult } | { kind: 'conflict'; at: string; conflicts: Conflict[] } | { kind: 'error'; error: unknown };

const REVERTS_LINE = /^This reverts commit ([0-9a-f]{40})[.,]/m;

/** Reverts `target` with the git CLI on top of `head`, skipping empty reverts like the engine. */
function revertWithGit(git: GitRunner, head: string, target: RevertTarget): GitOutcome {
  const args = ['revert', '--no-edit', ...(target.mainline ? ['-m', String(target.mainline)] : []), ...target.commits];
  let run = git.try(args);
  const empty: string[] = [];
  for (;;) {
    if (run.status === 0) break;
    const output = run.stdout + run.stderr;
    const revertHeadFile = path.join(git.dir, '.git', 'REVERT_HEAD');
    const revertHead = fs.existsSync(revertHeadFile) ? fs.readFileSync(revertHeadFile, 'utf8').trim() : '';
    if (revertHead || git.run(['ls-files', '-u'])) return { kind: 'conflict', at: revertHead || '(unknown)', empty, output };
    if (!/nothing to commit|nothing added to commit/.test(output)) return { kind: 'error', detail: `git ${args.join(' ')} failed: ${output}` };
    // An empty revert. In a sequence, the stopped commit heads the todo list; skip it.
    const todoFile = path.join(git.dir, '.git', 'sequencer', 'todo');
    if (!fs.existsSync(todoFile)) {
      empty.push(target.commits[0]);
      break;
    }
    const abbrev = fs.readFileSync(todoFile, 'utf8').split('\n')[0].split(' ')[1];
    const stopped = target.commits.find((c) => c.startsWith(abbrev));
    if (!stopped) return { kind: 'error', detail: `cannot tell which commit git stopped at (${abbrev})` };
    empty.push(stopped);
    run = git.try(['revert', '--skip']);
  }
  const [list, diff] = git.shell(`git rev-list --reverse ${head}..HEAD && echo --- && git diff --name-only --no-renames -z ${head} HEAD`).split('---\n');
  const shas = list.split('\n').filter(Boolean);
  const commits = shas.length ? readCommits(git, shas) : [];
  const changedPaths = diff.split('\0').filter(Boolean).sort();
  return { kind: 'done', commits, empty, changedPaths };
}

/** Tree and exact message of each commit, with one `git cat-file --batch`. */
function readCommits(git: GitRunner, shas: string[]): GitCommit[] {
  const out = git.runRaw(['cat-file', '--batch'], `${shas.join('\n')}\n`);
  const commits: GitCommit[] = [];
  let at = 0;
  for (const sha of shas) {
    const headerEnd = out.indexOf(0x0a, at);
    const size = Number(out.subarray(at, headerEnd).toString('latin1').split(' ')[2]);
    const body = out.subarray(headerEnd + 1, headerEnd + 1 + size).toString('utf8');
    at = headerEnd + 1 + size + 1;
    const tree = /^tree ([0-9a-f]{40})$/m.exec(body)![1];
    const message = body.slice(body.indexOf('\n\n') + 2);
    commits.push({ sha, tree, message, reverts: REVERTS_LINE.exec(message)?.[1] ?? '' });
  }
  return commits;
}

async function revertWithEngine(bare: string, cacheDir: string, target: RevertTarget): Promise<EngineOutcome> {
  try {
    const result = await runRollback(
      {
        repository: { url: bare, branch: 'main' },
        action: { kind: 'revert', commits: target.commits, ...(target.mainline ? { mainline: target.mainline } : {}) },
        author: AUTHOR,
        dryRun: true,
      },
      { cacheDir },
    );
    return { kind: 'done', result };
  } catch (error) {
    if (error instanceof RevertConflictError) return { kind: 'conflict', at: error.data.commit, conflicts: error.data.conflicts };
    return { kind: 'error', error };
  }
}

function isRenameReason(reason: string): boolean {
  return reason === 'rename' || reason === 'directory-rename' || reason.startsWith('rename');
}

const sameSet = (a: string[], b: string[]): boolean => a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');

/** Compares both outcomes: a category on agreement, or a failure description. */
function compare(
  gitOut: GitOutcome,
  engine: EngineOutcome,
  revertersInRequest: Map<string, string>,
): { category: Category; detail?: string } | { failure: string } {
  if (gitOut.kind === 'error') return { failure: `oracle error: ${gitOut.detail}` };
  if (engine.kind === 'error') {
    const e = engine.error as Error;
    return { failure: `engine threw ${e?.constructor?.name}: ${e?.message ?? String(e)}` };
  }
  if (gitOut.kind === 'conflict') {
    if (engine.kind === 'conflict') {
      if (engine.at !== gitOut.at) return { failure: `both conflict, but git at ${gitOut.at} and engine at ${engine.at}` };
      return { category: 'conflict' };
    }
    if (engine.result.alreadyReverted.includes(gitOut.at))
      return { category: 'already-reverted-divergent', detail: `engine skips ${gitOut.at.slice(0, 8)} as already reverted, git conflicts on it` };
    return { failure: `git conflicts at ${gitOut.at} but the engine is clean (${engine.result.result}); git said: ${firstConflictLines(gitOut.output)}` };
  }
  if (engine.kind === 'conflict') {
    if (engine.conflicts.length && engine.conflicts.every((c) => isRenameReason(c.reason)))
      return { category: 'conservative', detail: engine.conflicts.map((c) => `${c.path} (${c.reason})`).join(', ') };
    return { failure: `git is clean but the engine conflicts at ${engine.at}: ${engine.conflicts.map((c) => `${c.path} (${c.reason})`).join(', ')}` };
  }
  const r = engine.result;
  const divergent = r.alreadyReverted.filter((c) => !gitOut.empty.includes(c));
  const undone = divergent.filter((c) => revertersInRequest.has(c));
  if (undone.length) {
    return {
      failure: `the engine skips ${undone.join(',')} as already reverted although this request also reverts its revert ${undone.map((c) => revertersInRequest.get(c)).join(',')}: git makes ${gitOut.commits.length} commit(s), the engine ${r.commits.length}, final trees ${r.commits.at(-1)?.tree} vs git's ${gitOut.commits.at(-1)?.tree}`,
    };
  }
  if (divergent.length)
    return {
      category: 'already-reverted-divergent',
      detail: `engine skips ${divergent.map((c) => c.slice(0, 8)).join(',')} as already reverted, git's revert of it is not empty (${gitOut.commits.length} commit(s))`,
    };
  const gitEmpty = gitOut.empty.filter((c) => !r.alreadyReverted.includes(c));
  if (!sameSet(gitEmpty, r.empty)) return { failure: `empty reverts differ: git ${JSON.stringify(gitEmpty)}, engine ${JSON.stringify(r.empty)}` };
  if (!gitOut.commits.length) {
    if (r.result !== 'empty' && r.result !== 'already-reverted')
      return { failure: `git made no commit but the engine result is ${r.result} with ${r.commits.length} commit(s)` };
    return { category: r.result === 'empty' ? 'empty' : 'already-reverted' };
  }
  if (r.result !== 'planned') return { failure: `git made ${gitOut.commits.length} commit(s) but the engine result is ${r.result}` };
  if (r.commits.length !== gitOut.commits.length) return { failure: `git made ${gitOut.commits.length} commit(s), the engine ${r.commits.length}` };
  for (let i = 0; i < r.commits.length; i++) {
    const ours = r.commits[i];
    const theirs = gitOut.commits[i];
    if (ours.reverts.join() !== theirs.reverts) return { failure: `commit ${i}: git reverts ${theirs.reverts}, engine ${ours.reverts.join()}` };
    if (ours.tree !== theirs.tree)
      return { failure: `commit ${i} (reverting ${theirs.reverts}): tree ${ours.tree} != git's ${theirs.tree}; git diff: ${theirs.sha}` };
    if (ours.message !== theirs.message) return { failure: `commit ${i}: message ${JSON.stringify(ours.message)} != git's ${JSON.stringify(theirs.message)}` };
  }
  const enginePaths = [...r.changedPaths].sort();
  if (enginePaths.join('\n') !== gitOut.changedPaths.join('\n'))
    return { failure: `changedPaths ${JSON.stringify(enginePaths)} != git's ${JSON.stringify(gitOut.changedPaths)}` };
  return { category: 'clean' };
}

function firstConflictLines(output: string): string {
  return (
    output
      .split('\n')
      .filter((l) => l.startsWith('CONFLICT'))
      .join(' | ') || output.split('\n')[0]
  );
}

/** Back to `head` with no revert in progress and no leftovers, in one spawn. */
function resetWorkTree(git: GitRunner, head: string): void {
  git.shell(`git reset -q --hard ${head} && rm -rf .git/sequencer .git/MERGE_MSG .git/AUTO_MERGE && git clean -q -f -d -x`);
}

function describeTarget(history: RandomHistory, target: RevertTarget): string {
  const ops = target.commits.map((sha) => {
    const commit = history.commits.find((c) => c.sha === sha);
    return `${sha.slice(0, 8)} [${commit?.ops.join('; ') ?? '?'}]`;
  });
  return `${target.label}: ${ops.join(' / ')}`;
}

async function runSeed(seed: number): Promise<string[]> {
  const dir = path.join(root, `seed-${seed}`);
  let started = Date.now();
  const history = buildRandomHistory(path.join(dir, 'work'), seed, { commits: 8 + (seed % 8) });
  const bare = path.join(dir, 'bare.git');
  history.git.run(['clone', '-q', '--bare', history.dir, bare]);
  timings.build += Date.now() - started;
  const rng = new Rng(seed ^ 0x5eed5eed);
  const failures: string[] = [];
  for (let k = 0; k < TARGETS_PER_HISTORY; k++) {
    const target = pickRevertTarget(history, rng);
    counts.cases += 1;
    started = Date.now();
    const engine = await revertWithEngine(bare, path.join(dir, 'cache'), target);
    timings.engine += Date.now() - started;
    started = Date.now();
    const gitOut = revertWithGit(history.git, history.head, target);
    resetWorkTree(history.git, history.head);
    timings.git += Date.now() - started;
    // Target commits that revert another target: that one is not "already reverted" any more.
    const revertersInRequest = new Map<string, string>();
    for (const sha of target.commits) {
      const reverted = history.commits.find((c) => c.sha === sha)?.reverts;
      if (reverted && target.commits.includes(reverted)) revertersInRequest.set(reverted, sha);
    }
    const verdict = compare(gitOut, engine, revertersInRequest);
    if ('failure' in verdict) {
      counts.failures += 1;
      failures.push(`seed ${seed} target ${k} (${describeTarget(history, target)}): ${verdict.failure}`);
      continue;
    }
    stats[verdict.category] += 1;
    if (verdict.category === 'already-reverted-divergent' || verdict.category === 'conservative') {
      notes.push(`seed ${seed} target ${k} ${verdict.category}: ${verdict.detail}; ${describeTarget(history, target)}`);
    }
  }
  if (SINGLE_SEED === undefined) fs.rmSync(dir, { recursive: true, force: true });
  else notes.push(`seed ${seed}: repositories kept in ${dir}`);
  return failures;
}

const batches: number[][] = [];
for (let i = 0; i < SEED_COUNT; i += SEEDS_PER_BATCH) {
  batches.push(Array.from({ length: Math.min(SEEDS_PER_BATCH, SEED_COUNT - i) }, (_, j) => FIRST_SEED + i + j));
}

describe('engine revert equals git revert on random histories (git CLI as oracle)', () => {
  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'revert-oracle-'));
  });

  afterAll(() => {
    const total = Object.values(stats).reduce((a, b) => a + b, 0);
    console.log(
      `revert oracle: ${counts.cases} cases over ${SEED_COUNT} seeds, ${total} agree, ${counts.failures} fail: ` +
        Object.entries(stats)
          .map(([k, v]) => `${k}=${v}`)
          .join(', ') +
        ` (ms: build ${timings.build}, engine ${timings.engine}, git ${timings.git})` +
        (notes.length ? `\n${notes.join('\n')}` : ''),
    );
    if (SINGLE_SEED === undefined) fs.rmSync(root, { recursive: true, force: true });
  });

  test.each(batches.map((seeds) => [`${seeds[0]}-${seeds[seeds.length - 1]}`, seeds] as const))(
    'seeds %s: trees, messages, conflicts and empty reverts agree with git revert',
    async (_name, seeds) => {
      const failures: string[] = [];
      for (const seed of seeds) failures.push(...(await runSeed(seed)));
      expect(failures).toEqual([]);
    },
    120_000,
  );
});

/**
 * Identical copies competing for one exact rename (diffcore-rename.c find_identical_files, fed
 * in merge-ort's diff-queue order, where directories only one side changed come last, in
 * git's hash order): git names the conflicting paths, the engine must name the same ones.
 */
interface CopyCase {
  name: string;
  /** Shell steps; each commits; the commit to revert is tagged `target`. */
  script: string;
}

const put = (file: string, text: string): string => `mkdir -p "$(dirname ${file})" && printf '${text}' > ${file}`;
const commit = (subject: string): string => `git add -A && git commit -q -m "${subject}"`;
const X = 'kind: ConfigMap\\nname: app\\nvalue: 1\\n';

const copyCases: CopyCase[] = [
  {
    name: 'three same-basename copies: the rename/delete names the copy git picks, not the first path',
    script: [
      put('README', 'r\\n'),
      commit('init'),
      put('orig/a.yaml', X),
      commit('add') + ' && git tag target',
      'for d in b c d; do mkdir $d && cp orig/a.yaml $d/; done',
      commit('copy'),
      'git rm -q orig/a.yaml',
      commit('delete'),
    ].join(' && '),
  },
  {
    name: 'three copies with other basenames: the first in queue order wins',
    script: [
      put('README', 'r\\n'),
      commit('init'),
      put('orig/a.yaml', X),
      commit('add') + ' && git tag target',
      'mkdir b c d && cp orig/a.yaml b/x.yaml && cp orig/a.yaml c/y.yaml && cp orig/a.yaml d/z.yaml',
      commit('copy'),
      'git rm -q orig/a.yaml',
      commit('delete'),
    ].join(' && '),
  },
  {
    name: 'the first copy in queue order takes the source, even before a later copy with the same basename',
    script: [
      put('README', 'r\\n'),
      commit('init'),
      put('orig/a.yaml', X),
      commit('add') + ' && git tag target',
      'mkdir b c d && cp orig/a.yaml b/a.yaml && cp orig/a.yaml c/y.yaml && cp orig/a.yaml d/z.yaml',
      commit('copy'),
      'git rm -q orig/a.yaml',
      commit('delete'),
    ].join(' && '),
  },
  {
    name: 'one copy changed later: the rename goes to an unchanged copy, chosen like git',
    script: [
      put('README', 'r\\n'),
      commit('init'),
      put('orig/a.yaml', X),
      commit('add') + ' && git tag target',
      'for d in b c d e; do mkdir $d && cp orig/a.yaml $d/; done',
      commit('copy'),
      put('e/a.yaml', `${X}extra: 2\\n`) + ' && git rm -q orig/a.yaml',
      commit('change one copy, delete the original'),
    ].join(' && '),
  },
  {
    name: 'a copy in a directory both sides changed comes before copies in new directories',
    script: [
      put('README', 'r\\n') + ' && ' + put('zz/keep.yaml', 'k: 1\\n'),
      commit('init'),
      put('orig/a.yaml', X) + ' && ' + put('zz/keep.yaml', 'k: 2\\n'),
      commit('add') + ' && git tag target',
      'mkdir b c && cp orig/a.yaml b/q.yaml && cp orig/a.yaml c/q.yaml && cp orig/a.yaml zz/q.yaml',
      commit('copy'),
      'git rm -q orig/a.yaml',
      commit('delete'),
    ].join(' && '),
  },
  {
    name: 'only content decides: a relevant source comes before an identical untouched one in a later path',
    script: [
      put('README', 'r\\n') + ' && ' + put('a/i.yaml', X),
      commit('init'),
      put('z/r.yaml', X),
      commit('add') + ' && git tag target',
      'git rm -q a/i.yaml z/r.yaml && ' + put('t/n.yaml', X),
      commit('move'),
    ].join(' && '),
  },
  {
    name: 'several identical sources: the target takes the one with its basename, not the first',
    script: [
      put('README', 'r\\n'),
      commit('init'),
      put('s1/f.yaml', X) + ' && ' + put('s2/g.yaml', X),
      commit('add') + ' && git tag target',
      'git rm -q s1/f.yaml s2/g.yaml && ' + put('t/g.yaml', X),
      commit('move'),
    ].join(' && '),
  },
  {
    name: 'rename/rename: each side renames to the copy git picks',
    script: [
      put('README', 'r\\n') + ' && ' + put('q/f.yaml', X),
      commit('init'),
      'mkdir p && git mv q/f.yaml p/f.yaml',
      commit('rename') + ' && git tag target',
      'for d in b c d; do mkdir $d && cp p/f.yaml $d/; done && git rm -q p/f.yaml',
      commit('copy and delete'),
    ].join(' && '),
  },
  {
    name: 'empty files are never renamed: moved .gitkeep files revert cleanly',
    script: [
      put('README', 'r\\n'),
      commit('init'),
      'mkdir -p orig && : > orig/.gitkeep && ' + put('orig/a.yaml', X),
      commit('add') + ' && git tag target',
      'mkdir b c && : > b/.gitkeep && : > c/.gitkeep && git rm -q orig/.gitkeep',
      commit('move keep'),
    ].join(' && '),
  },
  {
    name: 'sixty copies: git hash table growth decides the order',
    script: [
      put('README', 'r\\n'),
      commit('init'),
      put('orig/a.yaml', X),
      commit('add') + ' && git tag target',
      'for i in $(seq 1 60); do mkdir team-$i && cp orig/a.yaml team-$i/; done',
      commit('copy'),
      'git rm -q orig/a.yaml',
      commit('delete'),
    ].join(' && '),
  },
];

/** git's CONFLICT lines in the engine's terms (path, reason), and the renames they name. */
function parseGitConflicts(output: string): { conflicts: Conflict[]; renames: { source: string; target: string; side: 1 | 2 }[] } {
  const conflicts: Conflict[] = [];
  const renames: { source: string; target: string; side: 1 | 2 }[] = [];
  const sideOf = (where: string): 1 | 2 => (where === 'HEAD' ? 1 : 2);
  for (const line of output.split('\n').filter((l) => l.startsWith('CONFLICT'))) {
    let m = /^CONFLICT \(rename\/delete\): (.+) renamed to (.+) in (HEAD|parent of .+), but deleted in .+\.$/.exec(line);
    if (m) {
      conflicts.push({ path: m[2], reason: 'rename/delete' });
      renames.push({ source: m[1], target: m[2], side: sideOf(m[3]) });
      continue;
    }
    m = /^CONFLICT \(rename\/rename\): (.+) renamed to (.+) in (HEAD|parent of .+) and to (.+) in (HEAD|parent of .+)\.$/.exec(line);
    if (m) {
      conflicts.push({ path: m[1], reason: 'rename/rename' });
      renames.push({ source: m[1], target: m[2], side: sideOf(m[3]) }, { source: m[1], target: m[4], side: sideOf(m[5]) });
      continue;
    }
    m = /^CONFLICT \((content|add\/add)\): Merge conflict in (.+)$/.exec(line);
    if (m) {
      conflicts.push({ path: m[2], reason: m[1] as Conflict['reason'] });
      continue;
    }
    conflicts.push({ path: line, reason: 'unparsed' as Conflict['reason'] });
  }
  return { conflicts, renames };
}

const byPath = (a: Conflict, b: Conflict): number => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.reason < b.reason ? -1 : 1);

describe('conflict paths among identical copies equal git revert (git CLI as oracle)', () => {
  let copiesRoot = '';
  beforeAll(() => {
    copiesRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'revert-oracle-copies-'));
  });
  afterAll(() => {
    fs.rmSync(copiesRoot, { recursive: true, force: true });
  });

  test.each(copyCases.map((c, i) => [c.name, i] as const))('%s', async (_name, index) => {
    const dir = path.join(copiesRoot, `case-${index}`);
    fs.mkdirSync(path.join(dir, 'work'), { recursive: true });
    const git = new GitRunner(path.join(dir, 'work'));
    git.run(['init', '-q']);
    git.shell(copyCases[index].script);
    const target = git.run(['rev-parse', 'target']).trim();
    const bare = path.join(dir, 'bare.git');
    git.run(['clone', '-q', '--bare', git.dir, bare]);
    const engine = await revertWithEngine(bare, path.join(dir, 'cache'), { commits: [target], label: 'one' } as RevertTarget);
    const run = git.try(['revert', '--no-edit', target]);
    if (run.status === 0) {
      expect(engine.kind).toBe('done');
      const r = (engine as { result: RollbackResult }).result;
      expect(r.commits.map((c) => c.tree)).toEqual([git.run(['rev-parse', 'HEAD^{tree}']).trim()]);
      return;
    }
    const output = run.stdout + run.stderr;
    const expected = parseGitConflicts(output);
    const unmerged = new Set(
      git
        .run(['ls-files', '-u'])
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('\t')[1]),
    );
    for (const c of expected.conflicts.filter((c) => c.reason === 'rename/delete')) expect(unmerged.has(c.path)).toBe(true);
    expect(engine.kind).toBe('conflict');
    const conflicts = (engine as { conflicts: Conflict[] }).conflicts;
    expect([...conflicts].sort(byPath)).toEqual([...expected.conflicts].sort(byPath));
    // The renames git names, from the engine's rename detection on the same trees.
    const store = new ObjectStore(fs, path.join(git.dir, '.git'));
    const tree = (rev: string): string => git.run(['rev-parse', `${rev}^{tree}`]).trim();
    const roots = [tree(target), tree('HEAD'), tree(`${target}^`)];
    for (const side of [1, 2] as const) {
      const named = expected.renames.filter((r) => r.side === side);
      if (!named.length) continue;
      const changes = await collectSideChanges(store, roots[0], roots[side], roots[3 - side]);
      const found = await detectRenames(store, changes, new Set(changes.deleted.keys()));
      expect(named.map((r) => `${r.source} -> ${found.get(r.source)?.target}`)).toEqual(named.map((r) => `${r.source} -> ${r.target}`));
    }
  });
});
