/**
 * The operator's network policy with its default flags, on a real API server: a tenant's
 * repository URL on loopback, over plain http://, with credentials or a query in it ends
 * Stalled=True with a clear reason, before any request reaches the (real) git server there, and
 * the condition never repeats the credentials. (Other operator tests pass
 * --allow-private-git-hosts --allow-insecure-http through startOperator's defaults; this one
 * takes them back with --no-….)
 */
import { randomBytes } from 'node:crypto';
import { connectToControlPlane, type ControlPlaneClient } from '../envtest/control-plane.js';
import { commitFiles, initRepo, makeTempDir, publishBare } from '../helpers/git-cli.js';
import { startGitHttpServer, type GitHttpServer } from '../helpers/git-http-server.js';
import { createGitAuthSecret, GIT_AUTH, installOperator } from '../helpers/operator-install.js';
import { startOperator, type OperatorProcess } from '../helpers/operator-process.js';
import { conditionOf as condition, waitForRollback } from '../helpers/rollback-status.js';

describe('the operator refuses internal and unsafe repository URLs by default', () => {
  let plane: ControlPlaneClient;
  let server: GitHttpServer;
  let operator: OperatorProcess;
  let namespace: string;
  let commit: string;
  let port: string;

  beforeAll(async () => {
    plane = connectToControlPlane();
    const kubeconfig = await installOperator(plane);
    namespace = `netpol-${randomBytes(3).toString('hex')}`;
    await plane.kubectl(['create', 'namespace', namespace]);
    await createGitAuthSecret(plane, namespace);
    const root = makeTempDir();
    server = await startGitHttpServer({ root, auth: GIT_AUTH });
    const work = initRepo();
    commitFiles(work, 'Deploy 1.0', { 'apps/app.yaml': 'image: app:1.0\n' });
    commit = commitFiles(work, 'Deploy 1.1', { 'apps/app.yaml': 'image: app:1.1\n' });
    publishBare(work, root, 'fleet.git');
    port = new URL(server.baseUrl).port;
    // Its own namespace only; the network flags back to their defaults.
    operator = await startOperator({
      kubeconfigPath: kubeconfig,
      args: [`--watch-namespace=${namespace}`, '--no-allow-private-git-hosts', '--no-allow-insecure-http'],
    });
  });

  afterAll(async () => {
    await operator?.stop();
    await server?.stop();
  });

  const cases: [string, () => string, string, RegExp][] = [
    ['a loopback IP (https)', () => `https://127.0.0.1:${port}/fleet.git`, 'GitHostNotAllowed', /127\.0\.0\.1 resolves to an internal address/],
    ['a name resolving to loopback', () => `https://localhost:${port}/fleet.git`, 'GitHostNotAllowed', /localhost resolves to an internal address/],
    ['cloud metadata', () => 'https://169.254.169.254/latest/meta-data', 'GitHostNotAllowed', /internal address/],
    ['plain http://', () => `http://127.0.0.1:${port}/fleet.git`, 'InvalidRepositoryUrl', /plain http:\/\/ is not allowed/],
    [
      'credentials in the URL',
      () => `https://${GIT_AUTH.username}:${GIT_AUTH.password}@git.example.com/fleet.git`,
      'InvalidRepositoryUrl',
      /contains credentials/,
    ],
    ['a query', () => `https://git.example.com/fleet.git?ref=x`, 'InvalidRepositoryUrl', /contains a query/],
  ];

  test.each(cases)('%s: Stalled=True, nothing requested from the server', async (_name, url, reason, message) => {
    const name = `rb-${randomBytes(3).toString('hex')}`;
    const before = server.requests.length;
    await plane.kubectl(['apply', '-f', '-'], {
      input: `apiVersion: rollback.gitops.dev/v1alpha1
kind: GitOpsRollback
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  repository:
    url: ${url()}
    branch: main
    secretRef:
      name: git-auth
  revert:
    commits: [${commit}]
`,
    });
    const rollback = await waitForRollback(plane, namespace, name, undefined, { diagnostics: () => operator.logs().slice(-3000) });
    const stalled = condition(rollback, 'Stalled');
    expect(stalled).toMatchObject({ status: 'True', reason });
    expect(stalled?.message).toMatch(message);
    expect(JSON.stringify(rollback.status)).not.toContain(GIT_AUTH.password);
    expect(operator.logs()).not.toContain(GIT_AUTH.password);
    expect(server.requests.length).toBe(before);
  });
});
