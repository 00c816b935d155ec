/**
 * `gitops-rollback history` from the built CLI, as a person and a tool run it: the table, the
 * JSON object on the last line of stdout (checked against git log), --path and --limit, and exit
 * 2 with a clear message for bad flags, a missing repository and refused credentials. The
 * history holds a revert made by the CLI itself, with its incident and request trailers. Needs
 * `npm run build` first (npm test does it).
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { HistoryJsonReport } from '../../src/cli/history.js';
import { cloneBare, commitFiles, git, initRepo, makeTempDir } from '../helpers/git-cli.js';
import { startGitHttpServer, type GitHttpServer } from '../helpers/git-http-server.js';

const CLI = path.resolve('dist/cli/gitops-rollback.js');
const AUTH = { username: 'flux', password: 's3cr3t-Pa55' };

/** Runs the CLI asynchronously (the test's own HTTP server must keep serving meanwhile). */
function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string; json: () => HistoryJsonReport }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, HOME: makeTempDir(), ...env } }, (error, stdout, stderr) => {
      const code = error ? Number((error as { code?: number }).code ?? -1) : 0;
      resolve({ code, stdout, stderr, json: () => JSON.parse(stdout.trim().split('\n').at(-1) ?? '') });
    });
  });
}

describe('gitops-rollback history', () => {
  let bare: string;
  let server: GitHttpServer;
  let url: string;
  const sha: Record<string, string> = {};

  beforeAll(async () => {
    if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
    const work = initRepo();
    sha.initial = commitFiles(work, 'Initial fleet', {
      'README.md': 'fleet\n',
      'apps/web/deploy.yaml': 'image: web:1.4.0\n',
      'apps/api/deploy.yaml': 'image: api:2.0.0\n',
      'infra/namespaces.yaml': 'kind: Namespace\n',
    });
    sha.web150 = commitFiles(work, 'Deploy web 1.5.0', { 'apps/web/deploy.yaml': 'image: web:1.5.0\n' });
    git(work, 'revert', '--no-edit', 'HEAD');
    sha.gitRevert = git(work, 'rev-parse', 'HEAD');
    sha.api21 = commitFiles(work, 'Deploy api 2.1.0', { 'apps/api/deploy.yaml': 'image: api:2.1.0\n' });
    sha.web160 = commitFiles(work, 'Deploy web 1.6.0', { 'apps/web/deploy.yaml': 'image: web:1.6.0\n' });
    bare = cloneBare(work);
    const revert = await runCli([
      'revert',
      '--repo',
      bare,
      '--commit',
      sha.web160,
      '--incident',
      'INC-42',
      '--reason',
      'pods crash',
      '--cache-dir',
      makeTempDir(),
    ]);
    expect(revert.code).toBe(0);
    sha.cliRevert = git(bare, 'rev-parse', 'main');

    const root = makeTempDir();
    server = await startGitHttpServer({ root, auth: AUTH });
    cloneBare(bare, path.join(root, 'fleet.git'));
    url = server.urlFor('fleet.git');
  });
  afterAll(() => server?.stop());

  test('--output json: one object on the last line, the commits git log --first-parent lists, with their links', async () => {
    const run = await runCli(['history', '--repo', bare, '--output', 'json', '--cache-dir', makeTempDir()]);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const report = run.json();
    expect(Object.keys(report)).toEqual(['branch', 'head', 'commits']);
    expect(report.branch).toBe('main');
    expect(report.head).toBe(git(bare, 'rev-parse', 'main'));
    const log = git(bare, 'log', '--first-parent', '--format=%H%x00%s%x00%an <%ae>%x00%cI', 'main')
      .split('\n')
      .map((line) => line.split('\x00'));
    expect(report.commits.map((c) => [c.sha, c.subject, c.author, c.date])).toEqual(log);
    expect(Object.keys(report.commits[0]).sort()).toEqual(
      ['author', 'date', 'incident', 'paths', 'revertedBy', 'reverts', 'rollbackRequest', 'sha', 'subject'].sort(),
    );
    const bySha = new Map(report.commits.map((c) => [c.sha, c]));
    expect(bySha.get(sha.cliRevert)).toMatchObject({ reverts: [sha.web160], incident: 'INC-42', paths: ['apps/web'], revertedBy: null });
    expect(bySha.get(sha.web160)).toMatchObject({ revertedBy: sha.cliRevert, reverts: [] });
    expect(bySha.get(sha.web150)).toMatchObject({ revertedBy: sha.gitRevert });
    expect(bySha.get(sha.gitRevert)).toMatchObject({ reverts: [sha.web150], incident: null, rollbackRequest: null });
    expect(bySha.get(sha.initial)?.paths).toEqual(['.', 'apps/api', 'apps/web', 'infra']);
  });

  test('the text table names each commit, its components and its links, within 100 columns', async () => {
    const run = await runCli(['history', '--repo', bare, '--cache-dir', makeTempDir()]);
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`main at ${sha.cliRevert.slice(0, 12)}: 6 commits, newest first along first parents`);
    expect(lines[2]).toMatch(/^COMMIT\s+DATE \(UTC\)\s+SUBJECT\s+COMPONENTS$/);
    expect(lines[3]).toMatch(new RegExp(`^${sha.cliRevert.slice(0, 12)}  \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d  Revert "Deploy web 1\\.6\\.0"\\s+apps/web$`));
    expect(lines[4].trim()).toBe(`reverts ${sha.web160.slice(0, 12)}; incident INC-42`);
    expect(run.stdout).toContain(`reverted by ${sha.cliRevert.slice(0, 12)}`);
    expect(run.stdout).toContain(`reverted by ${sha.gitRevert.slice(0, 12)}`);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(99);
  });

  test('--path and --limit: the newest commits touching the path, over smart HTTP too', async () => {
    const expected = git(bare, 'log', '--first-parent', '-n2', '--format=%H', 'main', '--', 'apps/web').split('\n');
    const local = await runCli(['history', '--repo', bare, '--path', 'apps/web', '--limit', '2', '--output', 'json', '--cache-dir', makeTempDir()]);
    expect(local.code).toBe(0);
    expect(local.json().commits.map((c) => c.sha)).toEqual(expected);
    const remote = await runCli(['history', '--repo', url, '--path', 'apps/web', '--limit', '2', '--output', 'json', '--cache-dir', makeTempDir()], {
      GIT_USERNAME: AUTH.username,
      GIT_PASSWORD: AUTH.password,
    });
    expect(remote.code).toBe(0);
    expect(remote.stderr).toContain('warning: http://');
    expect(remote.json()).toEqual(local.json());
    const api = await runCli(['history', '--repo', bare, '--path', 'apps/api/', '--output', 'json', '--cache-dir', makeTempDir()]);
    expect(api.json().commits.map((c) => c.sha)).toEqual([sha.api21, sha.initial]);
  });

  test.each([
    [['history'], 'history needs --repo'],
    [['history', '--repo', 'x', '--limit', '0'], '--limit must be a whole number from 1 to 1000'],
    [['history', '--repo', 'x', '--limit', '5000'], '--limit must be a whole number from 1 to 1000'],
    [['history', '--repo', 'x', '--path', '../up'], '--path: Invalid path "../up"'],
    [['history', '--repo', 'x', '--output', 'yaml'], '--output must be text or json'],
    [['history', '--repo', 'x', '--bogus'], "Unknown option '--bogus'"],
  ])('%j exits 2 with the message and the usage', async (args, message) => {
    const run = await runCli(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`gitops-rollback: ${message}`);
    expect(run.stderr).toContain('gitops-rollback history (--repo');
    expect(run.stdout).toBe('');
  });

  test('a missing repository, branch or credentials exit 2 with the typed error, never "Unexpected error"', async () => {
    const missing = path.join(makeTempDir(), 'nope.git');
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['--repo', missing], {}, /gitops-rollback: Repository .*nope\.git was not found/],
      [['--repo', bare, '--branch', 'nope'], {}, /gitops-rollback: .*was not found/],
      [
        ['--repo', server.urlFor('nope.git')],
        { GIT_USERNAME: AUTH.username, GIT_PASSWORD: AUTH.password },
        /gitops-rollback: Repository .*nope\.git.* not found/,
      ],
      [['--repo', url], { GIT_USERNAME: AUTH.username, GIT_PASSWORD: 'wrong-Pa55' }, /gitops-rollback: Authentication failed for .*\(HTTP 401\)/],
    ];
    for (const [args, env, message] of cases) {
      const run = await runCli(['history', ...args, '--cache-dir', makeTempDir()], env);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(message);
      expect(run.stderr).not.toContain('Unexpected error');
      expect(run.stderr).not.toContain('wrong-Pa55');
    }
    const json = await runCli(['history', '--repo', missing, '--output', 'json', '--cache-dir', makeTempDir()]);
    expect(json.code).toBe(2);
    expect(json.json()).toMatchObject({ branch: 'main', head: null, commits: [], error: { code: 'RepositoryNotFoundError' } });
  });
});
