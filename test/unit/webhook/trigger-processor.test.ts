/**
 * Decisions on automated triggers, with fakes at the PolicyClusterPort boundary: what is created
 * (range, path, owner), and each reason not to act (cooldown, rate limit, loop guard...).
 */
import type { GitOpsRollbackPolicy, GitOpsRollbackPolicySpec } from '../../../src/api/v1alpha1/policy-types.js';
import type { GitOpsRollback } from '../../../src/api/v1alpha1/types.js';
import { isHealthy, recordHealthyRevision } from '../../../src/controller/policy-decision.js';
import type { PolicyClusterPort } from '../../../src/controller/policy-ports.js';
import { RevisionTracker } from '../../../src/controller/revision-tracker.js';
import { TriggerNotSettledError, TriggerProcessor } from '../../../src/controller/trigger-processor.js';
import type { Kustomization } from '../../../src/flux/kustomization.js';
import type { RangeCommit } from '../../../src/git/read-range.js';
import type { Trigger } from '../../../src/webhook/trigger.js';
import { applyMergePatch, type MergePatch } from '../../../src/controller/merge-patch.js';

const GOOD = '1'.repeat(40);
const BAD = '3'.repeat(40);
const NOW = new Date('2025-06-01T12:00:00Z');
const minutesAgo = (m: number) => new Date(NOW.getTime() - m * 60_000).toISOString();

function makePolicy(spec: Partial<GitOpsRollbackPolicySpec> = {}): GitOpsRollbackPolicy {
  return {
    apiVersion: 'rollback.gitops.dev/v1alpha1',
    kind: 'GitOpsRollbackPolicy',
    metadata: { namespace: 'flux-system', name: 'apps-policy', uid: 'policy-uid', resourceVersion: '1', generation: 1 },
    spec: { kustomizations: { names: ['apps'] }, ...spec },
    status: { kustomizations: [{ namespace: 'flux-system', name: 'apps', lastHealthyRevision: `main@sha1:${GOOD}`, lastHealthyTime: minutesAgo(60) }] },
  };
}

const kustomization: Kustomization = {
  metadata: { namespace: 'flux-system', name: 'apps', uid: 'k-uid', generation: 1, labels: { tier: 'web' } },
  spec: { path: './apps/frontend', sourceRef: { kind: 'GitRepository', name: 'flux-system' } },
  status: {
    lastAppliedRevision: `main@sha1:${BAD}`,
    lastAttemptedRevision: `main@sha1:${BAD}`,
    observedGeneration: 1,
    conditions: [
      { type: 'Ready', status: 'False', reason: 'HealthCheckFailed', message: 'Health check failed', lastTransitionTime: '', observedGeneration: 1 },
    ],
  },
};
const withReady = (status: 'True' | 'False' | 'Unknown', generation = 1, readyGeneration = 1): Kustomization => ({
  ...kustomization,
  metadata: { ...kustomization.metadata, generation },
  status: {
    ...kustomization.status,
    conditions: [{ type: 'Ready', status, reason: 'r', message: '', lastTransitionTime: '', observedGeneration: readyGeneration }],
  },
});

const trigger = (overrides: Partial<Trigger> = {}): Trigger => ({
  source: 'flux',
  policy: { namespace: 'flux-system', name: 'apps-policy' },
  kustomization: { namespace: 'flux-system', name: 'apps', uid: 'k-uid' },
  revision: `main@sha1:${BAD}`,
  reason: 'HealthCheckFailed',
  message: 'Health check failed after 2m0s',
  ...overrides,
});

const rangeCommits: RangeCommit[] = [
  { oid: BAD, message: 'Deploy frontend 2.0\n' },
  { oid: '2'.repeat(40), message: 'Bump frontend config\n' },
];

