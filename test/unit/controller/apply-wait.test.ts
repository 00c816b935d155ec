/**
 * Flux in the loop, with fakes at the reconciler's boundary (ClusterPort, FluxPort, RunEngine):
 * suspension before the push, the reconcile request, the non-blocking wait, and how it ends.
 * The same paths run against a real API server in test/integration/flux-loop.test.ts.
 */
import type { GitOpsRollback, GitOpsRollbackSpec } from '../../../src/api/v1alpha1/types.js';
import { RollbackReconciler } from '../../../src/controller/reconciler.js';
import { PushRejectedError, RevertConflictError } from '../../../src/git/errors.js';
import { makeResult, NEW, SHA } from './fixtures.js';
import { FakeCluster, FakeFlux } from './flux-fakes.js';

const T0 = Date.parse('2026-11-26T10:00:00.000Z');

function makeRollback(spec: Partial<GitOpsRollbackSpec> = {}): GitOpsRollback {
  return {
    apiVersion: 'rollback.gitops.dev/v1alpha1',
    kind: 'GitOpsRollback',
    metadata: { name: 'rb', namespace: 'flux-system', uid: 'uid-1', generation: 1, creationTimestamp: '2026-11-26T09:59:59Z' },
    spec: { sourceRef: { kind: 'GitRepository', name: 'fleet' }, revert: { commits: [SHA] }, ...spec },
  };
}

/**
 * The engine as the reconciler sees it: `beforePublish` runs right before a push (not for a dry
 * run or a result without one); `fail` throws before planning ends ('plan') or after
 * `beforePublish`, as a push the server declines ('push').
 */
function setup(spec: Partial<GitOpsRollbackSpec> = {}, result = makeResult(), fail?: { at: 'plan' | 'push'; error: Error }) {
  const log: string[] = [];
  const cluster = new FakeCluster(makeRollback(spec), log);
  const flux = new FakeFlux(log);
  let now = T0;
  let engineRuns = 0;
  const reconciler = new RollbackReconciler({
    cluster,
    flux,
    runEngine: async (_request, hooks) => {
      engineRuns++;
      if (fail?.at === 'plan') throw fail.error;
      if (result.result === 'reverted') await hooks?.beforePublish?.();
      if (fail?.at === 'push') throw fail.error;
      log.push('push');
      return result;
    },
    applyPollIntervalMs: 2000,
    now: () => new Date(now),
  });
  return {
    cluster,
    flux,
    log,
    engineRuns: () => engineRuns,
    advance: (ms: number) => (now += ms),
    reconcile: () => reconciler.reconcile('flux-system/rb'),
  };
}

const APPLIED = {
  lastAppliedRevision: `main@sha1:${NEW}`,
  lastAttemptedRevision: `main@sha1:${NEW}`,
  conditions: [{ type: 'Ready', status: 'True' as const, reason: 'ReconciliationSucceeded' }],
};

