/**
 * The manifests users apply are the ones tested: the generated CRD, `kubectl apply -k
 * config/default` (server-side, dry run then for real), the RBAC it grants, the Pod Security of the
 * Deployment, every sample, and the output of `gitops-rollback request`, all on the real
 * kube-apiserver of the shared envtest control plane, with the built kubectl.
 */
import { randomBytes } from 'node:crypto';
import { parseAllDocuments } from 'yaml';
import { CRD_MANIFEST_PATH } from '../../src/api/v1alpha1/generate-manifests.js';
import { buildRequestManifest, formatManifest } from '../../src/cli/request.js';
import { connectToControlPlane, KubectlError, waitForCrdsEstablished, type ControlPlaneClient } from '../envtest/control-plane.js';
import { CONTROLLER_SERVICE_ACCOUNT, SYSTEM_NAMESPACE } from '../helpers/operator-install.js';

/** The kubectl error text of a rejected call (fails the test when the call succeeds). */
async function rejectionOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (error) {
    if (error instanceof KubectlError) return error.data.stderr;
    throw error;
  }
  throw new Error('expected kubectl to fail');
}

/** What the authorizer says a ServiceAccount may do (a SubjectAccessReview: no discovery, so Flux's CRDs need not exist). */
async function mayServiceAccount(
  plane: ControlPlaneClient,
  saNamespace: string,
  sa: string,
  verb: string,
  group: string,
  resource: string,
  ns: string,
): Promise<boolean> {
  const [name, subresource] = resource.split('/');
  const review = {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    spec: {
      user: `system:serviceaccount:${saNamespace}:${sa}`,
      groups: ['system:serviceaccounts', `system:serviceaccounts:${saNamespace}`, 'system:authenticated'],
      resourceAttributes: { namespace: ns, verb, group: group === 'core' ? '' : group, resource: name, ...(subresource ? { subresource } : {}) },
    },
  };
  const answer = JSON.parse(await plane.kubectl(['create', '-f', '-', '-o', 'json'], { input: JSON.stringify(review) }));
  return answer.status.allowed === true;
}

