/**
 * Installs the operator on a test control plane as a user would: its CRDs (with whichever of
 * Flux's CRDs a test needs, which Jest's global setup provided) applied and Established, then
 * `kubectl apply --server-side -k config/default`; returns a kubeconfig for the controller's
 * ServiceAccount, so the operator process runs with exactly the rights config/rbac grants.
 */
import * as path from 'node:path';
import { CRD_MANIFEST_PATH, POLICY_CRD_MANIFEST_PATH } from '../../src/api/v1alpha1/generate-manifests.js';
import { waitForCrdsEstablished, type ControlPlaneClient } from '../envtest/control-plane.js';
import { fluxCrdsDir } from '../envtest/shared-control-plane.js';

export const SYSTEM_NAMESPACE = 'gitops-rollback-system';
export const CONTROLLER_SERVICE_ACCOUNT = 'gitops-rollback-controller';
/** Operator arguments for leader election with its Lease in SYSTEM_NAMESPACE, as config/manager runs it. */
export const LEADER_ELECTION_ARGS = ['--leader-elect', `--leader-election-namespace=${SYSTEM_NAMESPACE}`];

/** Flux's CRD files as provide-flux-crds.sh names them: `<group>_<plural>.yaml`. */
export const FLUX_GIT_REPOSITORIES = 'source.toolkit.fluxcd.io_gitrepositories.yaml';
export const FLUX_KUSTOMIZATIONS = 'kustomize.toolkit.fluxcd.io_kustomizations.yaml';
export const FLUX_IMAGE_UPDATE_AUTOMATIONS = 'image.toolkit.fluxcd.io_imageupdateautomations.yaml';
export const FLUX_PROVIDERS = 'notification.toolkit.fluxcd.io_providers.yaml';
export const FLUX_ALERTS = 'notification.toolkit.fluxcd.io_alerts.yaml';

/** The git server's credentials, and the Secret (`git-auth`) rollbacks name them by. */
export const GIT_AUTH = { username: 'flux', password: 'g1t-s3cret-pw' };

export interface InstallOptions {
  /** Flux CRD files (the FLUX_* names) to apply and wait for along with the operator's own. */
  fluxCrds?: string[];
}

/** The CRD a manifest file `<group>_<plural>.yaml` defines: `<plural>.<group>`. */
function crdName(file: string): string {
  const [group, plural] = path.basename(file, '.yaml').split('_');
  return `${plural}.${group}`;
}

/** Installs the operator (see above) and returns the path of the controller's kubeconfig. */
export async function installOperator(
  plane: Pick<ControlPlaneClient, 'kubectl' | 'createServiceAccountKubeconfig'>,
  options: InstallOptions = {},
): Promise<string> {
  const crds = [CRD_MANIFEST_PATH, POLICY_CRD_MANIFEST_PATH];
  if (options.fluxCrds?.length) {
    crds.push(...options.fluxCrds.map((file) => path.join(fluxCrdsDir(), file)));
  }
  await plane.kubectl(['apply', '--server-side', ...crds.flatMap((file) => ['-f', file])]);
  await waitForCrdsEstablished(plane, crds.map(crdName));
  await plane.kubectl(['apply', '--server-side', '-f', '-'], { input: `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${SYSTEM_NAMESPACE}\n` });
  await plane.kubectl(['apply', '--server-side', '-k', 'config/default']);
  return (await plane.createServiceAccountKubeconfig(SYSTEM_NAMESPACE, CONTROLLER_SERVICE_ACCOUNT)).kubeconfigPath;
}

/** The ServiceAccount a scraper reads /metrics as, bound to the gitops-rollback-metrics-reader ClusterRole. */
export const METRICS_READER_SERVICE_ACCOUNT = 'metrics-scraper';

/**
 * A bearer token (TokenRequest API) for METRICS_READER_SERVICE_ACCOUNT in SYSTEM_NAMESPACE, bound
 * to config/rbac's gitops-rollback-metrics-reader, as Prometheus' ServiceAccount would be.
 * Idempotent (server-side apply); needs installOperator first.
 */
export async function createMetricsReaderToken(plane: Pick<ControlPlaneClient, 'kubectl' | 'createServiceAccountKubeconfig'>): Promise<string> {
  const binding = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'gitops-rollback-metrics-scraper' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'gitops-rollback-metrics-reader' },
    subjects: [{ kind: 'ServiceAccount', name: METRICS_READER_SERVICE_ACCOUNT, namespace: SYSTEM_NAMESPACE }],
  };
  const account = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: METRICS_READER_SERVICE_ACCOUNT, namespace: SYSTEM_NAMESPACE } };
  await plane.kubectl(['apply', '--server-side', '-f', '-'], { input: `${JSON.stringify(account)}\n---\n${JSON.stringify(binding)}` });
  return (await plane.createServiceAccountKubeconfig(SYSTEM_NAMESPACE, METRICS_READER_SERVICE_ACCOUNT)).token;
}

/** Creates the `git-auth` basic-auth Secret (GIT_AUTH) in `namespace`. */
export async function createGitAuthSecret(plane: Pick<ControlPlaneClient, 'kubectl'>, namespace: string): Promise<void> {
  await plane.kubectl([
    'create',
    'secret',
    'generic',
    'git-auth',
    '-n',
    namespace,
    `--from-literal=username=${GIT_AUTH.username}`,
    `--from-literal=password=${GIT_AUTH.password}`,
  ]);
}
