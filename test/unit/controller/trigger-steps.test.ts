/**
 * The steps of a trigger decision (src/controller/trigger-processor.ts), each alone: what ends
 * the decision (ignored, refused with which reason, duplicate) and what a step hands on.
 */
import type { GitOpsRollbackPolicy } from '../../../src/api/v1alpha1/policy-types.js';
import {
  checkPolicyScope,
  findFailingRevision,
  findLastGood,
  readCommitsToRevert,
  resolveSource,
  TriggerNotSettledError,
  TriggerStop,
} from '../../../src/controller/trigger-processor.js';
import type { HistorySnapshot, Kustomization } from '../../../src/flux/kustomization.js';
import { describeLastGood } from '../../../src/controller/policy-decision.js';
import type { Trigger } from '../../../src/webhook/trigger.js';

const GOOD = 'a'.repeat(40);
const BAD = 'b'.repeat(40);
const policy: GitOpsRollbackPolicy = {
  apiVersion: 'rollback.gitops.dev/v1alpha1',
  kind: 'GitOpsRollbackPolicy',
  metadata: { namespace: 'team', name: 'p', uid: 'u' },
  spec: { kustomizations: { names: ['apps'] } },
  status: { kustomizations: [{ namespace: 'team', name: 'apps', lastHealthyRevision: `main@sha1:${GOOD}`, lastHealthyTime: '2025-01-01T00:00:00Z' }] },
};
const failing = (ready: 'True' | 'False'): Kustomization => ({
  metadata: { namespace: 'team', name: 'apps', generation: 2 },
  spec: { path: './apps', sourceRef: { kind: 'GitRepository', name: 'fleet' } },
  status: {
    lastAttemptedRevision: `main@sha1:${BAD}`,
    lastAppliedRevision: `main@sha1:${BAD}`,
    conditions: [{ type: 'Ready', status: ready, reason: 'r', message: '', lastTransitionTime: '', observedGeneration: 2 }],
  },
});
const flux = (revision?: string): Trigger => ({
  source: 'flux',
  policy: { namespace: 'team', name: 'p' },
  kustomization: { namespace: 'team', name: 'apps' },
  revision,
  reason: 'HealthCheckFailed',
});

/** The outcome a step stopped with, or the value it handed on. */
async function stopOf(step: () => unknown): Promise<unknown> {
  try {
    return { handedOn: await step() };
  } catch (error) {
    if (error instanceof TriggerStop) return error.outcome;
    throw error;
  }
}