function setUp(
  options: {
    policy?: GitOpsRollbackPolicy;
    existing?: GitOpsRollback[];
    commits?: RangeCommit[];
    k?: Kustomization;
    allowCrossNamespacePolicies?: boolean;
  } = {},
) {
  const created: GitOpsRollback[] = [];
  const events: string[] = [];
  const existing = options.existing ?? [];
  const kustomizationReads: string[] = [];
  const policy = options.policy ?? makePolicy();
  const cluster: PolicyClusterPort = {
    getPolicy: async () => policy,
    patchPolicyStatus: async (_p, patch) => ((policy.status = applyMergePatch(policy.status, patch)), 'patched'),
    getKustomization: async (namespace, name) => (kustomizationReads.push(`${namespace}/${name}`), options.k ?? kustomization),
    listPolicyRollbacks: async () => [...existing, ...created],
    createRollback: async (r) => {
      if ([...existing, ...created].some((e) => e.metadata.name === r.metadata.name)) return 'exists';
      created.push({ ...r, metadata: { ...r.metadata, creationTimestamp: NOW.toISOString() } });
      return 'created';
    },
    recordEvent: async (_p, type, reason, message) => void events.push(`${type}/${reason}: ${message}`),
  };
  const reads: [string, string][] = [];
  const processor = new TriggerProcessor({
    cluster,
    now: () => NOW,
    allowCrossNamespacePolicies: options.allowCrossNamespacePolicies,
    readCommitRange: async (_source, from, to) => (reads.push([from, to]), options.commits ?? rangeCommits),
  });
  return { processor, created, events, reads, policy, kustomizationReads };
}

const previousRollback = (createdMinutesAgo: number, kustomizationKey = 'flux-system/apps', name = `old-${createdMinutesAgo}`): GitOpsRollback => ({
  apiVersion: 'rollback.gitops.dev/v1alpha1',
  kind: 'GitOpsRollback',
  metadata: {
    name,
    namespace: 'flux-system',
    creationTimestamp: minutesAgo(createdMinutesAgo),
    annotations: { 'rollback.gitops.dev/kustomization': kustomizationKey },
  },
  spec: {},
});

