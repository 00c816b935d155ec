/**
 * The built CLI with --push-branch: the revert goes onto a new branch made from --branch's head
 * (for a pull request), --branch does not move, an existing branch is never overwritten (exit 2,
 * naming it), and --dry-run writes nothing. On a local bare repository and over smart HTTP
 * (git http-backend); every ref is compared with the git CLI. Needs `npm run build` first
 * (npm test does it).
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { JsonReport } from '../../src/cli/report.js';
import { cloneBare, commitFiles, git, initRepo, makeTempDir, publishBare } from '../helpers/git-cli.js';
import { startGitHttpServer, type GitHttpServer } from '../helpers/git-http-server.js';

const CLI = path.resolve('dist/cli/gitops-rollback.js');
const PUSH_BRANCH = 'rollback/inc-7';
const AUTH = { username: 'ops', password: 'hunter2-secret' };
const AUTH_ENV = { GIT_USERNAME: AUTH.username, GIT_PASSWORD: AUTH.password };

/** Runs the CLI asynchronously (the test's own HTTP server must keep serving meanwhile). */
function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string; json: () => JsonReport }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, HOME: makeTempDir(), ...env } }, (error, stdout, stderr) => {
      const code = error ? Number((error as { code?: number }).code ?? -1) : 0;
      resolve({ code, stdout, stderr, json: () => JSON.parse(stdout.trim().split('\n').at(-1) ?? '') });
    });
  });
}

/** Every ref of a repository with its object: compared before and after to prove nothing was written. */
const refs = (bare: string): string => git(bare, 'for-each-ref', '--format=%(objectname) %(refname)');
const revParse = (bare: string, rev: string): string => git(bare, 'rev-parse', '--verify', '--quiet', rev);

