/** The reconcile request `flux reconcile --with-source` makes: sources first, same timestamp. */
import type { FluxPort, ObjectKey, ReconcilableKind } from '../../../src/flux/flux-port.js';
import { formatRequestedAt, requestReconcileWithSource } from '../../../src/flux/request-reconcile.js';

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
      [{ namespace: 'flux-system', name: 'apps' }, { namespace: 'flux-system', name: 'gone' }, { namespace: 'flux-system', name: 'apps' }],
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
