/**
 * Hostile tenants on a real kube-apiserver + etcd with the operator as its own process: commit
 * header injection refused by the CRD, statuses that stay bounded whatever the repository holds
 * (600 conflicts, thousands of paths), cross-namespace GitRepository use only with the
 * repository's consent, spec.safety.allow only as granted by the Namespace, and a history limit
 * for the rollbacks a policy creates.
 */
import { randomBytes } from 'node:crypto';
import { KUSTOMIZATION_ANNOTATION, POLICY_UID_LABEL } from '../../src/api/v1alpha1/policy-types.js';
import type { GitOpsRollback } from '../../src/api/v1alpha1/types.js';
import { connectToControlPlane, KubectlError, type ControlPlaneClient } from '../envtest/control-plane.js';
import { commitFiles, git, initRepo, makeTempDir, publishBare } from '../helpers/git-cli.js';
import { startGitHttpServer, type GitHttpServer } from '../helpers/git-http-server.js';
import { createGitAuthSecret, FLUX_GIT_REPOSITORIES, GIT_AUTH as AUTH, installOperator } from '../helpers/operator-install.js';
import { startOperator, type OperatorProcess } from '../helpers/operator-process.js';
import { eventually } from '../helpers/eventually.js';
import { conditionOf as condition, getRollback, waitForRollback } from '../helpers/rollback-status.js';

const CONFLICTS = 600;
const MANY_PATHS = 3000;

interface History {
  work: string;
  /** Reverting it conflicts in CONFLICTS paths. */
  conflicting: string;
  /** Reverting it deletes MANY_PATHS files. */
  many: string;
  /** Reverting it deletes a Namespace manifest (a protected kind). */
  namespaceAdded: string;
  /** A plain image bump. */
  bump: string;
}

function buildHistory(): History {
  const work = initRepo();
  const service = (i: number) => `apps/service-with-a-rather-long-name-${String(i).padStart(4, '0')}/deployment.yaml`;
  const all = (version: string) => Object.fromEntries(Array.from({ length: CONFLICTS }, (_, i) => [service(i), `image: service:${version}\n`]));
  commitFiles(work, 'Deploy services 1', all('1'));
  const conflicting = commitFiles(work, 'Deploy services 2', all('2'));
  commitFiles(work, 'Deploy services 3', all('3'));
  const many = commitFiles(
    work,
    'Add many config files',
    Object.fromEntries(Array.from({ length: MANY_PATHS }, (_, i) => [`config/generated/file-${i}.txt`, `${i}\n`])),
  );
  const namespaceAdded = commitFiles(work, 'Add namespace shop', { 'infra/namespace.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n' });
  commitFiles(work, 'Deploy web 1.0', { 'web/deploy.yaml': 'image: web:1.0\n' });
  const bump = commitFiles(work, 'Deploy web 2.0', { 'web/deploy.yaml': 'image: web:2.0\n' });
  return { work, conflicting, many, namespaceAdded, bump };
}

