/**
 * Bounded status: every list cut to its first 100 entries with a count, every message to 4 KiB,
 * and a status the API server refuses for good replaced by a minimal Stalled one (the
 * reconciler ends instead of retrying forever). Fakes at the ClusterPort boundary; the real API
 * server cases are in test/integration/tenancy.test.ts.
 */
import type { GitOpsRollback, GitOpsRollbackStatus } from '../../../src/api/v1alpha1/types.js';
import { RollbackReconciler } from '../../../src/controller/reconciler.js';
import type { ClusterPort } from '../../../src/controller/ports.js';
import { boundStatus, MAX_MESSAGE_BYTES, truncateBytes } from '../../../src/controller/status-bounds.js';
import { RevertConflictError } from '../../../src/git/errors.js';
import { makeResult } from './fixtures.js';
import { applyMergePatch, type MergePatch } from '../../../src/controller/merge-patch.js';

const paths = (n: number) => Array.from({ length: n }, (_, i) => `apps/service-${i}/deployment.yaml`);

describe('boundStatus', () => {
  test('a 30,000-path status keeps 100 paths and the count, a few KiB instead of MiBs', () => {
    const status = boundStatus({ changedPaths: paths(30_000), conflicts: paths(600).map((path) => ({ path, reason: 'content' })) });
    expect(status.changedPaths).toHaveLength(100);
    expect(status.changedPathsCount).toBe(30_000);
    expect(status.conflicts).toHaveLength(100);
    expect(status.conflictsCount).toBe(600);
    expect(Buffer.byteLength(JSON.stringify(status))).toBeLessThan(16 * 1024);
  });

  test('bounding twice keeps the count (a status read back and written again)', () => {
    const once = boundStatus({ revertedCommits: Array.from({ length: 500 }, (_, i) => String(i)) });
    expect(boundStatus(once)).toEqual(once);
    expect(once.revertedCommitsCount).toBe(500);
  });

  test('a short list gets its exact count and no list gets no count', () => {
    expect(boundStatus({ changedPaths: ['a'] })).toEqual({ changedPaths: ['a'], changedPathsCount: 1 });
    expect(boundStatus({})).toEqual({});
  });

  test('messages are cut to 4 KiB on a character boundary, with a marker', () => {
    const status = boundStatus({ conditions: [{ type: 'Ready', status: 'False', reason: 'X', lastTransitionTime: 't', message: 'é'.repeat(40_000) }] });
    const message = status.conditions![0].message;
    expect(Buffer.byteLength(message)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    expect(message.endsWith('...')).toBe(true);
    expect(truncateBytes('short', 10)).toBe('short');
  });
});

/** A cluster whose API server refuses any status carrying conflicts (as a too-large one would be). */
class RefusingCluster implements ClusterPort {
  written: GitOpsRollbackStatus[] = [];
  events: string[] = [];
  constructor(private readonly rollback: GitOpsRollback) {}
  async getRollback() {
    return this.rollback;
  }
  async patchRollbackStatus(_r: GitOpsRollback, patch: MergePatch) {
    const status = applyMergePatch<GitOpsRollbackStatus>(this.written.at(-1) ?? this.rollback.status, patch);
    if (status.conflicts)
      throw Object.assign(new Error('HTTP 422'), {
        code: 422,
        body: JSON.stringify({ message: 'GitOpsRollback.rollback.gitops.dev "rb" is invalid: status.conflicts: Too many' }),
      });
    this.written.push(status);
  }
  async getGitRepository() {
    return null;
  }
  async getSecretData() {
    return null;
  }
  async recordEvent(_r: GitOpsRollback, type: string, reason: string) {
    this.events.push(`${type}/${reason}`);
  }
}

describe('a status the API server refuses', () => {
  const rollback: GitOpsRollback = {
    apiVersion: 'rollback.gitops.dev/v1alpha1',
    kind: 'GitOpsRollback',
    metadata: { name: 'rb', namespace: 'team-a', uid: 'uid-1', generation: 1 },
    spec: { repository: { url: 'https://git.example/fleet.git', branch: 'main' }, revert: { commits: ['a'.repeat(40)] } },
  };

  test('ends Stalled StatusRejected with a minimal status, no retry', async () => {
    const cluster = new RefusingCluster(rollback);
    const conflicts = paths(600).map((path) => ({ path, reason: 'content' as const }));
    const reconciler = new RollbackReconciler({
      cluster,
      runEngine: async () => {
        throw new RevertConflictError({ commit: 'a'.repeat(40), conflicts });
      },
    });
    expect(await reconciler.reconcile('team-a/rb')).toEqual({});
    const last = cluster.written.at(-1)!;
    expect(last.conditions?.find((c) => c.type === 'Stalled')).toMatchObject({ status: 'True', reason: 'StatusRejected' });
    expect(last.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'StatusRejected' });
    expect(last.conditions?.find((c) => c.type === 'Stalled')?.message).toContain('HTTP 422');
    expect(last.conflicts).toBeUndefined();
    expect(last.completionTime).toBeDefined();
    expect(cluster.events).toContain('Warning/StatusRejected');
  });

  test('a transient API failure (HTTP 500) is still retried, not stalled', async () => {
    const cluster = new RefusingCluster(rollback);
    cluster.patchRollbackStatus = async () => {
      throw Object.assign(new Error('HTTP 500'), { code: 500, body: '{}' });
    };
    const reconciler = new RollbackReconciler({ cluster, runEngine: async () => makeResult() });
    await expect(reconciler.reconcile('team-a/rb')).rejects.toMatchObject({ code: 500 });
  });
});
