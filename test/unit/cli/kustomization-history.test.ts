/**
 * `history --kustomization`'s join of a commit with what the cluster saw: Flux's deployments from
 * status.history (several outcomes of one revision kept), the applied revision, and the
 * GitOpsRollbacks that reverted or wrote a commit — only those of this Kustomization's source.
 */
import type { GitOpsRollback } from '../../../src/api/v1alpha1/types.js';
import { joinCluster } from '../../../src/cli/kustomization-history.js';
import type { Kustomization } from '../../../src/flux/kustomization.js';

const BAD = 'b'.repeat(40);
const GOOD = 'a'.repeat(40);
const REVERT = 'c'.repeat(40);

const kustomization: Kustomization = {
  metadata: { namespace: 'apps', name: 'web' },
  spec: { path: './apps/web', sourceRef: { kind: 'GitRepository', name: 'fleet' } },
  status: {
    lastAppliedRevision: `main@sha1:${REVERT}`,
    history: [
      { lastReconciled: '2026-11-30T10:05:00Z', lastReconciledStatus: 'ReconciliationSucceeded', metadata: { revision: `main@sha1:${REVERT}` } },
      {
        lastReconciled: '2026-11-30T10:04:00Z',
        lastReconciledStatus: 'HealthCheckFailed',
        metadata: { revision: `main@sha1:${BAD}` },
        totalReconciliations: 3,
      },
      { lastReconciled: '2026-11-30T10:03:00Z', lastReconciledStatus: 'ReconciliationSucceeded', metadata: { revision: `main@sha1:${BAD}` } },
      { lastReconciled: '2026-11-30T10:01:00Z', lastReconciledStatus: 'ReconciliationSucceeded', metadata: { revision: `main@sha1:${GOOD}` } },
    ],
  },
};

const rollback = (name: string, spec: GitOpsRollback['spec'], ready: boolean): GitOpsRollback => ({
  apiVersion: 'rollback.gitops.dev/v1alpha1',
  kind: 'GitOpsRollback',
  metadata: { name, namespace: 'apps' },
  spec,
  status: {
    revertedCommits: [BAD],
    revertCommits: [REVERT],
    conditions: [
      ready
        ? { type: 'Ready', status: 'True', reason: 'Succeeded', message: '', lastTransitionTime: 't' }
        : { type: 'Stalled', status: 'True', reason: 'ApplyTimeout', message: '', lastTransitionTime: 't' },
    ],
  },
});

describe('joinCluster', () => {
  const join = joinCluster(kustomization, [
    rollback('rollback-web-1', { sourceRef: { kind: 'GitRepository', name: 'fleet' } }, true),
    rollback('other-source', { sourceRef: { kind: 'GitRepository', name: 'elsewhere' } }, true),
    rollback('waits-for-web', { repository: { url: 'u', branch: 'main' }, reconcile: { kustomizations: [{ name: 'web' }] } }, false),
  ]);

  test('deployments per revision, newest first, both outcomes of a revision kept', () => {
    expect(join.deployments.get(BAD)).toEqual([
      { lastReconciled: '2026-11-30T10:04:00Z', status: 'HealthCheckFailed', healthy: false, reconciliations: 3 },
      { lastReconciled: '2026-11-30T10:03:00Z', status: 'ReconciliationSucceeded', healthy: true },
    ]);
    expect(join.current).toBe(REVERT);
  });

  test("rollbacks of this Kustomization's source or waiting for it, never another source's", () => {
    expect(join.rollbacks.get(BAD)).toEqual([
      { name: 'rollback-web-1', role: 'reverted', outcome: 'Ready Succeeded' },
      { name: 'waits-for-web', role: 'reverted', outcome: 'Stalled ApplyTimeout' },
    ]);
    expect(join.rollbacks.get(REVERT)?.map((l) => l.role)).toEqual(['revert', 'revert']);
  });

  test('the marks a person reads under each commit', () => {
    expect(join.marks(REVERT)).toEqual([
      'APPLIED NOW',
      'healthy 2026-11-30 10:05',
      'written by rollback-web-1 (Ready Succeeded)',
      'written by waits-for-web (Stalled ApplyTimeout)',
    ]);
    expect(join.marks(GOOD)).toEqual(['healthy 2026-11-30 10:01']);
    expect(join.marks('d'.repeat(40))).toEqual([]);
  });
});
