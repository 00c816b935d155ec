/**
 * Who asked, in git, on a real API server: config/admission's MutatingAdmissionPolicy stamps the
 * requesting user into rollback.gitops.dev/requested-by and keeps it on updates; the operator (its
 * own process, its own ServiceAccount) writes it into the revert commit's Requested-By trailer on a
 * real git server and into status.requestedBy. Two ServiceAccounts, bound to the shipped
 * gitops-rollback-editor ClusterRole, play two people.
 *
 * The policy and binding are the shipped ones, renamed for this file and bound to its namespace
 * only, so the other test files sharing the control plane are not affected.
 */
import { randomBytes } from 'node:crypto';
import { parseAllDocuments } from 'yaml';
import { REQUESTED_BY_ANNOTATION, type GitOpsRollback } from '../../src/api/v1alpha1/types.js';
import { buildAutomatedRollback } from '../../src/controller/policy-decision.js';
import { connectToControlPlane, type ControlPlaneClient, type ServiceAccountIdentity } from '../envtest/control-plane.js';
import { eventually } from '../helpers/eventually.js';
import { commitFiles, git, initRepo, makeTempDir, publishBare } from '../helpers/git-cli.js';
import { startGitHttpServer, type GitHttpServer } from '../helpers/git-http-server.js';
import {
  CONTROLLER_SERVICE_ACCOUNT,
  createGitAuthSecret,
  FLUX_GIT_REPOSITORIES,
  GIT_AUTH,
  installOperator,
  LEADER_ELECTION_ARGS,
  SYSTEM_NAMESPACE,
} from '../helpers/operator-install.js';
import { startOperator, type OperatorProcess } from '../helpers/operator-process.js';
import { conditionOf, getRollback, waitForRollback } from '../helpers/rollback-status.js';

interface AdmissionObject {
  kind: string;
  metadata: { name: string };
  spec: { policyName?: string; matchResources?: object };
}

