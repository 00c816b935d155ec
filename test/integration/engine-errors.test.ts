/**
 * No engine failure leaves untyped: real repositories made with the git CLI, damaged, shallow,
 * hostile or awkward in the ways people meet them, each giving a typed error with a message that
 * says what to do, and the branch unchanged.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readDeployHistory } from '../../src/git/deploy-history.js';
import { runRollback, withLockedRepository, type RollbackRequest } from '../../src/git/engine.js';
import { ObjectStore } from '../../src/git/object-store.js';
import { cacheRepoPath } from '../../src/git/remote.js';
import { commitFiles, git, gitEnv, initRepo, makeTempDir } from '../helpers/git-cli.js';

const AUTHOR = { name: 'A U Thor', email: 'author@example.com' };

function run(bare: string, action: RollbackRequest['action'], cacheDir = makeTempDir()) {
  return runRollback({ repository: { url: bare, branch: 'main' }, author: AUTHOR, action }, { cacheDir });
}

/** A bare repository with the work tree's history, objects loose (a push below unpackLimit), not hard-linked to the source. */
function pushedBare(work: string): string {
  const bare = path.join(makeTempDir(), 'repo.git');
  git(path.dirname(bare), 'init', '-q', '--bare', bare);
  git(work, 'push', '-q', bare, 'main');
  return bare;
}

/** A bare repository with one pack (git clone --no-local). */
function packedBare(work: string): string {
  const bare = path.join(makeTempDir(), 'repo.git');
  git(path.dirname(bare), 'clone', '-q', '--no-local', '--bare', work, bare);
  return bare;
}

function threeCommits(): { work: string; c1: string; c2: string; c3: string } {
  const work = initRepo();
  const c1 = commitFiles(work, 'c1', { 'apps/web.yaml': 'v: 1\n' });
  const c2 = commitFiles(work, 'c2', { 'apps/web.yaml': 'v: 2\n' });
  const c3 = commitFiles(work, 'c3', { 'apps/api.yaml': 'v: 1\n' });
  return { work, c1, c2, c3 };
}

