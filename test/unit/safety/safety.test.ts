/**
 * The safety gate's judgement on changed files at both versions: which objects a rollback adds,
 * removes and changes, and when it blocks. Table-driven; pure functions, no git.
 */
import { diffManifests, type ChangedFile } from '../../../src/safety/diff-manifests.js';
import { evaluateSafety, formatBlockedMessage, type SafetyPolicy } from '../../../src/safety/evaluate-safety.js';
import { parseManifestObjects } from '../../../src/safety/manifest-objects.js';
import { createSafetyGate, readChangedFiles, SafetyCheckFailedError } from '../../../src/safety/safety-gate.js';

const crd = (version = 'v1') =>
  `apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\nspec:\n  group: example.com\n  versions:\n    - name: ${version}\n`;
const pvc = (size: string) =>
  `apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\n  namespace: shop\nspec:\n  resources:\n    requests:\n      storage: ${size}\n`;
const pv = `apiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: pv-1\nspec:\n  capacity:\n    storage: 1Gi\n`;
const namespace = (name: string) => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n`;
const deployment = (image: string) =>
  `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\n  namespace: shop\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: ${image}\n`;
const configMap = (name: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: shop\ndata:\n  a: "1"\n`;

const file = (path: string, before: string | null, after: string | null): ChangedFile => ({ path, before, after });

interface Case {
  name: string;
  files: ChangedFile[];
  policy?: SafetyPolicy;
  verdict: 'Passed' | 'Blocked';
  blocked?: string[];
  allowed?: string[];
}

/** "change Kind namespace/name file" for compact expectations. */
const label = (o: { change: string; kind: string; namespace?: string; name: string; file: string }) =>
  `${o.change} ${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name} ${o.file}`;

