/**
 * The engine on local bare repositories, checked against the git CLI (the oracle) for every
 * request shape: one commit, several, a range, a merge with mainline, squash, paths, restore,
 * idempotency, dry run, and the errors bad input gets.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runRollback, type RollbackRequest } from '../../src/git/engine.js';
import { commitFiles, commitMessage, cloneBare, git, initRepo, makeTempDir } from '../helpers/git-cli.js';

const AUTHOR = { name: 'A U Thor', email: 'author@example.com' };

interface Fixture {
  work: string;
  bare: string;
  c1: string;
  c2: string;
  c3: string;
  c4: string;
}

function deployment(image: string, replicas = 2): string {
  return `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  replicas: ${replicas}\n  template:\n    spec:\n      containers:\n        - name: app\n          image: ${image}\n`;
}

function buildFixture(): Fixture {
  const work = initRepo();
  const c1 = commitFiles(work, 'Initial platform', {
    'apps/frontend/deploy.yaml': deployment('frontend:v1'),
    'apps/backend/deploy.yaml': deployment('backend:v1'),
    'infra/namespace.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n',
  });
  const c2 = commitFiles(work, 'Bump frontend and backend', {
    'apps/frontend/deploy.yaml': deployment('frontend:v2'),
    'apps/backend/deploy.yaml': deployment('backend:v2', 3),
  });
  const c3 = commitFiles(work, 'Add frontend config', { 'apps/frontend/config.yaml': 'feature: checkout-v2\n' });
  const c4 = commitFiles(work, 'Label namespace', {
    'infra/namespace.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels:\n    team: shop\n',
  });
  return { work, bare: cloneBare(work), c1, c2, c3, c4 };
}

function run(bare: string, request: Partial<RollbackRequest> & Pick<RollbackRequest, 'action'>) {
  return runRollback({ repository: { url: bare, branch: 'main' }, author: AUTHOR, ...request }, { cacheDir: makeTempDir() });
}

/** What `git revert --no-edit <args>` produces in a work tree: tree and message per commit. */
function gitRevert(fixture: Fixture, ...args: string[]): { tree: string; message: string }[] {
  const before = git(fixture.work, 'rev-parse', 'HEAD');
  git(fixture.work, 'revert', '--no-edit', ...args);
  const shas = git(fixture.work, 'rev-list', '--reverse', `${before}..HEAD`).split('\n');
  const commits = shas.map((sha) => ({ tree: git(fixture.work, 'rev-parse', `${sha}^{tree}`), message: commitMessage(fixture.work, sha) }));
  git(fixture.work, 'reset', '-q', '--hard', before);
  return commits;
}

const head = (bare: string) => git(bare, 'rev-parse', 'refs/heads/main');
const show = (bare: string, rev: string, file: string) => git(bare, 'show', `${rev}:${file}`);

