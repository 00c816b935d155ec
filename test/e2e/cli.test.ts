/**
 * The built CLI as a user runs it: exit codes, the JSON contract on the last line of stdout, the
 * text report, and clear errors on stderr. Needs `npm run build` first (npm test does it).
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { commitFiles, cloneBare, git, initRepo, makeTempDir } from '../helpers/git-cli.js';
import type { JsonReport } from '../../src/cli/report.js';
import { startGitHttpServer, type GitHttpServer } from '../helpers/git-http-server.js';

const CLI = path.resolve('dist/cli/gitops-rollback.js');

/** Runs the CLI asynchronously (the test's own HTTP server must keep serving meanwhile). */
function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string; json: () => JsonReport }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, HOME: makeTempDir(), ...env } }, (error, stdout, stderr) => {
      const lastLine = stdout.trim().split('\n').at(-1) ?? '';
      const code = error ? Number((error as { code?: number }).code ?? -1) : 0;
      resolve({ code, stdout, stderr, json: () => JSON.parse(lastLine) });
    });
  });
}

describe('gitops-rollback CLI', () => {
  let work: string;
  let bare: string;
  let good: string;
  let bad: string;

  beforeAll(() => {
    if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  });

  beforeEach(() => {
    work = initRepo();
    good = commitFiles(work, 'Deploy frontend 1.4.0', { 'apps/frontend/deploy.yaml': 'image: frontend:1.4.0\n', 'apps/frontend/extra.yaml': 'a: 1\n' });
    bad = commitFiles(work, 'Deploy frontend 1.5.0', { 'apps/frontend/deploy.yaml': 'image: frontend:1.5.0\n' });
    bare = cloneBare(work);
  });

  test('revert --output json prints the contract object and exits 0', async () => {
    const run = await runCli(['revert', '--repo', bare, '--commit', bad.slice(0, 7), '--incident', 'INC-1', '--output', 'json', '--cache-dir', makeTempDir()]);
    expect(run.code).toBe(0);
    const report = run.json();
    expect(report).toMatchObject({ result: 'reverted', branch: 'main', previousHead: bad, conflicts: [], changedPaths: ['apps/frontend/deploy.yaml'] });
    expect(report.head).toBe(git(bare, 'rev-parse', 'main'));
    expect(report.commits).toEqual([{ sha: report.head, tree: git(bare, 'rev-parse', 'main^{tree}'), reverts: [bad] }]);
    expect(git(bare, 'show', 'main:apps/frontend/deploy.yaml')).toBe('image: frontend:1.4.0');
  });

  test('the text report names the new commit and the changed files', async () => {
    const run = await runCli(['revert', '--repo', bare, '--commit', bad, '--cache-dir', makeTempDir()]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Rolled back');
    expect(run.stdout).toContain('Revert "Deploy frontend 1.5.0"');
    expect(run.stdout).toContain('apps/frontend/deploy.yaml');
    expect(run.stdout).toContain(`main is now at ${git(bare, 'rev-parse', 'main')}`);
  });

  test('--dry-run reports planned and writes no ref', async () => {
    const run = await runCli(['revert', '--repo', bare, '--commit', bad, '--dry-run', '--output', 'json']);
    expect(run.code).toBe(0);
    expect(run.json()).toMatchObject({ result: 'planned', head: null });
    expect(git(bare, 'rev-parse', 'main')).toBe(bad);
  });

  test('restore exits 0 and removes files added since the good revision', async () => {
    const third = commitFiles(work, 'Add feature flag', { 'apps/frontend/flags.yaml': 'x: 1\n' });
    bare = cloneBare(work);
    const run = await runCli(['restore', '--repo', bare, '--revision', good, '--path', 'apps/frontend', '--output', 'json']);
    expect(run.code).toBe(0);
    expect(run.json().changedPaths).toEqual(['apps/frontend/deploy.yaml', 'apps/frontend/flags.yaml']);
    expect(git(bare, 'rev-parse', 'main^')).toBe(third);
  });

  test('a second revert of the same commit is already-reverted, exit 0', async () => {
    await runCli(['revert', '--repo', bare, '--commit', bad]);
    const run = await runCli(['revert', '--repo', bare, '--commit', bad, '--output', 'json']);
    expect(run.code).toBe(0);
    expect(run.json()).toMatchObject({ result: 'already-reverted', head: null, alreadyReverted: [bad] });
  });

  test('a conflict exits 1, lists the conflicting paths and leaves the branch', async () => {
    commitFiles(work, 'Deploy frontend 1.6.0', { 'apps/frontend/deploy.yaml': 'image: frontend:1.6.0\n' });
    bare = cloneBare(work);
    const head = git(bare, 'rev-parse', 'main');
    const run = await runCli(['revert', '--repo', bare, '--commit', bad, '--output', 'json']);
    expect(run.code).toBe(1);
    expect(run.json()).toMatchObject({ result: 'conflict', head: null, conflicts: [{ path: 'apps/frontend/deploy.yaml', reason: 'content' }] });
    expect(run.stderr).toContain('Nothing was written');
    expect(git(bare, 'rev-parse', 'main')).toBe(head);
  });

  test.each([
    ['an unknown commit', () => ['revert', '--repo', bare, '--commit', 'deadbeef'], /Commit deadbeef was not found/],
    ['a malformed revision', () => ['revert', '--repo', bare, '--commit', 'HEAD@{1}'], /Invalid revision/],
    ['an empty range', () => ['revert', '--repo', bare, '--range', `${bad}..${bad}`], /contains no commits/],
    ['a path with ..', () => ['revert', '--repo', bare, '--commit', bad, '--path', '../etc'], /Invalid path/],
    ['a missing repository', () => ['revert', '--repo', '/nonexistent/repo.git', '--commit', bad], /not found/],
    ['a usage error', () => ['revert', '--commit', bad], /--repo is required/],
  ])('%s exits 2 with a clear message and the branch unchanged', async (_name, args, message) => {
    const run = await runCli(args());
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(git(bare, 'rev-parse', 'main')).toBe(bad);
  });

  describe('over HTTP with credentials from the environment', () => {
    let server: GitHttpServer;
    let root: string;
    beforeAll(async () => {
      root = makeTempDir();
      server = await startGitHttpServer({ root, auth: { username: 'ops', password: 'hunter2-secret' } });
    });
    afterAll(() => server.stop());

    test('GIT_USERNAME/GIT_PASSWORD push the revert; a wrong password exits 2 without echoing it', async () => {
      git(root, 'clone', '-q', '--bare', work, 'fleet.git');
      git(path.join(root, 'fleet.git'), 'config', 'http.receivepack', 'true');
      const url = server.urlFor('fleet.git');
      const wrong = await runCli(['revert', '--repo', url, '--commit', bad, '--output', 'json'], { GIT_USERNAME: 'ops', GIT_PASSWORD: 'not-the-password' });
      expect(wrong.code).toBe(2);
      expect(wrong.json()).toMatchObject({ result: 'error', error: { code: 'AuthFailedError' } });
      expect(wrong.stdout + wrong.stderr).not.toContain('not-the-password');

      const ok = await runCli(['revert', '--repo', url, '--commit', bad, '--output', 'json', '--cache-dir', makeTempDir()], {
        GIT_USERNAME: 'ops',
        GIT_PASSWORD: 'hunter2-secret',
      });
      expect(ok.code).toBe(0);
      expect(ok.json().head).toBe(git(path.join(root, 'fleet.git'), 'rev-parse', 'main'));
      // The repository is on this machine (allowed), over plain http:// (allowed, not silently).
      expect(ok.stderr).toContain('warning: http:// sends credentials and content unencrypted');
    });

    test('credentials in --repo exit 2 before any request, without echoing them', async () => {
      const before = server.requests.length;
      const url = server.urlFor('fleet.git').replace('http://', 'http://ops:hunter2-secret@');
      const run = await runCli(['revert', '--repo', url, '--commit', bad, '--output', 'json', '--cache-dir', makeTempDir()]);
      expect(run.code).toBe(2);
      expect(run.json()).toMatchObject({ result: 'error', error: { code: 'InvalidRepositoryUrlError' } });
      expect(run.stderr).toContain('contains credentials');
      expect(run.stdout + run.stderr).not.toContain('hunter2-secret');
      expect(server.requests.length).toBe(before);
    });
  });
});