const cases: Case[] = [
  {
    name: 'CRD deletion is blocked',
    files: [file('crds/widgets.yaml', crd(), null)],
    verdict: 'Blocked',
    blocked: ['removed CustomResourceDefinition widgets.example.com crds/widgets.yaml'],
  },
  {
    name: 'CRD change is blocked',
    files: [file('crds/widgets.yaml', crd('v1'), crd('v2'))],
    verdict: 'Blocked',
    blocked: ['changed CustomResourceDefinition widgets.example.com crds/widgets.yaml'],
  },
  {
    name: 'PVC change is blocked',
    files: [file('apps/db/pvc.yaml', pvc('20Gi'), pvc('10Gi'))],
    verdict: 'Blocked',
    blocked: ['changed PersistentVolumeClaim shop/data apps/db/pvc.yaml'],
  },
  { name: 'PV deletion is blocked', files: [file('infra/pv.yml', pv, null)], verdict: 'Blocked', blocked: ['removed PersistentVolume pv-1 infra/pv.yml'] },
  {
    name: 'Namespace deletion is blocked',
    files: [file('infra/ns.yaml', namespace('shop'), null)],
    verdict: 'Blocked',
    blocked: ['removed Namespace shop infra/ns.yaml'],
  },
  {
    name: 'Namespace rename is blocked (one removed, one added)',
    files: [file('infra/ns.yaml', namespace('shop'), namespace('store'))],
    verdict: 'Blocked',
    blocked: ['removed Namespace shop infra/ns.yaml'],
  },
  {
    name: 'a CRD deletion passes when the kind is allowed',
    files: [file('crds/widgets.yaml', crd(), null)],
    policy: { allow: ['CustomResourceDefinition'] },
    verdict: 'Passed',
    allowed: ['removed CustomResourceDefinition widgets.example.com crds/widgets.yaml'],
  },
  {
    name: 'allow compares kinds case-insensitively',
    files: [file('infra/ns.yaml', namespace('shop'), null)],
    policy: { allow: ['namespace'] },
    verdict: 'Passed',
    allowed: ['removed Namespace shop infra/ns.yaml'],
  },
  {
    name: 'allowing one kind does not allow another',
    files: [file('infra/ns.yaml', namespace('shop'), null), file('apps/db/pvc.yaml', pvc('2Gi'), pvc('1Gi'))],
    policy: { allow: ['Namespace'] },
    verdict: 'Blocked',
    blocked: ['changed PersistentVolumeClaim shop/data apps/db/pvc.yaml'],
    allowed: ['removed Namespace shop infra/ns.yaml'],
  },
  { name: 'adding a CRD passes', files: [file('crds/widgets.yaml', null, crd())], verdict: 'Passed' },
  { name: 'a Deployment change passes', files: [file('apps/web/deploy.yaml', deployment('web:2'), deployment('web:1'))], verdict: 'Passed' },
  { name: 'a Deployment deletion passes', files: [file('apps/web/deploy.yaml', deployment('web:2'), null)], verdict: 'Passed' },
  {
    name: 'reformatting a PVC (same content) passes',
    files: [file('apps/db/pvc.yaml', pvc('1Gi'), `# comment\n${pvc('1Gi').replace('storage: 1Gi', 'storage: "1Gi"')}`)],
    verdict: 'Passed',
  },
  {
    name: 'a multi-document file: the Namespace removed among unchanged objects is blocked',
    files: [
      file('apps/shop/all.yaml', `${namespace('shop')}---\n${deployment('web:2')}---\n${configMap('cfg')}`, `${deployment('web:1')}\n---\n${configMap('cfg')}`),
    ],
    verdict: 'Blocked',
    blocked: ['removed Namespace shop apps/shop/all.yaml'],
  },
  {
    name: 'a v1 List: items are objects',
    files: [
      file(
        'list.yaml',
        `apiVersion: v1\nkind: List\nitems:\n  - ${namespace('a').trim().split('\n').join('\n    ')}\n`,
        'apiVersion: v1\nkind: List\nitems: []\n',
      ),
    ],
    verdict: 'Blocked',
    blocked: ['removed Namespace a list.yaml'],
  },
  {
    name: 'the operator can protect more kinds',
    files: [file('apps/cfg.yaml', configMap('cfg'), null)],
    policy: { protectedKinds: ['ConfigMap'] },
    verdict: 'Blocked',
    blocked: ['removed ConfigMap shop/cfg apps/cfg.yaml'],
  },
  { name: 'non-YAML files are ignored', files: [file('README.md', 'kind: Namespace', null), file('crds/widgets.txt', crd(), null)], verdict: 'Passed' },
  {
    name: 'an unparsable changed manifest blocks (its objects are unknown)',
    files: [file('crds/broken.yaml', crd(), 'kind: [unclosed\n')],
    verdict: 'Blocked',
  },
  {
    name: 'an unparsable changed manifest passes when Unparsable is allowed',
    files: [file('crds/broken.yaml', crd(), 'kind: [unclosed\n')],
    policy: { allow: ['Unparsable'] },
    verdict: 'Passed',
  },
  {
    name: 'JSON manifests are parsed',
    files: [file('infra/ns.json', JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } }), null)],
    verdict: 'Blocked',
    blocked: ['removed Namespace shop infra/ns.json'],
  },
  {
    name: 'moving a CRD to another file reads as removed + added, and blocks',
    files: [file('a/crd.yaml', crd(), null), file('b/crd.yaml', null, crd())],
    verdict: 'Blocked',
    blocked: ['removed CustomResourceDefinition widgets.example.com a/crd.yaml'],
  },
];

describe('safety verdict', () => {
  test.each(cases)('$name', ({ files, policy, verdict, blocked = [], allowed = [] }) => {
    const result = evaluateSafety(diffManifests(files), policy);
    expect(result.verdict).toBe(verdict);
    expect(result.blocked.map(label)).toEqual(blocked);
    expect(result.allowed.map(label)).toEqual(allowed);
  });
});

