/**
 * Pull-request mode end to end, with nothing faked: a real Gitea (v1.26.0) hosts the fleet, the
 * real source-controller and kustomize-controller (v1.9.6, the cluster mode of the test control
 * plane) deploy from it, and the operator runs as a process. A GitOpsRollback with
 * spec.pullRequest pushes its revert onto gitops-rollback/<name>, opens the pull request through
 * Gitea's API and waits (Ready=Unknown WaitingForMerge); the test merges it through Gitea's API as
 * a reviewer would; Flux applies the merge; the rollback ends Ready. A pull request closed
 * unmerged stalls the rollback and leaves main untouched.
 */
import { jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import type { GitOpsRollback } from '../../src/api/v1alpha1/types.js';
import { startCluster, type Cluster } from '../envtest/cluster.js';
import { eventually } from '../helpers/eventually.js';
import { commitFiles, commitMessage, git, initRepo } from '../helpers/git-cli.js';
import { startGitea, type GiteaServer } from '../helpers/gitea-server.js';
import { installOperator } from '../helpers/operator-install.js';
import { startOperator, type OperatorProcess } from '../helpers/operator-process.js';
import { conditionOf } from '../helpers/rollback-status.js';

jest.setTimeout(10 * 60_000);
const WAIT = { timeoutMs: 4 * 60_000 };

const configMap = (version: string): string => `apiVersion: v1
kind: ConfigMap
metadata: {name: web-config}
data: {version: "${version}"}
`;

interface PullRequestView {
  number: number;
  title: string;
  body: string;
  state: string;
  head: { ref: string };
  base: { ref: string };
}

describe('pull-request mode with a real Gitea and the real Flux (cluster mode)', () => {
  let cluster: Cluster;
  let gitea: GiteaServer;
  let operator: OperatorProcess;
  let work: string;
  let lastSeen: unknown;
  const ns = `pr-${randomBytes(3).toString('hex')}`;

  const kubectl = (args: string[], input?: string) => cluster.plane.kubectl(args, input === undefined ? undefined : { input });
  const diagnostics = () => `last seen: ${JSON.stringify(lastSeen)}\noperator:\n${operator.logs().slice(-3000)}\ngitea:\n${gitea.logs()}`;
  const getJson = async <T>(kind: string, name: string): Promise<T> => JSON.parse(await kubectl(['get', kind, name, '-n', ns, '-o', 'json'])) as T;
  const remoteHead = (branch: string): string | undefined =>
    gitea.git(work, 'ls-remote', gitea.repoUrl('fleet'), `refs/heads/${branch}`).split('\t')[0] || undefined;
  const pulls = () => gitea.api<PullRequestView[]>('GET', `/repos/${gitea.username}/fleet/pulls?state=all`);

  /** Commits with the git CLI, pushes to Gitea, and asks Flux to fetch. */
  async function push(message: string, files: Record<string, string>): Promise<string> {
    gitea.git(work, 'pull', '-q', '--ff-only', gitea.repoUrl('fleet'), 'main');
    const sha = commitFiles(work, message, files);
    gitea.git(work, 'push', '-q', gitea.repoUrl('fleet'), 'main');
    await kubectl(['annotate', '--overwrite', '-n', ns, 'gitrepository/fleet', `reconcile.fluxcd.io/requestedAt=${new Date().toISOString()}`]);
    return sha;
  }

  function waitApplied(revision: string): Promise<unknown> {
    return eventually(
      `Kustomization web applies ${revision}`,
      async () => {
        const k = await getJson<{ status?: { lastAppliedRevision?: string } }>('kustomization', 'web');
        lastSeen = k.status;
        return k.status?.lastAppliedRevision === `main@sha1:${revision}`;
      },
      { ...WAIT, diagnostics },
    );
  }

  function waitRollback(name: string, what: string, check: (rollback: GitOpsRollback) => boolean): Promise<GitOpsRollback> {
    return eventually(
      `GitOpsRollback ${ns}/${name}: ${what}`,
      async () => {
        const rollback = await getJson<GitOpsRollback>('gitopsrollback', name);
        lastSeen = rollback.status;
        return check(rollback) ? rollback : undefined;
      },
      { ...WAIT, diagnostics },
    );
  }

  async function createRollback(name: string, commit: string, specLines: string[]): Promise<void> {
    const spec = ['sourceRef: {kind: GitRepository, name: fleet}', `revert: {commits: ["${commit}"]}`, ...specLines].map((line) => `  ${line}`).join('\n');
    await kubectl(
      ['apply', '-n', ns, '-f', '-'],
      `apiVersion: rollback.gitops.dev/v1alpha1\nkind: GitOpsRollback\nmetadata: {name: ${name}}\nspec:\n${spec}\n`,
    );
  }

  beforeAll(async () => {
    [cluster, gitea] = await Promise.all([startCluster(), startGitea()]);
    const kubeconfig = await installOperator(cluster.plane);
    operator = await startOperator({ kubeconfigPath: kubeconfig, args: ['--apply-poll-interval=1', '--merge-poll-interval=1'] });
    await gitea.createRepository('fleet');
    work = initRepo();
    commitFiles(work, 'Deploy web 1.0', { 'apps/web/config.yaml': configMap('1.0') });
    gitea.git(work, 'push', '-q', gitea.repoUrl('fleet'), 'main');
    await kubectl(['create', 'namespace', ns]);
    // Flux's basic-auth Secret, with a Gitea token as the password: git over HTTP and the API both take it.
    await kubectl(['create', 'secret', 'generic', 'git-auth', '-n', ns, `--from-literal=username=${gitea.username}`, `--from-literal=password=${gitea.token}`]);
    await kubectl(
      ['apply', '-n', ns, '-f', '-'],
      `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: fleet}
spec: {interval: 10m, url: '${gitea.repoUrl('fleet')}', ref: {branch: main}, secretRef: {name: git-auth}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: web}
spec: {interval: 10m, path: ./apps/web, prune: true, targetNamespace: ${ns}, sourceRef: {kind: GitRepository, name: fleet}}
`,
    );
    await waitApplied(git(work, 'rev-parse', 'HEAD'));
  });

  afterAll(async () => {
    await operator?.stop();
    await gitea?.stop();
    await cluster?.stop();
  });

  test('the revert goes to its own branch and a pull request; merged by a reviewer, Flux applies the merge and the rollback ends Ready', async () => {
    const bad = await push('Deploy web 2.0', { 'apps/web/config.yaml': configMap('2.0') });
    await waitApplied(bad);
    await createRollback('web-2', bad, [
      'pullRequest: {provider: gitea}',
      'reconcile: {kustomizations: [{name: web}]}',
      'reason: "500s on /checkout"',
      'incident: INC-4242',
    ]);

    const waiting = await waitRollback('web-2', 'waiting for the merge', (r) => conditionOf(r, 'Ready')?.reason === 'WaitingForMerge');
    expect(conditionOf(waiting, 'Ready')?.status).toBe('Unknown');
    expect(waiting.status).toMatchObject({ pushedBranch: 'gitops-rollback/web-2', pullRequest: { provider: 'gitea', state: 'Open' } });
    // main is untouched; the branch holds the revert of `bad` on top of main, as git revert writes it.
    expect(remoteHead('main')).toBe(bad);
    const revert = remoteHead('gitops-rollback/web-2')!;
    gitea.git(work, 'fetch', '-q', gitea.repoUrl('fleet'), 'gitops-rollback/web-2');
    expect(git(work, 'rev-parse', `${revert}^`)).toBe(bad);
    expect(commitMessage(work, revert)).toContain(`This reverts commit ${bad}.`);
    expect(git(work, 'show', `${revert}:apps/web/config.yaml`)).toBe(configMap('1.0').trimEnd());

    const pr = (await pulls()).find((p) => p.number === waiting.status!.pullRequest!.number)!;
    expect(pr).toMatchObject({ state: 'open', head: { ref: 'gitops-rollback/web-2' }, base: { ref: 'main' } });
    expect(pr.title).toContain('INC-4242');
    expect(pr.body).toContain('500s on /checkout');
    expect(pr.body).toContain(bad);
    expect(waiting.status!.pullRequest!.url).toBe(`${gitea.baseUrl}/${gitea.username}/fleet/pulls/${pr.number}`);

    await gitea.api('POST', `/repos/${gitea.username}/fleet/pulls/${pr.number}/merge`, { Do: 'merge' });
    const merge = remoteHead('main')!;
    const done = await waitRollback('web-2', 'Ready=True', (r) => conditionOf(r, 'Ready')?.status === 'True');
    expect(conditionOf(done, 'Merged')).toMatchObject({ status: 'True' });
    expect(conditionOf(done, 'Applied')).toMatchObject({ status: 'True' });
    expect(done.status).toMatchObject({ headAfter: merge, pullRequest: { state: 'Merged', mergeCommit: merge } });
    const k = await getJson<{ status?: { lastAppliedRevision?: string } }>('kustomization', 'web');
    expect(k.status?.lastAppliedRevision).toBe(`main@sha1:${merge}`);
    const config = await getJson<{ data: { version: string } }>('configmap', 'web-config');
    expect(config.data.version).toBe('1.0');
  });

  test('a pull request closed without a merge: Stalled PullRequestClosed, main untouched', async () => {
    const bad = await push('Deploy web 3.0', { 'apps/web/config.yaml': configMap('3.0') });
    await waitApplied(bad);
    await createRollback('web-3', bad, ['pullRequest: {provider: gitea}']);
    const waiting = await waitRollback('web-3', 'waiting for the merge', (r) => conditionOf(r, 'Ready')?.reason === 'WaitingForMerge');
    await gitea.api('PATCH', `/repos/${gitea.username}/fleet/pulls/${waiting.status!.pullRequest!.number}`, { state: 'closed' });
    const stalled = await waitRollback('web-3', 'Stalled', (r) => conditionOf(r, 'Stalled')?.status === 'True');
    expect(conditionOf(stalled, 'Stalled')).toMatchObject({ reason: 'PullRequestClosed' });
    expect(conditionOf(stalled, 'Merged')).toMatchObject({ status: 'False' });
    expect(remoteHead('main')).toBe(bad);
  });

  test('spec.push.branch alone: the revert is pushed to that branch and the rollback ends Ready PushedToBranch', async () => {
    const main = remoteHead('main')!;
    await createRollback('web-3-branch', main, ['push: {branch: rollback/web-3}']);
    const done = await waitRollback('web-3-branch', 'Ready=True', (r) => conditionOf(r, 'Ready')?.status === 'True');
    expect(conditionOf(done, 'Ready')).toMatchObject({ reason: 'PushedToBranch' });
    const branch = remoteHead('rollback/web-3')!;
    gitea.git(work, 'fetch', '-q', gitea.repoUrl('fleet'), 'rollback/web-3');
    expect(git(work, 'rev-parse', `${branch}^`)).toBe(main);
    expect(remoteHead('main')).toBe(main);
  });
});
