/** Judging a Kustomization's status against the rollback commit, as kustomize-controller writes it. */
import { assessKustomization, summarizeApply } from '../../../src/flux/assess-apply.js';
import type { KustomizationView } from '../../../src/flux/kustomization.js';
import type { FluxCondition } from '../../../src/flux/readiness.js';

const COMMIT = 'c'.repeat(40);
const OLD = 'b'.repeat(40);
const KEY = { namespace: 'flux-system', name: 'apps' };

function view(status: KustomizationView['status'], extra: Partial<KustomizationView> = {}): KustomizationView {
  return { ...KEY, generation: 2, sourceRef: { kind: 'GitRepository', name: 'fleet' }, path: './apps', status, ...extra };
}
const ready = (status: FluxCondition['status'], reason: string, message = ''): FluxCondition => ({ type: 'Ready', status, reason, message });

describe('assessKustomization', () => {
  test.each([
    [
      'the commit applied and Ready=True is applied',
      view({ observedGeneration: 2, lastAppliedRevision: `main@sha1:${COMMIT}`, conditions: [ready('True', 'ReconciliationSucceeded')] }),
      'applied',
    ],
    [
      'the legacy revision format counts too',
      view({ observedGeneration: 2, lastAppliedRevision: `main/${COMMIT}`, conditions: [ready('True', 'ReconciliationSucceeded')] }),
      'applied',
    ],
    [
      'an older revision is waiting',
      view({ observedGeneration: 2, lastAppliedRevision: `main@sha1:${OLD}`, conditions: [ready('True', 'ReconciliationSucceeded')] }),
      'waiting',
    ],
    [
      'the commit applied but a stale generation is waiting',
      view({ observedGeneration: 1, lastAppliedRevision: `main@sha1:${COMMIT}`, conditions: [ready('True', 'ReconciliationSucceeded')] }),
      'waiting',
    ],
    [
      'the commit applied but Ready=Unknown (health checks running) is waiting',
      view({ observedGeneration: 2, lastAppliedRevision: `sha1:${COMMIT}`, conditions: [ready('Unknown', 'Progressing')] }),
      'waiting',
    ],
    [
      'a health check failure on the commit is failed',
      view({
        observedGeneration: 2,
        lastAppliedRevision: `main@sha1:${OLD}`,
        lastAttemptedRevision: `main@sha1:${COMMIT}`,
        conditions: [ready('False', 'HealthCheckFailed', 'timeout waiting for Deployment/shop/frontend')],
      }),
      'failed',
    ],
    [
      'a stalled Kustomization on the commit is failed',
      view({
        observedGeneration: 2,
        lastAttemptedRevision: `main@sha1:${COMMIT}`,
        conditions: [ready('False', 'InvalidPath'), { type: 'Stalled', status: 'True', reason: 'InvalidPath' }],
      }),
      'failed',
    ],
    [
      'a failure on an older revision is still waiting',
      view({ observedGeneration: 2, lastAttemptedRevision: `main@sha1:${OLD}`, conditions: [ready('False', 'HealthCheckFailed')] }),
      'waiting',
    ],
    [
      'a dependency not ready is waiting, not failed',
      view({ observedGeneration: 2, lastAttemptedRevision: `main@sha1:${COMMIT}`, conditions: [ready('False', 'DependencyNotReady')] }),
      'waiting',
    ],
    ['no status yet is waiting', view(undefined), 'waiting'],
    ['a missing Kustomization is waiting', null, 'waiting'],
  ])('%s', (_name, kustomization, state) => {
    expect(assessKustomization(KEY, kustomization, COMMIT).state).toBe(state);
  });

  test('a failure message carries the reason and Flux message', () => {
    const failed = assessKustomization(
      KEY,
      view({
        observedGeneration: 2,
        lastAttemptedRevision: `main@sha1:${COMMIT}`,
        conditions: [ready('False', 'HealthCheckFailed', 'Deployment/shop/frontend not ready')],
      }),
      COMMIT,
    );
    expect(failed.message).toBe(`Kustomization flux-system/apps failed to apply main@sha1:${COMMIT}: HealthCheckFailed: Deployment/shop/frontend not ready`);
  });

  test('a suspended Kustomization says so while waiting', () => {
    expect(assessKustomization(KEY, view(undefined, { suspend: true }), COMMIT).message).toContain('is suspended');
  });
});

describe('summarizeApply', () => {
  const applied = { ...KEY, state: 'applied' as const, ready: true, message: 'ok' };
  const waiting = { namespace: 'flux-system', name: 'infra', state: 'waiting' as const, ready: false, message: 'infra waits' };
  const failed = { namespace: 'flux-system', name: 'db', state: 'failed' as const, ready: false, message: 'db failed' };

  test.each([
    ['all applied is applied', [applied], 'applied'],
    ['one waiting is waiting', [applied, waiting], 'waiting'],
    ['one failed wins over waiting', [waiting, failed, applied], 'failed'],
  ])('%s', (_name, list, state) => {
    expect(summarizeApply(list, COMMIT).state).toBe(state);
  });

  test('the waiting message names only those not done', () => {
    expect(summarizeApply([applied, waiting], COMMIT).message).toBe('infra waits');
  });
});