describe('manifest diff', () => {
  test('counts objects added, removed and changed per kind', () => {
    const diff = diffManifests([
      file(
        'apps/shop.yaml',
        `${deployment('web:2')}---\n${configMap('a')}---\n${configMap('b')}`,
        `${deployment('web:1')}---\n${configMap('b')}---\n${configMap('c')}`,
      ),
      file('crds/widgets.yaml', null, crd()),
      file('docs/notes.md', 'x', 'y'),
    ]);
    expect(diff.summary).toEqual([
      { kind: 'ConfigMap', added: 1, removed: 1, changed: 0 },
      { kind: 'CustomResourceDefinition', added: 1, removed: 0, changed: 0 },
      { kind: 'Deployment', added: 0, removed: 0, changed: 1 },
    ]);
    expect(diff.manifestFiles).toEqual(['apps/shop.yaml', 'crds/widgets.yaml']);
    expect(diff.otherFiles).toEqual(['docs/notes.md']);
    expect(diff.changedPaths).toEqual(['apps/shop.yaml', 'crds/widgets.yaml', 'docs/notes.md']);
  });

  test('an unparsable file is reported with the version that failed', () => {
    const diff = diffManifests([file('crds/broken.yaml', crd(), 'kind: [unclosed\n')]);
    expect(diff.objects).toEqual([]);
    expect(diff.unparsable).toEqual([{ file: 'crds/broken.yaml', version: 'after', error: expect.any(String) }]);
  });

  test('a change of API version only is a change of the same object', () => {
    const before = crd().replace('apiextensions.k8s.io/v1', 'apiextensions.k8s.io/v1beta1');
    const diff = diffManifests([file('crd.yaml', before, crd())]);
    expect(diff.objects.map(label)).toEqual(['changed CustomResourceDefinition widgets.example.com crd.yaml']);
  });

  test.each([
    ['a values file (no kind)', 'replicas: 2\nimage: x\n'],
    ['an object without a name', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: x-\n'],
    ['an empty document', '---\n---\n'],
  ])('%s declares no object', (_name, text) => {
    expect(parseManifestObjects('f.yaml', text)).toEqual({ ok: true, objects: [] });
  });
});

describe('safety gate', () => {
  const encode = (text: string | null) => (text === null ? null : new TextEncoder().encode(text));
  const source = (files: ChangedFile[]) => ({
    changedPaths: files.map((f) => f.path),
    readBefore: async (path: string) => encode(files.find((f) => f.path === path)!.before),
    readAfter: async (path: string) => encode(files.find((f) => f.path === path)!.after),
  });

  test('a blocked change throws SafetyCheckFailedError naming the objects and files, and keeps the verdict', async () => {
    const gate = createSafetyGate();
    const error = await gate
      .inspect(source([file('crds/widgets.yaml', crd(), null), file('apps/db/pvc.yaml', pvc('2Gi'), pvc('1Gi'))]))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SafetyCheckFailedError);
    expect((error as SafetyCheckFailedError).code).toBe('SafetyCheckFailedError');
    expect((error as Error).message).toContain('removed CustomResourceDefinition widgets.example.com (crds/widgets.yaml)');
    expect((error as Error).message).toContain('changed PersistentVolumeClaim shop/data (apps/db/pvc.yaml)');
    expect(gate.verdict?.verdict).toBe('Blocked');
  });

  test('an allowed change passes and keeps the verdict', async () => {
    const gate = createSafetyGate({ allow: ['CustomResourceDefinition'] });
    await gate.inspect(source([file('crds/widgets.yaml', crd(), null)]));
    expect(gate.verdict).toMatchObject({ verdict: 'Passed', allowed: [{ kind: 'CustomResourceDefinition', change: 'removed' }] });
  });

  test('binary content in a manifest file is reported as unparsable', async () => {
    const files = await readChangedFiles({ changedPaths: ['x.yaml'], readBefore: async () => new Uint8Array([0xff, 0xfe, 0x00]), readAfter: async () => null });
    expect(diffManifests(files).unparsable).toEqual([{ file: 'x.yaml', version: 'before', error: 'not UTF-8 text' }]);
  });

  test('the blocked message lists at most ten objects', () => {
    const many = Array.from({ length: 12 }, (_, i) => file(`ns/${i}.yaml`, namespace(`ns-${i}`), null));
    const message = formatBlockedMessage(evaluateSafety(diffManifests(many)));
    expect(message).toContain('and 2 more');
    expect(message.match(/removed Namespace/g)).toHaveLength(10);
  });
});
