/** What the reconciler tells its observer (the operator's metrics) and which log fields it writes. */
import type { GitOpsRollback } from '../../../src/api/v1alpha1/types.js';
import type { ClusterPort } from '../../../src/controller/ports.js';
import { RollbackReconciler } from '../../../src/controller/reconciler.js';
import type { RollbackFinishedEvent } from '../../../src/controller/rollback-observer.js';
import type { RollbackResult } from '../../../src/git/engine.js';
import { GitTimeoutError, RevertConflictError } from '../../../src/git/errors.js';
import { applyMergePatch, type MergePatch } from '../../../src/controller/merge-patch.js';

const URL = 'https://git.example/fleet.git';

function setup(engine: () => Promise<RollbackResult>) {
  let rollback: GitOpsRollback | null = {
    apiVersion: 'rollback.gitops.dev/v1alpha1',
    kind: 'GitOpsRollback',
    metadata: { name: 'rb', namespace: 'team-a', uid: 'uid-1', generation: 1 },
    spec: { repository: { url: URL, branch: 'main' }, revert: { commits: ['a'.repeat(40)] } },
  };
  const cluster: ClusterPort = {
    getRollback: async () => rollback,
    patchRollbackStatus: async (_r, patch: MergePatch) => {
      if (rollback) rollback = { ...rollback, status: applyMergePatch(rollback.status, patch) };
    },
    getGitRepository: async () => null,
    getSecretData: async () => null,
    recordEvent: async () => {},
  };
  const calls: string[] = [];
  const finished: RollbackFinishedEvent[] = [];
  const logs: object[] = [];
  const reconciler = new RollbackReconciler({
    cluster,
    runEngine: engine,
    logger: { info: (fields) => logs.push(fields), error: (fields) => logs.push(fields) },
    observer: {
      onProgress: (r) => calls.push(`progress ${r.status?.startTime ? 'started' : 'unstarted'}`),
      onFinished: (event) => {
        calls.push(`finished ${event.reason}`);
        finished.push(event);
      },
      onForgotten: (key) => calls.push(`forgotten ${key}`),
    },
  });
  return { reconciler, calls, finished, logs, remove: () => (rollback = null) };
}

const result: RollbackResult = {
  result: 'reverted',
  branch: 'main',
  previousHead: 'b'.repeat(40),
  head: 'c'.repeat(40),
  commits: [],
  alreadyReverted: [],
  empty: [],
  changedPaths: ['apps/frontend/deploy.yaml'],
  signed: false,
  attempts: 1,
  durations: { fetch: 1, compute: 1, push: 1 },
};

describe('the reconciler and its observer', () => {
  test('a success reports progress then finished with the result and the repository URL', async () => {
    const { reconciler, calls, finished } = setup(async () => result);
    await reconciler.reconcile('team-a/rb');
    expect(calls).toEqual(['progress started', 'finished Succeeded']);
    expect(finished[0]).toMatchObject({ ready: true, repositoryUrl: URL, result });
    await reconciler.reconcile('team-a/rb');
    expect(calls.at(-1)).toBe('forgotten team-a/rb');
  });

  test('a conflict reports finished, not ready', async () => {
    const { reconciler, finished } = setup(async () => {
      throw new RevertConflictError({ commit: 'a'.repeat(40), conflicts: [{ path: 'x', reason: 'content' }] } as never);
    });
    await reconciler.reconcile('team-a/rb');
    expect(finished).toHaveLength(1);
    expect(finished[0]).toMatchObject({ reason: 'RevertConflict', ready: false });
  });

  test('a transient failure reports progress only (still in progress)', async () => {
    const { reconciler, calls } = setup(async () => {
      throw new GitTimeoutError({ operation: 'Fetch', url: URL, timeoutMs: 1 });
    });
    await reconciler.reconcile('team-a/rb');
    expect(calls).toEqual(['progress started']);
  });

  test('a deleted object is forgotten', async () => {
    const { reconciler, calls, remove } = setup(async () => result);
    remove();
    await reconciler.reconcile('team-a/rb');
    expect(calls).toEqual(['forgotten team-a/rb']);
  });

  test('an observer that throws does not break the reconcile', async () => {
    const { reconciler } = setup(async () => result);
    (reconciler as unknown as { options: { observer: object } }).options.observer = {
      onFinished: () => {
        throw new Error('broken');
      },
    };
    await expect(reconciler.reconcile('team-a/rb')).resolves.toEqual({});
  });

  test('each reconcile logs the object key and its own reconcile id', async () => {
    const { reconciler, logs } = setup(async () => {
      throw new GitTimeoutError({ operation: 'Fetch', url: URL, timeoutMs: 1 });
    });
    await reconciler.reconcile('team-a/rb');
    await reconciler.reconcile('team-a/rb');
    expect(logs).toHaveLength(2);
    expect(logs[0]).toMatchObject({ object: 'team-a/rb', reconcileID: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect((logs[0] as { reconcileID: string }).reconcileID).not.toBe((logs[1] as { reconcileID: string }).reconcileID);
  });
});
