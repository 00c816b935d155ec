/** Auto-selection: Kustomizations fed by the rollback's GitRepository whose path covers a change. */
import type { KustomizationView } from '../../../src/flux/kustomization.js';
import { isPathCovered, selectKustomizations } from '../../../src/flux/select-kustomizations.js';
import { normalizeSourcePath } from '../../../src/flux/source-path.js';

const SOURCE = { namespace: 'flux-system', name: 'fleet' };

function kustomization(
  name: string,
  path: string | undefined,
  sourceRef: KustomizationView['sourceRef'] = { kind: 'GitRepository', name: 'fleet' },
  namespace = 'flux-system',
): KustomizationView {
  return { namespace, name, path, sourceRef };
}

describe('normalizeSourcePath', () => {
  test.each([
    ['./apps/frontend/', 'apps/frontend'],
    ['apps/frontend', 'apps/frontend'],
    ['/apps//frontend', 'apps/frontend'],
    ['./', ''],
    ['', ''],
    [undefined, ''],
  ])('%s becomes "%s"', (path, expected) => {
    expect(normalizeSourcePath(path)).toBe(expected);
  });
});

describe('isPathCovered', () => {
  test.each([
    ['./apps', 'apps/frontend/deploy.yaml', true],
    ['./apps/frontend', 'apps/frontend/deploy.yaml', true],
    ['./apps/frontend', 'apps/frontend', true],
    ['./', 'infra/ns.yaml', true],
    [undefined, 'infra/ns.yaml', true],
    ['./apps/front', 'apps/frontend/deploy.yaml', false],
    ['./apps/backend', 'apps/frontend/deploy.yaml', false],
    ['./apps', '', true],
  ])('path %s covers %s: %s', (path, changed, expected) => {
    expect(isPathCovered(path, changed)).toBe(expected);
  });
});

describe('selectKustomizations', () => {
  const all = [
    kustomization('infra', './infra'),
    kustomization('frontend', './apps/frontend'),
    kustomization('backend', './apps/backend'),
    kustomization('apps', './apps'),
    kustomization('other-repo', './apps', { kind: 'GitRepository', name: 'other' }),
    kustomization('bucket', './apps', { kind: 'Bucket', name: 'fleet' }),
    kustomization('team', './apps', { kind: 'GitRepository', name: 'fleet', namespace: 'flux-system' }, 'team-a'),
    kustomization('team-local', './apps', { kind: 'GitRepository', name: 'fleet' }, 'team-a'),
  ];

  test.each([
    [
      'a change under apps/frontend selects frontend and apps, sorted',
      ['apps/frontend/deploy.yaml'],
      ['flux-system/apps', 'flux-system/frontend', 'team-a/team'],
    ],
    [
      'changes in two components select both',
      ['apps/frontend/a.yaml', 'infra/ns.yaml'],
      ['flux-system/apps', 'flux-system/frontend', 'flux-system/infra', 'team-a/team'],
    ],
    ['a change outside every path selects none', ['docs/readme.md'], []],
    ['no changed paths select none', [], []],
  ])('%s', (_name, changed, expected) => {
    expect(selectKustomizations(all, SOURCE, changed).map((k) => `${k.namespace}/${k.name}`)).toEqual(expected);
  });

  test('a sourceRef without namespace means the Kustomization namespace', () => {
    const selected = selectKustomizations(all, { namespace: 'team-a', name: 'fleet' }, ['apps/x.yaml']).map((k) => `${k.namespace}/${k.name}`);
    expect(selected).toEqual(['team-a/team-local']);
  });
});
