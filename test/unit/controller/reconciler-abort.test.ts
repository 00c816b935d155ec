/**
 * Lease loss, as the reconciler sees it: the operator aborts its signal, the engine stops at a
 * safe point with the abort reason, and the reconcile leaves the status to the next leader
 * (no Stalled, no failure written) and asks for a retry.
 */
import type { GitOpsRollback, GitOpsRollbackStatus } from '../../../src/api/v1alpha1/types.js';
import type { ClusterPort } from '../../../src/controller/ports.js';
import { RollbackReconciler } from '../../../src/controller/reconciler.js';
import { SHA } from './fixtures.js';
import { applyMergePatch } from '../../../src/controller/merge-patch.js';

const rollback: GitOpsRollback = {
  apiVersion: 'rollback.gitops.dev/v1alpha1',
  kind: 'GitOpsRollback',
  metadata: { name: 'rb', namespace: 'team-a', uid: 'uid-1', generation: 1 },
  spec: { repository: { url: 'https://git.example/fleet.git', branch: 'main' }, revert: { commits: [SHA] } },
};

test('an engine run aborted because the Lease was lost writes no failure status and is retried', async () => {
  const statuses: GitOpsRollbackStatus[] = [];
  const cluster: ClusterPort = {
    getRollback: async () => rollback,
    patchRollbackStatus: async (_r, patch) => void statuses.push(applyMergePatch(statuses.at(-1) ?? rollback.status, patch)),
    getGitRepository: async () => null,
    getSecretData: async () => null,
    recordEvent: async () => undefined,
  };
  const stopWork = new AbortController();
  const lost = new Error('lease lost');
  const reconciler = new RollbackReconciler({
    cluster,
    signal: stopWork.signal,
    runEngine: async (_request, hooks) => {
      stopWork.abort(lost);
      hooks?.signal?.throwIfAborted();
      throw new Error('the engine went on after the abort');
    },
  });
  expect(await reconciler.reconcile('team-a/rb')).toEqual({ error: lost, retry: true });
  // Only the Reconciling mark written before the engine ran; no Stalled, no Ready=False.
  expect(statuses).toHaveLength(1);
  expect(statuses[0].conditions?.map((c) => `${c.type}=${c.status}`)).toEqual(['Reconciling=True', 'Ready=Unknown']);
});
