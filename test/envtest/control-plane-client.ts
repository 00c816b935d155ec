/**
 * What a test needs to talk to a running control plane: the admin kubeconfig, a kubectl helper and
 * ServiceAccount token minting. Built from {@link ConnectionInfo}, so a test file can get the same
 * handle for the shared control plane that Jest's global setup started in another process.
 *
 * Like every file in test/envtest: erasable TypeScript only (no enums, no parameter properties),
 * because Jest's global setup loads these modules with Node's own type stripping.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from '../helpers/eventually.js';
import { requestAsAdmin, type AdminConnection } from './api-request.js';
import { writeKubeconfig } from './kubeconfig.js';

/** Everything needed to reach a running control plane; serializable to JSON. */
export interface ConnectionInfo {
  /** Temporary directory holding data, certificates, logs and kubeconfigs. */
  rootDir: string;
  /** Directory holding kube-apiserver, etcd and kubectl. */
  binDir: string;
  /** https URL of the API server. */
  server: string;
  /** http URL of etcd's client endpoint. */
  etcdUrl: string;
  kubeconfigPath: string;
  caCertPath: string;
  adminCertPath: string;
  adminKeyPath: string;
  /** Where minted ServiceAccount kubeconfigs are written. */
  identitiesDir: string;
  pids: { etcd: number; kubeApiServer: number };
}

/** Options of one kubectl run. */
export interface KubectlOptions {
  /** Written to kubectl's stdin (for `apply -f -`). */
  input?: string;
  /** Run as another identity, e.g. a kubeconfig from createServiceAccountKubeconfig. */
  kubeconfigPath?: string;
  timeoutMs?: number;
}

/** A kubectl run that exited non-zero; stdout and stderr are kept for assertions. */
export class KubectlError extends Error {
  readonly code = 'KubectlError';
  readonly data: { args: string[]; exitCode: number | null; stdout: string; stderr: string };
  constructor(message: string, data: KubectlError['data']) {
    super(message);
    this.name = 'KubectlError';
    this.data = data;
  }
}

/** A ServiceAccount identity minted by createServiceAccountKubeconfig. */
export interface ServiceAccountIdentity {
  /** Kubeconfig authenticating with the bound token. */
  kubeconfigPath: string;
  token: string;
  /** `system:serviceaccount:<namespace>:<name>`, as RBAC subjects and audit logs name it. */
  username: string;
}

/** The handle on a running control plane that every test can use. */
export interface ControlPlaneClient {
  readonly info: ConnectionInfo;
  /** Admin kubeconfig (client certificate in group system:masters). */
  readonly kubeconfigPath: string;
  /** https URL of the API server. */
  readonly server: string;
  /** PEM of the CA that signed the API server's serving certificate. */
  readonly caPem: string;
  /** Runs the built kubectl with the admin kubeconfig; resolves with stdout, rejects with {@link KubectlError}. */
  kubectl(args: string[], options?: KubectlOptions): Promise<string>;
  /**
   * Mints a token for an existing ServiceAccount with the TokenRequest API and writes a kubeconfig
   * for that identity (no controller-manager needed). The ServiceAccount must exist.
   */
  createServiceAccountKubeconfig(namespace: string, name: string, options?: { expirationSeconds?: number }): Promise<ServiceAccountIdentity>;
}

/** Builds the client handle for the control plane described by `info`. */
export function createControlPlaneClient(info: ConnectionInfo): ControlPlaneClient {
  const admin = readAdminConnection(info);
  return {
    info,
    kubeconfigPath: info.kubeconfigPath,
    server: info.server,
    caPem: admin.caPem,
    kubectl: (args, options) => runKubectl(info, args, options),
    createServiceAccountKubeconfig: (namespace, name, options) => mintServiceAccountKubeconfig(info, admin, namespace, name, options),
  };
}

/** Reads the admin's certificates named in `info`. */
export function readAdminConnection(info: ConnectionInfo): AdminConnection {
  return {
    server: info.server,
    caPem: readFileSync(info.caCertPath, 'utf8'),
    adminCertPem: readFileSync(info.adminCertPath, 'utf8'),
    adminKeyPem: readFileSync(info.adminKeyPath, 'utf8'),
  };
}

function runKubectl(info: ConnectionInfo, args: string[], options: KubectlOptions = {}): Promise<string> {
  const fullArgs = [
    `--kubeconfig=${options.kubeconfigPath ?? info.kubeconfigPath}`,
    // A private discovery cache: nothing written to ~/.kube, nothing stale from an earlier run.
    `--cache-dir=${join(info.rootDir, 'kubectl-cache')}`,
    ...args,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(join(info.binDir, 'kubectl'), fullArgs, {
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 60_000,
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', reject);
    child.on('close', (exitCode) => {
      const out = Buffer.concat(stdout).toString('utf8');
      const err = Buffer.concat(stderr).toString('utf8');
      if (exitCode === 0) resolve(out);
      else reject(new KubectlError(`kubectl ${args.join(' ')} exited ${exitCode}: ${err.trim()}`, { args, exitCode, stdout: out, stderr: err }));
    });
    // kubectl may exit before reading its input (e.g. the API server is down): not our error.
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

/**
 * Waits until the named CRDs are Established. Polls instead of `kubectl wait`, which fails
 * outright when it reads a CRD before the API server has written any condition.
 */
export async function waitForCrdsEstablished(client: Pick<ControlPlaneClient, 'kubectl'>, names: string[], timeoutMs = 60_000): Promise<void> {
  for (const name of names) {
    await eventually(
      `CRD ${name} to be Established`,
      async () => {
        const status = await client.kubectl(['get', 'crd', name, '-o', 'jsonpath={.status.conditions[?(@.type=="Established")].status}']);
        return status.trim() === 'True';
      },
      { timeoutMs },
    );
  }
}

async function mintServiceAccountKubeconfig(
  info: ConnectionInfo,
  admin: AdminConnection,
  namespace: string,
  name: string,
  options: { expirationSeconds?: number } = {},
): Promise<ServiceAccountIdentity> {
  const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/serviceaccounts/${encodeURIComponent(name)}/token`;
  const tokenRequest = {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    // The API server enforces a minimum of 600 seconds.
    spec: { expirationSeconds: options.expirationSeconds ?? 3600 },
  };
  const res = await requestAsAdmin(admin, 'POST', path, tokenRequest);
  if (res.status !== 201 && res.status !== 200) {
    throw new Error(`TokenRequest for ${namespace}/${name} failed with HTTP ${res.status}: ${res.body}`);
  }
  const token = (JSON.parse(res.body) as { status: { token: string } }).status.token;
  const username = `system:serviceaccount:${namespace}:${name}`;
  // Unique name: parallel Jest workers may mint for the same ServiceAccount.
  const kubeconfigPath = join(info.identitiesDir, `${namespace}.${name}.${randomBytes(4).toString('hex')}.kubeconfig`);
  await writeKubeconfig(kubeconfigPath, { server: info.server, caPem: admin.caPem, userName: username, credentials: { token }, namespace });
  return { kubeconfigPath, token, username };
}
