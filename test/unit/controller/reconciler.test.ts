/**
 * The reconciler's decisions, with fakes at its own boundary (ClusterPort, RunEngine): which
 * conditions, events and retries each outcome produces. The same paths run against a real API
 * server in test/integration.
 */
import { Reason } from '../../../src/api/v1alpha1/conditions.js';
import type { GitOpsRollback, GitOpsRollbackSpec, GitOpsRollbackStatus } from '../../../src/api/v1alpha1/types.js';
import { buildRequest, RollbackReconciler } from '../../../src/controller/reconciler.js';
import { buildAutomatedRollback } from '../../../src/controller/policy-decision.js';
import { requestedByOf } from '../../../src/controller/requested-by.js';
import type { GitOpsRollbackPolicy } from '../../../src/api/v1alpha1/policy-types.js';
import type { ClusterPort, RunEngine } from '../../../src/controller/ports.js';
import type { GitRepositoryView } from '../../../src/flux/git-repository.js';
import type { RollbackRequest } from '../../../src/git/engine.js';
import { AuthFailedError, GitTimeoutError, PushRejectedError, RevertConflictError } from '../../../src/git/errors.js';
import { HEAD, makeResult, NEW, SHA } from './fixtures.js';
import { applyMergePatch, type MergePatch } from '../../../src/controller/merge-patch.js';

function makeRollback(spec: Partial<GitOpsRollbackSpec> = {}, status?: GitOpsRollbackStatus): GitOpsRollback {
  return {
    apiVersion: 'rollback.gitops.dev/v1alpha1',
    kind: 'GitOpsRollback',
    metadata: { name: 'rb', namespace: 'team-a', uid: 'uid-1', generation: 1 },
    spec: { sourceRef: { kind: 'GitRepository', name: 'flux-system' }, revert: { commits: [SHA] }, ...spec },
    status,
  };
}

class FakeCluster implements ClusterPort {
  statuses: GitOpsRollbackStatus[] = [];
  events: { type: string; reason: string; message: string }[] = [];
  repositories = new Map<string, GitRepositoryView>([
    ['team-a/flux-system', { url: 'https://git.example/fleet.git', ref: { branch: 'main' }, secretRef: { name: 'git-auth' } }],
  ]);
  secrets = new Map<string, Record<string, string>>([['team-a/git-auth', { username: 'flux', password: 'p4ssw0rd-secret' }]]);
  constructor(public rollback: GitOpsRollback | null) {}
  async getRollback() {
    return this.rollback;
  }
  async patchRollbackStatus(_r: GitOpsRollback, patch: MergePatch) {
    this.statuses.push(applyMergePatch(this.statuses.at(-1) ?? this.rollback?.status, patch));
  }
  async getGitRepository(ns: string, name: string) {
    return this.repositories.get(`${ns}/${name}`) ?? null;
  }
  async getSecretData(ns: string, name: string) {
    return this.secrets.get(`${ns}/${name}`) ?? null;
  }
  async recordEvent(_r: GitOpsRollback, type: 'Normal' | 'Warning', reason: string, message: string) {
    this.events.push({ type, reason, message });
  }
  get last(): GitOpsRollbackStatus {
    return this.statuses.at(-1)!;
  }
  condition(type: string) {
    return this.last.conditions?.find((c) => c.type === type);
  }
}

function setup(rollback: GitOpsRollback | null, engine: RunEngine, allowCrossNamespaceRefs = false) {
  const cluster = new FakeCluster(rollback);
  const requests: RollbackRequest[] = [];
  const reconciler = new RollbackReconciler({
    cluster,
    runEngine: (request) => {
      requests.push(request);
      return engine(request);
    },
    allowCrossNamespaceRefs,
    now: () => new Date('2026-11-26T10:00:00.000Z'),
  });
  return { cluster, requests, reconcile: () => reconciler.reconcile('team-a/rb') };
}

