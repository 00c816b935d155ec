/**
 * Safety gates on a real API server (a private control plane, so the operator's extra protected
 * kind does not meet other tests' operators) against a real git server: rollbacks that delete a
 * CRD or a Namespace, or change a PVC, end Stalled=True SafetyCheckFailed with the objects and
 * files in the message and status.safety, and the branch untouched; spec.safety.allow lets them
 * through; a dry run reports everything without pushing.
 */
import type { GitOpsRollback } from '../../src/api/v1alpha1/types.js';
import { startControlPlane, type ControlPlane } from '../envtest/control-plane.js';
import { commitFiles, git, initRepo, makeTempDir, publishBare } from '../helpers/git-cli.js';
import { startGitHttpServer, type GitHttpServer } from '../helpers/git-http-server.js';
import { createGitAuthSecret, GIT_AUTH as AUTH, installOperator } from '../helpers/operator-install.js';
import { startOperator, type OperatorProcess } from '../helpers/operator-process.js';
import { conditionOf as condition, waitForRollback } from '../helpers/rollback-status.js';

const NAMESPACE = 'safety';

const CRD =
  'apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\nspec:\n  group: example.com\n  scope: Namespaced\n';
const PVC = (size: string) =>
  `apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\n  namespace: db\nspec:\n  resources:\n    requests:\n      storage: ${size}\n`;
const NS = 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: payments\n';
const DEPLOY = (name: string, image: string) =>
  `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ${name}\n  namespace: ${name}\nspec:\n  template:\n    spec:\n      containers:\n        - name: ${name}\n          image: ${image}\n`;
const KUSTOMIZATION = (resources: string[]) =>
  `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n${resources.map((r) => `  - ${r}\n`).join('')}`;
const CONFIG_MAP = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-flags\n  namespace: web\ndata:\n  checkout: v2\n';

interface History {
  work: string;
  addCrd: string;
  growPvc: string;
  addPayments: string;
  bumpWeb: string;
  addFlags: string;
  includeBilling: string;
  head: string;
}

function buildHistory(): History {
  const work = initRepo();
  commitFiles(work, 'Initial', {
    'apps/web/deploy.yaml': DEPLOY('web', 'web:1'),
    'apps/db/pvc.yaml': PVC('10Gi'),
    'infra/kustomization.yaml': KUSTOMIZATION(['web']),
    'infra/web/kustomization.yaml': KUSTOMIZATION(['../../apps/web/deploy.yaml']),
    'infra/billing.yaml': NS.replace('payments', 'billing'),
  });
  const addCrd = commitFiles(work, 'Add widgets CRD', { 'crds/widgets.yaml': CRD });
  const growPvc = commitFiles(work, 'Grow the database volume', { 'apps/db/pvc.yaml': PVC('20Gi') });
  const addPayments = commitFiles(work, 'Add payments', { 'apps/payments/all.yaml': `${NS}---\n${DEPLOY('payments', 'payments:1')}` });
  const bumpWeb = commitFiles(work, 'Bump web', { 'apps/web/deploy.yaml': DEPLOY('web', 'web:2') });
  const addFlags = commitFiles(work, 'Add web flags', { 'apps/web/flags.yaml': CONFIG_MAP });
  const includeBilling = commitFiles(work, 'Deploy the billing namespace', { 'infra/kustomization.yaml': KUSTOMIZATION(['billing.yaml', 'web']) });
  return { work, addCrd, growPvc, addPayments, bumpWeb, addFlags, includeBilling, head: git(work, 'rev-parse', 'HEAD') };
}

