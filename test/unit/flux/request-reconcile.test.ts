/** Reconcile requests: sources first, same timestamp; Kustomizations once their source serves the commit. */
import type { FluxPort, ObjectKey, ReconcilableKind } from '../../../src/flux/flux-port.js';
import type { KustomizationView } from '../../../src/flux/kustomization.js';
import { formatRequestedAt, requestReconcileAfterArtifact, requestReconcileWithSource } from '../../../src/flux/request-reconcile.js';

describe('formatRequestedAt', () => {
  test.each([
    ['2026-11-26T10:00:00.123Z', '2026-11-26T10:00:00.123Z'],
    ['2026-11-26T10:00:00.120Z', '2026-11-26T10:00:00.12Z'],
    ['2026-11-26T10:00:00.000Z', '2026-11-26T10:00:00Z'],
  ])('%s prints as Go RFC3339Nano %s', (iso, expected) => {
    expect(formatRequestedAt(new Date(iso))).toBe(expected);
  });
});

describe('requestReconcileWithSource', () => {
  test('annotates each GitRepository, then each Kustomization, once, with one timestamp', async () => {
    const calls: string[] = [];
    const flux = {
      requestReconcile: async (kind: ReconcilableKind, key: ObjectKey, at: string) => {
        calls.push(`${kind} ${key.namespace}/${key.name} ${at}`);
        return key.name !== 'gone';
      },
    } as unknown as FluxPort;
    const source = { namespace: 'flux-system', name: 'fleet' };
    const requests = await requestReconcileWithSource(
      flux,
      [source, source],
      [
        { namespace: 'flux-system', name: 'apps' },
        { namespace: 'flux-system', name: 'gone' },
        { namespace: 'flux-system', name: 'apps' },
      ],
      new Date('2026-11-26T10:00:00.500Z'),
    );
    expect(calls).toEqual([
      'GitRepository flux-system/fleet 2026-11-26T10:00:00.5Z',
      'Kustomization flux-system/apps 2026-11-26T10:00:00.5Z',
      'Kustomization flux-system/gone 2026-11-26T10:00:00.5Z',
    ]);
    expect(requests.map((r) => r.found)).toEqual([true, true, false]);
  });
});

describe('requestReconcileAfterArtifact', () => {
  const COMMIT = 'c'.repeat(40);
  const OLD = 'a'.repeat(40);
  const view = (name: string, sourceKind: string, attempted?: string): { key: ObjectKey; view: KustomizationView } => ({
    key: { namespace: 'ns', name },
    view: {
      namespace: 'ns',
      name,
      sourceRef: { kind: sourceKind, name: 'fleet' },
      status: attempted ? { lastAttemptedRevision: `main@sha1:${attempted}` } : {},
    },
  });

  test.each([
    ['the source still serves the old commit: nobody is asked, all stay pending', OLD, ['a', 'b'], []],
    ['the source serves the commit: both are asked, none pending', COMMIT, [], ['a', 'b']],
  ])('%s', async (_name, artifact, pending, asked) => {
    const calls: string[] = [];
    const flux = {
      getArtifactRevision: async () => `main@sha1:${artifact}`,
      requestReconcile: async (_kind: ReconcilableKind, key: ObjectKey) => {
        calls.push(key.name);
        return true;
      },
    } as unknown as FluxPort;
    const still = await requestReconcileAfterArtifact(flux, [view('a', 'GitRepository'), view('b', 'GitRepository', OLD)], COMMIT, new Date());
    expect(still.map((k) => k.name)).toEqual(pending);
    expect(calls).toEqual(asked);
  });

  test('one that already attempted the commit, or is gone, is dropped without a request; another source kind is asked at once', async () => {
    const calls: string[] = [];
    const flux = {
      getArtifactRevision: async () => null,
      requestReconcile: async (_kind: ReconcilableKind, key: ObjectKey) => {
        calls.push(key.name);
        return true;
      },
    } as unknown as FluxPort;
    const still = await requestReconcileAfterArtifact(
      flux,
      [
        view('done', 'GitRepository', COMMIT),
        { key: { namespace: 'ns', name: 'gone' }, view: null },
        view('oci', 'OCIRepository'),
        view('waiting', 'GitRepository'),
      ],
      COMMIT,
      new Date(),
    );
    expect(calls).toEqual(['oci']);
    expect(still.map((k) => k.name)).toEqual(['waiting']);
  });
});
