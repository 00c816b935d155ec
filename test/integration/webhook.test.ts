/**
 * Automated rollback triggers end to end: the operator runs as its own process (with the
 * ServiceAccount config/rbac binds) on a real kube-apiserver with Flux's CRDs, a real git server
 * holds the repository, and the test plays Flux: it writes the Kustomization's status and posts
 * notification-controller's event payloads (generic-hmac signed) to the receiver over HTTP.
 */
import { randomBytes } from 'node:crypto';
import type { GitOpsRollbackPolicy } from '../../src/api/v1alpha1/policy-types.js';
import type { GitOpsRollback } from '../../src/api/v1alpha1/types.js';
import { signBody } from '../../src/webhook/signature.js';
import { connectToControlPlane, type ControlPlaneClient } from '../envtest/control-plane.js';
import { commitFiles, git, initRepo, makeTempDir, publishBare } from '../helpers/git-cli.js';
import { startGitHttpServer, type GitHttpServer } from '../helpers/git-http-server.js';
import {
  createGitAuthSecret,
  FLUX_ALERTS,
  FLUX_GIT_REPOSITORIES,
  FLUX_KUSTOMIZATIONS,
  FLUX_PROVIDERS,
  GIT_AUTH as AUTH,
  installOperator,
  LEADER_ELECTION_ARGS,
} from '../helpers/operator-install.js';
import { createMetricsReaderToken } from '../helpers/operator-install.js';
import { startOperator, type OperatorProcess } from '../helpers/operator-process.js';
import { eventually } from '../helpers/eventually.js';

const TOKEN = 'hmac-t0ken-for-flux';

