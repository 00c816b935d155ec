/**
 * The engine's cache directory under concurrency, faults and hostile servers, against a real
 * git server (git http-backend): one lock per cache repository taken before it is opened,
 * fetches that land only when complete, leftovers of a crash removed at open, and eviction
 * under a byte budget.
 */
import * as fs from 'node:fs';
import { request as httpRequest, createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { evictCaches } from '../../src/git/cache-dir.js';
import { runRollback, type RollbackRequest } from '../../src/git/engine.js';
import { lockFilePath, withRepositoryLock } from '../../src/git/lock.js';
import { cacheRepoPath } from '../../src/git/remote.js';
import { git, makeTempDir } from '../helpers/git-cli.js';
import { addCommits, createBareRepo, startGitHttpServer, type GitHttpServer } from '../helpers/git-http-server.js';

let root: string;
let server: GitHttpServer;
let repoCount = 0;

beforeAll(async () => {
  root = makeTempDir('cache-dir-test-');
  server = await startGitHttpServer({ root: join(root, 'repos') });
});
afterAll(async () => {
  await server?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

/** A server repository with `commits` commits on main; returns its name, bare path and URL. */
async function serverRepo(commits = 5): Promise<{ name: string; bare: string; url: string }> {
  const name = `repo-${++repoCount}.git`;
  const bare = await createBareRepo(join(root, 'repos'), name, { commits });
  return { name, bare, url: server.urlFor(name) };
}

/** A dry-run revert of the branch head: fetches and computes, pushes nothing. */
function planHeadRevert(url: string, branch: string, head: string): RollbackRequest {
  return { repository: { url, branch }, action: { kind: 'revert', commits: [head] }, dryRun: true };
}

function bytesUnder(path: string): number {
  const stat = fs.lstatSync(path);
  if (!stat.isDirectory()) return stat.size;
  return fs.readdirSync(path).reduce((sum, name) => sum + bytesUnder(join(path, name)), 0);
}

function cacheRepos(cacheDir: string): string[] {
  return fs
    .readdirSync(cacheDir)
    .filter((name) => /^[0-9a-f]{64}$/.test(name))
    .sort();
}

describe('one lock per cache repository', () => {
  // The cache repository, its `shallow` file and its packs are per URL; the lock was per branch,
  // so two branches fetched into one cache at once, and each fetch rewrote `shallow` from what
  // it had read before the other wrote.
  test('two branches of one repository run one after the other and both keep their shallow boundary', async () => {
    const { bare, url } = await serverRepo(60);
    const otherHead = await addCommits(bare, 60, { branch: 'other', prefix: 'other' });
    const mainHead = git(bare, 'rev-parse', 'main');
    const cacheDir = makeTempDir();
    const events: string[] = [];
    const options = (label: string) => ({
      cacheDir,
      onProgress: () => void events.push(label),
      inspect: async () => void events.push(label),
    });
    const [a, b] = await Promise.all([
      runRollback(planHeadRevert(url, 'main', mainHead), options('main')),
      runRollback(planHeadRevert(url, 'other', otherHead), options('other')),
    ]);
    expect([a.result, b.result]).toEqual(['planned', 'planned']);
    // Every event of one run comes before every event of the other.
    const switches = events.filter((label, i) => i > 0 && label !== events[i - 1]).length;
    expect({ switches, runs: [...new Set(events)].sort() }).toEqual({ switches: 1, runs: ['main', 'other'] });
    // Depth 50 on each branch: the 50th commit of each is a boundary.
    const shallow = fs
      .readFileSync(join(cacheRepoPath(cacheDir, url), 'shallow'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .sort();
    expect(shallow).toEqual([git(bare, 'rev-parse', 'main~49'), git(bare, 'rev-parse', 'other~49')].sort());
  });
});

describe('locks across a container restart', () => {
  // The operator is pid 1 before and after a restart and the cache volume survives: the lock file
  // of a rollback cut short names "1", a live pid. The old code waited 120 s on it, then failed,
  // on every later rollback of that repository.
  test('a lock file left by the previous container (same pid, old format) does not block the next rollback', async () => {
    const { bare, url } = await serverRepo(3);
    const cacheDir = makeTempDir();
    const lockDir = join(cacheDir, 'locks');
    fs.mkdirSync(lockDir, { recursive: true });
    fs.writeFileSync(lockFilePath(lockDir, cacheRepoPath(cacheDir, url)), `${process.pid}\n`);
    await expect(runRollback(planHeadRevert(url, 'main', git(bare, 'rev-parse', 'main')), { cacheDir })).resolves.toMatchObject({ result: 'planned' });
    expect(fs.readdirSync(lockDir)).toEqual([]);
  });
});

/**
 * A proxy in front of the git server that, while `corrupt` is set, raises the object count in the
 * header of the pack it relays: the pack arrives whole but cannot be indexed.
 */
async function startCorruptingProxy(target: string): Promise<{ url: (name: string) => string; corrupt: boolean; stop(): Promise<void> }> {
  const state = { corrupt: true };
  const server: Server = createServer((req, res) => {
    const body: Buffer[] = [];
    req.on('data', (chunk: Buffer) => body.push(chunk));
    req.on('end', () => {
      const upstream = httpRequest(`${target}${req.url}`, { method: req.method, headers: req.headers }, (up: IncomingMessage) => {
        const chunks: Buffer[] = [];
        up.on('data', (chunk: Buffer) => chunks.push(chunk));
        up.on('end', () => {
          const data = Buffer.concat(chunks);
          const at = data.indexOf('PACK');
          if (state.corrupt && req.url?.endsWith('/git-upload-pack') && at >= 0) data.writeUInt32BE(data.readUInt32BE(at + 8) + 5, at + 8);
          res.writeHead(up.statusCode ?? 502, up.headers);
          res.end(data);
        });
      });
      upstream.end(Buffer.concat(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: (name) => `${base}/${name}`,
    get corrupt() {
      return state.corrupt;
    },
    set corrupt(value: boolean) {
      state.corrupt = value;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('fetches land only when complete', () => {
  test("a hostile server's broken pack leaves the cache as it was: no orphan pack, no ref to a missing commit", async () => {
    const { name, bare } = await serverRepo(5);
    const proxy = await startCorruptingProxy(server.baseUrl);
    try {
      const url = proxy.url(name);
      const head = git(bare, 'rev-parse', 'main');
      const cacheDir = makeTempDir();
      const gitdir = cacheRepoPath(cacheDir, url);
      await expect(runRollback(planHeadRevert(url, 'main', head), { cacheDir })).rejects.toThrow();
      expect(fs.readdirSync(join(gitdir, 'objects', 'pack'))).toEqual([]);
      expect(fs.existsSync(join(gitdir, 'refs', 'remotes', 'origin', 'main'))).toBe(false);
      expect(fs.existsSync(join(gitdir, 'shallow'))).toBe(false);
      expect(fs.readdirSync(gitdir).filter((n) => n.startsWith('fetch-staging-'))).toEqual([]);
      // The same cache works once the server behaves (a poisoned ref would make the commit unfindable).
      proxy.corrupt = false;
      await expect(runRollback(planHeadRevert(url, 'main', head), { cacheDir })).resolves.toMatchObject({ result: 'planned' });
      expect(git(gitdir, 'rev-parse', 'refs/remotes/origin/main')).toBe(head);
    } finally {
      await proxy.stop();
    }
  });

  test('what a crash left (a pack without index, a staging directory, a temporary file) is removed at open', async () => {
    const { bare, url } = await serverRepo(5);
    const head = git(bare, 'rev-parse', 'main');
    const cacheDir = makeTempDir();
    await runRollback(planHeadRevert(url, 'main', head), { cacheDir });
    const gitdir = cacheRepoPath(cacheDir, url);
    const packDir = join(gitdir, 'objects', 'pack');
    const kept = fs.readdirSync(packDir).sort();
    fs.writeFileSync(join(packDir, `pack-${'ab'.repeat(20)}.pack`), Buffer.alloc(1 << 20));
    fs.writeFileSync(join(packDir, 'tmp_pack_Xy12'), 'partial');
    fs.mkdirSync(join(gitdir, 'fetch-staging-0123456789ab', 'objects', 'pack'), { recursive: true });
    fs.writeFileSync(join(gitdir, 'fetch-staging-0123456789ab', 'shallow'), `${head}\n`);
    await expect(runRollback(planHeadRevert(url, 'main', head), { cacheDir })).resolves.toMatchObject({ result: 'planned' });
    expect(fs.readdirSync(packDir).sort()).toEqual(kept);
    expect(fs.readdirSync(gitdir).filter((n) => n.startsWith('fetch-staging-'))).toEqual([]);
  });
});

describe('eviction under a byte budget', () => {
  test('the cache shrinks to the budget, least recently used first; a repository in use is kept', async () => {
    const cacheDir = makeTempDir();
    const repos = [await serverRepo(30), await serverRepo(30), await serverRepo(30)];
    for (const repo of repos) await runRollback(planHeadRevert(repo.url, 'main', git(repo.bare, 'rev-parse', 'main')), { cacheDir });
    const [oldest, middle, newest] = repos.map((repo) => cacheRepoPath(cacheDir, repo.url));
    expect(cacheRepos(cacheDir)).toHaveLength(3);
    const budget = bytesUnder(middle) + bytesUnder(newest);
    const lockDir = join(cacheDir, 'locks');
    const first = await evictCaches({ fs, cacheDir, maxBytes: budget, lockDir });
    expect(first.removed).toEqual([oldest]);
    expect(
      cacheRepos(cacheDir)
        .map((n) => join(cacheDir, n))
        .reduce((sum, dir) => sum + bytesUnder(dir), 0),
    ).toBeLessThanOrEqual(budget);
    // With the middle one in use, a budget of 0 removes only the newest.
    const second = await withRepositoryLock(middle, () => evictCaches({ fs, cacheDir, maxBytes: 0, lockDir }), { lockDir });
    expect(second.removed).toEqual([newest]);
    expect(cacheRepos(cacheDir).map((n) => join(cacheDir, n))).toEqual([middle]);
  });

  test('the engine evicts after each run when given cacheMaxBytes, and the run still succeeds', async () => {
    const cacheDir = makeTempDir();
    // b has far fewer commits than a, so b alone fits a budget of a's size however the packs vary.
    const a = await serverRepo(40);
    const b = await serverRepo(5);
    await runRollback(planHeadRevert(a.url, 'main', git(a.bare, 'rev-parse', 'main')), { cacheDir });
    const sizeOfA = bytesUnder(cacheRepoPath(cacheDir, a.url));
    const result = await runRollback(planHeadRevert(b.url, 'main', git(b.bare, 'rev-parse', 'main')), { cacheDir, cacheMaxBytes: sizeOfA + 1 });
    expect(result.result).toBe('planned');
    // b is newer, so a went first; b alone is within the budget.
    expect(cacheRepos(cacheDir).map((n) => join(cacheDir, n))).toEqual([cacheRepoPath(cacheDir, b.url)]);
  });
});