describe('RollbackReconciler', () => {
  test('a successful revert ends Ready=True Succeeded with the pushed commit and events for each transition', async () => {
    const { cluster, requests, reconcile } = setup(makeRollback({ incident: 'INC-1', reason: 'errors' }), async () => makeResult());
    expect(await reconcile()).toEqual({});
    expect(requests[0]).toMatchObject({
      repository: { url: 'https://git.example/fleet.git', branch: 'main', credentials: { username: 'flux', password: 'p4ssw0rd-secret' } },
      action: { kind: 'revert', commits: [SHA] },
      requestId: 'team-a/rb/uid-1',
      incident: 'INC-1',
    });
    expect(cluster.statuses[0].conditions?.find((c) => c.type === 'Reconciling')).toMatchObject({ status: 'True', reason: 'Progressing' });
    expect(cluster.condition('Ready')).toMatchObject({ status: 'True', reason: 'Succeeded', observedGeneration: 1 });
    expect(cluster.condition('Pushed')).toMatchObject({ status: 'True' });
    expect(cluster.condition('Reconciling')).toBeUndefined();
    expect(cluster.last).toMatchObject({
      revertCommits: [NEW],
      revertedCommits: [SHA],
      headBefore: HEAD,
      headAfter: NEW,
      observedGeneration: 1,
      completionTime: '2026-11-26T10:00:00Z',
    });
    expect(cluster.events.map((e) => `${e.type}/${e.reason}`)).toEqual(['Normal/Progressing', 'Normal/Succeeded']);
  });

  test('a finished rollback is left alone, whatever happens later', async () => {
    const done = makeRollback(
      {},
      { conditions: [{ type: 'Ready', status: 'True', reason: 'Succeeded', message: '', lastTransitionTime: 'x', observedGeneration: 1 }] },
    );
    const { cluster, requests, reconcile } = setup(done, async () => makeResult());
    await reconcile();
    expect(requests).toHaveLength(0);
    expect(cluster.statuses).toHaveLength(0);
  });

  test('a stalled rollback is not retried', async () => {
    const stalled = makeRollback(
      {},
      { conditions: [{ type: 'Stalled', status: 'True', reason: 'RevertConflict', message: '', lastTransitionTime: 'x', observedGeneration: 1 }] },
    );
    const { requests, reconcile } = setup(stalled, async () => makeResult());
    await reconcile();
    expect(requests).toHaveLength(0);
  });

  test('a conflicting revert makes Stalled=True RevertConflict with the paths, and no retry', async () => {
    const conflict = new RevertConflictError({ commit: SHA, conflicts: [{ path: 'apps/a.yaml', reason: 'content' }] });
    const { cluster, reconcile } = setup(makeRollback(), async () => Promise.reject(conflict));
    expect(await reconcile()).toEqual({});
    expect(cluster.condition('Stalled')).toMatchObject({ status: 'True', reason: 'RevertConflict' });
    expect(cluster.condition('Ready')).toMatchObject({ status: 'False', reason: 'RevertConflict' });
    expect(cluster.condition('Reconciling')).toBeUndefined();
    expect(cluster.last.conflicts).toEqual([{ path: 'apps/a.yaml', reason: 'content' }]);
    expect(cluster.events.at(-1)).toMatchObject({ type: 'Warning', reason: 'RevertConflict' });
  });

  test.each([
    ['a git timeout', new GitTimeoutError({ operation: 'fetch', url: 'https://git.example/fleet.git', timeoutMs: 1000 }), Reason.GitOperationFailed],
    ['a push race that outlasted the engine retries', new PushRejectedError({ ref: 'refs/heads/main', reason: 'stale: branch moved' }), Reason.PushRaced],
    ['an API server error', Object.assign(new Error('boom'), { code: 503, body: {} }), Reason.ClusterApiFailed],
  ])('%s keeps Reconciling=True and asks for a retry with backoff', async (_name, error, reason) => {
    const { cluster, reconcile } = setup(makeRollback(), async () => Promise.reject(error));
    expect(await reconcile()).toMatchObject({ retry: true });
    expect(cluster.condition('Reconciling')).toMatchObject({ status: 'True', reason });
    expect(cluster.condition('Ready')).toMatchObject({ status: 'False', reason });
    expect(cluster.condition('Stalled')).toBeUndefined();
  });

  test('a hook that declines the push stalls: trying again would be declined again', async () => {
    const { cluster, reconcile } = setup(makeRollback(), async () =>
      Promise.reject(new PushRejectedError({ ref: 'refs/heads/main', reason: 'pre-receive hook declined' })),
    );
    expect(await reconcile()).toEqual({});
    expect(cluster.condition('Stalled')).toMatchObject({ reason: 'PushRejected' });
  });

  test('its own commit found after a crash is recorded as Succeeded, not reverted again', async () => {
    const { cluster, reconcile } = setup(makeRollback(), async () => makeResult({ result: 'already-reverted', head: null, commits: [], existingCommit: NEW }));
    await reconcile();
    expect(cluster.condition('Ready')).toMatchObject({ status: 'True', reason: 'Succeeded' });
    expect(cluster.last).toMatchObject({ revertCommits: [NEW], headAfter: NEW });
  });

  test('a re-created request for reverted commits ends Ready=True AlreadyReverted', async () => {
    const { cluster, reconcile } = setup(makeRollback(), async () =>
      makeResult({ result: 'already-reverted', head: null, commits: [], alreadyReverted: [SHA] }),
    );
    await reconcile();
    expect(cluster.condition('Ready')).toMatchObject({ status: 'True', reason: 'AlreadyReverted' });
    expect(cluster.condition('Pushed')).toMatchObject({ status: 'False' });
  });

  test('a dry run ends Ready=True DryRunSucceeded and Pushed=False', async () => {
    const { cluster, requests, reconcile } = setup(makeRollback({ dryRun: true }), async () => makeResult({ result: 'planned', head: null }));
    await reconcile();
    expect(requests[0].dryRun).toBe(true);
    expect(cluster.condition('Ready')).toMatchObject({ status: 'True', reason: 'DryRunSucceeded' });
    expect(cluster.condition('Pushed')).toMatchObject({ status: 'False' });
    expect(cluster.last.revertCommits).toEqual([]);
  });

  describe('resolving the repository', () => {
    test.each([
      ['a missing Secret', 'SecretNotFound', (c: FakeCluster) => c.secrets.clear()],
      ['a missing GitRepository', 'SourceNotFound', (c: FakeCluster) => c.repositories.clear()],
      [
        'a GitRepository that follows a tag',
        'UnsupportedSourceRef',
        (c: FakeCluster) => c.repositories.set('team-a/flux-system', { url: 'https://g/x.git', ref: { tag: 'v1.0.0' } }),
      ],
    ])('%s stalls with reason %s before the engine runs', async (_name, reason, mutate) => {
      const { cluster, requests, reconcile } = setup(makeRollback(), async () => makeResult());
      mutate(cluster);
      await reconcile();
      expect(requests).toHaveLength(0);
      expect(cluster.condition('Stalled')).toMatchObject({ status: 'True', reason });
    });

    test('a sourceRef into another namespace is refused unless the operator allows it and the GitRepository consents', async () => {
      const rollback = makeRollback({ sourceRef: { kind: 'GitRepository', name: 'fleet', namespace: 'flux-system' } });
      const refused = setup(rollback, async () => makeResult());
      await refused.reconcile();
      expect(refused.cluster.condition('Stalled')).toMatchObject({ reason: 'CrossNamespaceRefForbidden' });

      const noConsent = setup(rollback, async () => makeResult(), true);
      noConsent.cluster.repositories.set('flux-system/fleet', {
        url: 'https://git.example/fleet.git',
        ref: { branch: 'prod' },
        secretRef: { name: 'deploy-key' },
      });
      await noConsent.reconcile();
      expect(noConsent.requests).toHaveLength(0);
      expect(noConsent.cluster.condition('Stalled')).toMatchObject({
        reason: 'CrossNamespaceRefForbidden',
        message: expect.stringContaining('rollback.gitops.dev/allowed-namespaces: "team-a"'),
      });

      const allowed = setup(rollback, async () => makeResult(), true);
      allowed.cluster.repositories.set('flux-system/fleet', {
        url: 'https://git.example/fleet.git',
        ref: { branch: 'prod' },
        annotations: { 'rollback.gitops.dev/allowed-namespaces': 'team-b,team-a' },
      });
      await allowed.reconcile();
      expect(allowed.requests[0].repository).toEqual({ url: 'https://git.example/fleet.git', branch: 'prod', credentials: undefined });
    });

    test('an inline repository reads a bearer token from its own namespace', async () => {
      const { cluster, requests, reconcile } = setup(
        makeRollback({ sourceRef: undefined, repository: { url: 'https://g/x.git', branch: 'main', secretRef: { name: 'tok' } } }),
        async () => makeResult(),
      );
      cluster.secrets.set('team-a/tok', { bearerToken: 'tkn-secret' });
      await reconcile();
      expect(requests[0].repository.credentials).toEqual({ bearerToken: 'tkn-secret' });
    });

    test('credentials never reach conditions or events, even on an auth failure', async () => {
      const { cluster, reconcile } = setup(makeRollback(), async () =>
        Promise.reject(new AuthFailedError({ url: 'https://git.example/fleet.git', status: 401 })),
      );
      await reconcile();
      expect(cluster.condition('Stalled')).toMatchObject({ reason: 'AuthenticationFailed' });
      expect(JSON.stringify([cluster.statuses, cluster.events])).not.toContain('p4ssw0rd-secret');
    });
  });
});