describe('trigger decision steps', () => {
  test('the failing revision comes from the status; a Ready one is ignored, a non-git revision too', async () => {
    expect(await stopOf(() => findFailingRevision(flux(`main@sha1:${BAD}`), failing('False')))).toEqual({
      handedOn: { revision: `main@sha1:${BAD}`, sha: BAD },
    });
    expect(await stopOf(() => findFailingRevision(flux(`main@sha1:${BAD}`), failing('True')))).toMatchObject({
      action: 'ignored',
      why: expect.stringMatching(/Ready/),
    });
    expect(await stopOf(() => findFailingRevision(flux('latest@sha256:abc'), failing('False')))).toMatchObject({
      action: 'ignored',
      why: expect.stringMatching(/no git commit revision/),
    });
  });

  test('an event ahead of the status is not settled (retried), not a stop', () => {
    expect(() => findFailingRevision(flux(`main@sha1:${'c'.repeat(40)}`), failing('False'))).toThrow(TriggerNotSettledError);
  });

  test('no healthy revision known: refused NoHealthyRevision', async () => {
    const unknown = { ...policy, status: {} };
    expect(await stopOf(() => findLastGood(policy, failing('False'), { revision: `main@sha1:${BAD}`, sha: BAD }))).toEqual({
      handedOn: { sha: GOOD, source: 'policy-status' },
    });
    expect(await stopOf(() => findLastGood(unknown, failing('False'), { revision: `main@sha1:${BAD}`, sha: BAD }))).toMatchObject({
      action: 'refused',
      reason: 'NoHealthyRevision',
      message: expect.stringMatching(/neither the policy's status nor Flux's status.history/),
    });
  });

  describe("the last good revision from Flux's status.history when the policy has none", () => {
    const OLDER = 'c'.repeat(40);
    const snapshot = (sha: string, status: string, minute: number): HistorySnapshot => ({
      digest: `sha256:${minute}`,
      firstReconciled: `2026-11-30T10:0${minute}:00Z`,
      lastReconciled: `2026-11-30T10:0${minute}:00Z`,
      lastReconciledDuration: '2s',
      lastReconciledStatus: status,
      totalReconciliations: 1,
      metadata: { revision: `main@sha1:${sha}` },
    });
    const withHistory = (history: unknown): Kustomization => {
      const k = failing('False');
      return { ...k, status: { ...k.status, history: history as HistorySnapshot[] } };
    };
    const failingBad = { revision: `main@sha1:${BAD}`, sha: BAD };
    const healthyHistory = [snapshot(BAD, 'HealthCheckFailed', 3), snapshot(GOOD, 'ReconciliationSucceeded', 2), snapshot(OLDER, 'ReconciliationSucceeded', 1)];
    const entry = (lastHealthyRevision: string) => ({ namespace: 'team', name: 'apps', lastHealthyRevision, lastHealthyTime: '2026-11-30T09:00:00Z' });

    test.each<[string, GitOpsRollbackPolicy['status'], unknown, unknown]>([
      ['no status at all: the history', {}, healthyHistory, { handedOn: { sha: GOOD, source: 'flux-history' } }],
      [
        'a record of another Kustomization only: the history',
        { kustomizations: [{ ...entry(`main@sha1:${OLDER}`), name: 'other' }] },
        healthyHistory,
        { handedOn: { sha: GOOD, source: 'flux-history' } },
      ],
      [
        'a record of the failing revision only: the history',
        { kustomizations: [entry(`main@sha1:${BAD}`)] },
        healthyHistory,
        { handedOn: { sha: GOOD, source: 'flux-history' } },
      ],
      [
        "the policy's own record first, even when the history names another",
        { kustomizations: [entry(`main@sha1:${OLDER}`)] },
        healthyHistory,
        { handedOn: { sha: OLDER, source: 'policy-status' } },
      ],
      [
        'only the failing revision healthy in the history: NoHealthyRevision',
        {},
        [snapshot(BAD, 'HealthCheckFailed', 2), snapshot(BAD, 'ReconciliationSucceeded', 1)],
        { action: 'refused', reason: 'NoHealthyRevision' },
      ],
      [
        'only failures in the history: NoHealthyRevision',
        {},
        [snapshot(BAD, 'HealthCheckFailed', 2), snapshot(GOOD, 'ReconciliationFailed', 1)],
        { action: 'refused', reason: 'NoHealthyRevision' },
      ],
      ['no history (kustomize-controller before v1.7): NoHealthyRevision', {}, undefined, { action: 'refused', reason: 'NoHealthyRevision' }],
      ['a malformed history: NoHealthyRevision', {}, { 0: 'ReconciliationSucceeded' }, { action: 'refused', reason: 'NoHealthyRevision' }],
      [
        'a healthy sha256 revision is not a commit the engine can revert from: NoHealthyRevision',
        {},
        [{ ...snapshot(GOOD, 'ReconciliationSucceeded', 1), metadata: { revision: `main@sha256:${'d'.repeat(64)}` } }],
        { action: 'refused', reason: 'NoHealthyRevision' },
      ],
    ])('%s', async (_name, status, history, expected) => {
      expect(await stopOf(() => findLastGood({ ...policy, status }, withHistory(history), failingBad))).toMatchObject(expected as object);
    });

    test('the source is named where people read it: the Event and the rollback reason', () => {
      expect(describeLastGood({ sha: GOOD, source: 'flux-history' })).toBe("last healthy revision aaaaaaaaaaaa from Flux's status.history");
      expect(describeLastGood({ sha: GOOD, source: 'policy-status' })).toBe("last healthy revision aaaaaaaaaaaa from the policy's status");
    });
  });

  test('the source: a GitRepository in reach, with a path inside the repository', async () => {
    const k = failing('False');
    expect(await stopOf(() => resolveSource(policy, k, false))).toEqual({ handedOn: { namespace: 'team', name: 'fleet' } });
    expect(await stopOf(() => resolveSource(policy, { ...k, spec: { sourceRef: { kind: 'OCIRepository', name: 'x' } } }, false))).toMatchObject({
      action: 'refused',
      reason: 'UnsupportedSource',
    });
    expect(
      await stopOf(() => resolveSource(policy, { ...k, spec: { sourceRef: { kind: 'GitRepository', name: 'x', namespace: 'other' } } }, false)),
    ).toMatchObject({ action: 'refused', reason: 'CrossNamespaceRefForbidden' });
    expect(await stopOf(() => resolveSource(policy, { ...k, spec: { sourceRef: { kind: 'GitRepository', name: 'x', namespace: 'other' } } }, true))).toEqual({
      handedOn: { namespace: 'other', name: 'x' },
    });
    expect(await stopOf(() => resolveSource(policy, { ...k, spec: { ...k.spec, path: '../elsewhere' } }, false))).toMatchObject({
      action: 'refused',
      reason: 'UnsupportedSource',
      message: expect.stringMatching(/leaves the repository root/),
    });
  });

  test('the commits: unreadable, empty, or holding a rollback are refused', async () => {
    const source = { namespace: 'team', name: 'fleet' };
    const read = (commits: { oid: string; message: string }[] | Error) => async () => (commits instanceof Error ? Promise.reject(commits) : commits);
    expect(await stopOf(() => readCommitsToRevert(source, GOOD, BAD, 'team/apps', read([{ oid: BAD, message: 'Deploy 2\n' }])))).toEqual({
      handedOn: [{ oid: BAD, message: 'Deploy 2\n' }],
    });
    expect(await stopOf(() => readCommitsToRevert(source, GOOD, BAD, 'team/apps', read(new Error('gone'))))).toMatchObject({
      action: 'refused',
      reason: 'CommitRangeUnreadable',
      message: expect.stringMatching(/gone$/),
    });
    expect(await stopOf(() => readCommitsToRevert(source, GOOD, BAD, 'team/apps', read([])))).toMatchObject({ action: 'refused', reason: 'NothingToRevert' });
    const loop = [{ oid: BAD, message: 'Revert "x"\n\nThis reverts commit cccccccc.\n' }];
    expect(await stopOf(() => readCommitsToRevert(source, GOOD, BAD, 'team/apps', read(loop)))).toMatchObject({
      action: 'refused',
      reason: 'RollbackLoopPrevented',
    });
  });

  test('a policy naming Kustomizations in another namespace is refused unless allowed', async () => {
    const wide = { ...policy, spec: { kustomizations: { namespace: 'other', names: ['apps'] } } };
    expect(await stopOf(() => checkPolicyScope(wide, false))).toMatchObject({ action: 'refused', reason: 'CrossNamespacePolicyForbidden' });
    expect(await stopOf(() => checkPolicyScope(wide, true))).toEqual({ handedOn: undefined });
  });
});