describe('runRollback on a local bare repository', () => {
  let fx: Fixture;
  beforeEach(() => {
    fx = buildFixture();
  });

  test('reverting one commit advances the branch with the tree and message git revert makes', async () => {
    const result = await run(fx.bare, { action: { kind: 'revert', commits: [fx.c2.slice(0, 7)] } });
    const expected = gitRevert(fx, fx.c2);
    expect(result.result).toBe('reverted');
    expect(head(fx.bare)).toBe(result.head);
    expect(result.commits.map((c) => ({ tree: c.tree, message: c.message }))).toEqual(expected);
    expect(git(fx.bare, 'rev-parse', `${result.head}^`)).toBe(fx.c4);
    expect(result.changedPaths).toEqual(['apps/backend/deploy.yaml', 'apps/frontend/deploy.yaml']);
  });

  test('several commits are reverted newest first, one commit each, whatever order they are named in', async () => {
    const result = await run(fx.bare, { action: { kind: 'revert', commits: [fx.c2, fx.c3] } });
    expect(result.commits.map((c) => c.reverts)).toEqual([[fx.c3], [fx.c2]]);
    expect(result.commits.map((c) => ({ tree: c.tree, message: c.message }))).toEqual(gitRevert(fx, fx.c3, fx.c2));
  });

  test('a range A..B reverts the commits after A up to B, newest first', async () => {
    const result = await run(fx.bare, { action: { kind: 'revert', range: { from: fx.c1, to: fx.c3 } } });
    expect(result.commits.map((c) => c.reverts[0])).toEqual([fx.c3, fx.c2]);
    expect(result.commits.map((c) => c.tree)).toEqual(gitRevert(fx, `${fx.c1}..${fx.c3}`).map((c) => c.tree));
  });

  test('a range and a restore take abbreviated shas as `git log --oneline` prints them (and HEAD)', async () => {
    const short = (sha: string) => git(fx.work, 'rev-parse', '--short', sha);
    const range = await run(fx.bare, { action: { kind: 'revert', range: { from: short(fx.c1), to: short(fx.c3) } }, dryRun: true });
    expect(range.commits.map((c) => c.reverts[0])).toEqual([fx.c3, fx.c2]);
    const toHead = await run(fx.bare, { action: { kind: 'revert', range: { from: short(fx.c3), to: 'HEAD' } }, dryRun: true });
    expect(toHead.commits.map((c) => c.reverts[0])).toEqual([fx.c4]);
    const restore = await run(fx.bare, { action: { kind: 'restore', revision: short(fx.c1), paths: ['apps/frontend'] }, dryRun: true });
    const full = await run(fx.bare, { action: { kind: 'restore', revision: fx.c1, paths: ['apps/frontend'] }, dryRun: true });
    expect(restore.commits[0]!.tree).toBe(full.commits[0]!.tree);
  });

  test('squash makes one commit listing every reverted commit', async () => {
    const result = await run(fx.bare, { action: { kind: 'revert', commits: [fx.c2, fx.c3], squash: true } });
    expect(result.commits).toHaveLength(1);
    const [commit] = result.commits;
    expect(commit.tree).toBe(gitRevert(fx, fx.c3, fx.c2).at(-1)!.tree);
    expect(commit.message).toBe(
      `Revert 2 commits\n\n- ${fx.c3.slice(0, 7)} Add frontend config\n- ${fx.c2.slice(0, 7)} Bump frontend and backend\n\n` +
        `This reverts commit ${fx.c3}.\nThis reverts commit ${fx.c2}.\n`,
    );
    expect(git(fx.bare, 'rev-parse', `${result.head}^`)).toBe(fx.c4);
  });

  test('paths limit the revert to one component', async () => {
    const result = await run(fx.bare, { action: { kind: 'revert', commits: [fx.c2], paths: ['apps/frontend/'] } });
    expect(result.changedPaths).toEqual(['apps/frontend/deploy.yaml']);
    expect(show(fx.bare, 'main', 'apps/frontend/deploy.yaml')).toContain('frontend:v1');
    expect(show(fx.bare, 'main', 'apps/backend/deploy.yaml')).toContain('backend:v2');
  });

  test('restore makes a directory exactly as it was, removing files added since', async () => {
    const result = await run(fx.bare, { action: { kind: 'restore', revision: fx.c1, paths: ['apps/frontend'] } });
    expect(result.result).toBe('reverted');
    expect(result.changedPaths).toEqual(['apps/frontend/config.yaml', 'apps/frontend/deploy.yaml']);
    expect(git(fx.bare, 'rev-parse', 'main:apps/frontend')).toBe(git(fx.bare, 'rev-parse', `${fx.c1}:apps/frontend`));
    expect(git(fx.bare, 'rev-parse', 'main:apps/backend')).toBe(git(fx.bare, 'rev-parse', `${fx.c4}:apps/backend`));
    expect(result.commits[0].message).toBe(
      `Restore apps/frontend to ${fx.c1.slice(0, 7)}\n\nRestores apps/frontend as of commit ${fx.c1}\n("Initial platform").\n`,
    );
  });

  test('a commit already reverted on the branch is reported already-reverted and nothing is written', async () => {
    await run(fx.bare, { action: { kind: 'revert', commits: [fx.c2] } });
    const before = head(fx.bare);
    const again = await run(fx.bare, { action: { kind: 'revert', commits: [fx.c2] } });
    expect(again).toMatchObject({ result: 'already-reverted', head: null, alreadyReverted: [fx.c2] });
    expect(head(fx.bare)).toBe(before);
  });

  test('a revert that was itself reverted can be reverted again', async () => {
    const first = await run(fx.bare, { action: { kind: 'revert', commits: [fx.c3] } });
    await run(fx.bare, { action: { kind: 'revert', commits: [first.head!] } });
    const again = await run(fx.bare, { action: { kind: 'revert', commits: [fx.c3] } });
    expect(again.result).toBe('reverted');
    expect(() => show(fx.bare, 'main', 'apps/frontend/config.yaml')).toThrow();
  });

  test('a revert named together with the commit it reverted reverts both, as git does', async () => {
    const first = await run(fx.bare, { action: { kind: 'revert', commits: [fx.c3] } });
    git(fx.work, 'fetch', '-q', fx.bare, 'main');
    git(fx.work, 'reset', '-q', '--hard', 'FETCH_HEAD');
    const result = await run(fx.bare, { action: { kind: 'revert', commits: [fx.c3, first.head!] } });
    expect(result.commits.map((c) => c.reverts)).toEqual([[first.head], [fx.c3]]);
    expect(result.commits.map((c) => ({ tree: c.tree, message: c.message }))).toEqual(gitRevert(fx, first.head!, fx.c3));
  });

  test('a revert with no effect on the head is empty and writes nothing', async () => {
    git(fx.work, 'rm', '-q', 'apps/frontend/config.yaml');
    git(fx.work, 'commit', '-q', '-m', 'Remove config by hand');
    const bare = cloneBare(fx.work);
    const before = head(bare);
    const result = await run(bare, { action: { kind: 'revert', commits: [fx.c3] } });
    expect(result).toMatchObject({ result: 'empty', head: null, empty: [fx.c3] });
    expect(head(bare)).toBe(before);
  });

  test('the same request id twice finds its own commit instead of reverting again', async () => {
    const request = { action: { kind: 'revert' as const, commits: [fx.c4] }, requestId: 'default/rollback-1/uid-1' };
    const first = await run(fx.bare, request);
    const second = await run(fx.bare, request);
    expect(second).toMatchObject({ result: 'already-reverted', existingCommit: first.head });
    expect(head(fx.bare)).toBe(first.head);
  });

  test('reason and incident follow git message as a paragraph and trailers', async () => {
    const result = await run(fx.bare, {
      action: { kind: 'revert', commits: [fx.c2] },
      reason: '500s on /checkout',
      incident: 'INC-12345',
      requestId: 'ns/name/uid',
    });
    const message = result.commits[0].message;
    expect(message).toBe(
      `Revert "Bump frontend and backend"\n\nThis reverts commit ${fx.c2}.\n\n500s on /checkout\n\nIncident: INC-12345\nRollback-Request: ns/name/uid\n`,
    );
    const trailers = git(fx.bare, '-c', 'trailer.separators=:', 'log', '-1', '--format=%(trailers:only,unfold)', 'main');
    expect(trailers).toBe('Incident: INC-12345\nRollback-Request: ns/name/uid');
  });

  test('dry run reports the plan and moves no ref', async () => {
    const result = await run(fx.bare, { action: { kind: 'revert', commits: [fx.c2] }, dryRun: true });
    expect(result.result).toBe('planned');
    expect(result.head).toBeNull();
    expect(result.commits).toHaveLength(1);
    expect(head(fx.bare)).toBe(fx.c4);
  });

  test('a conflicting revert throws RevertConflictError naming the path and leaves the branch', async () => {
    commitFiles(fx.work, 'Frontend v3', { 'apps/frontend/deploy.yaml': deployment('frontend:v3') });
    const bare = cloneBare(fx.work);
    const before = head(bare);
    await expect(run(bare, { action: { kind: 'revert', commits: [fx.c2] } })).rejects.toMatchObject({
      code: 'RevertConflictError',
      data: { conflicts: [{ path: 'apps/frontend/deploy.yaml', reason: 'content' }] },
    });
    expect(head(bare)).toBe(before);
  });

  describe('merge commits', () => {
    let bare: string;
    let merge: string;
    beforeEach(() => {
      git(fx.work, 'checkout', '-q', '-b', 'feature', fx.c2);
      commitFiles(fx.work, 'Add payments', { 'apps/payments/deploy.yaml': deployment('payments:v1') });
      git(fx.work, 'checkout', '-q', 'main');
      git(fx.work, 'merge', '-q', '--no-ff', '-m', "Merge branch 'feature'", 'feature');
      merge = git(fx.work, 'rev-parse', 'HEAD');
      bare = cloneBare(fx.work);
    });

    test('a merge without mainline is a clear error and the branch is unchanged', async () => {
      await expect(run(bare, { action: { kind: 'revert', commits: [merge] } })).rejects.toMatchObject({ code: 'MergeWithoutMainlineError' });
      expect(head(bare)).toBe(merge);
    });

    test('a merge with mainline 1 gives git revert -m 1 tree and message', async () => {
      const result = await run(bare, { action: { kind: 'revert', commits: [merge], mainline: 1 } });
      const [expected] = gitRevert(fx, '-m', '1', merge);
      expect(result.commits[0]).toMatchObject(expected);
      expect(result.commits[0].message).toContain(', reversing\nchanges made to ');
    });

    test('a mainline the merge does not have is an error', async () => {
      await expect(run(bare, { action: { kind: 'revert', commits: [merge], mainline: 3 } })).rejects.toMatchObject({ code: 'MergeWithoutMainlineError' });
    });
  });

  describe('bad input is a clear error and the branch is unchanged', () => {
    const cases: [string, (f: Fixture) => RollbackRequest['action'], string][] = [
      ['malformed revision', () => ({ kind: 'revert', commits: ['not-a-sha'] }), 'InvalidRequestError'],
      ['unknown revision', () => ({ kind: 'revert', commits: ['deadbeefdeadbeef'] }), 'CommitNotFoundError'],
      ['empty range', (f) => ({ kind: 'revert', range: { from: f.c3, to: f.c3 } }), 'InvalidRequestError'],
      ['backwards range', (f) => ({ kind: 'revert', range: { from: f.c3, to: f.c1 } }), 'InvalidRequestError'],
      ['path with ..', (f) => ({ kind: 'revert', commits: [f.c2], paths: ['apps/../infra'] }), 'InvalidRequestError'],
      ['absolute path', (f) => ({ kind: 'restore', revision: f.c1, paths: ['/etc'] }), 'InvalidRequestError'],
      ['restore of a path that never existed', (f) => ({ kind: 'restore', revision: f.c1, paths: ['nope'] }), 'InvalidRequestError'],
      ['mainline 2 on a plain commit', (f) => ({ kind: 'revert', commits: [f.c2], mainline: 2 }), 'MergeWithoutMainlineError'],
      ['no commits at all', () => ({ kind: 'revert', commits: [] }), 'InvalidRequestError'],
    ];
    test.each(cases)('%s', async (_name, action, code) => {
      await expect(run(fx.bare, { action: action(fx) })).rejects.toMatchObject({ code });
      expect(head(fx.bare)).toBe(fx.c4);
    });

    test('an unknown branch is RepositoryNotFoundError', async () => {
      await expect(
        runRollback({ repository: { url: fx.bare, branch: 'nope' }, action: { kind: 'revert', commits: [fx.c2] } }, { cacheDir: makeTempDir() }),
      ).rejects.toMatchObject({ code: 'RepositoryNotFoundError' });
    });

    test('a work-tree repository is refused, its branch untouched', async () => {
      await expect(run(fx.work, { action: { kind: 'revert', commits: [fx.c2] } })).rejects.toMatchObject({ code: 'RepositoryNotFoundError' });
      expect(git(fx.work, 'rev-parse', 'HEAD')).toBe(fx.c4);
      expect(fs.existsSync(path.join(fx.work, 'apps/frontend/config.yaml'))).toBe(true);
    });
  });
});
