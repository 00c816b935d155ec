/**
 * `rollback --kustomization`'s decisions: which revision is the last healthy one (Flux's
 * status.history first, then the policies' records, or --to), and the GitOpsRollback built for it.
 */
import type { GitOpsRollbackPolicy } from '../../../src/api/v1alpha1/policy-types.js';
import { buildKustomizationRollback, chooseRollbackTarget } from '../../../src/cli/rollback-target.js';
import { UsageError } from '../../../src/cli/usage-error.js';
import type { HistorySnapshot, Kustomization } from '../../../src/flux/kustomization.js';

const GOOD = '1'.repeat(40);
const OLDER = '2'.repeat(40);
const BAD = '3'.repeat(40);

const snapshot = (sha: string, status: string, at: string): HistorySnapshot => ({
  digest: `sha256:${sha.slice(0, 8)}`,
  lastReconciled: at,
  lastReconciledStatus: status,
  metadata: { revision: `main@sha1:${sha}` },
});

function kustomization(history: HistorySnapshot[] | undefined, current = BAD, spec: Kustomization['spec'] = {}): Kustomization {
  return {
    metadata: { namespace: 'apps', name: 'web' },
    spec: { path: './apps/web', sourceRef: { kind: 'GitRepository', name: 'fleet' }, ...spec },
    status: { lastAttemptedRevision: `main@sha1:${current}`, lastAppliedRevision: `main@sha1:${current}`, history },
  };
}

const policy = (lastHealthyRevision: string, previousHealthyRevision?: string): GitOpsRollbackPolicy =>
  ({
    metadata: { namespace: 'apps', name: 'auto' },
    spec: {},
    status: { kustomizations: [{ namespace: 'apps', name: 'web', lastHealthyRevision, previousHealthyRevision, lastHealthyTime: '2026-11-30T10:00:00Z' }] },
  }) as unknown as GitOpsRollbackPolicy;

describe('chooseRollbackTarget', () => {
  test("the newest healthy snapshot of Flux's history that is not the current revision", () => {
    const history = [
      snapshot(BAD, 'HealthCheckFailed', '2026-11-30T10:03:00Z'),
      snapshot(GOOD, 'ReconciliationSucceeded', '2026-11-30T10:02:00Z'),
      snapshot(OLDER, 'ReconciliationSucceeded', '2026-11-30T10:01:00Z'),
    ];
    expect(chooseRollbackTarget(kustomization(history), [], {})).toEqual({ from: GOOD, to: BAD, source: "Flux's status.history" });
  });

  test('the current revision healthy in the history (a bad deploy that passed its checks) is skipped', () => {
    const history = [snapshot(BAD, 'ReconciliationSucceeded', '2026-11-30T10:03:00Z'), snapshot(GOOD, 'ReconciliationSucceeded', '2026-11-30T10:02:00Z')];
    expect(chooseRollbackTarget(kustomization(history), [], {}).from).toBe(GOOD);
  });

  test("without a usable history, the policies' records: the last healthy, else the one before it", () => {
    expect(chooseRollbackTarget(kustomization(undefined), [policy(`main@sha1:${GOOD}`)], {})).toEqual({
      from: GOOD,
      to: BAD,
      source: 'GitOpsRollbackPolicy apps/auto',
    });
    expect(
      chooseRollbackTarget(kustomization([snapshot(BAD, 'HealthCheckFailed', '2026-11-30T10:03:00Z')]), [policy(`main@sha1:${BAD}`, `main@sha1:${OLDER}`)], {})
        .from,
    ).toBe(OLDER);
  });

  test('--to: that commit, lower-cased; not a commit id is refused', () => {
    expect(chooseRollbackTarget(kustomization(undefined), [], { to: 'ABCDEF1' })).toEqual({ from: 'abcdef1', to: BAD, source: '--to' });
    expect(() => chooseRollbackTarget(kustomization(undefined), [], { to: 'HEAD~1' })).toThrow(UsageError);
  });

  test('nothing known, or nothing applied yet: UsageError saying what to do', () => {
    expect(() => chooseRollbackTarget(kustomization([snapshot(BAD, 'ReconciliationSucceeded', '2026-11-30T10:03:00Z')]), [], {})).toThrow('give --to REVISION');
    const fresh: Kustomization = { metadata: { namespace: 'apps', name: 'web' }, status: {} };
    expect(() => chooseRollbackTarget(fresh, [], {})).toThrow('has applied no git revision yet');
  });
});

describe('buildKustomizationRollback', () => {
  const target = { from: GOOD, to: BAD, source: 'x' };

  test("the range, limited to the Kustomization's path, squashed, waiting for it; reason, incident and dry run carried", () => {
    const rollback = buildKustomizationRollback(kustomization(undefined), target, { reason: 'r', incident: 'INC-1', dryRun: true });
    expect(rollback).toEqual({
      apiVersion: 'rollback.gitops.dev/v1alpha1',
      kind: 'GitOpsRollback',
      metadata: { generateName: 'rollback-web-', namespace: 'apps' },
      spec: {
        sourceRef: { kind: 'GitRepository', name: 'fleet' },
        revert: { range: { from: GOOD, to: BAD }, squash: true, paths: ['apps/web'] },
        reason: 'r',
        incident: 'INC-1',
        dryRun: true,
        reconcile: { kustomizations: [{ name: 'web', namespace: 'apps' }] },
      },
    });
  });

  test('a root path reverts everything; a source in another namespace is named with it', () => {
    const rollback = buildKustomizationRollback(
      kustomization(undefined, BAD, { path: './', sourceRef: { kind: 'GitRepository', name: 'fleet', namespace: 'flux-system' } }),
      target,
      {},
    );
    expect(rollback.spec.revert).toEqual({ range: { from: GOOD, to: BAD }, squash: true });
    expect(rollback.spec.sourceRef).toEqual({ kind: 'GitRepository', name: 'fleet', namespace: 'flux-system' });
  });

  test('a Kustomization of an OCI or bucket source cannot be rolled back in git', () => {
    expect(() => buildKustomizationRollback(kustomization(undefined, BAD, { sourceRef: { kind: 'OCIRepository', name: 'x' } }), target, {})).toThrow(
      'only GitRepository',
    );
  });
});