describe('who asked: Requested-By and status.requestedBy', () => {
  const ALICE = 'system:serviceaccount:team-a:alice';
  const OPERATOR = 'system:serviceaccount:gitops-rollback-system:gitops-rollback-controller';
  const asked = (annotations?: Record<string, string>, ownerReferences?: GitOpsRollback['metadata']['ownerReferences']) => {
    const rollback = makeRollback();
    return { ...rollback, metadata: { ...rollback.metadata, annotations, ownerReferences } };
  };
  const repository = { url: 'https://git.example/fleet.git', branch: 'main' };
  const policy: GitOpsRollbackPolicy = {
    apiVersion: 'rollback.gitops.dev/v1alpha1',
    kind: 'GitOpsRollbackPolicy',
    metadata: { namespace: 'flux-system', name: 'apps-auto', uid: 'policy-uid' },
    spec: { kustomizations: { names: ['apps'] } },
  };
  /** The rollback a policy creates (as trigger-processor.ts does), then stamped by the admission policy. */
  const automated = (source: 'flux' | 'alertmanager', reason: string, stampedBy?: string): GitOpsRollback => {
    const rollback = buildAutomatedRollback({
      policy,
      kustomization: { metadata: { namespace: 'flux-system', name: 'apps', uid: 'k-uid' }, spec: { path: './apps' } },
      source: { namespace: 'flux-system', name: 'fleet' },
      lastGoodSha: SHA,
      failingSha: HEAD,
      failingRevision: `main@sha1:${HEAD}`,
      trigger: { source, reason },
    });
    if (stampedBy) rollback.metadata.annotations = { ...rollback.metadata.annotations, 'rollback.gitops.dev/requested-by': stampedBy };
    return rollback;
  };

  test.each([
    ['a person: the requested-by annotation', asked({ 'rollback.gitops.dev/requested-by': ALICE }), ALICE],
    ['no annotation (no admission policy installed): no trailer', asked(), undefined],
    ['an annotation of blanks: no trailer', asked({ 'rollback.gitops.dev/requested-by': ' \n ' }), undefined],
    ['an annotation with newlines: one line', asked({ 'rollback.gitops.dev/requested-by': 'alice\nIncident: forged' }), 'alice Incident: forged'],
    [
      'a policy, on a Flux event: the policy, the event and the Kustomization, then the stamped creator',
      automated('flux', 'HealthCheckFailed', OPERATOR),
      `GitOpsRollbackPolicy flux-system/apps-auto (HealthCheckFailed from Flux on Kustomization flux-system/apps), created by ${OPERATOR}`,
    ],
    [
      'a policy, on an Alertmanager alert',
      automated('alertmanager', 'KubeDeploymentReplicasMismatch', OPERATOR),
      `GitOpsRollbackPolicy flux-system/apps-auto (KubeDeploymentReplicasMismatch from Alertmanager on Kustomization flux-system/apps), created by ${OPERATOR}`,
    ],
    [
      'a policy, without the admission policy: no creator to name',
      automated('flux', 'HealthCheckFailed'),
      'GitOpsRollbackPolicy flux-system/apps-auto (HealthCheckFailed from Flux on Kustomization flux-system/apps)',
    ],
    [
      'a person who wrote a policy owner reference: still named as the creator',
      asked({ 'rollback.gitops.dev/requested-by': ALICE }, [
        { apiVersion: 'rollback.gitops.dev/v1alpha1', kind: 'GitOpsRollbackPolicy', name: 'apps-auto', uid: 'u', controller: true },
      ]),
      `GitOpsRollbackPolicy team-a/apps-auto, created by ${ALICE}`,
    ],
    [
      'an owner that is not a controlling GitOpsRollbackPolicy: the annotation alone',
      asked({ 'rollback.gitops.dev/requested-by': ALICE }, [
        { apiVersion: 'rollback.gitops.dev/v1alpha1', kind: 'GitOpsRollbackPolicy', name: 'apps-auto', uid: 'u' },
        { apiVersion: 'v1', kind: 'ConfigMap', name: 'x', uid: 'c', controller: true },
      ]),
      ALICE,
    ],
  ])('%s', (_name, rollback, expected) => {
    expect(requestedByOf(rollback)).toBe(expected);
    expect(buildRequest(rollback, repository).requestedBy).toBe(expected);
  });

  test("a policy's long names are cut, never the creator", () => {
    const rollback = automated('flux', 'HealthCheckFailed', ALICE);
    rollback.metadata.annotations!['rollback.gitops.dev/kustomization'] = `flux-system/${'x'.repeat(3000)}`;
    const value = requestedByOf(rollback)!;
    expect(value.length).toBeLessThanOrEqual(1024);
    expect(value).toMatch(
      new RegExp(`^GitOpsRollbackPolicy flux-system/apps-auto \\(HealthCheckFailed from Flux on Kustomization flux-system/x+\\.\\.\\., created by ${ALICE}$`),
    );
  });

  test('the reconciler passes it to the engine and shows it in status.requestedBy from the first status write', async () => {
    const { cluster, requests, reconcile } = setup(asked({ 'rollback.gitops.dev/requested-by': ALICE }), async () => makeResult());
    await reconcile();
    expect(requests[0].requestedBy).toBe(ALICE);
    expect(cluster.statuses[0]).toMatchObject({ requestedBy: ALICE });
    expect(cluster.last.requestedBy).toBe(ALICE);
  });
});
