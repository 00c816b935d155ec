/**
 * The engine against a real smart-HTTP git server (git http-backend): revert and push, history
 * deepening, races between writers, rejected pushes and bad credentials. The branch on the server
 * is checked with the git CLI after every case.
 */
import { runRollback, type RollbackRequest } from '../../src/git/engine.js';
import { commitFiles, git, initRepo, makeTempDir, publishBare } from '../helpers/git-cli.js';
import { installRejectingHook, startGitHttpServer, type GitHttpServer } from '../helpers/git-http-server.js';

const AUTH = { username: 'flux', password: 's3cr3t-Pa55' };

describe('runRollback over smart HTTP', () => {
  let server: GitHttpServer;
  let root: string;
  let work: string;
  let commits: string[];
  let repoCount = 0;

  beforeAll(async () => {
    root = makeTempDir();
    server = await startGitHttpServer({ root, auth: AUTH });
    work = initRepo();
    commits = [];
    // The first ten commits add notes of their own, so reverting one of them (far below the
    // shallow depth of 50) is clean; the rest deploy apps, each touching its app's file.
    for (let i = 0; i < 70; i++) {
      const files = i < 10 ? { [`docs/note-${i}.md`]: `note ${i}\n` } : { [`apps/app-${i % 5}/deploy.yaml`]: `image: app-${i % 5}:${i}\n` };
      commits.push(commitFiles(work, i < 10 ? `Add note ${i}` : `Deploy app-${i % 5} build ${i}`, files));
    }
  });
  afterAll(() => server.stop());

  /** A fresh server-side copy of the work repository; returns its URL and bare path. */
  function publishRepo(): { url: string; bare: string } {
    const name = `fleet-${++repoCount}.git`;
    return { url: server.urlFor(name), bare: publishBare(work, root, name) };
  }

  function request(url: string, action: RollbackRequest['action'], extra: Partial<RollbackRequest> = {}): RollbackRequest {
    return { repository: { url, branch: 'main', credentials: AUTH }, action, author: { name: 'Ops', email: 'ops@example.com' }, ...extra };
  }

  test('a revert is pushed and the server branch gets exactly the revert commit', async () => {
    const { url, bare } = publishRepo();
    const target = commits[68];
    const result = await runRollback(request(url, { kind: 'revert', commits: [target.slice(0, 8)] }), { cacheDir: makeTempDir() });
    expect(result.result).toBe('reverted');
    expect(git(bare, 'rev-parse', 'main')).toBe(result.head);
    expect(git(bare, 'rev-parse', 'main^')).toBe(commits[69]);
    expect(git(bare, 'show', 'main:apps/app-3/deploy.yaml')).toBe('image: app-3:63');
    expect(git(bare, 'fsck', '--strict')).toBe('');
  });

  test('a commit older than the shallow cache is found by deepening the history', async () => {
    const { url, bare } = publishRepo();
    const result = await runRollback(request(url, { kind: 'revert', commits: [commits[3]] }), { cacheDir: makeTempDir() });
    expect(result.result).toBe('reverted');
    expect(git(bare, 'log', '-1', '--format=%s', 'main')).toBe('Revert "Add note 3"');
    expect(git(bare, 'ls-tree', '--name-only', 'main', 'docs/')).not.toContain('note-3.md');
  });

  test('a second run with a warm cache fetches incrementally and finds the revert already there', async () => {
    const { url } = publishRepo();
    const cacheDir = makeTempDir();
    await runRollback(request(url, { kind: 'revert', commits: [commits[69]] }), { cacheDir });
    const again = await runRollback(request(url, { kind: 'revert', commits: [commits[69]] }), { cacheDir });
    expect(again.result).toBe('already-reverted');
  });

  test('two reverts racing to push to the same branch both land, each exactly once', async () => {
    const { url, bare } = publishRepo();
    const [a, b] = await Promise.all([
      runRollback(request(url, { kind: 'revert', commits: [commits[66]] }), { cacheDir: makeTempDir() }),
      runRollback(request(url, { kind: 'revert', commits: [commits[67]] }), { cacheDir: makeTempDir() }),
    ]);
    expect([a.result, b.result]).toEqual(['reverted', 'reverted']);
    const subjects = git(bare, 'log', '--format=%s', `${commits[69]}..main`).split('\n').sort();
    expect(subjects).toEqual(['Revert "Deploy app-1 build 66"', 'Revert "Deploy app-2 build 67"']);
    expect(Math.max(a.attempts, b.attempts)).toBeGreaterThanOrEqual(1);
  });

  test('the same request racing with itself lands once: the loser finds its request id', async () => {
    const { url, bare } = publishRepo();
    const same = request(url, { kind: 'revert', commits: [commits[65]] }, { requestId: 'default/rb/uid-1' });
    const results = await Promise.all([runRollback(same, { cacheDir: makeTempDir() }), runRollback(same, { cacheDir: makeTempDir() })]);
    expect(results.map((r) => r.result).sort()).toEqual(['already-reverted', 'reverted']);
    expect(git(bare, 'rev-list', '--count', `${commits[69]}..main`)).toBe('1');
  });

  test('a push declined by a hook is PushRejectedError and the branch is unchanged', async () => {
    const { url, bare } = publishRepo();
    await installRejectingHook(bare, 'main is protected');
    await expect(runRollback(request(url, { kind: 'revert', commits: [commits[69]] }), { cacheDir: makeTempDir() })).rejects.toMatchObject({
      code: 'PushRejectedError',
    });
    expect(git(bare, 'rev-parse', 'main')).toBe(commits[69]);
  });

  test('wrong credentials are AuthFailedError whose message does not reveal the password', async () => {
    const { url, bare } = publishRepo();
    const wrong = { username: 'flux', password: 'wrong-Pa55word' };
    const attempt = runRollback(
      { ...request(url, { kind: 'revert', commits: [commits[69]] }), repository: { url, branch: 'main', credentials: wrong } },
      { cacheDir: makeTempDir() },
    );
    const error = (await attempt.then(
      () => undefined,
      (e: unknown) => e,
    )) as { code: string; message: string; data: unknown };
    expect(error).toMatchObject({ code: 'AuthFailedError' });
    expect(JSON.stringify({ message: error.message, data: error.data })).not.toContain('wrong-Pa55word');
    expect(git(bare, 'rev-parse', 'main')).toBe(commits[69]);
  });

  test('an unknown repository is RepositoryNotFoundError', async () => {
    await expect(
      runRollback(request(server.urlFor('nope.git'), { kind: 'revert', commits: [commits[69]] }), { cacheDir: makeTempDir() }),
    ).rejects.toMatchObject({ code: 'RepositoryNotFoundError' });
  });
});
