/**
 * The reconciler with the safety gate, fakes at its boundary: the fake engine builds the gate from
 * the policy it is given and hands it a change the way the real engine's inspect hook does. Blocked -> Stalled=True SafetyCheckFailed
 * with status.safety and nothing "pushed"; allowed -> Ready=True with the verdict in status.
 */
import type { GitOpsRollback, GitOpsRollbackSpec, GitOpsRollbackStatus } from '../../../src/api/v1alpha1/types.js';
import type { ClusterPort, RunEngine } from '../../../src/controller/ports.js';
import { RollbackReconciler } from '../../../src/controller/reconciler.js';
import type { RollbackResult } from '../../../src/git/engine.js';
import type { InspectedChange } from '../../../src/git/inspected-change.js';
import { createSafetyGate } from '../../../src/safety/safety-gate.js';
import { applyMergePatch } from '../../../src/controller/merge-patch.js';

const PVC = (size: string) =>
  `apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\n  namespace: db\nspec:\n  resources:\n    requests:\n      storage: ${size}\n`;
const FILES: Record<string, [string | null, string | null]> = { 'apps/db/pvc.yaml': [PVC('20Gi'), PVC('10Gi')], 'apps/web.yaml': ['a: 1\n', 'a: 2\n'] };

function makeRollback(spec: Partial<GitOpsRollbackSpec>): GitOpsRollback {
  return {
    apiVersion: 'rollback.gitops.dev/v1alpha1',
    kind: 'GitOpsRollback',
    metadata: { name: 'rb', namespace: 'team-a', uid: 'uid-1', generation: 1 },
    spec: { repository: { url: 'https://git.example/fleet.git', branch: 'main' }, revert: { commits: ['a'.repeat(40)] }, ...spec },
  };
}

/** An engine that inspects a fixed change, then "pushes" (or plans, in a dry run). */
const fakeEngine: RunEngine = async (request, hooks) => {
  const encode = (text: string | null) => (text === null ? null : new TextEncoder().encode(text));
  const change = {
    changedPaths: Object.keys(FILES),
    signed: false,
    readBefore: async (p: string) => encode(FILES[p][0]),
    readAfter: async (p: string) => encode(FILES[p][1]),
  };
  const gate = createSafetyGate(hooks?.safety);
  try {
    await gate.inspect(change as unknown as InspectedChange);
  } finally {
    if (gate.verdict) hooks?.onVerdict?.(gate.verdict);
  }
  const result: RollbackResult = {
    result: request.dryRun ? 'planned' : 'reverted',
    branch: 'main',
    previousHead: 'b'.repeat(40),
    head: request.dryRun ? null : 'c'.repeat(40),
    commits: [{ sha: 'c'.repeat(40), tree: 't', reverts: ['a'.repeat(40)], message: 'Revert' }],
    alreadyReverted: [],
    empty: [],
    changedPaths: Object.keys(FILES),
    signed: false,
    attempts: 1,
    durations: { fetch: 0, compute: 0, push: 0 },
  };
  return result;
};

async function reconcile(rollback: GitOpsRollback) {
  const statuses: GitOpsRollbackStatus[] = [];
  const events: string[] = [];
  const cluster: ClusterPort = {
    getRollback: async () => rollback,
    patchRollbackStatus: async (_r, patch) => void statuses.push(applyMergePatch(statuses.at(-1) ?? rollback.status, patch)),
    getGitRepository: async () => null,
    getSecretData: async () => null,
    // The Namespace grants every kind: these cases are about the gate, not the grant (grants.test.ts).
    getNamespaceAnnotations: async () => ({ 'rollback.gitops.dev/safety-allow': '*' }),
    recordEvent: async (_r, type, reason) => void events.push(`${type}/${reason}`),
  };
  const result = await new RollbackReconciler({ cluster, runEngine: fakeEngine }).reconcile('team-a/rb');
  const status = statuses.at(-1)!;
  return { result, status, events, condition: (type: string) => status.conditions?.find((c) => c.type === type) };
}

describe('RollbackReconciler safety gate', () => {
  test('a PVC change makes Stalled=True SafetyCheckFailed, names object and file, and does not retry', async () => {
    const { result, status, events, condition } = await reconcile(makeRollback({}));
    expect(result).toEqual({});
    expect(condition('Stalled')).toMatchObject({ status: 'True', reason: 'SafetyCheckFailed' });
    expect(condition('Stalled')?.message).toContain('changed PersistentVolumeClaim db/data (apps/db/pvc.yaml)');
    expect(condition('Stalled')?.message).toContain('spec.safety.allow: [PersistentVolumeClaim]');
    expect(condition('Pushed')).toBeUndefined();
    expect(status.safety).toMatchObject({
      verdict: 'Blocked',
      blocked: [{ kind: 'PersistentVolumeClaim', name: 'data', namespace: 'db', file: 'apps/db/pvc.yaml', change: 'changed' }],
    });
    expect(status.changedPaths).toEqual(['apps/db/pvc.yaml', 'apps/web.yaml']);
    expect(events).toContain('Warning/SafetyCheckFailed');
  });

  test('allowed in spec.safety.allow: Ready=True Succeeded with the verdict in status', async () => {
    const { condition, status } = await reconcile(makeRollback({ safety: { allow: ['PersistentVolumeClaim'] } }));
    expect(condition('Ready')).toMatchObject({ status: 'True', reason: 'Succeeded' });
    expect(status.safety).toMatchObject({
      verdict: 'Passed',
      allowed: [{ kind: 'PersistentVolumeClaim' }],
      summary: [{ kind: 'PersistentVolumeClaim', changed: 1 }],
    });
  });

  test('a dry run reports the verdict and per-kind summary with Ready=True DryRunSucceeded', async () => {
    const { condition, status } = await reconcile(makeRollback({ dryRun: true, safety: { allow: ['PersistentVolumeClaim'] } }));
    expect(condition('Ready')).toMatchObject({ status: 'True', reason: 'DryRunSucceeded' });
    expect(status.safety).toMatchObject({ verdict: 'Passed', objectCount: 1 });
  });
});
