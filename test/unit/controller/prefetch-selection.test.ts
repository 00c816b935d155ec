/**
 * Which GitRepositories the cache prefetcher fetches: those behind the Kustomizations each policy
 * covers, under the tenancy rules a rollback of them meets, then those the label selector picks;
 * each once, in a stable order, at most a bounded number per pass.
 */
import type { GitOpsRollbackPolicy, KustomizationSelector } from '../../../src/api/v1alpha1/policy-types.js';
import type { ObjectKey } from '../../../src/flux/flux-port.js';
import type { Kustomization } from '../../../src/flux/kustomization.js';
import { MAX_PREFETCH_SOURCES, selectPrefetchSources, type PrefetchSelectionInput } from '../../../src/controller/prefetch-selection.js';

function policy(namespace: string, name: string, kustomizations: KustomizationSelector): GitOpsRollbackPolicy {
  return {
    apiVersion: 'rollback.gitops.dev/v1alpha1',
    kind: 'GitOpsRollbackPolicy',
    metadata: { namespace, name },
    spec: { kustomizations, secretRef: { name: 'token' } },
  };
}

function kustomization(
  namespace: string,
  name: string,
  source: { kind?: string; name: string; namespace?: string },
  labels?: Record<string, string>,
): Kustomization {
  return {
    metadata: { namespace, name, labels },
    spec: { sourceRef: { kind: source.kind ?? 'GitRepository', name: source.name, namespace: source.namespace } },
  };
}

const key = (namespace: string, name: string): ObjectKey => ({ namespace, name });

function select(input: Partial<PrefetchSelectionInput>) {
  return selectPrefetchSources({
    policies: [],
    kustomizations: [],
    labelled: [],
    allowCrossNamespaceRefs: false,
    allowCrossNamespacePolicies: false,
    ...input,
  });
}

const fleet = [
  kustomization('team-a', 'apps', { name: 'fleet' }, { tier: 'apps' }),
  kustomization('team-a', 'infra', { name: 'infra-repo' }, { tier: 'infra' }),
  kustomization('team-a', 'from-shared', { name: 'shared', namespace: 'flux-system' }, { tier: 'apps' }),
  kustomization('team-a', 'bucket', { kind: 'Bucket', name: 'artifacts' }, { tier: 'apps' }),
  kustomization('team-b', 'apps', { name: 'b-fleet' }, { tier: 'apps' }),
];

describe('selectPrefetchSources', () => {
  const cases: [string, Partial<PrefetchSelectionInput>, ObjectKey[]][] = [
    ['no policies and no selector select nothing', { kustomizations: fleet }, []],
    [
      'a policy naming a Kustomization selects its GitRepository',
      { policies: [policy('team-a', 'p', { names: ['apps'] })], kustomizations: fleet },
      [key('team-a', 'fleet')],
    ],
    [
      'a policy selecting by label selects each covered GitRepository once, sorted',
      {
        policies: [policy('team-a', 'p', { selector: { matchLabels: { tier: 'apps' } } }), policy('team-a', 'q', { names: ['apps', 'infra'] })],
        kustomizations: fleet,
      },
      [key('team-a', 'fleet'), key('team-a', 'infra-repo')],
    ],
    [
      "a source in another namespace than the policy is skipped, as the policy's rollback would be refused",
      { policies: [policy('team-a', 'p', { names: ['from-shared'] })], kustomizations: fleet },
      [],
    ],
    [
      'with --allow-cross-namespace-refs, a source in another namespace is selected',
      { policies: [policy('team-a', 'p', { names: ['from-shared'] })], kustomizations: fleet, allowCrossNamespaceRefs: true },
      [key('flux-system', 'shared')],
    ],
    ['a Kustomization applying from a Bucket selects nothing', { policies: [policy('team-a', 'p', { names: ['bucket'] })], kustomizations: fleet }, []],
    [
      "a policy covering another namespace's Kustomizations is refused, so selects nothing",
      { policies: [policy('team-a', 'p', { namespace: 'team-b', names: ['apps'] })], kustomizations: fleet },
      [],
    ],
    [
      'with --allow-cross-namespace-policies it selects them (the source is then checked against the policy namespace too)',
      {
        policies: [policy('team-a', 'p', { namespace: 'team-b', names: ['apps'] })],
        kustomizations: fleet,
        allowCrossNamespacePolicies: true,
        allowCrossNamespaceRefs: true,
      },
      [key('team-b', 'b-fleet')],
    ],
    [
      'labelled GitRepositories come after the covered ones, without repeating them',
      {
        policies: [policy('team-a', 'p', { names: ['apps'] })],
        kustomizations: fleet,
        labelled: [key('team-z', 'zeta'), key('team-a', 'fleet'), key('team-c', 'gamma')],
      },
      [key('team-a', 'fleet'), key('team-c', 'gamma'), key('team-z', 'zeta')],
    ],
    ['the label selector alone selects its GitRepositories', { labelled: [key('team-c', 'gamma')] }, [key('team-c', 'gamma')]],
  ];

  test.each(cases)('%s', (_name, input, expected) => {
    expect(select(input)).toEqual({ sources: expected, dropped: 0 });
  });

  test('at most maxSources per pass, covered ones first; the rest are counted as dropped', () => {
    const labelled = Array.from({ length: 5 }, (_, i) => key('team-l', `repo-${i}`));
    const outcome = select({ policies: [policy('team-a', 'p', { names: ['apps', 'infra'] })], kustomizations: fleet, labelled, maxSources: 3 });
    expect(outcome).toEqual({ sources: [key('team-a', 'fleet'), key('team-a', 'infra-repo'), key('team-l', 'repo-0')], dropped: 4 });
  });

  test(`the default bound is ${MAX_PREFETCH_SOURCES}`, () => {
    const labelled = Array.from({ length: MAX_PREFETCH_SOURCES + 7 }, (_, i) => key('team-l', `repo-${String(i).padStart(4, '0')}`));
    const outcome = select({ labelled });
    expect(outcome.sources).toHaveLength(MAX_PREFETCH_SOURCES);
    expect(outcome.dropped).toBe(7);
  });
});