describe('TriggerProcessor', () => {
  test('a failing Kustomization gets a GitOpsRollback of lastGood..failing, limited to its path, owned by the policy', async () => {
    const { processor, created, events, reads, policy } = setUp();
    const outcome = await processor.process(trigger());
    expect(outcome).toMatchObject({ action: 'created' });
    expect(reads).toEqual([[GOOD, BAD]]);
    expect(created).toHaveLength(1);
    const [rollback] = created;
    expect(rollback.metadata).toMatchObject({
      namespace: 'flux-system',
      labels: { 'rollback.gitops.dev/policy-uid': 'policy-uid' },
      annotations: { 'rollback.gitops.dev/kustomization': 'flux-system/apps', 'rollback.gitops.dev/trigger': 'flux/HealthCheckFailed' },
      ownerReferences: [{ apiVersion: 'rollback.gitops.dev/v1alpha1', kind: 'GitOpsRollbackPolicy', name: 'apps-policy', uid: 'policy-uid', controller: true }],
    });
    expect(rollback.metadata.name).toMatch(/^apps-rollback-[0-9a-f]{10}$/);
    expect(rollback.spec).toMatchObject({
      sourceRef: { kind: 'GitRepository', name: 'flux-system' },
      revert: { range: { from: GOOD, to: BAD }, paths: ['apps/frontend'], squash: true },
    });
    expect(rollback.spec.reason).toContain('HealthCheckFailed');
    expect(events).toEqual([expect.stringMatching(/^Normal\/RollbackCreated: Created GitOpsRollback apps-rollback-/)]);
    expect(policy.status?.lastRollback).toEqual({ name: rollback.metadata.name, time: '2025-06-01T12:00:00Z' });
  });

  test('the same failure again (another replica, a re-send) is a duplicate: nothing created, no event', async () => {
    const { processor, created, events } = setUp();
    await processor.process(trigger());
    expect(await processor.process(trigger({ reason: 'ReconciliationFailed' }))).toMatchObject({ action: 'duplicate' });
    expect(created).toHaveLength(1);
    expect(events).toHaveLength(1);
  });

  test('per-commit mode and the whole repository path', async () => {
    const { processor, created } = setUp({ policy: makePolicy({ squash: false }), k: { ...kustomization, spec: { ...kustomization.spec, path: './' } } });
    await processor.process(trigger());
    expect(created[0].spec.revert).toEqual({ range: { from: GOOD, to: BAD }, squash: false });
  });

  test.each([
    [
      'a rollback of this Kustomization within the cooldown makes CooldownActive',
      makePolicy({ cooldown: '30m' }),
      [previousRollback(10)],
      'Warning/CooldownActive',
    ],
    ['the default cooldown (15m) applies too', makePolicy(), [previousRollback(5)], 'Warning/CooldownActive'],
    [
      'max rollbacks within the window makes RateLimited',
      makePolicy({ cooldown: '1m', rateLimit: { maxRollbacks: 2, window: '1h' } }),
      [previousRollback(20, 'flux-system/a'), previousRollback(40, 'flux-system/b')],
      'Warning/RateLimited',
    ],
  ])('%s', async (_name, policy, existing, event) => {
    const { processor, created, events } = setUp({ policy, existing });
    expect(await processor.process(trigger())).toMatchObject({ action: 'refused' });
    expect(created).toHaveLength(0);
    expect(events[0]).toMatch(new RegExp(`^${event}: `));
  });

  test.each([
    ['a cooldown that has passed', makePolicy({ cooldown: '5m' }), [previousRollback(10)]],
    [
      'rollbacks older than the window',
      makePolicy({ cooldown: '1m', rateLimit: { maxRollbacks: 1, window: '30m' } }),
      [previousRollback(45, 'flux-system/other')],
    ],
    ['a cooldown of another Kustomization', makePolicy({ cooldown: '1h' }), [previousRollback(5, 'flux-system/other')]],
  ])('%s lets the rollback through', async (_name, policy, existing) => {
    const { processor, created } = setUp({ policy, existing });
    expect(await processor.process(trigger())).toMatchObject({ action: 'created' });
    expect(created).toHaveLength(1);
  });

  test.each([
    [
      'a commit with a Rollback-Request trailer',
      'Revert "Deploy"\n\nThis reverts commit 9999999999999999999999999999999999999999.\n\nRollback-Request: flux-system/x/uid\n',
    ],
    ['a manual git revert', 'Revert "Deploy frontend 2.0"\n\nThis reverts commit 9999999999999999999999999999999999999999.\n'],
    ['only the trailer', 'Restore apps\n\nRollback-Request: flux-system/y/uid\n'],
  ])('loop guard: a range containing %s makes RollbackLoopPrevented and creates nothing', async (_name, message) => {
    const { processor, created, events } = setUp({ commits: [{ oid: BAD, message }, rangeCommits[1]] });
    expect(await processor.process(trigger())).toMatchObject({ action: 'refused', reason: 'RollbackLoopPrevented' });
    expect(created).toHaveLength(0);
    expect(events[0]).toMatch(/^Warning\/RollbackLoopPrevented: Commit 333333333333 /);
  });

  test('without a known healthy revision: NoHealthyRevision, nothing created', async () => {
    const policy = makePolicy();
    policy.status = {};
    const { processor, created, events } = setUp({ policy });
    expect(await processor.process(trigger())).toMatchObject({ action: 'refused', reason: 'NoHealthyRevision' });
    expect(created).toHaveLength(0);
    expect(events[0]).toMatch(/^Warning\/NoHealthyRevision/);
  });

  test("without a record in the policy, the last healthy revision of Flux's status.history; the Event and the reason say so", async () => {
    const policy = makePolicy();
    policy.status = {};
    const history = [
      { digest: 'sha256:b', lastReconciled: minutesAgo(1), lastReconciledStatus: 'HealthCheckFailed', metadata: { revision: `main@sha1:${BAD}` } },
      { digest: 'sha256:a', lastReconciled: minutesAgo(30), lastReconciledStatus: 'ReconciliationSucceeded', metadata: { revision: `main@sha1:${GOOD}` } },
    ];
    const k: Kustomization = { ...kustomization, status: { ...kustomization.status, history } };
    const { processor, created, events, reads } = setUp({ policy, k });
    expect(await processor.process(trigger())).toMatchObject({ action: 'created', lastGoodSource: 'flux-history' });
    expect(reads).toEqual([[GOOD, BAD]]);
    expect(created[0].spec.revert?.range).toEqual({ from: GOOD, to: BAD });
    expect(created[0].spec.reason).toContain("(last healthy revision 111111111111 from Flux's status.history)");
    expect(events).toEqual([expect.stringMatching(/^Normal\/RollbackCreated: .*; last healthy revision 111111111111 from Flux's status\.history$/)]);
  });

  test('an alert on a healthy revision rolls back to the healthy revision before it', async () => {
    const policy = makePolicy();
    policy.status = {
      kustomizations: [
        {
          namespace: 'flux-system',
          name: 'apps',
          lastHealthyRevision: `main@sha1:${BAD}`,
          previousHealthyRevision: `main@sha1:${GOOD}`,
          lastHealthyTime: minutesAgo(3),
        },
      ],
    };
    const { processor, created } = setUp({ policy });
    await processor.process(
      trigger({
        source: 'alertmanager',
        revision: undefined,
        reason: 'HighErrorRate',
        kustomization: { namespace: 'flux-system', name: 'apps' },
        alert: { fingerprint: 'f' },
      }),
    );
    expect(created[0].spec.revert?.range).toEqual({ from: GOOD, to: BAD });
    expect(created[0].metadata.annotations?.['rollback.gitops.dev/trigger']).toBe('alertmanager/HighErrorRate');
  });

  test.each([
    ['a suspended policy', { policy: makePolicy({ suspend: true }) }, {}],
    ['a reason the policy does not name', { policy: makePolicy({ reasons: ['HealthCheckFailed'] }) }, { reason: 'ReconciliationFailed' }],
    ['a Kustomization the policy does not cover', { policy: makePolicy({ kustomizations: { names: ['infra'] } }) }, {}],
    ['an event about a previous object of the same name', {}, { kustomization: { namespace: 'flux-system', name: 'apps', uid: 'old-uid' } }],
    ['a revision that is not a git commit', {}, { revision: 'latest@sha256:abc' }],
  ])('%s is ignored without an event', async (_name, setup, overrides) => {
    const { processor, created, events } = setUp(setup);
    expect(await processor.process(trigger(overrides as Partial<Trigger>))).toMatchObject({ action: 'ignored' });
    expect(created).toHaveLength(0);
    expect(events).toHaveLength(0);
  });

  test('a label selector covers the Kustomization as well as names', async () => {
    const { processor, created } = setUp({ policy: makePolicy({ kustomizations: { selector: { matchLabels: { tier: 'web' } } } }) });
    await processor.process(trigger());
    expect(created).toHaveLength(1);
  });
});

describe("TriggerProcessor: the event is checked against the Kustomization's own status", () => {
  test('a signed event claiming failure for a Kustomization that is Ready=True creates nothing', async () => {
    const { processor, created, events, reads } = setUp({ k: withReady('True') });
    expect(await processor.process(trigger())).toMatchObject({ action: 'ignored', why: expect.stringContaining('Ready') });
    expect([created, events, reads]).toEqual([[], [], []]);
  });

  test.each([
    ['the event names another revision than the last attempted one', kustomization, { revision: `main@sha1:${'9'.repeat(40)}` }],
    ['Ready is Unknown (Flux is still reconciling)', withReady('Unknown'), {}],
    ['Ready=False is about an older generation', withReady('False', 2, 1), {}],
    ['there is no Ready condition yet', { ...kustomization, status: { ...kustomization.status, conditions: [] } }, {}],
  ])('%s: not settled (retried, then dropped), nothing created', async (_name, k, overrides) => {
    const { processor, created, reads } = setUp({ k: k as Kustomization });
    await expect(processor.process(trigger(overrides as Partial<Trigger>))).rejects.toBeInstanceOf(TriggerNotSettledError);
    await expect(processor.process(trigger(overrides as Partial<Trigger>))).rejects.toMatchObject({
      code: 'TriggerNotSettledError',
      name: 'TriggerNotSettledError',
    });
    expect([created, reads]).toEqual([[], []]);
  });

  test('Ready=False for the current generation per the condition (Flux leaves status.observedGeneration behind on failure) acts', async () => {
    const k = withReady('False', 2, 2);
    k.status = { ...k.status, observedGeneration: 1 };
    const { processor, created } = setUp({ k });
    expect(await processor.process(trigger())).toMatchObject({ action: 'created' });
    expect(created).toHaveLength(1);
  });

  test("an event without a revision acts on the last attempted revision, never on the caller's word", async () => {
    const { processor, created } = setUp();
    await processor.process(trigger({ revision: undefined }));
    expect(created[0].spec.revert?.range).toEqual({ from: GOOD, to: BAD });
  });

  test("the event's text reaches the rollback as one bounded line: no forged trailer or revert line", async () => {
    const message = `Health check failed\n\nThis reverts commit ${GOOD}.\r\nRollback-Request: flux-system/forged/uid\u2028${'x'.repeat(10_000)}`;
    const { processor, created, events } = setUp();
    await processor.process(trigger({ message, reason: 'HealthCheckFailed' }));
    const reason = created[0].spec.reason!;
    expect(reason).not.toMatch(/[\r\n\u2028]/);
    expect(reason.length).toBeLessThanOrEqual(1024);
    expect(reason).toContain('Health check failed This reverts commit');
    expect(events.every((e) => !/[\r\n]/.test(e))).toBe(true);
  });
});

describe('TriggerProcessor: a policy is confined to its namespace', () => {
  const crossNamespace = () => makePolicy({ kustomizations: { namespace: 'team-b', names: ['apps'] } });

  test("a policy naming another namespace's Kustomizations is refused, without reading them", async () => {
    const { processor, created, events, kustomizationReads } = setUp({ policy: crossNamespace() });
    expect(await processor.process(trigger({ kustomization: { namespace: 'team-b', name: 'apps' } }))).toMatchObject({
      action: 'refused',
      reason: 'CrossNamespacePolicyForbidden',
    });
    expect([created, kustomizationReads]).toEqual([[], []]);
    expect(events).toEqual([expect.stringMatching(/^Warning\/CrossNamespacePolicyForbidden: .*team-b.*--allow-cross-namespace-policies/)]);
  });

  test('with --allow-cross-namespace-policies it acts', async () => {
    const k = {
      ...kustomization,
      metadata: { ...kustomization.metadata, namespace: 'team-b' },
      spec: { ...kustomization.spec, sourceRef: { kind: 'GitRepository', name: 'fleet', namespace: 'flux-system' } },
    };
    const policy = crossNamespace();
    policy.status = { kustomizations: [{ namespace: 'team-b', name: 'apps', lastHealthyRevision: `main@sha1:${GOOD}`, lastHealthyTime: minutesAgo(60) }] };
    const { processor, created } = setUp({ policy, k, allowCrossNamespacePolicies: true });
    expect(await processor.process(trigger({ kustomization: { namespace: 'team-b', name: 'apps', uid: 'k-uid' } }))).toMatchObject({ action: 'created' });
    expect(created).toHaveLength(1);
  });
});

describe('healthy revision tracking', () => {
  const healthy = (revision: string, generation = 1, observed = 1): Kustomization => ({
    ...kustomization,
    metadata: { ...kustomization.metadata, generation },
    status: {
      lastAppliedRevision: revision,
      observedGeneration: observed,
      conditions: [{ type: 'Ready', status: 'True', reason: 'ReconciliationSucceeded', message: '', lastTransitionTime: '' }],
    },
  });

  test.each([
    ['Ready=True for the current generation is healthy', healthy('main@sha1:a'), true],
    ['Ready=True for an older generation is not', healthy('main@sha1:a', 2, 1), false],
    [
      'Ready=False is not',
      {
        ...kustomization,
        status: { ...kustomization.status, conditions: [{ type: 'Ready', status: 'False', reason: 'HealthCheckFailed', message: '', lastTransitionTime: '' }] },
      },
      false,
    ],
  ])('%s', (_name, k, expected) => {
    expect(isHealthy(k as Kustomization)).toBe(expected);
  });

  test('a new healthy revision moves the last one to previous; the same one changes nothing', () => {
    const first = recordHealthyRevision(undefined, 'ns', 'apps', 'A', NOW);
    expect(first).toEqual({ namespace: 'ns', name: 'apps', lastHealthyRevision: 'A', lastHealthyTime: '2025-06-01T12:00:00Z' });
    expect(recordHealthyRevision(first, 'ns', 'apps', 'A', NOW)).toBe(first);
    expect(recordHealthyRevision(first, 'ns', 'apps', 'B', NOW)).toMatchObject({ lastHealthyRevision: 'B', previousHealthyRevision: 'A' });
  });

  test('the tracker writes covered Kustomizations into the policy status, and nothing before its informer synced', async () => {
    const { policy } = setUp();
    policy.status = {};
    let synced = false;
    const writes: unknown[] = [];
    const tracker = new RevisionTracker({
      cluster: {
        getPolicy: async () => policy,
        patchPolicyStatus: async (_p: unknown, patch: MergePatch) => (writes.push(applyMergePatch(policy.status, patch)), 'patched'),
      } as unknown as PolicyClusterPort,
      listKustomizations: () => [healthy(`main@sha1:${GOOD}`), { ...healthy('x'), metadata: { ...kustomization.metadata, name: 'other' } }],
      hasSynced: () => synced,
      now: () => NOW,
    });
    expect(await tracker.syncPolicy('flux-system/apps-policy')).toEqual({ requeueAfterMs: 5000 });
    synced = true;
    await tracker.syncPolicy('flux-system/apps-policy');
    expect(writes).toEqual([
      {
        observedGeneration: 1,
        kustomizations: [{ namespace: 'flux-system', name: 'apps', lastHealthyRevision: `main@sha1:${GOOD}`, lastHealthyTime: '2025-06-01T12:00:00Z' }],
      },
    ]);
  });

  test('a cross-namespace policy records no Kustomization of the other namespace, and says why in its status', async () => {
    const policy = makePolicy({ kustomizations: { namespace: 'team-b', names: ['apps'] } });
    policy.status = {};
    const writes: GitOpsRollbackPolicy['status'][] = [];
    const other = { ...healthy(`main@sha1:${GOOD}`), metadata: { ...kustomization.metadata, namespace: 'team-b' } };
    const tracker = (allow: boolean) =>
      new RevisionTracker({
        cluster: {
          getPolicy: async () => policy,
          patchPolicyStatus: async (_p: unknown, patch: MergePatch) => {
            policy.status = applyMergePatch(policy.status, patch);
            writes.push(policy.status);
            return 'patched';
          },
        } as unknown as PolicyClusterPort,
        listKustomizations: () => [other],
        hasSynced: () => true,
        allowCrossNamespacePolicies: allow,
        now: () => NOW,
      });
    await tracker(false).syncPolicy('flux-system/apps-policy');
    expect(writes[0]?.kustomizations).toEqual([]);
    expect(writes[0]?.conditions).toEqual([
      expect.objectContaining({ type: 'Ready', status: 'False', reason: 'CrossNamespacePolicyForbidden', message: expect.stringContaining('team-b') }),
    ]);
    // Nothing changes: nothing written again.
    await tracker(false).syncPolicy('flux-system/apps-policy');
    expect(writes).toHaveLength(1);
    // Allowed: the entry is recorded and the refusal goes away.
    await tracker(true).syncPolicy('flux-system/apps-policy');
    expect(writes[1]).toMatchObject({ kustomizations: [{ namespace: 'team-b', name: 'apps', lastHealthyRevision: `main@sha1:${GOOD}` }] });
    expect(writes[1]?.conditions).toBeUndefined();
  });
});