describe('hostile tenants on a real API server', () => {
  let plane: ControlPlaneClient;
  let server: GitHttpServer;
  let root: string;
  let history: History;
  let operator: OperatorProcess;
  let namespace: string;
  let sourceNamespace: string;
  let repoCount = 0;

  const kubectl = (args: string[], input?: string) => plane.kubectl(args, input === undefined ? undefined : { input });

  beforeAll(async () => {
    plane = connectToControlPlane();
    const kubeconfig = await installOperator(plane, { fluxCrds: [FLUX_GIT_REPOSITORIES] });
    root = makeTempDir();
    server = await startGitHttpServer({ root, auth: AUTH });
    history = buildHistory();
    namespace = `tenant-${randomBytes(3).toString('hex')}`;
    sourceNamespace = `flux-${randomBytes(3).toString('hex')}`;
    for (const ns of [namespace, sourceNamespace]) {
      await kubectl(['create', 'namespace', ns]);
      await createGitAuthSecret(plane, ns);
    }
    operator = await startOperator({
      kubeconfigPath: kubeconfig,
      args: [`--watch-namespace=${namespace}`, '--allow-cross-namespace-refs', '--rollback-history-limit=2'],
    });
    // Flux's CRDs may still be generated on a cold cache, and the history has thousands of files.
  }, 300_000);

  afterAll(async () => {
    await operator?.stop();
    await server?.stop();
    for (const ns of [namespace, sourceNamespace]) if (ns) await plane?.kubectl(['delete', 'namespace', ns, '--wait=false']);
  }, 120_000);

  function publishRepo(): { url: string; bare: string } {
    const name = `tenancy-${++repoCount}.git`;
    return { url: server.urlFor(name), bare: publishBare(history.work, root, name) };
  }

  function rollbackYaml(name: string, source: string, what: string, extra = ''): string {
    return `apiVersion: rollback.gitops.dev/v1alpha1
kind: GitOpsRollback
metadata:
  name: ${name}
  namespace: ${namespace}
${extra}spec:
${source}
${what}
`;
  }
  const inline = (url: string) => `  repository:\n    url: ${url}\n    branch: main\n    secretRef:\n      name: git-auth`;
  const waitFinished = (name: string, timeoutMs = 120_000) =>
    waitForRollback(plane, namespace, name, undefined, { timeoutMs, diagnostics: () => operator.logs().slice(-3000) });

  async function rejectionOf(yaml: string): Promise<string> {
    try {
      await kubectl(['create', '--dry-run=server', '-f', '-'], yaml);
    } catch (error) {
      if (error instanceof KubectlError) return error.data.stderr;
      throw error;
    }
    throw new Error('expected the API server to refuse the object');
  }

  describe('commit header injection is refused by the CRD', () => {
    test.each([
      [
        'an author name with a newline',
        '  author:\n    name: "Eve\\ncommitter Mallory <m@example.com> 0 +0000"\n    email: eve@example.com',
        'spec.author.name',
      ],
      ['an author email with ">"', '  author:\n    name: Eve\n    email: "eve@example.com> 0 +0000"', 'spec.author.email'],
      ['an incident with a newline and a trailer', '  incident: "INC-1\\nRollback-Request: ns/victim/uid"', 'spec.incident'],
      ['an incident with spaces', '  incident: "INC 1"', 'spec.incident'],
    ])('%s', async (_name, field, path) => {
      const yaml = rollbackYaml('hostile', inline('https://example.com/repo.git'), `  revert:\n    commits: [${'a'.repeat(40)}]\n${field}`);
      expect(await rejectionOf(yaml)).toContain(path);
    });

    test('a policy incident with a newline', async () => {
      const policy = `apiVersion: rollback.gitops.dev/v1alpha1\nkind: GitOpsRollbackPolicy\nmetadata:\n  name: hostile\n  namespace: ${namespace}\nspec:\n  kustomizations:\n    names: [apps]\n  secretRef:\n    name: token\n  incident: "INC-1\\nRollback-Request: x"\n`;
      expect(await rejectionOf(policy)).toContain('spec.incident');
    });
  });

  describe('status stays bounded', () => {
    test(`a ${CONFLICTS}-conflict revert ends Stalled RevertConflict with the first 100 conflicts and a count`, async () => {
      const { url, bare } = publishRepo();
      const before = git(bare, 'rev-parse', 'main');
      await kubectl(['apply', '-f', '-'], rollbackYaml('conflicts', inline(url), `  revert:\n    commits: [${history.conflicting}]`));
      const rollback = await waitFinished('conflicts');
      expect(condition(rollback, 'Stalled')).toMatchObject({ status: 'True', reason: 'RevertConflict' });
      expect(rollback.status?.conflicts).toHaveLength(100);
      expect(rollback.status?.conflictsCount).toBe(CONFLICTS);
      for (const c of rollback.status?.conditions ?? []) expect(Buffer.byteLength(c.message)).toBeLessThanOrEqual(4096);
      expect(Buffer.byteLength(JSON.stringify(rollback.status))).toBeLessThan(64 * 1024);
      expect(git(bare, 'rev-parse', 'main')).toBe(before);
    }, 240_000);

    test(`a ${MANY_PATHS}-path revert ends Ready with the first 100 changed paths and a count`, async () => {
      const { url, bare } = publishRepo();
      await kubectl(['apply', '-f', '-'], rollbackYaml('many-paths', inline(url), `  revert:\n    commits: [${history.many}]`));
      const rollback = await waitFinished('many-paths', 240_000);
      expect(condition(rollback, 'Ready')).toMatchObject({ status: 'True', reason: 'Succeeded' });
      expect(rollback.status?.changedPaths).toHaveLength(100);
      expect(rollback.status?.changedPathsCount).toBe(MANY_PATHS);
      expect(Buffer.byteLength(JSON.stringify(rollback.status))).toBeLessThan(64 * 1024);
      expect(() => git(bare, 'show', 'main:config/generated/file-0.txt')).toThrow();
    }, 300_000);
  });

  describe('a GitRepository in another namespace needs its consent', () => {
    const gitRepository = (url: string, annotations = '') => `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: fleet
  namespace: ${sourceNamespace}
${annotations}spec:
  interval: 10m
  url: ${url}
  ref:
    branch: main
  secretRef:
    name: git-auth
`;
    const sourceRef = () => `  sourceRef:\n    kind: GitRepository\n    name: fleet\n    namespace: ${sourceNamespace}`;

    test('without the annotation: Stalled CrossNamespaceRefForbidden naming the annotation, nothing pushed; with it: Ready', async () => {
      const { url, bare } = publishRepo();
      const before = git(bare, 'rev-parse', 'main');
      await kubectl(['apply', '-f', '-'], gitRepository(url));
      await kubectl(['apply', '-f', '-'], rollbackYaml('cross-refused', sourceRef(), `  revert:\n    commits: [${history.bump}]`));
      const refused = await waitFinished('cross-refused');
      expect(condition(refused, 'Stalled')).toMatchObject({ status: 'True', reason: 'CrossNamespaceRefForbidden' });
      expect(condition(refused, 'Stalled')?.message).toContain(`rollback.gitops.dev/allowed-namespaces: "${namespace}"`);
      expect(git(bare, 'rev-parse', 'main')).toBe(before);

      // Consent for another namespace only is still a refusal.
      await kubectl(['annotate', 'gitrepository', 'fleet', '-n', sourceNamespace, 'rollback.gitops.dev/allowed-namespaces=team-other']);
      await kubectl(['apply', '-f', '-'], rollbackYaml('cross-other', sourceRef(), `  revert:\n    commits: [${history.bump}]`));
      expect(condition(await waitFinished('cross-other'), 'Stalled')).toMatchObject({ status: 'True', reason: 'CrossNamespaceRefForbidden' });

      await kubectl([
        'annotate',
        '--overwrite',
        'gitrepository',
        'fleet',
        '-n',
        sourceNamespace,
        `rollback.gitops.dev/allowed-namespaces=team-other, ${namespace}`,
      ]);
      await kubectl(['apply', '-f', '-'], rollbackYaml('cross-allowed', sourceRef(), `  revert:\n    commits: [${history.bump}]`));
      const allowed = await waitFinished('cross-allowed');
      expect(condition(allowed, 'Ready')).toMatchObject({ status: 'True', reason: 'Succeeded' });
      expect(git(bare, 'show', 'main:web/deploy.yaml')).toBe('image: web:1.0');
    }, 240_000);
  });

  describe('spec.safety.allow is granted by the Namespace, not by the requester', () => {
    test('an allow the Namespace does not grant: Stalled SafetyAllowNotGranted, nothing pushed; once granted: Ready', async () => {
      const { url, bare } = publishRepo();
      const before = git(bare, 'rev-parse', 'main');
      const what = `  revert:\n    commits: [${history.namespaceAdded}]\n  safety:\n    allow: [Namespace]`;
      await kubectl(['apply', '-f', '-'], rollbackYaml('allow-self', inline(url), what));
      const refused = await waitFinished('allow-self');
      expect(condition(refused, 'Stalled')).toMatchObject({ status: 'True', reason: 'SafetyAllowNotGranted' });
      expect(condition(refused, 'Stalled')?.message).toContain(`kubectl annotate namespace ${namespace} rollback.gitops.dev/safety-allow=Namespace`);
      expect(git(bare, 'rev-parse', 'main')).toBe(before);

      await kubectl(['annotate', 'namespace', namespace, 'rollback.gitops.dev/safety-allow=CustomResourceDefinition,namespace']);
      await kubectl(['apply', '-f', '-'], rollbackYaml('allow-granted', inline(url), what));
      const granted = await waitFinished('allow-granted');
      expect(condition(granted, 'Ready')).toMatchObject({ status: 'True', reason: 'Succeeded' });
      expect(() => git(bare, 'show', 'main:infra/namespace.yaml')).toThrow();
    }, 240_000);
  });

  describe('history limit', () => {
    test('of 4 finished rollbacks a policy created, the newest 2 are kept; a user-created one stays', async () => {
      const { url } = publishRepo();
      await kubectl(
        ['apply', '-f', '-'],
        `apiVersion: rollback.gitops.dev/v1alpha1
kind: GitOpsRollbackPolicy
metadata:
  name: apps
  namespace: ${namespace}
spec:
  kustomizations:
    names: [apps]
  cooldown: 1s
  secretRef:
    name: token
`,
      );
      const policy = JSON.parse(await kubectl(['get', 'gitopsrollbackpolicy', 'apps', '-n', namespace, '-o', 'json'])) as { metadata: { uid: string } };
      const owned = `  labels:\n    ${POLICY_UID_LABEL}: ${policy.metadata.uid}\n  annotations:\n    ${KUSTOMIZATION_ANNOTATION}: ${namespace}/apps\n  ownerReferences:\n  - apiVersion: rollback.gitops.dev/v1alpha1\n    kind: GitOpsRollbackPolicy\n    name: apps\n    uid: ${policy.metadata.uid}\n    controller: true\n`;
      const dryRun = `  revert:\n    commits: [${history.bump}]\n  dryRun: true`;
      await kubectl(['apply', '-f', '-'], rollbackYaml('by-user', inline(url), dryRun));
      for (const name of ['auto-1', 'auto-2', 'auto-3', 'auto-4']) {
        await kubectl(['apply', '-f', '-'], rollbackYaml(name, inline(url), dryRun, owned));
        expect(condition(await waitFinished(name), 'Ready')).toMatchObject({ status: 'True', reason: 'DryRunSucceeded' });
      }
      const remaining = await eventually(
        "the policy's rollbacks pruned to 2",
        async () => {
          const list = JSON.parse(
            await kubectl(['get', 'gitopsrollbacks', '-n', namespace, '-l', `${POLICY_UID_LABEL}=${policy.metadata.uid}`, '-o', 'json']),
          ) as { items: GitOpsRollback[] };
          const live = list.items.filter((r) => !r.metadata.deletionTimestamp).map((r) => r.metadata.name!);
          return live.length === 2 ? live : undefined;
        },
        { timeoutMs: 120_000, diagnostics: () => operator.logs().slice(-3000) },
      );
      expect(remaining.every((name) => name.startsWith('auto-'))).toBe(true);
      expect((await getRollback(plane, namespace, 'by-user')).metadata.name).toBe('by-user');
    }, 400_000);
  });
});
