/** The history limit's choice of rollbacks to delete: pure, over plain objects. */
import type { GitOpsRollback } from '../../../src/api/v1alpha1/types.js';
import { policyKeyOf, selectRollbacksToPrune } from '../../../src/controller/rollback-history.js';

const NOW = new Date('2026-11-30T12:00:00Z');
const rollback = (name: string, minutesAgo: number, finished = true): GitOpsRollback => ({
  apiVersion: 'rollback.gitops.dev/v1alpha1',
  kind: 'GitOpsRollback',
  metadata: {
    name,
    namespace: 'team-a',
    creationTimestamp: new Date(NOW.getTime() - minutesAgo * 60_000).toISOString(),
    labels: { 'rollback.gitops.dev/policy-uid': 'p-uid' },
    ownerReferences: [{ apiVersion: 'rollback.gitops.dev/v1alpha1', kind: 'GitOpsRollbackPolicy', name: 'apps', uid: 'p-uid', controller: true }],
  },
  spec: {},
  status: { conditions: finished ? [{ type: 'Ready', status: 'True', reason: 'Succeeded', message: '', lastTransitionTime: '' }] : [] },
});
const isFinished = (r: GitOpsRollback) => Boolean(r.status?.conditions?.length);
const select = (rollbacks: GitOpsRollback[], limit: number, protectMs = 0) => selectRollbacksToPrune(rollbacks, { limit, protectMs, now: NOW, isFinished });

describe('selectRollbacksToPrune', () => {
  test('keeps the newest `limit` finished ones and prunes the older ones', () => {
    const { prune } = select([rollback('old', 300), rollback('new', 10), rollback('older', 400), rollback('mid', 100)], 2);
    expect(prune.map((r) => r.metadata.name)).toEqual(['old', 'older']);
  });

  test('never prunes a rollback still working, and does not count it', () => {
    const { prune } = select([rollback('working', 500, false), rollback('a', 300), rollback('b', 200)], 2);
    expect(prune).toEqual([]);
  });

  test('keeps what the cooldown or rate limit still counts, and says when to look again', () => {
    const { prune, recheckAfterMs } = select([rollback('a', 1), rollback('b', 2), rollback('c', 3), rollback('d', 120)], 1, 60 * 60_000);
    expect(prune.map((r) => r.metadata.name)).toEqual(['d']);
    expect(recheckAfterMs).toBe(57 * 60_000 + 1000);
  });

  test('the policy of a rollback comes from its controller owner, only with the policy label', () => {
    expect(policyKeyOf(rollback('a', 1))).toBe('team-a/apps');
    const byUser = rollback('u', 1);
    delete byUser.metadata.labels;
    expect(policyKeyOf(byUser)).toBeUndefined();
  });
});