describe('safety gates on a real API server', () => {
  let plane: ControlPlane;
  let server: GitHttpServer;
  let operator: OperatorProcess;
  let root: string;
  let history: History;
  let repoCount = 0;

  beforeAll(async () => {
    plane = await startControlPlane();
    const kubeconfig = await installOperator(plane);
    await plane.kubectl(['create', 'namespace', NAMESPACE]);
    // The Namespace grants spec.safety.allow for every kind (the grant itself: tenancy.test.ts).
    await plane.kubectl(['annotate', 'namespace', NAMESPACE, 'rollback.gitops.dev/safety-allow=*']);
    await createGitAuthSecret(plane, NAMESPACE);
    root = makeTempDir();
    server = await startGitHttpServer({ root, auth: AUTH });
    history = buildHistory();
    operator = await startOperator({ kubeconfigPath: kubeconfig, args: ['--safety-protected-kinds=ConfigMap'] });
  });

  afterAll(async () => {
    await operator?.stop();
    await server?.stop();
    await plane?.stop();
  });

  function publishRepo(): { url: string; bare: string } {
    const name = `fleet-${++repoCount}.git`;
    return { url: server.urlFor(name), bare: publishBare(history.work, root, name) };
  }

  async function createRollback(name: string, url: string, commits: string[], extra = ''): Promise<void> {
    await plane.kubectl(['apply', '-f', '-'], {
      input: `apiVersion: rollback.gitops.dev/v1alpha1
kind: GitOpsRollback
metadata:
  name: ${name}
  namespace: ${NAMESPACE}
spec:
  repository: {url: "${url}", branch: main, secretRef: {name: git-auth}}
  revert: {commits: [${commits.join(', ')}]}
${extra}`,
    });
  }

  const waitFinished = (name: string): Promise<GitOpsRollback> =>
    waitForRollback(plane, NAMESPACE, name, undefined, { diagnostics: () => operator.logs().slice(-3000) });

  async function warningReasons(name: string): Promise<string[]> {
    const list = JSON.parse(await plane.kubectl(['get', 'events', '-n', NAMESPACE, '--field-selector', `involvedObject.name=${name}`, '-o', 'json'])) as {
      items: { reason: string; type: string }[];
    };
    return list.items.filter((e) => e.type === 'Warning').map((e) => e.reason);
  }

  const blockedCases: [string, (h: History) => string[], { kind: string; name: string; namespace?: string; file: string; change: string }, string][] = [
    [
      'CRD deletion',
      (h) => [h.addCrd],
      { kind: 'CustomResourceDefinition', name: 'widgets.example.com', file: 'crds/widgets.yaml', change: 'removed' },
      'removed CustomResourceDefinition widgets.example.com (crds/widgets.yaml)',
    ],
    [
      'PVC change',
      (h) => [h.growPvc],
      { kind: 'PersistentVolumeClaim', name: 'data', namespace: 'db', file: 'apps/db/pvc.yaml', change: 'changed' },
      'changed PersistentVolumeClaim db/data (apps/db/pvc.yaml)',
    ],
    [
      'Namespace deletion (multi-document file)',
      (h) => [h.bumpWeb, h.addPayments],
      { kind: 'Namespace', name: 'payments', file: 'apps/payments/all.yaml', change: 'removed' },
      'removed Namespace payments (apps/payments/all.yaml)',
    ],
    [
      "Namespace deletion through a kustomization's resources (no Namespace file changed)",
      (h) => [h.includeBilling],
      { kind: 'Namespace', name: 'billing', file: 'infra/kustomization.yaml', change: 'removed' },
      'removed Namespace billing (infra/kustomization.yaml)',
    ],
    [
      'a kind the operator protects (--safety-protected-kinds)',
      (h) => [h.addFlags],
      { kind: 'ConfigMap', name: 'web-flags', namespace: 'web', file: 'apps/web/flags.yaml', change: 'removed' },
      'removed ConfigMap web/web-flags (apps/web/flags.yaml)',
    ],
  ];

  test.each(blockedCases)('%s makes Stalled=True SafetyCheckFailed and leaves the branch untouched', async (_name, commits, blocked, named) => {
    const { url, bare } = publishRepo();
    const name = `blocked-${repoCount}`;
    await createRollback(name, url, commits(history));
    const rollback = await waitFinished(name);
    expect(condition(rollback, 'Stalled')).toMatchObject({ status: 'True', reason: 'SafetyCheckFailed' });
    expect(condition(rollback, 'Ready')).toMatchObject({ status: 'False', reason: 'SafetyCheckFailed' });
    expect(condition(rollback, 'Stalled')?.message).toContain(named);
    expect(condition(rollback, 'Stalled')?.message).toContain(`spec.safety.allow: [${blocked.kind}]`);
    expect(condition(rollback, 'Reconciling')).toBeUndefined();
    expect(rollback.status?.safety).toMatchObject({ verdict: 'Blocked', blocked: [blocked] });
    expect(rollback.status?.changedPaths).toContain(blocked.file);
    expect(git(bare, 'rev-parse', 'main')).toBe(history.head);
    expect(await warningReasons(name)).toContain('SafetyCheckFailed');
  });

  test('a CRD deletion goes through when spec.safety.allow lists CustomResourceDefinition', async () => {
    const { url, bare } = publishRepo();
    await createRollback('allowed', url, [history.addCrd], '  safety: {allow: [CustomResourceDefinition]}\n');
    const rollback = await waitFinished('allowed');
    expect(condition(rollback, 'Ready')).toMatchObject({ status: 'True', reason: 'Succeeded' });
    expect(condition(rollback, 'Stalled')).toBeUndefined();
    expect(rollback.status?.safety).toMatchObject({
      verdict: 'Passed',
      blocked: [],
      allowed: [{ kind: 'CustomResourceDefinition', name: 'widgets.example.com', file: 'crds/widgets.yaml', change: 'removed' }],
    });
    expect(git(bare, 'rev-parse', 'main')).toBe(rollback.status?.headAfter);
    expect(() => git(bare, 'show', 'main:crds/widgets.yaml')).toThrow();
  });

  test('a dry run reports changed paths, objects per kind and the verdict without pushing', async () => {
    const { url, bare } = publishRepo();
    await createRollback('drill', url, [history.bumpWeb, history.addPayments], '  dryRun: true\n  safety: {allow: [Namespace]}\n');
    const rollback = await waitFinished('drill');
    expect(condition(rollback, 'Ready')).toMatchObject({ status: 'True', reason: 'DryRunSucceeded' });
    expect(condition(rollback, 'Pushed')).toMatchObject({ status: 'False' });
    expect(rollback.status).toMatchObject({
      changedPaths: ['apps/payments/all.yaml', 'apps/web/deploy.yaml'],
      safety: {
        verdict: 'Passed',
        summary: [
          { kind: 'Deployment', added: 0, removed: 1, changed: 1 },
          { kind: 'Namespace', added: 0, removed: 1, changed: 0 },
        ],
        allowed: [{ kind: 'Namespace', name: 'payments', change: 'removed' }],
        objectCount: 3,
      },
    });
    expect(rollback.status?.safety?.objects).toHaveLength(3);
    expect(git(bare, 'rev-parse', 'main')).toBe(history.head);
  });

  test('a blocked dry run ends as the real run would, Stalled SafetyCheckFailed, without pushing', async () => {
    const { url, bare } = publishRepo();
    await createRollback('drill-blocked', url, [history.addCrd], '  dryRun: true\n');
    const rollback = await waitFinished('drill-blocked');
    expect(condition(rollback, 'Stalled')).toMatchObject({ status: 'True', reason: 'SafetyCheckFailed' });
    expect(rollback.status?.safety).toMatchObject({ verdict: 'Blocked', blocked: [{ kind: 'CustomResourceDefinition' }] });
    expect(git(bare, 'rev-parse', 'main')).toBe(history.head);
  });
});