describe('Flux in the loop', () => {
  test('after the push: Pushed=True, Applied=Unknown, Ready=Unknown, a reconcile request, and a requeue instead of a blocked worker', async () => {
    const { cluster, flux, reconcile } = setup({ reconcile: { kustomizations: [{ name: 'apps' }] } });
    flux.add('apps', './apps');
    expect(await reconcile()).toEqual({ requeueAfterMs: 2000 });
    expect(cluster.condition('Pushed')).toMatchObject({ status: 'True' });
    expect(cluster.condition('Applied')).toMatchObject({ status: 'Unknown', reason: 'WaitingForApply' });
    expect(cluster.condition('Ready')).toMatchObject({ status: 'Unknown', reason: 'WaitingForApply' });
    expect(cluster.condition('Reconciling')).toMatchObject({ status: 'True', reason: 'WaitingForApply' });
    // The source only: the Kustomization still has the broken revision to re-apply.
    expect(flux.requests).toEqual(['GitRepository flux-system/fleet']);
    expect(cluster.rollback.status).toMatchObject({
      pushTime: '2026-11-26T10:00:00.000Z',
      kustomizations: [{ name: 'apps', namespace: 'flux-system', ready: false }],
      phases: { revert: 0.15, push: 0.2 },
    });
    expect(cluster.rollback.status?.completionTime).toBeUndefined();
    expect(cluster.events).toContain('Normal/WaitingForApply');
  });

  test('a later look finds the commit applied: Applied=True, Ready=True, the engine never ran again', async () => {
    const { cluster, flux, reconcile, advance, engineRuns } = setup({ reconcile: { kustomizations: [{ name: 'apps' }] } });
    flux.add('apps', './apps');
    await reconcile();
    advance(1500);
    flux.report('apps', APPLIED);
    expect(await reconcile()).toEqual({});
    expect(engineRuns()).toBe(1);
    expect(cluster.condition('Applied')).toMatchObject({ status: 'True', reason: 'Succeeded' });
    expect(cluster.condition('Ready')).toMatchObject({ status: 'True', reason: 'Succeeded' });
    expect(cluster.condition('Reconciling')).toBeUndefined();
    expect(cluster.rollback.status).toMatchObject({
      kustomizations: [{ name: 'apps', ready: true, revision: `main@sha1:${NEW}` }],
      phases: { apply: 1.5, total: 2.5 },
      completionTime: '2026-11-26T10:00:01Z',
    });
    expect(cluster.events.at(-1)).toBe('Normal/Applied');
    // It had attempted the commit by itself (the watch on its source): never asked.
    expect(flux.requests).toEqual(['GitRepository flux-system/fleet']);
  });

  test('a Kustomization is asked to reconcile only once its GitRepository serves the commit, and only once', async () => {
    const { flux, reconcile, advance } = setup({ reconcile: { kustomizations: [{ name: 'apps' }] } });
    flux.add('apps', './apps');
    flux.artifacts.set('flux-system/fleet', `main@sha1:${'0'.repeat(40)}`);
    await reconcile();
    advance(2000);
    await reconcile();
    expect(flux.requests).toEqual(['GitRepository flux-system/fleet']);
    flux.artifacts.set('flux-system/fleet', `main@sha1:${NEW}`);
    advance(2000);
    await reconcile();
    expect(flux.requests).toEqual(['GitRepository flux-system/fleet', 'Kustomization flux-system/apps']);
    advance(2000);
    await reconcile();
    expect(flux.requests).toHaveLength(2);
  });

  test('a look with nothing new writes no status and polls again', async () => {
    const { cluster, flux, reconcile, advance } = setup({ reconcile: { kustomizations: [{ name: 'apps' }] } });
    flux.add('apps', './apps');
    await reconcile();
    const writes = cluster.statuses.length;
    advance(2000);
    expect(await reconcile()).toEqual({ requeueAfterMs: 2000 });
    expect(cluster.statuses).toHaveLength(writes);
  });

  test('a Kustomization failing on the commit is asked once more; failing again makes Stalled=True ApplyFailed with its message', async () => {
    const { cluster, flux, reconcile, advance } = setup({ reconcile: { kustomizations: [{ name: 'apps' }] } });
    flux.add('apps', './apps');
    await reconcile();
    const failed = {
      lastAttemptedRevision: `main@sha1:${NEW}`,
      conditions: [{ type: 'Ready', status: 'False' as const, reason: 'HealthCheckFailed', message: 'Deployment/shop/web timed out' }],
    };
    flux.report('apps', failed);
    advance(1000);
    // Flux may have judged a Deployment status left from the broken rollout: one more look first.
    expect(await reconcile()).toEqual({ requeueAfterMs: 2000 });
    expect(flux.requests).toEqual(['GitRepository flux-system/fleet', 'Kustomization flux-system/apps']);
    expect(cluster.condition('Ready')).toMatchObject({ status: 'Unknown', message: expect.stringContaining('asked Flux to check once more') });
    advance(2000);
    expect(await reconcile()).toEqual({ requeueAfterMs: 2000 });
    expect(flux.requests).toHaveLength(2);
    flux.report('apps', { ...failed, lastHandledReconcileAt: flux.requestedAt.get('apps') });
    advance(2000);
    expect(await reconcile()).toEqual({});
    expect(cluster.condition('Stalled')).toMatchObject({
      status: 'True',
      reason: 'ApplyFailed',
      message: expect.stringContaining('Deployment/shop/web timed out'),
    });
    expect(cluster.condition('Applied')).toMatchObject({ status: 'False', reason: 'ApplyFailed' });
    expect(cluster.condition('Ready')).toMatchObject({ status: 'False', reason: 'ApplyFailed' });
    expect(cluster.events.at(-1)).toBe('Warning/ApplyFailed');
  });

  test("source-controller refusing the pushed commit's signature (SourceVerified=False naming it) ends Stalled=True SourceVerificationFailed with its message", async () => {
    const { cluster, flux, reconcile, advance } = setup({ reconcile: { kustomizations: [{ name: 'apps' }] } });
    flux.add('apps', './apps');
    await reconcile();
    // A refusal of an older commit is not about this rollback.
    flux.verified.set('flux-system/fleet', {
      type: 'SourceVerified',
      status: 'False',
      reason: 'InvalidCommitSignature',
      message: `signature verification of commit '${SHA}' failed`,
    });
    advance(2000);
    expect(await reconcile()).toEqual({ requeueAfterMs: 2000 });
    // source-controller v1.9.6's words for an unsigned head.
    const refusal = `signature verification of commit '${NEW}' failed: unable to verify Git commit: unable to verify payload as the provided signature is empty`;
    flux.verified.set('flux-system/fleet', { type: 'SourceVerified', status: 'False', reason: 'InvalidCommitSignature', message: refusal });
    advance(2000);
    expect(await reconcile()).toEqual({});
    expect(cluster.condition('Stalled')).toMatchObject({ status: 'True', reason: 'SourceVerificationFailed', message: expect.stringContaining(refusal) });
    expect(cluster.condition('Ready')).toMatchObject({ status: 'False', reason: 'SourceVerificationFailed' });
    expect(cluster.events.at(-1)).toBe('Warning/SourceVerificationFailed');
  });

  test("a failure that Flux's second look does not repeat ends Ready=True", async () => {
    const { cluster, flux, reconcile, advance } = setup({ reconcile: { kustomizations: [{ name: 'apps' }] } });
    flux.add('apps', './apps');
    await reconcile();
    flux.report('apps', {
      lastAttemptedRevision: `main@sha1:${NEW}`,
      conditions: [
        {
          type: 'Ready',
          status: 'False',
          reason: 'HealthCheckFailed',
          message: "failed early due to stalled resources: [Deployment/shop/web status: 'Failed']",
        },
      ],
    });
    advance(1000);
    await reconcile();
    flux.report('apps', { ...APPLIED, lastHandledReconcileAt: flux.requestedAt.get('apps') });
    advance(2000);
    expect(await reconcile()).toEqual({});
    expect(cluster.condition('Ready')).toMatchObject({ status: 'True', reason: 'Succeeded' });
  });

  test('no apply within the timeout makes Stalled=True ApplyTimeout; the last poll waits only until the deadline', async () => {
    const { cluster, flux, reconcile, advance } = setup({ reconcile: { kustomizations: [{ name: 'apps' }], timeout: '3s' } });
    flux.add('apps', './apps');
    await reconcile();
    advance(2000);
    expect(await reconcile()).toEqual({ requeueAfterMs: 1000 });
    advance(1000);
    expect(await reconcile()).toEqual({});
    expect(cluster.condition('Stalled')).toMatchObject({ status: 'True', reason: 'ApplyTimeout', message: expect.stringContaining('Not applied within 3s') });
  });

  test('without spec.reconcile, the Kustomizations of the GitRepository whose path covers a change are awaited', async () => {
    const { cluster, flux, reconcile } = setup();
    flux.add('frontend', './apps/frontend');
    flux.add('infra', './infra');
    flux.add('elsewhere', './apps', 'team-b');
    await reconcile();
    expect(cluster.rollback.status?.kustomizations?.map((k) => k.name)).toEqual(['frontend']);
    expect(flux.requests).toEqual(['GitRepository flux-system/fleet']);
  });

  test('with no Kustomization to wait for: Ready=True after the push, no Applied condition', async () => {
    const { cluster, flux, reconcile } = setup();
    flux.add('infra', './infra');
    expect(await reconcile()).toEqual({});
    expect(cluster.condition('Ready')).toMatchObject({ status: 'True', reason: 'Succeeded' });
    expect(cluster.condition('Applied')).toBeUndefined();
    expect(flux.requests).toEqual(['GitRepository flux-system/fleet']);
  });

  test('an inline repository without spec.reconcile keeps Ready=True after the push and asks Flux nothing', async () => {
    const { cluster, flux, reconcile } = setup({ sourceRef: undefined, repository: { url: 'https://git.example/fleet.git', branch: 'main' } });
    expect(await reconcile()).toEqual({});
    expect(cluster.condition('Ready')).toMatchObject({ status: 'True', reason: 'Succeeded' });
    expect(cluster.rollback.status?.phases).toMatchObject({ revert: 0.15, push: 0.2, total: 1 });
    expect(flux.requests).toEqual([]);
  });

  test('image automations are suspended and recorded before the push', async () => {
    const { cluster, flux, log, reconcile } = setup({ suspendImageUpdates: [{ name: 'fleet-images' }] });
    flux.automations.set('flux-system/fleet-images', false);
    await reconcile();
    expect(log.indexOf('suspend flux-system/fleet-images')).toBeLessThan(log.indexOf('push'));
    const writtenBeforePush = cluster.statuses.slice(0, log.slice(0, log.indexOf('push')).filter((l) => l === 'status').length);
    expect(writtenBeforePush.some((s) => s.suspendedImageUpdates?.length === 1)).toBe(true);
    expect(cluster.rollback.status?.suspendedImageUpdates).toEqual([{ name: 'fleet-images', namespace: 'flux-system' }]);
    expect(cluster.events).toContain('Normal/ImageUpdatesSuspended');
  });

  test('a push the server declines resumes the automation this run suspended, and drops it from status', async () => {
    const declined = new PushRejectedError({ ref: 'refs/heads/main', reason: 'pre-receive hook declined' });
    const { cluster, flux, log, reconcile } = setup({ suspendImageUpdates: [{ name: 'fleet-images' }] }, makeResult(), { at: 'push', error: declined });
    flux.automations.set('flux-system/fleet-images', false);
    await reconcile();
    expect(log).toContain('suspend flux-system/fleet-images');
    expect(flux.automations.get('flux-system/fleet-images')).toBe(false);
    expect(cluster.condition('Stalled')).toMatchObject({ status: 'True', reason: 'PushRejected' });
    expect(cluster.rollback.status?.suspendedImageUpdates).toBeUndefined();
    expect(cluster.events).toContain('Normal/ImageUpdatesResumed');
  });

  test('an automation someone else had suspended stays suspended when nothing is pushed', async () => {
    const declined = new PushRejectedError({ ref: 'refs/heads/main', reason: 'pre-receive hook declined' });
    const { flux, log, reconcile } = setup({ suspendImageUpdates: [{ name: 'fleet-images' }] }, makeResult(), { at: 'push', error: declined });
    flux.automations.set('flux-system/fleet-images', true);
    await reconcile();
    expect(flux.automations.get('flux-system/fleet-images')).toBe(true);
    expect(log).not.toContain('resume flux-system/fleet-images');
  });

  test('a revert that conflicts never suspends the automation', async () => {
    const conflict = new RevertConflictError({ commit: SHA, conflicts: [{ path: 'apps/deploy.yaml', reason: 'content' }] });
    const { cluster, flux, log, reconcile } = setup({ suspendImageUpdates: [{ name: 'fleet-images' }] }, makeResult(), { at: 'plan', error: conflict });
    flux.automations.set('flux-system/fleet-images', false);
    await reconcile();
    expect(log.filter((l) => l.startsWith('suspend'))).toEqual([]);
    expect(flux.automations.get('flux-system/fleet-images')).toBe(false);
    expect(cluster.condition('Stalled')).toMatchObject({ status: 'True', reason: 'RevertConflict' });
  });

  test('a missing ImageUpdateAutomation makes Stalled=True ImageUpdateAutomationNotFound, the others are resumed, nothing is pushed', async () => {
    const { cluster, flux, log, reconcile } = setup({ suspendImageUpdates: [{ name: 'fleet-images' }, { name: 'nope' }] });
    flux.automations.set('flux-system/fleet-images', false);
    expect(await reconcile()).toEqual({});
    expect(log).not.toContain('push');
    expect(flux.automations.get('flux-system/fleet-images')).toBe(false);
    expect(cluster.condition('Stalled')).toMatchObject({ status: 'True', reason: 'ImageUpdateAutomationNotFound' });
  });

  test.each([
    ['a missing named Kustomization', 'KustomizationNotFound', { reconcile: { kustomizations: [{ name: 'nope' }] } }],
    ['a Kustomization in another namespace', 'CrossNamespaceRefForbidden', { reconcile: { kustomizations: [{ name: 'apps', namespace: 'team-b' }] } }],
    ['a malformed timeout', 'InvalidSpec', { reconcile: { timeout: 'soon' } }],
  ])('%s makes Stalled=True %s before anything is pushed', async (_name, reason, spec) => {
    const { cluster, reconcile, engineRuns } = setup(spec as Partial<GitOpsRollbackSpec>);
    expect(await reconcile()).toEqual({});
    expect(engineRuns()).toBe(0);
    expect(cluster.condition('Stalled')).toMatchObject({ status: 'True', reason });
  });

  test('a dry run neither suspends nor waits', async () => {
    const { cluster, flux, reconcile } = setup(
      { dryRun: true, suspendImageUpdates: [{ name: 'fleet-images' }] },
      makeResult({ result: 'planned', head: null }),
    );
    flux.automations.set('flux-system/fleet-images', false);
    expect(await reconcile()).toEqual({});
    expect(flux.automations.get('flux-system/fleet-images')).toBe(false);
    expect(cluster.condition('Ready')).toMatchObject({ status: 'True', reason: 'DryRunSucceeded' });
  });

  test('an API error while waiting is retried with backoff and the wait goes on', async () => {
    const { cluster, flux, reconcile } = setup({ reconcile: { kustomizations: [{ name: 'apps' }] } });
    flux.add('apps', './apps');
    await reconcile();
    const get = flux.getKustomization.bind(flux);
    flux.getKustomization = async () => Promise.reject(Object.assign(new Error('boom'), { code: 503, body: {} }));
    expect(await reconcile()).toMatchObject({ retry: true });
    expect(cluster.condition('Applied')).toMatchObject({ status: 'Unknown' });
    flux.getKustomization = get;
    flux.report('apps', APPLIED);
    expect(await reconcile()).toEqual({});
    expect(cluster.condition('Ready')).toMatchObject({ status: 'True' });
  });
});
