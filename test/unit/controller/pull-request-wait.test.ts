/**
 * Pull-request mode (spec.push.branch, spec.pullRequest) with fakes at the reconciler's boundary
 * (ClusterPort, FluxPort, RunEngine, and the pull-request client factory): the push onto a branch,
 * the pull request, the wait for its merge, and the wait for Flux after it. The same path runs
 * against a real Gitea and the real Flux in test/e2e/real-flux-pull-request.test.ts.
 */
import { Reason } from '../../../src/api/v1alpha1/conditions.js';
import type { GitOpsRollback, GitOpsRollbackSpec } from '../../../src/api/v1alpha1/types.js';
import { RollbackReconciler } from '../../../src/controller/reconciler.js';
import type { RollbackRequest, RollbackResult } from '../../../src/git/engine.js';
import { PullRequestApiError } from '../../../src/pull-request/errors.js';
import type { PullRequestTarget } from '../../../src/pull-request/create-client.js';
import type { PullRequestDraft, PullRequestInfo } from '../../../src/pull-request/types.js';
import { HEAD, makeResult, NEW, SHA } from './fixtures.js';
import { FakeCluster, FakeFlux } from './flux-fakes.js';

const T0 = Date.parse('2026-11-26T10:00:00.000Z');
const MERGE = 'd'.repeat(40);
const TOKEN = 't0ken-never-shown';
const PR_URL = 'https://git.example/fleet/pulls/7';

function makeRollback(spec: Partial<GitOpsRollbackSpec>): GitOpsRollback {
  return {
    apiVersion: 'rollback.gitops.dev/v1alpha1',
    kind: 'GitOpsRollback',
    metadata: { name: 'rb', namespace: 'flux-system', uid: 'uid-1', generation: 1, creationTimestamp: '2026-11-26T09:59:59Z' },
    spec: { sourceRef: { kind: 'GitRepository', name: 'fleet' }, revert: { commits: [SHA] }, reason: '500s on /checkout', incident: 'INC-7', ...spec },
  };
}

/** The host as the test drives it: one pull request whose state the test sets; failures on demand. */
class FakeHost {
  targets: PullRequestTarget[] = [];
  drafts: PullRequestDraft[] = [];
  pr?: PullRequestInfo;
  failNext?: Error;
  reads = 0;
  client = (target: PullRequestTarget) => {
    this.targets.push(target);
    const fail = () => {
      const error = this.failNext;
      this.failNext = undefined;
      if (error) throw error;
    };
    return {
      open: async (draft: PullRequestDraft) => {
        fail();
        this.drafts.push(draft);
        this.pr ??= { number: 7, url: PR_URL, state: 'Open' as const };
        return this.pr;
      },
      get: async (number: number) => {
        fail();
        this.reads++;
        expect(number).toBe(7);
        return this.pr!;
      },
    };
  };
}

/** The branch push the engine reports for a push branch. */
const BRANCH_RESULT: RollbackResult = makeResult({ pushedBranch: 'gitops-rollback/rb' });

function setup(spec: Partial<GitOpsRollbackSpec>, results: RollbackResult[] = [BRANCH_RESULT]) {
  const log: string[] = [];
  const cluster = new FakeCluster(makeRollback(spec), log);
  cluster.repository = { url: 'https://git.example/fleet.git', ref: { branch: 'main' }, secretRef: { name: 'git-auth' } };
  cluster.secrets.set('flux-system/git-auth', { username: 'flux', password: TOKEN });
  const flux = new FakeFlux(log);
  const host = new FakeHost();
  const requests: RollbackRequest[] = [];
  let now = T0;
  const reconciler = new RollbackReconciler({
    cluster,
    flux,
    runEngine: async (request) => {
      requests.push(request);
      return results[Math.min(requests.length, results.length) - 1]!;
    },
    pullRequests: host.client,
    mergePollIntervalMs: 30_000,
    applyPollIntervalMs: 2000,
    now: () => new Date(now),
  });
  return { cluster, flux, host, requests, advance: (ms: number) => (now += ms), reconcile: () => reconciler.reconcile('flux-system/rb') };
}

const PR_SPEC: Partial<GitOpsRollbackSpec> = { pullRequest: { provider: 'gitea' } };