describe('gitops-rollback --push-branch', () => {
  let work: string;
  let good: string;
  let bad: string;

  beforeAll(() => {
    if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
    if (!fs.readFileSync(path.resolve('dist/cli/args.js'), 'utf8').includes("'push-branch'")) {
      throw new Error(`${CLI} predates --push-branch: run npm run build first`);
    }
  });

  beforeEach(() => {
    work = initRepo();
    good = commitFiles(work, 'Deploy frontend 1.4.0', { 'apps/frontend/deploy.yaml': 'image: frontend:1.4.0\n' });
    bad = commitFiles(work, 'Deploy frontend 1.5.0', { 'apps/frontend/deploy.yaml': 'image: frontend:1.5.0\n' });
  });

  /** The checks of a successful run: the new branch holds one revert of `bad` on main's unchanged head. */
  function expectRevertOnPushBranch(bare: string, head: string | null, refsBefore: string): void {
    expect(head).toMatch(/^[0-9a-f]{40}$/);
    expect(revParse(bare, 'refs/heads/main')).toBe(bad);
    expect(revParse(bare, `refs/heads/${PUSH_BRANCH}`)).toBe(head);
    expect(revParse(bare, `${head}^`)).toBe(bad);
    expect(git(bare, 'log', '--format=%s', `refs/heads/main..refs/heads/${PUSH_BRANCH}`)).toBe('Revert "Deploy frontend 1.5.0"');
    expect(revParse(bare, `refs/heads/${PUSH_BRANCH}^{tree}`)).toBe(revParse(bare, `${good}^{tree}`));
    expect(git(bare, 'show', 'refs/heads/main:apps/frontend/deploy.yaml')).toBe('image: frontend:1.5.0');
    expect(refs(bare)).toBe(`${refsBefore}\n${head} refs/heads/${PUSH_BRANCH}`);
  }

  describe('on a local bare repository', () => {
    let bare: string;
    beforeEach(() => {
      bare = cloneBare(work);
    });

    const revert = (...extra: string[]) => runCli(['revert', '--repo', bare, '--commit', bad, '--cache-dir', makeTempDir(), ...extra]);

    test('the text report names the new branch and its head; main is not moved', async () => {
      const before = refs(bare);
      const run = await revert('--push-branch', PUSH_BRANCH);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const head = revParse(bare, `refs/heads/${PUSH_BRANCH}`);
      expectRevertOnPushBranch(bare, head, before);
      expect(run.stdout).toContain('Rolled back');
      expect(run.stdout).toContain('Revert "Deploy frontend 1.5.0"');
      const last = run.stdout.trim().split('\n').at(-1)!;
      expect(last).toContain(PUSH_BRANCH);
      expect(last).toContain(head);
      expect(run.stdout).not.toContain('main is now at');
    });

    test('--output json reports pushedBranch and branch, exit 0', async () => {
      const before = refs(bare);
      const run = await revert('--push-branch', PUSH_BRANCH, '--output', 'json');
      expect(run.code).toBe(0);
      const report = run.json();
      expect(report).toMatchObject({
        result: 'reverted',
        branch: 'main',
        pushedBranch: PUSH_BRANCH,
        previousHead: bad,
        changedPaths: ['apps/frontend/deploy.yaml'],
      });
      expectRevertOnPushBranch(bare, report.head, before);
      expect(report.commits).toEqual([{ sha: report.head, tree: revParse(bare, `${report.head}^{tree}`), reverts: [bad] }]);
    });

    test('an existing branch exits 2, names it, says to delete it or choose another, and writes nothing', async () => {
      git(bare, 'update-ref', `refs/heads/${PUSH_BRANCH}`, good, '');
      const before = refs(bare);
      const run = await revert('--push-branch', PUSH_BRANCH, '--output', 'json');
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(`Branch ${PUSH_BRANCH} already exists`);
      expect(run.stderr).toContain('delete that branch or choose another push branch');
      expect(run.json()).toMatchObject({ result: 'error', branch: 'main', head: null, error: { code: 'PushBranchExistsError' } });
      expect(refs(bare)).toBe(before);
    });

    test('the same command twice: the CLI sets no request id, so the second run refuses the branch the first made', async () => {
      const first = await revert('--push-branch', PUSH_BRANCH, '--output', 'json');
      expect(first.code).toBe(0);
      const after = refs(bare);
      const second = await revert('--push-branch', PUSH_BRANCH, '--output', 'json');
      expect(second.code).toBe(2);
      expect(second.json()).toMatchObject({ result: 'error', error: { code: 'PushBranchExistsError' } });
      expect(second.stderr).toContain(PUSH_BRANCH);
      expect(refs(bare)).toBe(after);
      expect(revParse(bare, `refs/heads/${PUSH_BRANCH}`)).toBe(first.json().head);
    });

    test.each([
      ['the default --branch', ['--push-branch', 'main']],
      ['an explicit --branch', ['--branch', 'main', '--push-branch', 'main']],
    ])('a push branch equal to %s exits 2 and writes nothing', async (_what, args) => {
      const before = refs(bare);
      const run = await revert(...args, '--output', 'json');
      expect(run.code).toBe(2);
      expect(run.json()).toMatchObject({ result: 'error', error: { code: 'InvalidRequestError' } });
      expect(run.stderr).toContain('must differ from the target branch "main"');
      expect(refs(bare)).toBe(before);
    });

    test('--dry-run plans the revert and writes no ref', async () => {
      const before = refs(bare);
      const run = await revert('--push-branch', PUSH_BRANCH, '--dry-run', '--output', 'json');
      expect(run.code).toBe(0);
      expect(run.json()).toMatchObject({ result: 'planned', branch: 'main', head: null, previousHead: bad });
      expect(run.json().commits.map((c) => c.reverts)).toEqual([[bad]]);
      expect(refs(bare)).toBe(before);
    });
  });

  describe('over HTTP', () => {
    let server: GitHttpServer;
    let root: string;
    let repoCount = 0;

    beforeAll(async () => {
      root = makeTempDir();
      server = await startGitHttpServer({ root, auth: AUTH });
    });
    afterAll(() => server.stop());

    /** A fresh server-side copy of the history; returns its URL and bare path. */
    function publishRepo(): { url: string; bare: string } {
      const name = `fleet-${++repoCount}.git`;
      return { url: server.urlFor(name), bare: publishBare(work, root, name) };
    }

    const revert = (url: string, ...extra: string[]) =>
      runCli(['revert', '--repo', url, '--commit', bad, '--cache-dir', makeTempDir(), '--output', 'json', ...extra], AUTH_ENV);
    /** The receive-pack POSTs (pushes) the server got since request number `since`. */
    const pushesSince = (since: number) => server.requests.slice(since).filter((r) => r.method === 'POST' && r.url.endsWith('/git-receive-pack'));

    test('the revert is pushed onto the new branch only; json reports it, exit 0', async () => {
      const { url, bare } = publishRepo();
      const before = refs(bare);
      const run = await revert(url, '--push-branch', PUSH_BRANCH);
      expect(run.code).toBe(0);
      const report = run.json();
      expect(report).toMatchObject({ result: 'reverted', branch: 'main', pushedBranch: PUSH_BRANCH, previousHead: bad });
      expectRevertOnPushBranch(bare, report.head, before);
      expect(git(bare, 'fsck', '--strict')).toBe('');
    });

    test('an existing branch on the server exits 2 naming it, and nothing is pushed', async () => {
      const { url, bare } = publishRepo();
      git(bare, 'update-ref', `refs/heads/${PUSH_BRANCH}`, good, '');
      const before = refs(bare);
      const since = server.requests.length;
      const run = await revert(url, '--push-branch', PUSH_BRANCH);
      expect(run.code).toBe(2);
      expect(run.json()).toMatchObject({ result: 'error', error: { code: 'PushBranchExistsError' } });
      expect(run.stderr).toContain(`Branch ${PUSH_BRANCH} already exists`);
      expect(run.stderr).toContain('delete that branch or choose another push branch');
      expect(pushesSince(since)).toHaveLength(0);
      expect(refs(bare)).toBe(before);
    });

    test('a push branch equal to --branch exits 2 before any request to the server', async () => {
      const { url, bare } = publishRepo();
      const before = refs(bare);
      const since = server.requests.length;
      const run = await revert(url, '--branch', 'main', '--push-branch', 'main');
      expect(run.code).toBe(2);
      expect(run.json()).toMatchObject({ result: 'error', error: { code: 'InvalidRequestError' } });
      expect(server.requests.length).toBe(since);
      expect(refs(bare)).toBe(before);
    });

    test('--dry-run pushes nothing', async () => {
      const { url, bare } = publishRepo();
      const before = refs(bare);
      const since = server.requests.length;
      const run = await revert(url, '--push-branch', PUSH_BRANCH, '--dry-run');
      expect(run.code).toBe(0);
      expect(run.json()).toMatchObject({ result: 'planned', head: null, previousHead: bad });
      expect(server.requests.length).toBeGreaterThan(since);
      expect(pushesSince(since)).toHaveLength(0);
      expect(refs(bare)).toBe(before);
    });
  });
});
