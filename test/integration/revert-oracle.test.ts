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
