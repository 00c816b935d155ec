/**
 * readDeployHistory against a local bare repository and over smart HTTP (git http-backend), with
 * the git CLI as the oracle: shas, subjects, authors, dates and order from `git log
 * --first-parent`, the commits `git log --first-parent -- <path>` keeps, the changed files from
 * `git diff-tree -r` against the first parent, trailers from `%(trailers)`. The history holds
 * plain commits, a revert by `git revert`, reverts by our engine (one, and one squashed, with
 * their trailers), a merge, a two-line subject, and a shallow cache that must be deepened.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readDeployHistory, type DeployHistory, type DeployHistoryCommit } from '../../src/git/deploy-history.js';
import { runRollback } from '../../src/git/engine.js';
import { cacheRepoPath } from '../../src/git/remote.js';
import { cloneBare, commitFiles, git, gitEnv, initRepo, makeTempDir } from '../helpers/git-cli.js';
import { startGitHttpServer, type GitHttpServer } from '../helpers/git-http-server.js';
import { scaled } from '../helpers/time-budget.js';

const AUTH = { username: 'flux', password: 's3cr3t-Pa55' };
const OPS = { name: 'Ops', email: 'ops@example.com' };

/** What git says about the first-parent history of `main` (optionally limited to paths). */
function gitLog(repo: string, limit: number, paths: string[] = []): Omit<DeployHistoryCommit, 'paths' | 'reverts' | 'revertedBy'>[] {
  const format = [
    '%H',
    '%s',
    '%an <%ae>',
    '%cI',
    '%(trailers:key=Incident,valueonly,separator=%x2C)',
    '%(trailers:key=Rollback-Request,valueonly,separator=%x2C)',
  ];
  const out = git(repo, 'log', '--first-parent', `-n${limit}`, `--format=${format.join('%x00')}%x01`, 'main', '--', ...paths);
  return out
    .split('\x01')
    .map((record) => record.replace(/^\n/, ''))
    .filter(Boolean)
    .map((record) => {
      const [sha, subject, author, date, incident, rollbackRequest] = record.split('\x00');
      return { sha, subject, author, date, incident: incident.trim() || null, rollbackRequest: rollbackRequest.trim() || null };
    });
}

/** The files `git diff-tree -r` lists for a commit against its first parent (the empty tree for a root). */
function changedFiles(repo: string, sha: string): string[] {
  const parents = git(repo, 'rev-list', '--parents', '-n1', sha).split(' ').slice(1);
  const args = parents.length ? [`${sha}^1`, sha] : ['--root', sha];
  return git(repo, 'diff-tree', '--no-commit-id', '--name-only', '-r', ...args)
    .split('\n')
    .filter(Boolean);
}

/** A file's directory cut to two segments: apps/web/x.yaml -> apps/web, apps/x.yaml -> apps, x -> `.`. */
function componentsOf(files: string[]): string[] {
  const dirs = files.map((file) => file.split('/').slice(0, -1).slice(0, 2).join('/') || '.');
  return [...new Set(dirs)].sort().slice(0, 20);
}

/** Checks every commit of `history` against git: order, fields, changed components. */
function expectMatchesGit(history: DeployHistory, repo: string, limit: number, paths: string[] = []): void {
  const log = gitLog(repo, limit, paths);
  expect(history.commits.map((c) => c.sha)).toEqual(log.map((c) => c.sha));
  for (const [i, commit] of history.commits.entries()) {
    expect(commit).toMatchObject(log[i]);
    expect(commit.paths).toEqual(componentsOf(changedFiles(repo, commit.sha)));
  }
  expect(history.head).toBe(git(repo, 'rev-parse', 'main'));
}