describe('engine failures are typed, with what to do', () => {
  test('a cache directory that is a file is StorageError (ENOTDIR), and the branch is unchanged', async () => {
    const { work, c2, c3 } = threeCommits();
    const bare = pushedBare(work);
    const file = path.join(makeTempDir(), 'not-a-dir');
    fs.writeFileSync(file, 'x');
    const error = await run(bare, { kind: 'revert', commits: [c2] }, file).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'StorageError', data: { location: 'cache', errno: 'ENOTDIR' } });
    expect((error as Error).message).toContain('choose a directory');
    expect(git(bare, 'rev-parse', 'main')).toBe(c3);
  });

  test('a corrupt loose object is CorruptRepositoryError (damaged): check it with git fsck', async () => {
    const { work, c2, c3 } = threeCommits();
    const bare = pushedBare(work);
    const file = path.join(bare, 'objects', c2.slice(0, 2), c2.slice(2));
    fs.chmodSync(file, 0o644);
    fs.writeFileSync(file, 'garbage');
    const error = await run(bare, { kind: 'revert', commits: [c3] }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'CorruptRepositoryError', data: { kind: 'damaged', removed: false } });
    expect((error as Error).message).toContain('git fsck');
    expect(git(bare, 'rev-parse', 'main')).toBe(c3);
  });

  test('a truncated pack (its objects unreadable) is CorruptRepositoryError naming a missing object', async () => {
    const { work, c2 } = threeCommits();
    const bare = packedBare(work);
    const [pack] = fs.readdirSync(path.join(bare, 'objects/pack')).filter((n) => n.endsWith('.pack'));
    fs.truncateSync(path.join(bare, 'objects/pack', pack), 100);
    await expect(run(bare, { kind: 'revert', commits: [c2] })).rejects.toMatchObject({
      code: 'CorruptRepositoryError',
      message: expect.stringMatching(/is missing\); check it with git fsck/),
    });
  });

  test('a tree naming a file .git is CorruptRepositoryError (malformed) for revert and history alike', async () => {
    const { work, c2 } = threeCommits();
    const bare = pushedBare(work);
    const blob = git(bare, 'rev-parse', 'main:apps/web.yaml');
    const tree = execFileSync('git', ['mktree'], { cwd: bare, env: gitEnv(), input: `100644 blob ${blob}\t.git\n`, encoding: 'utf8' }).trim();
    git(bare, 'update-ref', 'refs/heads/main', git(bare, 'commit-tree', tree, '-p', 'main', '-m', 'evil'));
    const malformed = { code: 'CorruptRepositoryError', data: { kind: 'malformed' }, message: expect.stringContaining('revert by hand') };
    await expect(run(bare, { kind: 'revert', commits: [c2] })).rejects.toMatchObject(malformed);
    await expect(readDeployHistory({ repository: { url: bare, branch: 'main' }, cacheDir: makeTempDir() })).rejects.toMatchObject(malformed);
  });

  describe('a shallow bare clone', () => {
    let bare: string;
    let fx: ReturnType<typeof threeCommits>;
    beforeAll(() => {
      fx = threeCommits();
      bare = path.join(makeTempDir(), 'shallow.git');
      git(path.dirname(bare), 'clone', '-q', '--bare', '--depth', '2', `file://${fx.work}`, bare);
    });

    test('reverts within its history', async () => {
      const result = await runRollback(
        { repository: { url: bare, branch: 'main' }, author: AUTHOR, action: { kind: 'revert', range: { from: 'HEAD~1', to: 'HEAD' } }, dryRun: true },
        { cacheDir: makeTempDir() },
      );
      expect(result.commits.map((c) => c.reverts)).toEqual([[fx.c3]]);
    });

    test.each([
      ['HEAD~2 beyond its end', () => 'HEAD~2'],
      ['a commit beyond its end', () => fx.c1],
      ['its last commit, whose parent it does not have', () => fx.c2],
    ])('%s is CommitNotFoundError saying it is shallow', async (_name, revision) => {
      await expect(run(bare, { kind: 'revert', commits: [revision()] })).rejects.toMatchObject({
        code: 'CommitNotFoundError',
        data: { reason: 'shallow' },
        message: expect.stringContaining('git fetch --unshallow'),
      });
    });
  });

  test('HEAD~N past the root is CommitNotFoundError saying so', async () => {
    const { work } = threeCommits();
    await expect(run(pushedBare(work), { kind: 'revert', commits: ['HEAD~3'] })).rejects.toMatchObject({
      code: 'CommitNotFoundError',
      message: expect.stringContaining('goes back past the first commit of the branch'),
    });
  });

  describe('commits made in the same second (scripts, bots, rebases)', () => {
    let work: string;
    let bare: string;
    beforeAll(() => {
      work = initRepo();
      const env = gitEnv({ GIT_AUTHOR_DATE: '1700000000 +0000', GIT_COMMITTER_DATE: '1700000000 +0000' });
      for (let i = 1; i <= 4; i++) {
        fs.writeFileSync(path.join(work, `f${i}.yaml`), `v: ${i}\n`);
        execFileSync('git', ['add', '-A'], { cwd: work, env });
        execFileSync('git', ['commit', '-q', '-m', `c${i}`], { cwd: work, env });
      }
      bare = pushedBare(work);
    });

    test('a backwards range HEAD..HEAD~1 is empty, as git says, and nothing is reverted', async () => {
      await expect(run(bare, { kind: 'revert', range: { from: 'HEAD', to: 'HEAD~1' } })).rejects.toMatchObject({ code: 'InvalidRequestError' });
      expect(git(work, 'rev-list', 'HEAD..HEAD~1')).toBe('');
    });

    test('a range lists exactly the commits git rev-list lists', async () => {
      const result = await runRollback(
        { repository: { url: bare, branch: 'main' }, author: AUTHOR, action: { kind: 'revert', range: { from: 'HEAD~3', to: 'HEAD~1' } }, dryRun: true },
        { cacheDir: makeTempDir() },
      );
      expect(result.commits.map((c) => c.reverts[0]).sort()).toEqual(git(work, 'rev-list', 'HEAD~3..HEAD~1').split('\n').sort());
    });
  });

  test('an abbreviated sha naming two commits is InvalidRequestError listing both, as git refuses it', async () => {
    // 1500 commits with fixed dates: some 4-digit prefixes are shared (deterministic ids).
    const bare = path.join(makeTempDir(), 'many.git');
    git(path.dirname(bare), 'init', '-q', '--bare', bare);
    let stream = '';
    for (let i = 1; i <= 1500; i++) {
      const content = `${i}\n`;
      stream += `commit refs/heads/main\nmark :${i}\ncommitter A <a@example.com> ${1700000000 + i} +0000\ndata ${`m${i}`.length}\nm${i}\n`;
      stream += `${i > 1 ? `from :${i - 1}\n` : ''}M 644 inline f\ndata ${content.length}\n${content}\n`;
    }
    execFileSync('git', ['fast-import', '--quiet'], { cwd: bare, env: gitEnv(), input: stream });
    const shas = git(bare, 'rev-list', 'main').split('\n');
    const byPrefix = new Map<string, string[]>();
    for (const sha of shas) byPrefix.set(sha.slice(0, 4), [...(byPrefix.get(sha.slice(0, 4)) ?? []), sha]);
    const [prefix, pair] = [...byPrefix].find(([, list]) => list.length === 2)!;
    const error = await run(bare, { kind: 'revert', commits: [prefix] }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'InvalidRequestError', data: { revision: prefix } });
    expect((error as { data: { candidates: string[] } }).data.candidates.sort()).toEqual([...pair].sort());
    expect((error as Error).message).toContain('give more characters');
    // One more digit that tells them apart names one commit again.
    const longer = pair[0].slice(0, 12);
    await expect(run(bare, { kind: 'revert', commits: [longer] })).rejects.toMatchObject({ code: 'RevertConflictError', data: { commit: pair[0] } });
  });

  test('a damaged cache repository is removed under its lock, so the next run fetches it clean', async () => {
    const cacheDir = makeTempDir();
    const url = 'http://127.0.0.1:9/repo.git';
    const gitdir = cacheRepoPath(cacheDir, url);
    const oid = 'ab'.padEnd(40, 'c');
    const error = await withLockedRepository(fs, { url, branch: 'main' }, { cacheDir }, async (repository) => {
      fs.mkdirSync(path.join(repository.gitdir, 'objects/ab'), { recursive: true });
      fs.writeFileSync(path.join(repository.gitdir, 'objects/ab', oid.slice(2)), 'garbage');
      return new ObjectStore(fs, repository.gitdir).readCommit(oid);
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'CorruptRepositoryError', data: { kind: 'damaged', removed: true } });
    expect((error as Error).message).toContain('it was removed and is fetched again on the next run');
    expect(fs.existsSync(gitdir)).toBe(false);
  });

  test('anything else at the boundary is InternalError with the original message, credentials removed', async () => {
    const { work } = threeCommits();
    const error = await withLockedRepository(fs, { url: pushedBare(work), branch: 'main' }, { cacheDir: makeTempDir() }, async () => {
      throw new TypeError('cannot read https://user:hunter2@git.example.com/x');
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'InternalError', data: { name: 'TypeError' } });
    expect((error as Error).message).toContain('cannot read https://git.example.com/x');
    expect((error as Error).message).not.toContain('hunter2');
  });
});
