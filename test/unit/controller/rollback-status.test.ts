/**
 * The status as data: the builder marks conditions in memory, the patcher sends only what
 * changed as a merge patch (set, changed, removed), bounded, and nothing when nothing changed.
 */
import type { GitOpsRollback, GitOpsRollbackStatus } from '../../../src/api/v1alpha1/types.js';
import { applyMergePatch, diffMergePatch, type MergePatch } from '../../../src/controller/merge-patch.js';
import { RollbackStatus } from '../../../src/controller/rollback-status.js';
import { MAX_STATUS_LIST_ITEMS } from '../../../src/controller/status-bounds.js';
import { StatusPatcher, StatusRejectedError } from '../../../src/controller/status-write.js';

const T0 = new Date('2026-11-30T10:00:00.123Z');
const T1 = new Date('2026-11-30T10:05:00.456Z');

function makeRollback(status?: GitOpsRollbackStatus): GitOpsRollback {
  return {
    apiVersion: 'rollback.gitops.dev/v1alpha1',
    kind: 'GitOpsRollback',
    metadata: { name: 'rb', namespace: 'team-a', uid: 'uid-1', generation: 3 },
    spec: { repository: { url: 'https://git.example/fleet.git', branch: 'main' }, revert: { commits: ['a'.repeat(40)] } },
    status,
  };
}

/** A cluster keeping the status as the API server would apply each merge patch. */
function setup(stored?: GitOpsRollbackStatus) {
  const rollback = makeRollback(stored);
  const patches: MergePatch[] = [];
  let clock = T0;
  const cluster = {
    stored,
    patchRollbackStatus: async (_r: GitOpsRollback, patch: MergePatch) => {
      patches.push(patch);
      cluster.stored = applyMergePatch(cluster.stored, patch);
    },
  };
  const now = () => clock;
  const status = new RollbackStatus(rollback, new StatusPatcher(cluster, rollback, now), now);
  return { cluster, patches, status, tick: (to: Date) => (clock = to) };
}

describe('diffMergePatch', () => {
  const cases: [string, object | undefined, object, MergePatch | undefined][] = [
    ['a new field is set', {}, { headAfter: 'b' }, { headAfter: 'b' }],
    ['a changed field is set', { headAfter: 'a' }, { headAfter: 'b' }, { headAfter: 'b' }],
    ['a removed field is null', { headAfter: 'a', pushTime: 't' }, { headAfter: 'a' }, { pushTime: null }],
    ['an undefined field counts as removed', { pushTime: 't' }, { pushTime: undefined }, { pushTime: null }],
    ['a list is replaced whole', { changedPaths: ['a', 'b'] }, { changedPaths: ['a'] }, { changedPaths: ['a'] }],
    ['a nested object is patched key by key', { phases: { resolve: 1, total: 9 } }, { phases: { resolve: 1, push: 2 } }, { phases: { total: null, push: 2 } }],
    ['key order does not count as a change', { phases: { a: 1, b: 2 } }, { phases: { b: 2, a: 1 } }, undefined],
    ['the same status is no patch', { conditions: [{ type: 'Ready' }] }, { conditions: [{ type: 'Ready' }] }, undefined],
    ['nothing stored yet: everything is set', undefined, { startTime: 't' }, { startTime: 't' }],
  ];
  test.each(cases)('%s', (_name, before, after, expected) => {
    const patch = diffMergePatch(before, after);
    expect(patch).toEqual(expected);
    if (patch) expect(applyMergePatch(before, patch)).toEqual(JSON.parse(JSON.stringify(after)));
  });
});

describe('RollbackStatus with its StatusPatcher', () => {
  test('marks conditions with the generation and a transition time that changes only with the status', async () => {
    const { status, tick } = setup();
    status.markReconciling('Progressing', 'Rolling back');
    tick(T1);
    status.markReconciling('Progressing', 'Still rolling back').markReadyUnknown('Progressing', 'Rolling back');
    expect(status.condition('Reconciling')).toEqual({
      type: 'Reconciling',
      status: 'True',
      reason: 'Progressing',
      message: 'Still rolling back',
      observedGeneration: 3,
      lastTransitionTime: '2026-11-30T10:00:00Z',
    });
    expect(status.condition('Ready')?.lastTransitionTime).toBe('2026-11-30T10:05:00Z');
  });

  test('the first write sends the whole status; later ones only what changed', async () => {
    const { status, patches, cluster } = setup();
    await status.markReconciling('Progressing', 'Rolling back').observeGeneration().update({ startTime: status.timestamp() }).persist();
    expect(patches[0]).toEqual({ conditions: [expect.objectContaining({ type: 'Reconciling' })], observedGeneration: 3, startTime: '2026-11-30T10:00:00Z' });
    await status.update({ headAfter: 'b'.repeat(40) }).persist();
    expect(patches[1]).toEqual({ headAfter: 'b'.repeat(40) });
    expect(cluster.stored).toEqual(status.value);
  });

  test('removed fields and conditions are cleared with null', async () => {
    const { status, patches, cluster } = setup({
      pushTime: 't',
      kustomizations: [],
      conditions: [{ type: 'Reconciling', status: 'True', reason: 'Progressing', message: 'm', lastTransitionTime: 't' }],
    });
    await status.remove('Reconciling').update({ pushTime: undefined }).persist();
    expect(patches).toEqual([{ conditions: [], pushTime: null }]);
    expect(cluster.stored).toEqual({ conditions: [], kustomizations: [] });
  });

  test('an unchanged status is not written', async () => {
    const { status, patches } = setup({ headAfter: 'a' });
    await status.update({ headAfter: 'a' }).persist();
    expect(patches).toEqual([]);
  });

  test('the status written is bounded, with the count beside the cut list', async () => {
    const { status, cluster } = setup();
    const changedPaths = Array.from({ length: 250 }, (_, i) => `apps/p${i}.yaml`);
    await status.update({ changedPaths }).persist();
    expect(cluster.stored?.changedPaths).toHaveLength(MAX_STATUS_LIST_ITEMS);
    expect(cluster.stored?.changedPathsCount).toBe(250);
  });

  test('a status refused for good is replaced by the minimal Stalled one, cleared fields and all', async () => {
    const { status, cluster, patches } = setup({ headBefore: 'a', changedPaths: ['x'] });
    const refuse = cluster.patchRollbackStatus;
    cluster.patchRollbackStatus = async (r, patch) => {
      if (patch.conflicts) throw Object.assign(new Error('HTTP 422'), { code: 422, body: '{"message":"too large"}' });
      await refuse(r, patch);
    };
    await expect(status.update({ conflicts: [{ path: 'p', reason: 'content' }] }).persist()).rejects.toBeInstanceOf(StatusRejectedError);
    expect(patches).toHaveLength(1);
    expect(patches[0]).toMatchObject({ changedPaths: null, completionTime: '2026-11-30T10:00:00Z' });
    expect(cluster.stored?.conditions?.map((c) => `${c.type}=${c.status}/${c.reason}`)).toEqual(['Ready=False/StatusRejected', 'Stalled=True/StatusRejected']);
    expect(cluster.stored?.headBefore).toBe('a');
  });
});
