/**
 * /metrics behind authentication and authorization on a real API server, as controller-runtime's
 * metrics filter does: the operator (with config/rbac's rights, --metrics-auth on by default)
 * answers 401 without a token or with one the API server does not know, 403 for a real
 * ServiceAccount that is not bound to gitops-rollback-metrics-reader, and 200 for one that is.
 */
import { randomBytes } from 'node:crypto';
import { connectToControlPlane, type ControlPlaneClient } from '../envtest/control-plane.js';
import { createMetricsReaderToken, installOperator, SYSTEM_NAMESPACE } from '../helpers/operator-install.js';
import { startOperator, type OperatorProcess } from '../helpers/operator-process.js';

describe('/metrics authentication and authorization', () => {
  let plane: ControlPlaneClient;
  let operator: OperatorProcess;
  let readerToken: string;
  let strangerToken: string;
  const namespace = `metrics-auth-${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    plane = connectToControlPlane();
    const kubeconfig = await installOperator(plane);
    await plane.kubectl(['create', 'namespace', namespace]);
    readerToken = await createMetricsReaderToken(plane);
    await plane
      .kubectl(['create', 'serviceaccount', 'stranger', '-n', SYSTEM_NAMESPACE, '--dry-run=client', '-o', 'yaml'])
      .then((yaml) => plane.kubectl(['apply', '--server-side', '-f', '-'], { input: yaml }));
    strangerToken = (await plane.createServiceAccountKubeconfig(SYSTEM_NAMESPACE, 'stranger')).token;
    operator = await startOperator({ kubeconfigPath: kubeconfig, args: [`--watch-namespace=${namespace}`] });
  });

  afterAll(async () => {
    await operator?.stop();
    await plane?.kubectl(['delete', 'namespace', namespace, '--wait=false']);
  });

  const scrape = (token?: string) => fetch(`${operator.metricsUrl}/metrics`, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });

  test.each([
    ['no token', () => undefined, 401],
    ['a token the API server does not know', () => `${readerToken.slice(0, -8)}AAAAAAAA`, 401],
    ['a huge token (refused without a review)', () => 'x'.repeat(9000), 401],
    ['a ServiceAccount not bound to gitops-rollback-metrics-reader', () => strangerToken, 403],
    ['a ServiceAccount bound to gitops-rollback-metrics-reader', () => readerToken, 200],
  ])('%s gets %s', async (_name, token, status) => {
    const response = await scrape(token());
    const body = await response.text();
    expect(response.status).toBe(status);
    if (status === 200) expect(body).toContain('gitops_rollback_in_progress');
    else expect(body).not.toContain('gitops_rollback');
    if (status === 401) expect(response.headers.get('www-authenticate')).toBe('Bearer');
  });

  test('the answer for a token is the same when asked again (cached), and the token is not logged', async () => {
    expect((await scrape(readerToken)).status).toBe(200);
    expect((await scrape(strangerToken)).status).toBe(403);
    expect(operator.logs()).not.toContain(readerToken);
    expect(operator.logs()).not.toContain(strangerToken);
  });
});
