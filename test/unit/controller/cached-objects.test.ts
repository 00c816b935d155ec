/** What the informers cache: only the fields read, whatever the API server sends. */
import type { GitOpsRollback } from '../../../src/api/v1alpha1/types.js';
import { slimKustomization, slimRollback } from '../../../src/controller/cached-objects.js';
import { isFinished } from '../../../src/controller/reconciler.js';
import type { Kustomization } from '../../../src/flux/kustomization.js';
import { stripServerFields } from '../../../src/kube/informer.js';

const managedFields = Array.from({ length: 50 }, (_, i) => ({ manager: `m${i}`, fieldsV1: { f: 'x'.repeat(1000) } }));
const lastApplied = { 'kubectl.kubernetes.io/last-applied-configuration': 'x'.repeat(100_000), keep: 'me' };

describe('informer cache stripping', () => {
  test('a finished rollback keeps identity, owners and the finishing conditions, and still reads as finished', () => {
    const rollback = {
      apiVersion: 'rollback.gitops.dev/v1alpha1',
      kind: 'GitOpsRollback',
      metadata: {
        name: 'rb',
        namespace: 'a',
        uid: 'u',
        resourceVersion: '7',
        generation: 1,
        creationTimestamp: 't',
        labels: { l: 'v' },
        annotations: lastApplied,
        managedFields,
        ownerReferences: [{ apiVersion: 'v', kind: 'GitOpsRollbackPolicy', name: 'p', uid: 'pu', controller: true }],
      },
      spec: { reason: 'r'.repeat(4000), repository: { url: 'https://x', branch: 'main' } },
      status: {
        changedPaths: Array.from({ length: 100 }, (_, i) => `p${i}`),
        conditions: [
          { type: 'Ready', status: 'True', reason: 'Succeeded', message: 'm'.repeat(4000), observedGeneration: 1, lastTransitionTime: 't' },
          { type: 'Pushed', status: 'True', reason: 'Succeeded', message: 'm'.repeat(4000), lastTransitionTime: 't' },
        ],
      },
    } as unknown as GitOpsRollback;
    const slim = slimRollback(rollback);
    expect(isFinished(slim)).toBe(true);
    expect(slim.metadata).toEqual({
      name: 'rb',
      namespace: 'a',
      uid: 'u',
      resourceVersion: '7',
      generation: 1,
      creationTimestamp: 't',
      labels: { l: 'v' },
      ownerReferences: rollback.metadata.ownerReferences,
    });
    expect(slim.status?.changedPaths).toBeUndefined();
    expect(Buffer.byteLength(JSON.stringify(slim))).toBeLessThan(1024);
  });

  test('a Kustomization keeps coverage and health only (no inventory, no managedFields)', () => {
    const kustomization = {
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
      kind: 'Kustomization',
      metadata: {
        name: 'apps',
        namespace: 'a',
        uid: 'u',
        generation: 3,
        resourceVersion: '9',
        labels: { team: 'shop' },
        managedFields,
        annotations: lastApplied,
      },
      spec: { path: './apps', sourceRef: { kind: 'GitRepository', name: 'fleet' }, patches: ['x'.repeat(10_000)] },
      status: {
        lastAppliedRevision: 'main@sha1:abc',
        lastAttemptedRevision: 'main@sha1:abc',
        observedGeneration: 3,
        inventory: { entries: Array.from({ length: 5000 }, (_, i) => ({ id: `ns_obj${i}_apps_Deployment`, v: 'v1' })) },
        conditions: [
          { type: 'Ready', status: 'True', reason: 'ReconciliationSucceeded', message: 'm'.repeat(2000), lastTransitionTime: 't' },
          { type: 'Healthy', status: 'True', reason: 'x', message: 'y', lastTransitionTime: 't' },
        ],
      },
    } as unknown as Kustomization;
    const slim = slimKustomization(kustomization);
    expect(slim).toMatchObject({
      metadata: { name: 'apps', namespace: 'a', generation: 3, labels: { team: 'shop' } },
      spec: { path: './apps', sourceRef: { name: 'fleet' } },
      status: { lastAppliedRevision: 'main@sha1:abc', observedGeneration: 3 },
    });
    expect(slim.status?.conditions).toEqual([expect.objectContaining({ type: 'Ready', status: 'True', message: '' })]);
    expect(Buffer.byteLength(JSON.stringify(slim))).toBeLessThan(1024);
  });

  test('by default the informer drops managedFields and the last-applied annotation, and keeps the rest', () => {
    const object = { metadata: { name: 'x', resourceVersion: '1', managedFields, annotations: lastApplied }, spec: { a: 1 } };
    expect(stripServerFields(object)).toEqual({ metadata: { name: 'x', resourceVersion: '1', annotations: { keep: 'me' } }, spec: { a: 1 } });
    const plain = { metadata: { name: 'y' } };
    expect(stripServerFields(plain)).toBe(plain);
  });
});