/** Writes a linear history of `count` commits onto `main` of a new bare repository with git fast-import. */
function bareWithLinearHistory(count: number, fileOf: (i: number) => string): string {
  const bare = path.join(makeTempDir(), 'deep.git');
  git(path.dirname(bare), 'init', '-q', '--bare', '-b', 'main', bare);
  const chunks: string[] = [];
  const data = (text: string) => `data ${Buffer.byteLength(text)}\n${text}\n`;
  for (let i = 0; i < count; i++) {
    const who = `A U Thor <author@example.com> ${1_700_000_000 + i * 60} +0100`;
    chunks.push(`commit refs/heads/main\nmark :${i + 1}\nauthor ${who}\ncommitter ${who}\n${data(`Deploy build ${i}`)}`);
    if (i > 0) chunks.push(`from :${i}\n`);
    chunks.push(`M 100644 inline ${fileOf(i)}\n${data(`build: ${i}\n`)}\n`);
  }
  execFileSync('git', ['fast-import', '--quiet'], { cwd: bare, env: gitEnv(), input: chunks.join('') });
  return bare;
}

describe('readDeployHistory', () => {
  let bare: string;
  let server: GitHttpServer;
  let root: string;
  let url: string;
  const sha: Record<string, string> = {};

  beforeAll(async () => {
    const work = initRepo();
    sha.initial = commitFiles(work, 'Initial fleet', {
      'README.md': 'fleet\n',
      'apps/kustomization.yaml': 'resources: [web, api]\n',
      'apps/web/deploy.yaml': 'image: web:1.4.0\n',
      'apps/api/deploy.yaml': 'image: api:2.0.0\n',
      'infra/namespaces.yaml': 'kind: Namespace\n',
      'clusters/prod/apps.yaml': 'path: ./apps\n',
    });
    sha.web150 = commitFiles(work, 'Deploy web 1.5.0', { 'apps/web/deploy.yaml': 'image: web:1.5.0\n' });
    git(work, 'revert', '--no-edit', 'HEAD');
    sha.gitRevert = git(work, 'rev-parse', 'HEAD');
    git(work, 'checkout', '-q', '-b', 'feature');
    commitFiles(work, 'api: bigger pool', { 'apps/api/deploy.yaml': 'image: api:2.0.0\npool: 20\n' });
    commitFiles(work, 'infra: quota', { 'infra/quota.yaml': 'kind: ResourceQuota\n' });
    git(work, 'checkout', '-q', 'main');
    git(work, 'merge', '-q', '--no-ff', '--no-edit', 'feature');
    sha.merge = git(work, 'rev-parse', 'HEAD');
    sha.api21 = commitFiles(work, 'Deploy api 2.1\nwith the response cache', {
      'apps/api/deploy.yaml': 'image: api:2.1.0\npool: 20\n',
      'apps/api/cache/config.yaml': 'ttl: 60\n',
    });
    sha.hpa = commitFiles(work, 'Tune web HPA\n\nIncident: INC-7', { 'apps/web/hpa.yaml': 'maxReplicas: 8\n' });
    sha.web160 = commitFiles(work, 'Deploy web 1.6.0', { 'apps/web/deploy.yaml': 'image: web:1.6.0\n' });
    sha.docs = commitFiles(work, 'Docs', { 'README.md': 'fleet, see docs\n', 'docs/guide.md': 'guide\n' });
    sha.api22 = commitFiles(work, 'Deploy api 2.2', { 'apps/api/deploy.yaml': 'image: api:2.2.0\npool: 20\n' });
    bare = cloneBare(work);

    const engine = { cacheDir: makeTempDir() };
    const single = await runRollback(
      {
        repository: { url: bare, branch: 'main' },
        action: { kind: 'revert', commits: [sha.web160] },
        reason: '500s on /checkout',
        incident: 'INC-42',
        requestId: 'flux-system/revert-web/uid-1',
        author: OPS,
      },
      engine,
    );
    sha.engineRevert = single.head!;
    const squashed = await runRollback(
      {
        repository: { url: bare, branch: 'main' },
        action: { kind: 'revert', commits: [sha.api22, sha.hpa], squash: true },
        incident: 'INC-43',
        requestId: 'flux-system/revert-two/uid-2',
        author: OPS,
      },
      engine,
    );
    sha.squashRevert = squashed.head!;

    root = makeTempDir();
    server = await startGitHttpServer({ root, auth: AUTH });
    cloneBare(bare, path.join(root, 'fleet.git'));
    url = server.urlFor('fleet.git');
  });
  afterAll(() => server?.stop());

  const readLocal = (extra: { paths?: string[]; limit?: number } = {}) =>
    readDeployHistory({ repository: { url: bare, branch: 'main' }, cacheDir: makeTempDir(), ...extra });
  const readRemote = (extra: { paths?: string[]; limit?: number } = {}) =>
    readDeployHistory({ repository: { url, branch: 'main', credentials: AUTH }, cacheDir: makeTempDir(), ...extra });

  test.each([
    ['a local bare repository', readLocal],
    ['smart HTTP', readRemote],
  ])('over %s, the whole first-parent history is what git log and git diff-tree say', async (_how, read) => {
    const history = await read({ limit: 100 });
    expect(history).toMatchObject({ branch: 'main', ended: 'end', walked: 11 });
    expect(history.commits).toHaveLength(11);
    expectMatchesGit(history, bare, 100);
  });

  test('local and remote reads give the same history, field for field', async () => {
    expect(await readRemote()).toEqual(await readLocal());
  });

  test('the rollback links: git revert, an engine revert with its trailers, a squashed revert of two', async () => {
    const byName = new Map(Object.entries(sha).map(([name, oid]) => [name, oid]));
    const commits = new Map((await readLocal()).commits.map((c) => [c.sha, c]));
    const of = (name: string) => commits.get(byName.get(name)!)!;

    expect(of('gitRevert')).toMatchObject({ subject: 'Revert "Deploy web 1.5.0"', reverts: [sha.web150], revertedBy: null });
    expect(of('web150')).toMatchObject({ reverts: [], revertedBy: sha.gitRevert, incident: null, rollbackRequest: null });

    expect(of('engineRevert')).toMatchObject({
      subject: 'Revert "Deploy web 1.6.0"',
      author: 'Ops <ops@example.com>',
      reverts: [sha.web160],
      incident: 'INC-42',
      rollbackRequest: 'flux-system/revert-web/uid-1',
      paths: ['apps/web'],
    });
    expect(of('web160').revertedBy).toBe(sha.engineRevert);

    const squash = of('squashRevert');
    expect([...squash.reverts].sort()).toEqual([sha.api22, sha.hpa].sort());
    expect(squash).toMatchObject({ incident: 'INC-43', rollbackRequest: 'flux-system/revert-two/uid-2', paths: ['apps/api', 'apps/web'] });
    expect(of('api22').revertedBy).toBe(sha.squashRevert);
    expect(of('hpa')).toMatchObject({ revertedBy: sha.squashRevert, incident: 'INC-7', rollbackRequest: null });
  });

  test('a merge is shown as git log --first-parent shows it: changes against its first parent', async () => {
    const merge = (await readLocal()).commits.find((c) => c.sha === sha.merge)!;
    expect(merge.subject).toBe("Merge branch 'feature'");
    expect(merge.paths).toEqual(['apps/api', 'infra']);
    // The side branch's own commits are not on the first-parent line.
    expect((await readLocal({ limit: 1000 })).commits.map((c) => c.subject)).not.toContain('api: bigger pool');
  });

  test('a subject of two lines is joined with a space, as git log %s does; root files are "."', async () => {
    const commits = (await readLocal()).commits;
    expect(commits.find((c) => c.sha === sha.api21)).toMatchObject({ subject: 'Deploy api 2.1 with the response cache', paths: ['apps/api'] });
    expect(commits.find((c) => c.sha === sha.docs)?.paths).toEqual(['.', 'docs']);
    expect(commits.find((c) => c.sha === sha.initial)?.paths).toEqual(['.', 'apps', 'apps/api', 'apps/web', 'clusters/prod', 'infra']);
  });

  test.each([[['apps/web']], [['apps/api/cache']], [['infra/quota.yaml']], [['infra', 'docs/']], [['./README.md']], [['apps/nothing-here']]])(
    'with paths %j, the commits are those git log --first-parent -- <paths> lists',
    async (paths) => {
      for (const history of [await readLocal({ paths }), await readRemote({ paths })]) {
        expectMatchesGit(history, bare, 100, paths);
        expect(history.ended).toBe('end');
      }
    },
  );

  test('--limit keeps the newest commits, with the links from newer commits outside the window', async () => {
    const history = await readLocal({ limit: 3, paths: ['apps/web'] });
    expectMatchesGit(history, bare, 3, ['apps/web']);
    expect(history.ended).toBe('limit');
    const newest = (await readLocal({ limit: 1 })).commits;
    expect(newest.map((c) => c.sha)).toEqual([sha.squashRevert]);
  });

  test('bad requests are refused before anything is read', async () => {
    await expect(readLocal({ limit: 0 })).rejects.toMatchObject({ code: 'InvalidRequestError' });
    await expect(readLocal({ limit: 1001 })).rejects.toMatchObject({ code: 'InvalidRequestError' });
    await expect(readLocal({ limit: 2.5 })).rejects.toMatchObject({ code: 'InvalidRequestError' });
    await expect(readLocal({ paths: ['../etc'] })).rejects.toMatchObject({ code: 'InvalidRequestError' });
    await expect(readLocal({ paths: ['/abs'] })).rejects.toMatchObject({ code: 'InvalidRequestError' });
    await expect(readDeployHistory({ repository: { url: bare, branch: 'a..b' }, cacheDir: makeTempDir() })).rejects.toMatchObject({
      code: 'InvalidRequestError',
    });
  });

  test('a missing branch, repository or password is the engine typed error', async () => {
    await expect(readDeployHistory({ repository: { url: bare, branch: 'nope' }, cacheDir: makeTempDir() })).rejects.toMatchObject({
      code: 'RepositoryNotFoundError',
    });
    await expect(readDeployHistory({ repository: { url, branch: 'nope', credentials: AUTH }, cacheDir: makeTempDir() })).rejects.toMatchObject({
      code: 'RepositoryNotFoundError',
    });
    await expect(
      readDeployHistory({ repository: { url: server.urlFor('nope.git'), branch: 'main', credentials: AUTH }, cacheDir: makeTempDir() }),
    ).rejects.toMatchObject({ code: 'RepositoryNotFoundError' });
    await expect(
      readDeployHistory({ repository: { url, branch: 'main', credentials: { ...AUTH, password: 'wrong' } }, cacheDir: makeTempDir() }),
    ).rejects.toMatchObject({ code: 'AuthFailedError' });
    await expect(readDeployHistory({ repository: { url: makeTempDir(), branch: 'main' }, cacheDir: makeTempDir() })).rejects.toMatchObject({
      code: 'RepositoryNotFoundError',
    });
  });

  describe('deeper than the shallow fetch (depth 50)', () => {
    let deepUrl: string;
    let deep: string;

    beforeAll(() => {
      deep = bareWithLinearHistory(130, (i) => `apps/app-${i % 5}/deploy.yaml`);
      fs.renameSync(deep, path.join(root, 'deep.git'));
      deep = path.join(root, 'deep.git');
      deepUrl = server.urlFor('deep.git');
    });

    test('--limit 80 lists 80 commits: the cache is deepened, and stays shallow', async () => {
      const cacheDir = makeTempDir();
      const history = await readDeployHistory({ repository: { url: deepUrl, branch: 'main', credentials: AUTH }, cacheDir, limit: 80 });
      expect(history.commits).toHaveLength(80);
      expect(history.ended).toBe('limit');
      expectMatchesGit(history, deep, 80);
      expect(history.commits[79].date).toBe(git(deep, 'log', '-1', '--format=%cI', 'main~79'));
      // The cache was fetched shallow and deepened, not cloned whole.
      const shallow = fs
        .readFileSync(path.join(cacheRepoPath(cacheDir, deepUrl), 'shallow'), 'utf8')
        .trim()
        .split('\n');
      expect(shallow.length).toBeGreaterThan(0);
      expect(git(cacheRepoPath(cacheDir, deepUrl), 'rev-list', '--count', 'refs/remotes/origin/main')).not.toBe('130');
    });

    test('a path touched every fifth commit: 20 of them reach 100 commits deep', async () => {
      const history = await readDeployHistory({
        repository: { url: deepUrl, branch: 'main', credentials: AUTH },
        cacheDir: makeTempDir(),
        paths: ['apps/app-0'],
        limit: 20,
      });
      expectMatchesGit(history, deep, 20, ['apps/app-0']);
      expect(history.commits.every((c) => c.paths.join() === 'apps/app-0')).toBe(true);
      expect(history.walked).toBe(100);
    });

    test('the whole history with a warm cache, then the root: ended "end"', async () => {
      const cacheDir = makeTempDir();
      const repository = { url: deepUrl, branch: 'main', credentials: AUTH };
      await readDeployHistory({ repository, cacheDir, limit: 5 });
      const history = await readDeployHistory({ repository, cacheDir, limit: 1000 });
      expect(history).toMatchObject({ ended: 'end', walked: 130 });
      expectMatchesGit(history, deep, 1000);
    });
  });

  test('a shallow local repository ends the walk at its edge, saying so: the edge commit has no parent to compare with', async () => {
    const shallow = path.join(makeTempDir(), 'shallow.git');
    git(path.dirname(shallow), 'clone', '-q', '--bare', '--depth', '3', `file://${bare}`, shallow);
    const history = await readDeployHistory({ repository: { url: shallow, branch: 'main' }, cacheDir: makeTempDir() });
    expect(history).toMatchObject({ walked: 3, ended: 'missing-history' });
    expectMatchesGit(history, bare, 2);
  });

  test('a message hiding long whitespace runs is read in linear time, with its trailers as git reads them', async () => {
    // ./message.ts's /\s+$/ costs the square of such a run: unshortened, these 200,000 characters
    // take about a minute of CPU instead of milliseconds. (Runs of newlines alone are not tried:
    // ObjectStore.readCommit's /\n+$/ has the same cost.)
    const work = initRepo();
    commitFiles(work, 'Initial', { 'apps/web/deploy.yaml': 'image: web:1\n' });
    const file = path.join(makeTempDir(), 'message');
    fs.writeFileSync(file, `Tune web\n\nbody${' '.repeat(100_000)}x\n${' \n'.repeat(50_000)}Incident: INC-9\n`);
    fs.writeFileSync(path.join(work, 'apps/web/deploy.yaml'), 'image: web:2\n');
    git(work, 'commit', '-q', '-a', '--cleanup=verbatim', '-F', file);
    const repo = cloneBare(work);
    const started = performance.now();
    const history = await readDeployHistory({ repository: { url: repo, branch: 'main' }, cacheDir: makeTempDir() });
    expect(performance.now() - started).toBeLessThan(scaled(5000));
    expectMatchesGit(history, repo, 20);
    expect(history.commits[0]).toMatchObject({ subject: 'Tune web', incident: 'INC-9', reverts: [] });
  });

  test('the walk stops at limit + 1000 commits when few commits touch the paths', async () => {
    const long = bareWithLinearHistory(1105, (i) => (i === 0 ? 'rare/first.yaml' : `apps/app-${i % 5}/deploy.yaml`));
    const history = await readDeployHistory({ repository: { url: long, branch: 'main' }, cacheDir: makeTempDir(), paths: ['rare'], limit: 2 });
    expect(history).toMatchObject({ commits: [], walked: 1002, ended: 'walk-bound' });
    const found = await readDeployHistory({ repository: { url: long, branch: 'main' }, cacheDir: makeTempDir(), paths: ['apps/app-1'], limit: 2 });
    expectMatchesGit(found, long, 2, ['apps/app-1']);
  });
});
