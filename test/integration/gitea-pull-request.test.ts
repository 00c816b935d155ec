/**
 * The pull-request clients against a real Gitea (v1.26.0, test/envtest/provide-gitea.sh): the
 * requests the Gitea client sends are answered by Gitea itself, through the same transport the
 * operator uses (network policy, no redirects, bounded answers). Branches are pushed with the git
 * CLI; merges and closes are done through Gitea's API, as a reviewer would. The built CLI's
 * --pull-request too (npm test builds it first).
 */
import { jest } from '@jest/globals';
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { createHttpApiTransport } from '../../src/pull-request/api-client.js';
import { pullRequestClientFactory } from '../../src/pull-request/create-client.js';
import { PullRequestApiError } from '../../src/pull-request/errors.js';
import type { PullRequestClient } from '../../src/pull-request/types.js';
import { LOCAL_NETWORK_POLICY } from '../../src/git/url-policy.js';
import { commitFiles, git, initRepo, makeTempDir } from '../helpers/git-cli.js';
import { startGitea, type GiteaServer } from '../helpers/gitea-server.js';
import type { JsonReport } from '../../src/cli/report.js';

const CLI = path.resolve('dist/cli/gitops-rollback.js');

/** The built CLI (npm test builds it first) with only `env` and PATH in its environment. */
function runCli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, HOME: makeTempDir(), ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}

jest.setTimeout(5 * 60_000);

