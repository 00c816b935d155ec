/**
 * The engine against crafted repositories that make a revert explode: a tree bomb (a tree that
 * names one subtree twice, nested: n + 2 objects, 2^n paths) and a mass rename whose inexact
 * detection would compare every source with every target. Both end with TreeLimitExceededError,
 * fast, with the branch unchanged; the controller stalls on it.
 */
import { execFileSync } from 'node:child_process';
import { runRollback } from '../../src/git/engine.js';
import { TreeLimitExceededError } from '../../src/git/errors.js';
import { MAX_TREE_ENTRIES_VISITED } from '../../src/git/object-store.js';
import { RENAME_LIMIT } from '../../src/git/renames.js';
import { classifyError } from '../../src/controller/classify-error.js';
import { Reason } from '../../src/api/v1alpha1/conditions.js';
import { cloneBare, commitFiles, git, gitEnv, initRepo, makeTempDir } from '../helpers/git-cli.js';

const AUTHOR = { name: 'A U Thor', email: 'author@example.com' };

function gitWithInput(cwd: string, input: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: gitEnv(), input, encoding: 'utf8' }).trim();
}

/** Commits, on top of main, the tree of main plus `bomb/`: `depth` levels of two names for one subtree. */
function commitTreeBomb(bare: string, depth: number): string {
  const blob = gitWithInput(bare, 'boom\n', 'hash-object', '-w', '--stdin');
  let tree = gitWithInput(bare, `100644 blob ${blob}\tf.yaml\n`, 'mktree');
  for (let level = 0; level < depth; level++) tree = gitWithInput(bare, `040000 tree ${tree}\ta\n040000 tree ${tree}\tb\n`, 'mktree');
  const root = git(bare, 'ls-tree', 'main');
  const withBomb = gitWithInput(bare, `${root}\n040000 tree ${tree}\tbomb\n`, 'mktree');
  const commit = git(bare, 'commit-tree', withBomb, '-p', 'main', '-m', 'Add a tree bomb');
  git(bare, 'update-ref', 'refs/heads/main', commit);
  return commit;
}

const request = (bare: string, commit: string) => ({
  repository: { url: bare, branch: 'main' },
  author: AUTHOR,
  action: { kind: 'revert' as const, commits: [commit] },
});

describe('limits on what one revert may visit', () => {
  test(`reverting a tree bomb (26 objects, 2^24 paths) stops after ${MAX_TREE_ENTRIES_VISITED} tree entries, branch unchanged`, async () => {
    const work = initRepo();
    commitFiles(work, 'Initial', { 'apps/web.yaml': 'replicas: 1\n' });
    const bare = cloneBare(work);
    const bomb = commitTreeBomb(bare, 24);
    const cpu = process.cpuUsage();
    const error = await runRollback(request(bare, bomb), { cacheDir: makeTempDir() }).catch((e: unknown) => e);
    // CPU time, not wall time: the bound holds however busy the machine is.
    const { user, system } = process.cpuUsage(cpu);
    expect((user + system) / 1000).toBeLessThan(15_000);
    expect(error).toBeInstanceOf(TreeLimitExceededError);
    expect((error as TreeLimitExceededError).data).toMatchObject({ limit: 'tree-entries', max: MAX_TREE_ENTRIES_VISITED });
    expect(git(bare, 'rev-parse', 'main')).toBe(bomb);
    expect(classifyError(error)).toMatchObject({ stalling: true, reason: Reason.ChangeTooLarge });
  });

  test('a bomb below the limit (2^12 paths) is reverted like git does', async () => {
    const work = initRepo();
    commitFiles(work, 'Initial', { 'apps/web.yaml': 'replicas: 1\n' });
    const bare = cloneBare(work);
    const before = git(bare, 'rev-parse', 'main^{tree}');
    const bomb = commitTreeBomb(bare, 12);
    const result = await runRollback(request(bare, bomb), { cacheDir: makeTempDir() });
    expect(result.result).toBe('reverted');
    expect(git(bare, 'rev-parse', 'main^{tree}')).toBe(before);
    expect(result.changedPaths).toHaveLength(2 ** 12);
  });

  test(`a revert needing more than ${RENAME_LIMIT} x ${RENAME_LIMIT} rename comparisons is refused (git's diff.renameLimit)`, async () => {
    const n = RENAME_LIMIT + 1;
    const manifest = (i: number, extra: string) => `kind: ConfigMap\nmetadata:\n  name: cm-${i}\ndata:\n  value: "${i * 7919}"\n  note: ${extra}\n`;
    const work = initRepo();
    commitFiles(work, 'Initial', Object.fromEntries(Array.from({ length: n }, (_, i) => [`old/file-${i}.yaml`, manifest(i, 'first')])));
    // Moved and edited (no exact or same-basename match), then edited again on the branch, so
    // reverting the move must find where each file went.
    const moves: Record<string, string | null> = {};
    for (let i = 0; i < n; i++) {
      moves[`old/file-${i}.yaml`] = null;
      moves[`new/cm-${i}.yaml`] = manifest(i, 'moved');
    }
    const move = commitFiles(work, 'Move the config maps', moves);
    commitFiles(work, 'Edit the config maps', Object.fromEntries(Array.from({ length: n }, (_, i) => [`new/cm-${i}.yaml`, manifest(i, 'edited')])));
    const bare = cloneBare(work);
    const headBefore = git(bare, 'rev-parse', 'main');
    const started = Date.now();
    const error = await runRollback(request(bare, move), { cacheDir: makeTempDir() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TreeLimitExceededError);
    expect((error as TreeLimitExceededError).data).toMatchObject({ limit: 'rename-candidates', max: RENAME_LIMIT, detail: `${n} sources with ${n} targets` });
    expect(git(bare, 'rev-parse', 'main')).toBe(headBefore);
    // Refused before scoring a single pair (a million estimates would take far longer).
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});