describe('automated rollback triggers on a real API server', () => {
  let plane: ControlPlaneClient;
  let server: GitHttpServer;
  let operator: OperatorProcess;
  let namespace: string;
  let bare: string;
  const commits = { good: '', bad: '', config: '' };

  const kubectl = (args: string[], input?: string) => plane.kubectl(args, input === undefined ? undefined : { input });
  const getJson = async <T>(...args: string[]): Promise<T> => JSON.parse(await kubectl(['get', ...args, '-n', namespace, '-o', 'json'])) as T;
  const hook = (policy: string, source = 'flux') => `${operator.webhookUrl}/hook/${source}/${namespace}/${policy}`;

  const waitFor = <T>(what: string, read: () => Promise<T | undefined>): Promise<T> =>
    eventually(what, read, { diagnostics: () => operator.logs().slice(-4000) });

  /** Flux's event for the Kustomization, as the generic provider posts it. */
  function fluxEvent(reason: string, revision: string, uid: string, legacyKey = false): string {
    return JSON.stringify({
      involvedObject: { kind: 'Kustomization', namespace, name: 'apps', uid, apiVersion: 'kustomize.toolkit.fluxcd.io/v1', resourceVersion: '1' },
      severity: 'error',
      timestamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      message: "Health check failed after 30s: timeout waiting for: [Deployment/shop/frontend status: 'InProgress']",
      reason,
      metadata: legacyKey ? { 'kustomize.toolkit.fluxcd.io/revision': revision } : { revision, summary: 'shop' },
      reportingController: 'kustomize-controller',
      reportingInstance: 'kustomize-controller-6f8d9',
    });
  }

  const post = (url: string, body: string | Buffer, headers: Record<string, string> = {}) =>
    fetch(url, { method: 'POST', body, headers: { 'Content-Type': 'application/json', ...headers } });
  const postSigned = (url: string, body: string) => post(url, body, { 'X-Signature': signBody(body, TOKEN) });

  /** Plays kustomize-controller: the Kustomization's status after applying `sha`. */
  async function setKustomizationStatus(sha: string, ready: boolean): Promise<void> {
    const k = await getJson<{ metadata: { generation: number } }>('kustomization', 'apps');
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const status = {
      observedGeneration: k.metadata.generation,
      lastAppliedRevision: `main@sha1:${sha}`,
      lastAttemptedRevision: `main@sha1:${sha}`,
      conditions: [
        {
          type: 'Ready',
          status: ready ? 'True' : 'False',
          reason: ready ? 'ReconciliationSucceeded' : 'HealthCheckFailed',
          message: ready ? `Applied revision: main@sha1:${sha}` : 'Health check failed',
          lastTransitionTime: now,
          observedGeneration: k.metadata.generation,
        },
      ],
    };
    await kubectl(['patch', 'kustomization', 'apps', '-n', namespace, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })]);
  }

  const policyRecord = async () => (await getJson<GitOpsRollbackPolicy>('gitopsrollbackpolicy', 'apps')).status?.kustomizations?.[0];
  const listRollbacks = async () => (await getJson<{ items: GitOpsRollback[] }>('gitopsrollbacks')).items;
  const policyEvents = async () =>
    (await getJson<{ items: { type: string; reason: string; message: string }[] }>('events', '--field-selector', 'involvedObject.kind=GitOpsRollbackPolicy'))
      .items;

  beforeAll(async () => {
    plane = connectToControlPlane();
    const operatorKubeconfig = await installOperator(plane, { fluxCrds: [FLUX_GIT_REPOSITORIES, FLUX_KUSTOMIZATIONS, FLUX_PROVIDERS, FLUX_ALERTS] });

    const root = makeTempDir();
    server = await startGitHttpServer({ root, auth: AUTH });
    const work = initRepo();
    commits.good = commitFiles(work, 'Deploy frontend 1.0 and backend 1.0', {
      'apps/frontend/deploy.yaml': 'image: frontend:1.0\n',
      'apps/backend/deploy.yaml': 'image: backend:1.0\n',
    });
    commits.bad = commitFiles(work, 'Deploy frontend 2.0 and backend 2.0', {
      'apps/frontend/deploy.yaml': 'image: frontend:2.0\n',
      'apps/backend/deploy.yaml': 'image: backend:2.0\n',
    });
    commits.config = commitFiles(work, 'Turn on checkout v2', { 'apps/frontend/flags.yaml': 'checkout-v2: true\n' });
    bare = publishBare(work, root, 'fleet.git');

    namespace = `hook-${randomBytes(3).toString('hex')}`;
    await kubectl(['create', 'namespace', namespace]);
    await createGitAuthSecret(plane, namespace);
    await kubectl(
      ['apply', '-n', namespace, '-f', '-'],
      `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: fleet}
spec: {interval: 1m, url: '${server.urlFor('fleet.git')}', ref: {branch: main}, secretRef: {name: git-auth}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps}
spec: {interval: 10m, path: ./apps/frontend, prune: true, sourceRef: {kind: GitRepository, name: fleet}}
`,
    );
    // The samples: the token Secret, the policy, and Flux's Provider and Alert (proves they validate).
    await kubectl(['apply', '--server-side', '--dry-run=server', '-n', namespace, '-k', 'config/samples/automated-triggers']);
    await kubectl(['apply', '--server-side', '-n', namespace, '-k', 'config/samples/automated-triggers']);
    await kubectl([
      'create',
      'secret',
      'generic',
      'rollback-webhook-token',
      '-n',
      namespace,
      `--from-literal=token=${TOKEN}`,
      '--dry-run=client',
      '-o',
      'yaml',
    ]).then((yaml) => kubectl(['apply', '--server-side', '--force-conflicts', '-f', '-'], yaml));
    // A short cooldown so one case can follow another.
    await kubectl(['patch', 'gitopsrollbackpolicy', 'apps', '-n', namespace, '--type=merge', '-p', '{"spec":{"cooldown":"1s"}}']);

    operator = await startOperator({ kubeconfigPath: operatorKubeconfig, args: LEADER_ELECTION_ARGS });
  });

  afterAll(async () => {
    await operator?.stop();
    await server?.stop();
  });

  test('the sample Provider and Alert are valid Flux v1beta3 objects', async () => {
    const provider = await getJson<{ spec: { type: string; address: string } }>('providers.notification.toolkit.fluxcd.io', 'gitops-rollback');
    expect(provider.spec).toMatchObject({ type: 'generic-hmac', address: expect.stringContaining('/hook/flux/flux-system/apps') });
    const alert = await getJson<{ spec: { providerRef: { name: string } } }>('alerts.notification.toolkit.fluxcd.io', 'gitops-rollback');
    expect(alert.spec.providerRef.name).toBe('gitops-rollback');
    await expect(
      kubectl(
        ['apply', '-n', namespace, '-f', '-'],
        'apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Provider\nmetadata: {name: bad}\nspec: {type: not-a-provider}\n',
      ),
    ).rejects.toMatchObject({ data: { stderr: expect.stringMatching(/Unsupported value|supported values/) } });
  });

  test("the operator records the Kustomization's healthy revision in the policy status", async () => {
    await setKustomizationStatus(commits.good, true);
    const record = await waitFor('the healthy revision', async () => {
      const entry = await policyRecord();
      return entry?.lastHealthyRevision === `main@sha1:${commits.good}` ? entry : undefined;
    });
    expect(record).toMatchObject({ namespace, name: 'apps' });
  });

  test('the API server refuses a policy without secretRef: the webhook cannot be left unauthenticated', async () => {
    const policy = 'apiVersion: rollback.gitops.dev/v1alpha1\nkind: GitOpsRollbackPolicy\nmetadata: {name: open}\nspec: {kustomizations: {names: [apps]}}\n';
    await expect(kubectl(['apply', '-n', namespace, '-f', '-'], policy)).rejects.toMatchObject({
      data: { stderr: expect.stringMatching(/spec.secretRef: Required value/) },
    });
  });

  test('a signed event claiming failure for a Kustomization that is Ready=True creates no GitOpsRollback', async () => {
    // The Kustomization is Ready=True at the good revision (previous test); the event claims a later one failed.
    const {
      metadata: { uid },
    } = await getJson<{ metadata: { uid: string } }>('kustomization', 'apps');
    const body = fluxEvent('HealthCheckFailed', `main@sha1:${commits.bad}`, uid);
    expect((await postSigned(hook('apps'), body)).status).toBe(202);
    // The processor's decision, in its log: then nothing may have been created.
    await waitFor('the decision on the forged event', async () =>
      operator
        .logs()
        .split('\n')
        .find((line) => line.includes('Trigger needs no rollback') && line.includes('nothing is failing') && line.includes(`${namespace}/apps`)),
    );
    expect(await listRollbacks()).toEqual([]);
    expect((await policyEvents()).filter((e) => e.reason === 'RollbackCreated')).toEqual([]);
  });

  test("a policy naming another namespace's Kustomizations is refused and copies nothing of them", async () => {
    const other = `${namespace}-other`;
    await kubectl(['create', 'namespace', other]);
    await kubectl(['create', 'secret', 'generic', 'token', '-n', other, `--from-literal=token=${TOKEN}`]);
    await kubectl(
      ['apply', '-n', other, '-f', '-'],
      `apiVersion: rollback.gitops.dev/v1alpha1
kind: GitOpsRollbackPolicy
metadata: {name: reach}
spec: {kustomizations: {namespace: ${namespace}, names: [apps]}, secretRef: {name: token}}
`,
    );
    const readPolicy = async () => JSON.parse(await kubectl(['get', 'gitopsrollbackpolicy', 'reach', '-n', other, '-o', 'json'])) as GitOpsRollbackPolicy;
    const refused = await waitFor('the refusal in the policy status', async () =>
      (await readPolicy()).status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'False'),
    );
    expect(refused).toMatchObject({ reason: 'CrossNamespacePolicyForbidden', message: expect.stringContaining('--allow-cross-namespace-policies') });
    expect((await readPolicy()).status?.kustomizations ?? []).toEqual([]);

    const {
      metadata: { uid },
    } = await getJson<{ metadata: { uid: string } }>('kustomization', 'apps');
    const body = fluxEvent('HealthCheckFailed', `main@sha1:${commits.config}`, uid);
    const url = `${operator.webhookUrl}/hook/flux/${other}/reach`;
    expect((await postSigned(url, body)).status).toBe(202);
    const events = async () => (JSON.parse(await kubectl(['get', 'events', '-n', other, '-o', 'json'])) as { items: { reason: string }[] }).items;
    await waitFor('the CrossNamespacePolicyForbidden event', async () => (await events()).find((e) => e.reason === 'CrossNamespacePolicyForbidden'));
    expect((JSON.parse(await kubectl(['get', 'gitopsrollbacks', '-n', other, '-o', 'json'])) as { items: unknown[] }).items).toEqual([]);
  });

  test.each([
    ['no signature', 401, () => ({})],
    ['a signature with the wrong token', 403, (body: string) => ({ 'X-Signature': signBody(body, 'not-the-token') })],
    ['a signature of another body', 403, () => ({ 'X-Signature': signBody('{}', TOKEN) })],
  ])('a Flux event with %s is refused (%s)', async (_name, status, headers) => {
    const body = fluxEvent('HealthCheckFailed', `main@sha1:${commits.config}`, 'any-uid');
    expect((await post(hook('apps'), body, headers(body))).status).toBe(status);
  });

  test.each([
    ['malformed JSON', 400, () => '{"involvedObject": {'],
    ['JSON that is no Flux event', 400, () => '{"kind": "Kustomization"}'],
    ['an oversized body (2 MiB)', 413, () => 'x'.repeat(2 * 1024 * 1024)],
    ['a body just over the 64 KiB limit', 413, () => 'x'.repeat(64 * 1024 + 1)],
  ])('%s is refused (%s)', async (_name, status, body) => {
    expect((await postSigned(hook('apps'), body())).status).toBe(status);
  });

  test('a policy that does not exist is 404', async () => {
    expect((await postSigned(hook('missing'), '{}')).status).toBe(404);
  });

  test('a storm of 100 identical signed events makes exactly one GitOpsRollback and one revert commit, limited to the path', async () => {
    await setKustomizationStatus(commits.config, false);
    const {
      metadata: { uid },
    } = await getJson<{ metadata: { uid: string } }>('kustomization', 'apps');
    const policy = await getJson<GitOpsRollbackPolicy>('gitopsrollbackpolicy', 'apps');
    const body = fluxEvent('HealthCheckFailed', `main@sha1:${commits.config}`, uid);
    const answers = await Promise.all(Array.from({ length: 100 }, () => postSigned(hook('apps'), body)));
    expect(answers.map((a) => a.status)).toEqual(Array(100).fill(202));
    // Flux re-sends with the legacy metadata key and ReconciliationFailed for the same revision: still one.
    expect((await postSigned(hook('apps'), fluxEvent('HealthCheckFailed', `main@sha1:${commits.config}`, uid, true))).status).toBe(202);

    const pushed = await waitFor('the revert commit', async () => {
      const [rollback] = await listRollbacks();
      return rollback?.status?.conditions?.some((c) => c.type === 'Pushed' && c.status === 'True') ? rollback : undefined;
    });
    expect((await postSigned(hook('apps'), fluxEvent('ReconciliationFailed', `main@sha1:${commits.config}`, uid))).status).toBe(202);
    await new Promise((resolve) => setTimeout(resolve, 1500));

    const rollbacks = await listRollbacks();
    expect(rollbacks).toHaveLength(1);
    expect(pushed.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'GitOpsRollbackPolicy', name: 'apps', uid: policy.metadata.uid, controller: true }),
    ]);
    expect(pushed.spec).toMatchObject({
      sourceRef: { kind: 'GitRepository', name: 'fleet' },
      revert: { range: { from: commits.good, to: commits.config }, paths: ['apps/frontend'], squash: true },
    });

    // One commit on the server: the frontend is back at 1.0, its flags are gone, the backend untouched.
    expect(git(bare, 'rev-list', '--count', `${commits.config}..main`)).toBe('1');
    expect(git(bare, 'show', 'main:apps/frontend/deploy.yaml')).toBe('image: frontend:1.0');
    expect(() => git(bare, 'show', 'main:apps/frontend/flags.yaml')).toThrow();
    expect(git(bare, 'show', 'main:apps/backend/deploy.yaml')).toBe('image: backend:2.0');
    expect(git(bare, 'log', '-1', '--format=%(trailers:key=Rollback-Request,valueonly)', 'main')).toBe(
      `${namespace}/${pushed.metadata.name}/${pushed.metadata.uid}`,
    );
    expect(git(bare, 'log', '-1', '--format=%B', 'main')).toContain('HealthCheckFailed');

    const events = await policyEvents();
    expect(events.filter((e) => e.reason === 'RollbackCreated')).toHaveLength(1);
    const status = (await getJson<GitOpsRollbackPolicy>('gitopsrollbackpolicy', 'apps')).status;
    expect(status?.lastRollback?.name).toBe(pushed.metadata.name);

    // The metrics count one automatic rollback and every accepted request.
    const exposition = await (
      await fetch(`${operator.metricsUrl}/metrics`, { headers: { authorization: `Bearer ${await createMetricsReaderToken(plane)}` } })
    ).text();
    expect(exposition).toContain(`gitops_rollback_automatic_total{policy="${namespace}/apps",reason="HealthCheckFailed"} 1`);
    expect(exposition).toMatch(/gitops_rollback_webhook_requests_total\{source="flux",code="202"\} (\d+)/);
    expect(Number(/gitops_rollback_webhook_requests_total\{source="flux",code="202"\} (\d+)/.exec(exposition)![1])).toBeGreaterThanOrEqual(102);
  });

  test("loop guard: an alert on the rollback's own revision does not revert the rollback", async () => {
    // Flux applies the revert commit and it is healthy: the policy records it.
    const head = git(bare, 'rev-parse', 'main');
    await setKustomizationStatus(head, true);
    await waitFor('the revert commit recorded as healthy', async () =>
      (await policyRecord())?.lastHealthyRevision === `main@sha1:${head}` ? true : undefined,
    );
    await new Promise((resolve) => setTimeout(resolve, 1100)); // past the 1 s cooldown

    // An Alertmanager alert now names the Kustomization: the range back to the previous healthy
    // revision contains the rollback commit itself.
    const alert = JSON.stringify({
      version: '4',
      groupKey: '{}:{alertname="HighErrorRate"}',
      truncatedAlerts: 0,
      status: 'firing',
      receiver: 'gitops-rollback',
      groupLabels: { alertname: 'HighErrorRate' },
      commonLabels: {},
      commonAnnotations: {},
      externalURL: 'http://alertmanager:9093',
      alerts: [
        {
          status: 'firing',
          labels: { alertname: 'HighErrorRate', team: 'shop', kustomization: 'apps' },
          annotations: { summary: '5xx above 5%' },
          startsAt: new Date().toISOString(),
          endsAt: '0001-01-01T00:00:00Z',
          generatorURL: 'http://prometheus',
          fingerprint: 'abc123',
        },
      ],
    });
    expect((await post(hook('apps', 'alertmanager'), alert)).status).toBe(401);
    expect((await post(hook('apps', 'alertmanager'), alert, { Authorization: `Bearer ${TOKEN}` })).status).toBe(202);
    const refused = await waitFor('the loop guard event', async () => (await policyEvents()).find((e) => e.reason === 'RollbackLoopPrevented'));
    expect(refused.type).toBe('Warning');
    expect(refused.message).toContain(head.slice(0, 12));
    expect(await listRollbacks()).toHaveLength(1);
    expect(git(bare, 'rev-parse', 'main')).toBe(head);
  });

  test('the token never appears in logs, events or status', async () => {
    const everything = operator.logs() + (await kubectl(['get', 'events,gitopsrollbacks,gitopsrollbackpolicies', '-n', namespace, '-o', 'json']));
    expect(everything).not.toContain(TOKEN);
    expect(everything).not.toContain(AUTH.password);
  });
});