describe('pull requests on a real Gitea', () => {
  let gitea: GiteaServer;
  let work: string;
  let client: PullRequestClient;
  const clients = pullRequestClientFactory(createHttpApiTransport({ policy: LOCAL_NETWORK_POLICY, timeoutMs: 30_000 }));

  /** A branch off main with one commit, pushed to Gitea. */
  function pushBranch(branch: string, file: string): string {
    git(work, 'checkout', '-q', '-B', branch, 'main');
    commitFiles(work, `Change on ${branch}`, { [file]: `${branch}\n` });
    gitea.git(work, 'push', '-q', gitea.repoUrl('fleet'), branch);
    git(work, 'checkout', '-q', 'main');
    return git(work, 'rev-parse', branch);
  }

  beforeAll(async () => {
    gitea = await startGitea();
    await gitea.createRepository('fleet');
    work = initRepo();
    commitFiles(work, 'Start', { 'README.md': 'fleet\n' });
    gitea.git(work, 'push', '-q', gitea.repoUrl('fleet'), 'main');
    client = clients({ provider: 'gitea', repositoryUrl: gitea.repoUrl('fleet'), token: gitea.token });
  });

  afterAll(async () => {
    await gitea?.stop();
  });

  test('opens a pull request from a pushed branch, and finds the same one on a second open (no duplicate)', async () => {
    const headCommit = pushBranch('gitops-rollback/first', 'first.txt');
    const draft = { head: 'gitops-rollback/first', headCommit, base: 'main', title: 'Rollback: revert abc1234 (INC-1)', body: '**Reason:** errors' };
    const opened = await client.open(draft);
    expect(opened).toMatchObject({ state: 'Open', url: `${gitea.baseUrl}/${gitea.username}/fleet/pulls/${opened.number}` });
    const again = await client.open(draft);
    expect(again.number).toBe(opened.number);
    const listed = await gitea.api<{ number: number; title: string; body: string }[]>('GET', `/repos/${gitea.username}/fleet/pulls?state=all`);
    expect(listed.filter((pr) => pr.title === draft.title)).toHaveLength(1);
    expect(listed.find((pr) => pr.number === opened.number)?.body).toBe(draft.body);
  });

  test('merged through the API: Merged, with the merge commit main now points at', async () => {
    const headCommit = pushBranch('gitops-rollback/merged', 'merged.txt');
    const opened = await client.open({ head: 'gitops-rollback/merged', headCommit, base: 'main', title: 'Rollback: merged', body: 'b' });
    await gitea.api('POST', `/repos/${gitea.username}/fleet/pulls/${opened.number}/merge`, { Do: 'merge' });
    const merged = await client.get(opened.number);
    const main = gitea.git(work, 'ls-remote', gitea.repoUrl('fleet'), 'refs/heads/main').split('\t')[0];
    expect(merged).toEqual({ number: opened.number, url: opened.url, state: 'Merged', mergeCommit: main });
  });

  test('a branch name reused after its pull request was merged gets a new pull request, not the merged one', async () => {
    const first = pushBranch('gitops-rollback/reused', 'reused-1.txt');
    const old = await client.open({ head: 'gitops-rollback/reused', headCommit: first, base: 'main', title: 'Rollback: reused 1', body: 'b' });
    await gitea.api('POST', `/repos/${gitea.username}/fleet/pulls/${old.number}/merge`, { Do: 'merge' });
    gitea.git(work, 'pull', '-q', '--ff-only', gitea.repoUrl('fleet'), 'main');
    const second = pushBranch('gitops-rollback/reused', 'reused-2.txt');
    const fresh = await client.open({ head: 'gitops-rollback/reused', headCommit: second, base: 'main', title: 'Rollback: reused 2', body: 'b' });
    expect(fresh.number).not.toBe(old.number);
    expect(fresh.state).toBe('Open');
    expect((await client.get(old.number)).state).toBe('Merged');
  });

  test('closed through the API without a merge: Closed', async () => {
    const headCommit = pushBranch('gitops-rollback/closed', 'closed.txt');
    const opened = await client.open({ head: 'gitops-rollback/closed', headCommit, base: 'main', title: 'Rollback: closed', body: 'b' });
    await gitea.api('PATCH', `/repos/${gitea.username}/fleet/pulls/${opened.number}`, { state: 'closed' });
    expect(await client.get(opened.number)).toMatchObject({ state: 'Closed' });
  });

  test('the CLI: --push-branch --pull-request gitea pushes the revert to the branch and opens the pull request (JSON pullRequest)', async () => {
    gitea.git(work, 'pull', '-q', '--ff-only', gitea.repoUrl('fleet'), 'main');
    const bad = commitFiles(work, 'Deploy web 2.0', { 'apps/web/config.yaml': 'version: 2.0\n' });
    gitea.git(work, 'push', '-q', gitea.repoUrl('fleet'), 'main');
    const run = await runCli(
      [
        'revert',
        '--repo',
        gitea.repoUrl('fleet'),
        '--commit',
        bad,
        '--push-branch',
        'rollback/cli',
        '--pull-request',
        'gitea',
        '--incident',
        'INC-9',
        '--output',
        'json',
      ],
      { GIT_USERNAME: gitea.username, GIT_PASSWORD: gitea.token },
    );
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as JsonReport;
    expect(report).toMatchObject({ result: 'reverted', branch: 'main', pushedBranch: 'rollback/cli', pullRequest: { provider: 'gitea', state: 'Open' } });
    const listed = await gitea.api<{ number: number; html_url: string; title: string; head: { ref: string; sha: string } }[]>(
      'GET',
      `/repos/${gitea.username}/fleet/pulls?state=open`,
    );
    const pr = listed.find((p) => p.number === report.pullRequest!.number)!;
    expect(pr).toMatchObject({ html_url: report.pullRequest!.url, head: { ref: 'rollback/cli', sha: report.head } });
    expect(pr.title).toContain('INC-9');
    expect(gitea.git(work, 'ls-remote', gitea.repoUrl('fleet'), 'refs/heads/main').split('\t')[0]).toBe(bad);
    expect(run.stdout + run.stderr).not.toContain(gitea.token);
  });

  test('a wrong token is refused (HTTP 401, not worth retrying) and the token is not in the message', async () => {
    const wrong = clients({ provider: 'gitea', repositoryUrl: gitea.repoUrl('fleet'), token: 'not-the-right-token-123' });
    const error = await wrong.get(1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PullRequestApiError);
    expect((error as PullRequestApiError).data).toMatchObject({ status: 401, transient: false });
    expect((error as Error).message).not.toContain('not-the-right-token-123');
  });

  test('a branch that does not exist: Gitea refuses the pull request (not worth retrying)', async () => {
    const error = await client.open({ head: 'no-such-branch', headCommit: 'e'.repeat(40), base: 'main', title: 't', body: 'b' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PullRequestApiError);
    expect((error as PullRequestApiError).data.transient).toBe(false);
  });

  test('the operator network policy refuses Gitea on a loopback address before any request', async () => {
    const strict = pullRequestClientFactory(createHttpApiTransport({ policy: { allowInsecureHttp: true, allowPrivateHosts: false } }));
    const error = await strict({ provider: 'gitea', repositoryUrl: gitea.repoUrl('fleet'), token: gitea.token })
      .get(1)
      .catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('GitHostNotAllowedError');
  });
});