describe('config/ on a real API server', () => {
  let plane: ControlPlaneClient;
  const namespace = `manifests-${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    plane = connectToControlPlane();
    await plane.kubectl(['create', 'namespace', namespace]);
  });

  afterAll(async () => {
    await plane?.kubectl(['delete', 'namespace', namespace, '--wait=false']);
  });

  test('the generated CRD applies server-side and becomes Established', async () => {
    await plane.kubectl(['apply', '--server-side', '--dry-run=server', '-f', CRD_MANIFEST_PATH]);
    await plane.kubectl(['apply', '--server-side', '-f', CRD_MANIFEST_PATH]);
    await waitForCrdsEstablished(plane, ['gitopsrollbacks.rollback.gitops.dev']);
    // kubectl explain reads the published OpenAPI, which follows Established by a moment.
    let explained = '';
    for (let attempt = 0; !explained && attempt < 50; attempt++) {
      explained = await plane
        .kubectl(['explain', 'gitopsrollback.spec.revert.mainline'])
        .catch(() => new Promise<string>((resolve) => setTimeout(() => resolve(''), 200)));
    }
    expect(explained).toContain('git revert -m');
  });

  test('kubectl apply -k config/default: server-side dry run, then for real, twice (idempotent)', async () => {
    // A server-side dry run cannot create the namespace its other objects go into: dry-run the
    // whole kustomization once the namespace exists, as it does on every later upgrade.
    await plane.kubectl(['apply', '--server-side', '-f', '-'], { input: `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${SYSTEM_NAMESPACE}\n` });
    await plane.kubectl(['apply', '--server-side', '--dry-run=server', '-k', 'config/default']);
    const applied = await plane.kubectl(['apply', '--server-side', '-k', 'config/default']);
    expect(applied).toContain(`deployment.apps/gitops-rollback-controller serverside-applied`);
    await plane.kubectl(['apply', '--server-side', '-k', 'config/default']);

    const names = (await plane.kubectl(['get', '-n', SYSTEM_NAMESPACE, 'deployment,serviceaccount,role,rolebinding', '-o', 'name']))
      .split('\n')
      .filter(Boolean);
    expect(names).toEqual(
      expect.arrayContaining([
        'deployment.apps/gitops-rollback-controller',
        'serviceaccount/gitops-rollback-controller',
        'role.rbac.authorization.k8s.io/gitops-rollback-leader-election',
        'rolebinding.rbac.authorization.k8s.io/gitops-rollback-leader-election',
      ]),
    );
    const clusterRoles = await plane.kubectl(['get', 'clusterrole,clusterrolebinding', '-l', 'app.kubernetes.io/part-of=gitops-rollback', '-o', 'name']);
    expect(clusterRoles.split('\n').filter(Boolean).sort()).toEqual([
      'clusterrole.rbac.authorization.k8s.io/gitops-rollback-editor',
      'clusterrole.rbac.authorization.k8s.io/gitops-rollback-manager',
      'clusterrole.rbac.authorization.k8s.io/gitops-rollback-metrics-auth',
      'clusterrole.rbac.authorization.k8s.io/gitops-rollback-metrics-reader',
      'clusterrole.rbac.authorization.k8s.io/gitops-rollback-viewer',
      'clusterrolebinding.rbac.authorization.k8s.io/gitops-rollback-manager',
      'clusterrolebinding.rbac.authorization.k8s.io/gitops-rollback-metrics-auth',
    ]);
  });

  test.each([
    // What the controller does...
    ['get', 'rollback.gitops.dev', 'gitopsrollbacks', 'team-a', true],
    ['watch', 'rollback.gitops.dev', 'gitopsrollbacks', 'team-a', true],
    ['patch', 'rollback.gitops.dev', 'gitopsrollbacks/status', 'team-a', true],
    ['create', 'core', 'events', 'team-a', true],
    ['patch', 'core', 'events', 'team-a', true],
    ['get', 'core', 'secrets', 'team-a', true],
    ['get', 'source.toolkit.fluxcd.io', 'gitrepositories', 'flux-system', true],
    ['patch', 'source.toolkit.fluxcd.io', 'gitrepositories', 'flux-system', true],
    // The cache prefetch's --cache-prefetch-selector lists GitRepositories by label.
    ['list', 'source.toolkit.fluxcd.io', 'gitrepositories', 'flux-system', true],
    ['patch', 'kustomize.toolkit.fluxcd.io', 'kustomizations', 'flux-system', true],
    ['patch', 'image.toolkit.fluxcd.io', 'imageupdateautomations', 'flux-system', true],
    ['get', 'image.toolkit.fluxcd.io', 'imageupdateautomations', 'flux-system', true],
    ['get', 'kustomize.toolkit.fluxcd.io', 'kustomizations', 'flux-system', true],
    ['list', 'kustomize.toolkit.fluxcd.io', 'kustomizations', 'flux-system', true],
    ['watch', 'kustomize.toolkit.fluxcd.io', 'kustomizations', 'flux-system', true],
    ['get', 'coordination.k8s.io', 'leases', SYSTEM_NAMESPACE, true],
    ['create', 'coordination.k8s.io', 'leases', SYSTEM_NAMESPACE, true],
    ['update', 'coordination.k8s.io', 'leases', SYSTEM_NAMESPACE, true],
    // /metrics behind authentication and authorization (--metrics-auth).
    ['create', 'authentication.k8s.io', 'tokenreviews', '', true],
    ['create', 'authorization.k8s.io', 'subjectaccessreviews', '', true],
    // Automated rollbacks: policies create rollbacks and record healthy revisions in their status.
    ['create', 'rollback.gitops.dev', 'gitopsrollbacks', 'team-a', true],
    ['watch', 'rollback.gitops.dev', 'gitopsrollbackpolicies', 'team-a', true],
    ['patch', 'rollback.gitops.dev', 'gitopsrollbackpolicies/status', 'team-a', true],
    ['update', 'rollback.gitops.dev', 'gitopsrollbackpolicies', 'team-a', false],
    // History limit (--rollback-history-limit) and the Namespace grant of spec.safety.allow.
    ['delete', 'rollback.gitops.dev', 'gitopsrollbacks', 'team-a', true],
    ['get', 'core', 'namespaces', '', true],
    // ...and nothing more: the spec is never written, Secrets are never listed, leases only at home.
    ['update', 'rollback.gitops.dev', 'gitopsrollbacks', 'team-a', false],
    ['list', 'core', 'secrets', 'team-a', false],
    ['watch', 'core', 'secrets', 'team-a', false],
    ['update', 'coordination.k8s.io', 'leases', 'team-a', false],
    ['update', 'source.toolkit.fluxcd.io', 'gitrepositories', 'flux-system', false],
    ['delete', 'kustomize.toolkit.fluxcd.io', 'kustomizations', 'flux-system', false],
    ['update', 'image.toolkit.fluxcd.io', 'imageupdateautomations', 'flux-system', false],
    ['list', 'image.toolkit.fluxcd.io', 'imageupdateautomations', 'flux-system', false],
    // Verbs the code never calls (src/kube/*) are not granted either.
    ['update', 'rollback.gitops.dev', 'gitopsrollbacks/status', 'team-a', false],
    ['get', 'rollback.gitops.dev', 'gitopsrollbackpolicies/status', 'team-a', false],
    ['create', 'events.k8s.io', 'events', 'team-a', false],
    ['watch', 'source.toolkit.fluxcd.io', 'gitrepositories', 'flux-system', false],
    ['list', 'coordination.k8s.io', 'leases', SYSTEM_NAMESPACE, false],
    ['watch', 'coordination.k8s.io', 'leases', SYSTEM_NAMESPACE, false],
    ['patch', 'coordination.k8s.io', 'leases', SYSTEM_NAMESPACE, false],
    ['create', 'core', 'pods', SYSTEM_NAMESPACE, false],
  ])('the controller ServiceAccount may %s %s %s in %s: %s', async (verb, group, resource, ns, allowed) => {
    expect(await mayServiceAccount(plane, SYSTEM_NAMESPACE, CONTROLLER_SERVICE_ACCOUNT, verb, group, resource, ns)).toBe(allowed);
  });

  describe('a namespace-scoped install (config/namespaced, config/rbac/namespaced)', () => {
    const watched = `${namespace}-watched`;
    const other = `${namespace}-other`;
    const account = 'scoped-controller';
    const build = async (dir: string) =>
      parseAllDocuments(await plane.kubectl(['kustomize', dir])).map(
        (d) =>
          d.toJS() as {
            kind: string;
            metadata: { name: string; namespace?: string };
            rules?: { resources?: string[] }[];
            subjects?: { name: string; namespace: string }[];
            spec?: { template: { spec: { containers: { args: string[] }[] } } };
          },
      );

    beforeAll(async () => {
      for (const ns of [watched, other]) await plane.kubectl(['create', 'namespace', ns]);
      await plane.kubectl(['create', 'serviceaccount', account, '-n', namespace]);
      // The Role and RoleBinding as built, moved to this test's namespaces and bound to its own account.
      const objects = (await build('config/rbac/namespaced')).map((o) => ({
        ...o,
        metadata: { ...o.metadata, namespace: watched },
        ...(o.subjects ? { subjects: o.subjects.map((s) => ({ ...s, name: account, namespace })) } : {}),
      }));
      await plane.kubectl(['apply', '--server-side', '-f', '-'], { input: objects.map((o) => JSON.stringify(o)).join('\n---\n') });
    });

    test("config/namespaced has no cluster-wide manager role, its Role has the ClusterRole's rules, and the controller watches one namespace", async () => {
      const objects = await build('config/namespaced');
      const clusterWide = objects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding');
      expect(clusterWide.map((o) => o.metadata.name)).not.toContain('gitops-rollback-manager');
      expect(clusterWide.flatMap((o) => o.rules ?? []).flatMap((r) => r.resources ?? [])).not.toContain('secrets');
      const role = objects.find((o) => o.kind === 'Role' && o.metadata.name === 'gitops-rollback-manager')!;
      expect(role.metadata.namespace).toBe('team-a');
      const clusterRole = (await build('config/rbac')).find((o) => o.kind === 'ClusterRole' && o.metadata.name === 'gitops-rollback-manager')!;
      expect(role.rules).toEqual(clusterRole.rules);
      expect(objects.find((o) => o.kind === 'Deployment')!.spec!.template.spec.containers[0].args).toContain('--watch-namespace=team-a');
    });

    test.each([
      ['get', 'core', 'secrets', 'watched', true],
      ['get', 'core', 'secrets', 'other', false],
      ['watch', 'rollback.gitops.dev', 'gitopsrollbacks', 'watched', true],
      ['watch', 'rollback.gitops.dev', 'gitopsrollbacks', 'other', false],
      ['patch', 'rollback.gitops.dev', 'gitopsrollbacks/status', 'watched', true],
      ['watch', 'kustomize.toolkit.fluxcd.io', 'kustomizations', 'watched', true],
      ['list', 'kustomize.toolkit.fluxcd.io', 'kustomizations', 'other', false],
      ['list', 'core', 'secrets', 'watched', false],
    ])('bound by config/rbac/namespaced, a ServiceAccount may %s %s %s in the %s namespace: %s', async (verb, group, resource, where, allowed) => {
      expect(await mayServiceAccount(plane, namespace, account, verb, group, resource, where === 'watched' ? watched : other)).toBe(allowed);
    });

    afterAll(async () => {
      for (const ns of [watched, other]) await plane?.kubectl(['delete', 'namespace', ns, '--wait=false', '--ignore-not-found']);
    });
  });

  test('the controller pod passes the restricted Pod Security Standard its namespace enforces', async () => {
    const deployment = JSON.parse(await plane.kubectl(['get', 'deployment', '-n', SYSTEM_NAMESPACE, 'gitops-rollback-controller', '-o', 'json']));
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'psa-check', namespace: SYSTEM_NAMESPACE }, spec: deployment.spec.template.spec };
    await plane.kubectl(['create', '--dry-run=server', '-f', '-'], { input: JSON.stringify(pod) });
    // The namespace does enforce it: a root pod is refused.
    const rootPod = { ...pod, spec: { containers: [{ name: 'c', image: 'busybox' }] } };
    expect(await rejectionOf(plane.kubectl(['create', '--dry-run=server', '-f', '-'], { input: JSON.stringify(rootPod) }))).toContain(
      'violates PodSecurity "restricted',
    );
  });

  test("config/default ships NetworkPolicies: the webhook port only for Flux's notification-controller and labelled namespaces, metrics only for labelled namespaces", async () => {
    type Rule = { from: Record<string, { matchLabels: Record<string, string> }>[]; ports: { port: string; protocol: string }[] };
    type Policy = { metadata: { name: string }; spec: { podSelector: { matchLabels: Record<string, string> }; policyTypes: string[]; ingress: Rule[] } };
    const policies = (JSON.parse(await plane.kubectl(['get', 'networkpolicies', '-n', SYSTEM_NAMESPACE, '-o', 'json'])) as { items: Policy[] }).items;
    const byName = Object.fromEntries(policies.map((p) => [p.metadata.name, p.spec]));
    expect(Object.keys(byName).sort()).toEqual(['gitops-rollback-allow-metrics-traffic', 'gitops-rollback-allow-webhook-traffic']);

    // They select the controller's pods, and name ports its container declares.
    const deployment = JSON.parse(await plane.kubectl(['get', 'deployment', '-n', SYSTEM_NAMESPACE, 'gitops-rollback-controller', '-o', 'json']));
    const podLabels: Record<string, string> = deployment.spec.template.metadata.labels;
    const portNames = (deployment.spec.template.spec.containers as { ports: { name: string }[] }[]).flatMap((c) => c.ports.map((p) => p.name));
    for (const spec of Object.values(byName)) {
      expect(podLabels).toMatchObject(spec.podSelector.matchLabels);
      expect(spec.policyTypes).toEqual(['Ingress']);
      for (const rule of spec.ingress) for (const port of rule.ports) expect(portNames).toContain(port.port);
    }
    expect(byName['gitops-rollback-allow-webhook-traffic'].ingress).toEqual([
      {
        from: [
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'flux-system' } },
            podSelector: { matchLabels: { app: 'notification-controller' } },
          },
          { namespaceSelector: { matchLabels: { 'rollback.gitops.dev/webhook': 'enabled' } } },
        ],
        ports: [{ port: 'webhook', protocol: 'TCP' }],
      },
    ]);
    expect(byName['gitops-rollback-allow-metrics-traffic'].ingress).toEqual([
      {
        from: [{ namespaceSelector: { matchLabels: { metrics: 'enabled' } } }],
        ports: [{ port: 'metrics', protocol: 'TCP' }],
      },
    ]);
  });

  test('every sample applies (server-side dry run, then for real) and lists with the printer columns', async () => {
    await waitForCrdsEstablished(plane, ['gitopsrollbacks.rollback.gitops.dev']);
    await plane.kubectl(['apply', '--server-side', '--dry-run=server', '-n', namespace, '-k', 'config/samples']);
    await plane.kubectl(['apply', '--server-side', '-n', namespace, '-k', 'config/samples']);
    const rendered = await plane.kubectl(['kustomize', 'config/samples']);
    const sampleNames = parseAllDocuments(rendered).map((doc) => (doc.toJS() as { metadata: { name: string } }).metadata.name);
    expect(sampleNames).toHaveLength(8);
    const listed = (await plane.kubectl(['get', 'gitopsrollbacks', '-n', namespace, '-o', 'name'])).split('\n').filter(Boolean);
    expect(listed.sort()).toEqual(sampleNames.map((name) => `gitopsrollback.rollback.gitops.dev/${name}`).sort());
    const table = await plane.kubectl(['get', 'gor', '-n', namespace]);
    expect(table.split('\n')[0]).toMatch(/^NAME\s+READY\s+REASON\s+APPLIED\s+REVERT COMMIT\s+AGE$/);
  });

  test('a sample cannot be changed once created', async () => {
    const stderr = await rejectionOf(
      plane.kubectl(['patch', 'gitopsrollback', 'revert-single-commit', '-n', namespace, '--type=merge', '-p', '{"spec":{"reason":"changed"}}']),
    );
    expect(stderr).toContain('spec is immutable');
  });

  test.each([
    [
      'revert',
      'revert --source-ref flux-system --commit 3f2a9c1 --commit 8b7e6d5 --mainline 1 --path apps/frontend --squash --reason x --incident INC-1 --author Ops_<ops@example.com> --dry-run',
    ],
    [
      'restore',
      'restore --repo https://git.example.com/fleet.git --branch prod --secret creds --revision 1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b --path apps/frontend',
    ],
  ])('the manifest of gitops-rollback request %s is accepted by the API server', async (_kind, line) => {
    const manifest = formatManifest(buildRequestManifest(line.split(' ')));
    const created = await plane.kubectl(['apply', '--server-side', '-n', namespace, '-f', '-', '-o', 'json'], { input: manifest });
    expect(JSON.parse(created).spec).toEqual(buildRequestManifest(line.split(' ')).spec);
  });
});
