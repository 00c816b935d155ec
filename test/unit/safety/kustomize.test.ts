/**
 * The safety gate follows kustomize: objects that drop out of a changed kustomization's
 * resources/bases/components (directly or through nested directories) are judged like deleted
 * files, transformer changes count as changes, and what cannot be followed blocks unless
 * Unparsable is allowed. Fake repository versions as path -> text maps; no git.
 */
import { diffKustomizations } from '../../../src/safety/diff-kustomizations.js';
import { evaluateSafety, formatBlockedMessage, listBlockedKinds } from '../../../src/safety/evaluate-safety.js';
import { KUSTOMIZE_LIMITS, resolveKustomization } from '../../../src/safety/kustomize-resources.js';
import { createSafetyGate, SafetyCheckFailedError, type ChangeSource } from '../../../src/safety/safety-gate.js';

type Tree = Record<string, string>;

const namespace = (name: string) => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n`;
const pvc = `apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\n  namespace: db\nspec:\n  resources:\n    requests:\n      storage: 1Gi\n`;
const deployment = `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: web\n`;
const kustomization = (resources: string[], extra = '') =>
  `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n${extra}resources:\n${resources.map((r) => `  - ${r}\n`).join('') || '  []\n'}`;

/** A change between two trees: the changed paths are the files that differ. */
function changeOf(before: Tree, after: Tree): ChangeSource {
  const paths = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((p) => before[p] !== after[p]).sort();
  const reader = (tree: Tree) => async (path: string) => (path in tree ? new TextEncoder().encode(tree[path]) : null);
  return { changedPaths: paths, readBefore: reader(before), readAfter: reader(after) };
}

interface Case {
  name: string;
  before: Tree;
  after: Tree;
  allow?: string[];
  verdict: 'Passed' | 'Blocked';
  blocked?: string[];
  unparsable?: number;
}

const label = (o: { change: string; kind: string; namespace?: string; name: string; file: string }) =>
  `${o.change} ${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name} ${o.file}`;

const base: Tree = {
  'infra/kustomization.yaml': kustomization(['namespace.yaml', 'db']),
  'infra/namespace.yaml': namespace('billing'),
  'infra/db/kustomization.yaml': kustomization(['pvc.yaml']),
  'infra/db/pvc.yaml': pvc,
  'apps/deploy.yaml': deployment,
};

const cases: Case[] = [
  {
    name: 'removing a Namespace file from resources is a Namespace deletion',
    before: base,
    after: { ...base, 'infra/kustomization.yaml': kustomization(['db']) },
    verdict: 'Blocked',
    blocked: ['removed Namespace billing infra/kustomization.yaml'],
  },
  {
    name: 'removing a directory reference drops what its kustomization builds',
    before: base,
    after: { ...base, 'infra/kustomization.yaml': kustomization(['namespace.yaml']) },
    verdict: 'Blocked',
    blocked: ['removed PersistentVolumeClaim db/data infra/kustomization.yaml'],
  },
  {
    name: 'the Kustomization file name and bases/components lists are followed',
    before: {
      'k/Kustomization': 'bases: [../shared]\ncomponents: [./ns]\n',
      'shared/kustomization.yml': kustomization(['pvc.yaml']),
      'shared/pvc.yaml': pvc,
      'k/ns/kustomization.yaml': kustomization(['ns.yaml']),
      'k/ns/ns.yaml': namespace('x'),
    },
    after: {
      'k/Kustomization': 'bases: []\n',
      'shared/kustomization.yml': kustomization(['pvc.yaml']),
      'shared/pvc.yaml': pvc,
      'k/ns/kustomization.yaml': kustomization(['ns.yaml']),
      'k/ns/ns.yaml': namespace('x'),
    },
    verdict: 'Blocked',
    blocked: ['removed PersistentVolumeClaim db/data k/Kustomization', 'removed Namespace x k/Kustomization'],
  },
  {
    name: 'changing a transformer (namespace) reads as changing every object it reaches',
    before: base,
    after: { ...base, 'infra/db/kustomization.yaml': kustomization(['pvc.yaml'], 'namespace: other\n') },
    verdict: 'Blocked',
    blocked: ['changed PersistentVolumeClaim db/data infra/db/kustomization.yaml'],
  },
  {
    name: 'deleting a whole kustomization deletes what it built',
    before: base,
    after: { 'infra/namespace.yaml': namespace('billing'), 'infra/db/pvc.yaml': pvc, 'apps/deploy.yaml': deployment },
    verdict: 'Blocked',
    blocked: ['removed PersistentVolumeClaim db/data infra/db/kustomization.yaml', 'removed Namespace billing infra/kustomization.yaml'],
  },
  {
    name: 'adding a Deployment to resources passes',
    before: base,
    after: { ...base, 'infra/kustomization.yaml': kustomization(['namespace.yaml', 'db', '../apps/deploy.yaml']) },
    verdict: 'Passed',
  },
  {
    name: 'reordering resources passes',
    before: base,
    after: { ...base, 'infra/kustomization.yaml': kustomization(['db', 'namespace.yaml']) },
    verdict: 'Passed',
  },
  {
    name: 'a kustomization that does not parse blocks',
    before: base,
    after: { ...base, 'infra/kustomization.yaml': 'resources: [unclosed\n' },
    verdict: 'Blocked',
    unparsable: 1,
  },
  {
    name: 'an unparsable kustomization passes when Unparsable is allowed (kustomize builds nothing from it, so nothing is pruned)',
    before: base,
    after: { ...base, 'infra/kustomization.yaml': 'resources: [unclosed\n' },
    allow: ['Unparsable'],
    verdict: 'Passed',
    unparsable: 1,
  },
  {
    name: 'a remote resource added on one side only is unparsable',
    before: base,
    after: { ...base, 'infra/kustomization.yaml': kustomization(['namespace.yaml', 'db', 'https://github.com/org/repo//deploy?ref=v1']) },
    verdict: 'Blocked',
    unparsable: 1,
  },
  {
    name: 'a reference outside the repository is unparsable',
    before: base,
    after: { ...base, 'infra/kustomization.yaml': kustomization(['namespace.yaml', 'db', '../../etc']) },
    verdict: 'Blocked',
    unparsable: 1,
  },
  {
    name: 'a reference to nothing is unparsable',
    before: base,
    after: { ...base, 'infra/kustomization.yaml': kustomization(['namespace.yaml', 'db', 'missing.yaml']) },
    verdict: 'Blocked',
    unparsable: 1,
  },
];

describe('safety gate through kustomizations', () => {
  test.each(cases)('$name', async ({ before, after, allow, verdict, blocked = [], unparsable = 0 }) => {
    const gate = createSafetyGate({ allow });
    const outcome = await gate.inspect(changeOf(before, after)).then(
      () => 'passed',
      (e: unknown) => e,
    );
    expect(gate.verdict?.verdict).toBe(verdict);
    if (verdict === 'Blocked') expect(outcome).toBeInstanceOf(SafetyCheckFailedError);
    expect(gate.verdict?.blocked.map(label)).toEqual(blocked);
    expect(gate.verdict?.unparsable).toHaveLength(unparsable);
  });

  test('an unparsable block names the file and how to allow it', async () => {
    const gate = createSafetyGate();
    await gate.inspect(changeOf(base, { ...base, 'infra/kustomization.yaml': 'resources: [unclosed\n' })).catch(() => undefined);
    expect(formatBlockedMessage(gate.verdict!)).toContain('could not parse infra/kustomization.yaml (after)');
    expect(listBlockedKinds(gate.verdict!)).toEqual(['Unparsable']);
  });

  test('a cycle of kustomizations ends with a problem, not a hang', async () => {
    const tree: Tree = { 'a/kustomization.yaml': kustomization(['../b']), 'b/kustomization.yaml': kustomization(['../a']) };
    const read = async (path: string) => (path in tree ? new TextEncoder().encode(tree[path]) : null);
    const result = await resolveKustomization('a/kustomization.yaml', read, 'after', { files: 100, bytes: 1 << 20 });
    expect(result.problems).toEqual([{ file: 'b/kustomization.yaml', version: 'after', error: expect.stringContaining('cycle') }]);
  });

  test(`a chain of kustomizations deeper than ${KUSTOMIZE_LIMITS.depth} stops at the limit`, async () => {
    const tree: Tree = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`d${i}/kustomization.yaml`, kustomization([`../d${i + 1}`])]));
    tree['d50/kustomization.yaml'] = kustomization(['ns.yaml']);
    tree['d50/ns.yaml'] = namespace('deep');
    const read = async (path: string) => (path in tree ? new TextEncoder().encode(tree[path]) : null);
    const result = await resolveKustomization('d0/kustomization.yaml', read, 'before', { files: 1000, bytes: 1 << 20 });
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0].error).toContain(`deeper than ${KUSTOMIZE_LIMITS.depth}`);
  });

  test('the file and byte budget is shared by both versions and every kustomization, and exceeding it blocks', async () => {
    const many = Array.from({ length: KUSTOMIZE_LIMITS.files }, (_, i) => `ns-${i}.yaml`);
    const tree: Tree = Object.fromEntries(many.map((f, i) => [`big/${f}`, namespace(`n${i}`)]));
    let reads = 0;
    const reader = (k: string) => async (path: string) => {
      reads++;
      if (path === 'big/kustomization.yaml') return new TextEncoder().encode(k);
      return path in tree ? new TextEncoder().encode(tree[path]) : null;
    };
    const diff = await diffKustomizations(['big/kustomization.yaml'], reader(kustomization(many)), reader(kustomization(many.slice(1))));
    expect(reads).toBeLessThanOrEqual(KUSTOMIZE_LIMITS.files);
    expect(diff.unparsable.some((u) => u.error.includes(`more than ${KUSTOMIZE_LIMITS.files} files`))).toBe(true);
    expect(evaluateSafety({ changedPaths: [], manifestFiles: [], otherFiles: [], summary: [], ...diff }).verdict).toBe('Blocked');
  });
});