describe('who asked, in git: the requested-by admission policy and the Requested-By trailer', () => {
  let plane: ControlPlaneClient;
  let server: GitHttpServer;
  let operator: OperatorProcess;
  let operatorIdentity: ServiceAccountIdentity;
  let alice: ServiceAccountIdentity;
  let bob: ServiceAccountIdentity;
  let root: string;
  let work: string;
  let badCommit: string;
  let repoCount = 0;
  const suffix = randomBytes(3).toString('hex');
  const namespace = `who-${suffix}`;
  const admissionNames: string[] = [];

  /** kubectl as one of the identities (admin by default). */
  const kubectlAs = (who: ServiceAccountIdentity | undefined, args: string[], input?: string) =>
    plane.kubectl(who ? ['-n', namespace, ...args] : args, { kubeconfigPath: who?.kubeconfigPath, input });
  const requestedBy = async (name: string) => (await getRollback(plane, namespace, name)).metadata.annotations?.[REQUESTED_BY_ANNOTATION];

  /** A fresh server-side copy of the history; returns its URL and bare path. */
  function publishRepo(): { url: string; bare: string } {
    const name = `fleet-${++repoCount}.git`;
    return { url: server.urlFor(name), bare: publishBare(work, root, name) };
  }

  function rollbackYaml(name: string, url: string, options: { annotations?: Record<string, string>; dryRun?: boolean } = {}): string {
    const annotations = Object.entries(options.annotations ?? {}).map(([key, value]) => `\n    ${key}: ${JSON.stringify(value)}`);
    return `apiVersion: rollback.gitops.dev/v1alpha1
kind: GitOpsRollback
metadata:
  name: ${name}
  namespace: ${namespace}${annotations.length ? `\n  annotations:${annotations.join('')}` : ''}
spec:
  repository: {url: ${url}, branch: main, secretRef: {name: git-auth}}
  revert: {commits: [${badCommit}]}
  incident: INC-77
  dryRun: ${options.dryRun ?? true}
`;
  }

  beforeAll(async () => {
    plane = connectToControlPlane();
    const operatorKubeconfig = await installOperator(plane, { fluxCrds: [FLUX_GIT_REPOSITORIES] });
    operatorIdentity = { kubeconfigPath: operatorKubeconfig, token: '', username: `system:serviceaccount:${SYSTEM_NAMESPACE}:${CONTROLLER_SERVICE_ACCOUNT}` };

    await plane.kubectl(['create', 'namespace', namespace]);
    await createGitAuthSecret(plane, namespace);
    // Two people who may request rollbacks here, as anyone with `edit` on the namespace may.
    await plane.kubectl(['create', 'serviceaccount', 'alice', '-n', namespace]);
    await plane.kubectl(['create', 'serviceaccount', 'bob', '-n', namespace]);
    await plane.kubectl([
      'create',
      'rolebinding',
      'rollback-requesters',
      '-n',
      namespace,
      '--clusterrole=gitops-rollback-editor',
      `--serviceaccount=${namespace}:alice`,
      `--serviceaccount=${namespace}:bob`,
    ]);
    alice = await plane.createServiceAccountKubeconfig(namespace, 'alice');
    bob = await plane.createServiceAccountKubeconfig(namespace, 'bob');

    // config/admission as built, renamed for this file and bound to its namespace only.
    await plane.kubectl(['apply', '--server-side', '--dry-run=server', '-k', 'config/admission']);
    const objects = parseAllDocuments(await plane.kubectl(['kustomize', 'config/admission'])).map((d) => d.toJS() as AdmissionObject);
    expect(objects.map((o) => o.kind).sort()).toEqual(['MutatingAdmissionPolicy', 'MutatingAdmissionPolicyBinding']);
    const policyName = `${objects[0].metadata.name}-${suffix}`;
    for (const object of objects) {
      object.metadata.name = `${object.metadata.name}-${suffix}`;
      admissionNames.push(`${object.kind.toLowerCase()}/${object.metadata.name}`);
      if (object.kind === 'MutatingAdmissionPolicyBinding') {
        object.spec.policyName = policyName;
        object.spec.matchResources = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } } };
      }
    }
    await plane.kubectl(['apply', '--server-side', '-f', '-'], { input: objects.map((o) => JSON.stringify(o)).join('\n---\n') });

    root = makeTempDir();
    server = await startGitHttpServer({ root, auth: GIT_AUTH });
    work = initRepo();
    commitFiles(work, 'Deploy frontend 1.0', { 'apps/frontend/deploy.yaml': 'image: frontend:1.0\n' });
    badCommit = commitFiles(work, 'Deploy frontend 1.1', { 'apps/frontend/deploy.yaml': 'image: frontend:1.1\n' });

    // The API server applies a new policy once its informers have it: wait for that, creating nothing.
    const { url } = publishRepo();
    await eventually('the admission policy to stamp requests', async () => {
      const dryRun = await kubectlAs(alice, ['create', '--dry-run=server', '-o', 'json', '-f', '-'], rollbackYaml('probe', url));
      return (JSON.parse(dryRun) as GitOpsRollback).metadata.annotations?.[REQUESTED_BY_ANNOTATION] === alice.username;
    });

    operator = await startOperator({ kubeconfigPath: operatorKubeconfig, args: LEADER_ELECTION_ARGS });
  });

  afterAll(async () => {
    await operator?.stop();
    await server?.stop();
    if (admissionNames.length) await plane?.kubectl(['delete', '--ignore-not-found', ...admissionNames]);
    await plane?.kubectl(['delete', 'namespace', namespace, '--wait=false', '--ignore-not-found']);
  });

  test.each([
    ['alice, writing nothing', 'alice', undefined],
    ["alice, writing bob's name", 'alice', 'bob'],
    ['bob, writing someone else', 'bob', 'On-call: somebody else'],
    ['bob, writing an empty value', 'bob', ''],
  ])("%s: the annotation holds the creator's username", async (_case, creator, claim) => {
    const who = creator === 'alice' ? alice : bob;
    const name = `create-${creator}-${claim === undefined ? 'none' : claim === '' ? 'empty' : 'claim'}`;
    const written = claim === 'bob' ? bob.username : claim;
    const { url } = publishRepo();
    await kubectlAs(who, ['create', '-f', '-'], rollbackYaml(name, url, { annotations: written === undefined ? {} : { [REQUESTED_BY_ANNOTATION]: written } }));
    expect(await requestedBy(name)).toBe(who.username);
    expect(alice.username).not.toBe(bob.username);
  });

  test.each([
    [
      'bob overwrites it (kubectl annotate --overwrite)',
      'bob',
      (name: string) => ['annotate', 'gitopsrollback', name, '--overwrite', `${REQUESTED_BY_ANNOTATION}=bob`, 'edited=yes'],
    ],
    ['bob removes it (kubectl annotate key-)', 'bob', (name: string) => ['annotate', 'gitopsrollback', name, `${REQUESTED_BY_ANNOTATION}-`, 'edited=yes']],
    [
      'bob merge-patches it to null',
      'bob',
      (name: string) => [
        'patch',
        'gitopsrollback',
        name,
        '--type=merge',
        '-p',
        JSON.stringify({ metadata: { annotations: { [REQUESTED_BY_ANNOTATION]: null, edited: 'yes' } } }),
      ],
    ],
    [
      'bob JSON-patches every annotation away and adds his own',
      'bob',
      (name: string) => [
        'patch',
        'gitopsrollback',
        name,
        '--type=json',
        '-p',
        JSON.stringify([
          { op: 'remove', path: '/metadata/annotations' },
          { op: 'add', path: '/metadata/annotations', value: { [REQUESTED_BY_ANNOTATION]: 'bob', edited: 'yes' } },
        ]),
      ],
    ],
    [
      'alice herself overwrites it',
      'alice',
      (name: string) => ['annotate', 'gitopsrollback', name, '--overwrite', `${REQUESTED_BY_ANNOTATION}=someone-else`, 'edited=yes'],
    ],
  ])("%s: the update goes through, the requester's name stays", async (_case, editor, update) => {
    const name = `update-${randomBytes(3).toString('hex')}`;
    const { url } = publishRepo();
    await kubectlAs(alice, ['create', '-f', '-'], rollbackYaml(name, url));
    expect(await requestedBy(name)).toBe(alice.username);
    await kubectlAs(editor === 'alice' ? alice : bob, update(name));
    const after = await getRollback(plane, namespace, name);
    expect(after.metadata.annotations).toMatchObject({ edited: 'yes', [REQUESTED_BY_ANNOTATION]: alice.username });
  });

  test("bob's server-side apply of his own manifest with his name in it changes nothing of who asked", async () => {
    const name = 'update-apply';
    const { url } = publishRepo();
    await kubectlAs(alice, ['create', '-f', '-'], rollbackYaml(name, url));
    await kubectlAs(
      bob,
      ['apply', '--server-side', '--force-conflicts', '-f', '-'],
      rollbackYaml(name, url, { annotations: { [REQUESTED_BY_ANNOTATION]: bob.username, edited: 'yes' } }),
    );
    expect((await getRollback(plane, namespace, name)).metadata.annotations).toMatchObject({ edited: 'yes', [REQUESTED_BY_ANNOTATION]: alice.username });
  });

  test('the operator writes the requester into the pushed revert as Requested-By and into status.requestedBy', async () => {
    const { url, bare } = publishRepo();
    await kubectlAs(bob, ['create', '-f', '-'], rollbackYaml('pushed', url, { dryRun: false, annotations: { [REQUESTED_BY_ANNOTATION]: alice.username } }));
    const rollback = await waitForRollback(plane, namespace, 'pushed', undefined, { diagnostics: () => operator.logs().slice(-3000) });
    expect(conditionOf(rollback, 'Ready')).toMatchObject({ status: 'True', reason: 'Succeeded' });
    expect(rollback.status?.requestedBy).toBe(bob.username);

    const message = git(bare, 'log', '-1', '--format=%B', 'main');
    expect(message.split('\n')).toContain(`Requested-By: ${bob.username}`);
    expect(git(bare, 'log', '-1', '--format=%(trailers:key=Requested-By,valueonly)', 'main')).toBe(bob.username);
    expect(git(bare, 'log', '-1', '--format=%(trailers:key=Rollback-Request,valueonly)', 'main')).toBe(`${namespace}/pushed/${rollback.metadata.uid}`);
    expect(git(bare, 'log', '-1', '--format=%H', 'main')).toBe(rollback.status?.headAfter);
  });

  test("a policy's rollback, created by the operator's ServiceAccount, names the policy, the event and the operator", async () => {
    const { bare } = publishRepo();
    const automated = buildAutomatedRollback({
      policy: {
        apiVersion: 'rollback.gitops.dev/v1alpha1',
        kind: 'GitOpsRollbackPolicy',
        metadata: { namespace, name: 'apps-auto', uid: '6b7c2f0e-0000-4000-8000-000000000001' },
        spec: { kustomizations: { names: ['apps'] } },
      },
      kustomization: { metadata: { namespace, name: 'apps', uid: 'k-uid' }, spec: { path: './apps' } },
      source: { namespace, name: 'fleet' },
      lastGoodSha: git(work, 'rev-parse', `${badCommit}~1`),
      failingSha: badCommit,
      failingRevision: `main@sha1:${badCommit}`,
      trigger: { source: 'flux', reason: 'HealthCheckFailed' },
    });
    // The revert goes to this test's repository: an inline repository instead of the Flux source.
    const { sourceRef: _source, ...spec } = automated.spec;
    const rollback = {
      ...automated,
      spec: { ...spec, repository: { url: server.urlFor(`fleet-${repoCount}.git`), branch: 'main', secretRef: { name: 'git-auth' } } },
    };
    await kubectlAs(operatorIdentity, ['create', '-f', '-'], JSON.stringify(rollback));
    const name = automated.metadata.name!;
    expect(await requestedBy(name)).toBe(operatorIdentity.username);

    const done = await waitForRollback(plane, namespace, name, undefined, { diagnostics: () => operator.logs().slice(-3000) });
    expect(conditionOf(done, 'Ready')).toMatchObject({ status: 'True', reason: 'Succeeded' });
    const expected = `GitOpsRollbackPolicy ${namespace}/apps-auto (HealthCheckFailed from Flux on Kustomization ${namespace}/apps), created by ${operatorIdentity.username}`;
    expect(git(bare, 'log', '-1', '--format=%(trailers:key=Requested-By,valueonly)', 'main')).toBe(expected);
    expect(done.status?.requestedBy).toBe(expected);
  });
});