describe('pull-request mode', () => {
  test('pushes to gitops-rollback/<name>, opens the pull request with the rollback described, and waits for the merge', async () => {
    const { cluster, host, requests, reconcile } = setup(PR_SPEC);
    expect(await reconcile()).toEqual({ requeueAfterMs: 30_000 });
    expect(requests[0]).toMatchObject({ pushBranch: 'gitops-rollback/rb', repository: { branch: 'main' } });
    expect(host.targets[0]).toEqual({ provider: 'gitea', repositoryUrl: 'https://git.example/fleet.git', apiUrl: undefined, token: TOKEN });
    expect(host.drafts[0]).toMatchObject({ head: 'gitops-rollback/rb', base: 'main', title: expect.stringContaining('INC-7') });
    expect(host.drafts[0]!.body).toContain('500s on /checkout');
    expect(host.drafts[0]!.body).toContain(SHA);
    const status = cluster.rollback.status!;
    expect(status).toMatchObject({
      pushedBranch: 'gitops-rollback/rb',
      revertCommits: [NEW],
      headBefore: HEAD,
      pullRequest: { provider: 'gitea', number: 7, url: PR_URL, state: 'Open', openedTime: '2026-11-26T10:00:00Z' },
    });
    expect(status.headAfter).toBeUndefined();
    expect(cluster.condition('Pushed')).toMatchObject({ status: 'True', message: `${NEW} is on gitops-rollback/rb` });
    expect(cluster.condition('Merged')).toMatchObject({ status: 'Unknown', reason: Reason.WaitingForMerge });
    expect(cluster.condition('Ready')).toMatchObject({ status: 'Unknown', reason: Reason.WaitingForMerge, message: expect.stringContaining(PR_URL) });
    expect(cluster.condition('Reconciling')).toMatchObject({ status: 'True', reason: Reason.WaitingForMerge });
    expect(cluster.events).toContain('Normal/PullRequestOpened');
  });

  test('Ready=True is never written between the push and the open pull request (a crash there must not end the rollback)', async () => {
    const { cluster, reconcile } = setup(PR_SPEC);
    await reconcile();
    expect(cluster.statuses.map((s) => s.conditions?.find((c) => c.type === 'Ready')?.status)).not.toContain('True');
  });

  test('while open: each look reads the pull request once and requeues; the engine never runs again', async () => {
    const { host, requests, reconcile, advance } = setup(PR_SPEC);
    await reconcile();
    advance(30_000);
    expect(await reconcile()).toEqual({ requeueAfterMs: 30_000 });
    expect(requests).toHaveLength(1);
    expect(host.reads).toBe(1);
  });

  test('merged: Merged=True, headAfter the merge commit, then the wait for Flux on it, and Ready=True once applied', async () => {
    const { cluster, flux, host, reconcile, advance } = setup({ ...PR_SPEC, reconcile: { kustomizations: [{ name: 'apps' }] } });
    flux.add('apps', './apps');
    await reconcile();
    host.pr = { number: 7, url: PR_URL, state: 'Merged', mergeCommit: MERGE };
    advance(30_000);
    expect(await reconcile()).toEqual({ requeueAfterMs: 2000 });
    expect(cluster.condition('Merged')).toMatchObject({ status: 'True', reason: Reason.Succeeded, message: expect.stringContaining(MERGE.slice(0, 12)) });
    expect(cluster.rollback.status).toMatchObject({ headAfter: MERGE, pullRequest: { state: 'Merged', mergeCommit: MERGE } });
    expect(cluster.condition('Applied')).toMatchObject({ status: 'Unknown', reason: Reason.WaitingForApply });
    expect(cluster.events).toContain('Normal/PullRequestMerged');

    flux.report('apps', {
      lastAppliedRevision: `main@sha1:${MERGE}`,
      lastAttemptedRevision: `main@sha1:${MERGE}`,
      conditions: [{ type: 'Ready', status: 'True', reason: 'ReconciliationSucceeded' }],
    });
    advance(2000);
    expect(await reconcile()).toEqual({});
    expect(cluster.condition('Ready')).toMatchObject({ status: 'True', reason: Reason.Succeeded });
    expect(cluster.condition('Applied')).toMatchObject({ status: 'True' });
  });

  test('closed without a merge: Stalled PullRequestClosed, Merged=False', async () => {
    const { cluster, host, reconcile } = setup(PR_SPEC);
    await reconcile();
    host.pr = { number: 7, url: PR_URL, state: 'Closed' };
    expect(await reconcile()).toEqual({});
    expect(cluster.condition('Stalled')).toMatchObject({ status: 'True', reason: Reason.PullRequestClosed, message: expect.stringContaining(PR_URL) });
    expect(cluster.condition('Merged')).toMatchObject({ status: 'False', reason: Reason.PullRequestClosed });
    expect(cluster.condition('Ready')).toMatchObject({ status: 'False' });
    expect(cluster.rollback.status?.completionTime).toBeDefined();
  });

  test('not merged within spec.pullRequest.timeout: Stalled MergeTimeout; the requeue never overshoots the deadline', async () => {
    const { cluster, reconcile, advance } = setup({ pullRequest: { provider: 'gitea', timeout: '45s' } });
    await reconcile();
    advance(30_000);
    expect(await reconcile()).toEqual({ requeueAfterMs: 15_000 });
    advance(15_000);
    expect(await reconcile()).toEqual({});
    expect(cluster.condition('Stalled')).toMatchObject({ status: 'True', reason: Reason.MergeTimeout, message: expect.stringContaining('45s') });
  });

  test('spec.push.branch without a pull request: Ready=True PushedToBranch, nothing awaited, no API called', async () => {
    const { cluster, host, requests, reconcile } = setup({ push: { branch: 'rollback/inc-7' } }, [makeResult({ pushedBranch: 'rollback/inc-7' })]);
    expect(await reconcile()).toEqual({});
    expect(requests[0]!.pushBranch).toBe('rollback/inc-7');
    expect(cluster.condition('Ready')).toMatchObject({ status: 'True', reason: Reason.PushedToBranch, message: expect.stringContaining('merge it into main') });
    expect(cluster.condition('Applied')).toBeUndefined();
    expect(host.targets).toHaveLength(0);
  });

  test('the token comes from spec.pullRequest.secretRef when given; a missing Secret stalls before the engine runs', async () => {
    const withSecret = setup({ pullRequest: { provider: 'github', secretRef: { name: 'gh-token' }, apiUrl: 'https://ghe.example/api/v3' } });
    withSecret.cluster.secrets.set('flux-system/gh-token', { token: 'other-token' });
    await withSecret.reconcile();
    expect(withSecret.host.targets[0]).toMatchObject({ provider: 'github', token: 'other-token', apiUrl: 'https://ghe.example/api/v3' });

    const missing = setup({ pullRequest: { provider: 'github', secretRef: { name: 'absent' } } });
    expect(await missing.reconcile()).toEqual({});
    expect(missing.requests).toHaveLength(0);
    expect(missing.cluster.condition('Stalled')).toMatchObject({ reason: Reason.SecretNotFound });
  });

  test('no token at all (SSH credentials, no secretRef): Stalled InvalidSpec before anything is pushed', async () => {
    const { cluster, requests, reconcile } = setup(PR_SPEC);
    cluster.secrets.set('flux-system/git-auth', { username: 'flux' });
    cluster.repository = { url: 'https://git.example/fleet.git', ref: { branch: 'main' } };
    expect(await reconcile()).toEqual({});
    expect(requests).toHaveLength(0);
    expect(cluster.condition('Stalled')).toMatchObject({ reason: Reason.InvalidSpec, message: expect.stringContaining('token') });
  });

  test('a host failure that may pass (HTTP 502) is retried: the engine finds its own branch and the pull request is opened then', async () => {
    const own = makeResult({ result: 'already-reverted', head: null, existingCommit: NEW, pushedBranch: 'gitops-rollback/rb' });
    const { cluster, host, requests, reconcile } = setup(PR_SPEC, [BRANCH_RESULT, own]);
    host.failNext = new PullRequestApiError({
      provider: 'gitea',
      operation: 'open pull request',
      url: 'x',
      status: 502,
      detail: 'bad gateway',
      transient: true,
    });
    expect(await reconcile()).toMatchObject({ retry: true });
    expect(cluster.condition('Reconciling')).toMatchObject({ status: 'True', reason: Reason.PullRequestFailed });
    expect(cluster.condition('Stalled')).toBeUndefined();
    expect(await reconcile()).toEqual({ requeueAfterMs: 30_000 });
    expect(requests).toHaveLength(2);
    expect(cluster.rollback.status).toMatchObject({ pullRequest: { number: 7 }, revertCommits: [NEW], pushedBranch: 'gitops-rollback/rb' });
  });

  test('a refusal by the host (HTTP 403) stalls PullRequestFailed with its message; the token appears in no status or event', async () => {
    const { cluster, host, reconcile } = setup(PR_SPEC);
    host.failNext = new PullRequestApiError({
      provider: 'gitea',
      operation: 'open pull request',
      url: 'https://git.example/api/v1/repos/fleet',
      status: 403,
      detail: 'token does not have at least one of required scope(s): [write:repository]',
      transient: false,
    });
    expect(await reconcile()).toEqual({});
    expect(cluster.condition('Stalled')).toMatchObject({ reason: Reason.PullRequestFailed, message: expect.stringContaining('HTTP 403') });
    expect(JSON.stringify([cluster.statuses, cluster.events])).not.toContain(TOKEN);
  });
});
