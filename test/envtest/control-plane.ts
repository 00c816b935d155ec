/**
 * A real Kubernetes control plane for tests, as controller-runtime's envtest provides for Go
 * operators: etcd and kube-apiserver on free loopback ports, RBAC authorization, a client-cert
 * admin, ServiceAccount token signing, and no controller-manager or nodes.
 *
 * Erasable TypeScript only: Jest's global setup loads this file with Node's type stripping.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '../helpers/eventually.js';
import { requestAsAdmin, type AdminConnection } from './api-request.js';
import { provideBinaries } from './binaries.js';
import { ADMIN_USER, generateCertificates, type CertificatePaths } from './certificates.js';
import { createControlPlaneClient, readAdminConnection, type ConnectionInfo, type ControlPlaneClient } from './control-plane-client.js';
import { writeKubeconfig } from './kubeconfig.js';
import { findFreePorts } from './free-ports.js';
import { forgetDirectory, readLogTail, removeAtExit, spawnDaemon, type Daemon } from './processes.js';

export {
  KubectlError,
  waitForCrdsEstablished,
  type ConnectionInfo,
  type ControlPlaneClient,
  type KubectlOptions,
  type ServiceAccountIdentity,
} from './control-plane-client.js';
export { connectToControlPlane } from './shared-control-plane.js';

/** Options of {@link startControlPlane}. */
export interface ControlPlaneOptions {
  /** Directory with kube-apiserver, etcd and kubectl; default: what provide-binaries.sh provides. */
  binDir?: string;
  /** How long etcd, then the API server, may take to become ready (each). Default 180 s (scaled by TEST_TIME_SCALE): under four CPU burners the API server took 99-149 s to start. */
  startTimeoutMs?: number;
  /** Appended to the kube-apiserver command line (e.g. feature gates). */
  extraApiServerArgs?: string[];
  /**
   * Keep the ServiceAccount admission plugin on (cluster mode, where kube-controller-manager
   * creates the ServiceAccounts and tokens pods need). Off in the light mode, which has no
   * controller-manager and would otherwise refuse every pod.
   */
  serviceAccountAdmission?: boolean;
}

/**
 * A control plane this process started and owns. Besides the client handle it can restart its
 * parts (same data directory, same ports) for fault tests, and stop everything.
 */
export interface ControlPlane extends ControlPlaneClient {
  /** Stops kube-apiserver (SIGTERM, then SIGKILL) and waits until it has exited. */
  stopApiServer(): Promise<void>;
  /** Starts kube-apiserver again with the same flags and waits until /readyz answers. */
  startApiServer(): Promise<void>;
  /** Stops etcd and waits until it has exited; its data directory is kept. */
  stopEtcd(): Promise<void>;
  /** Starts etcd again on the same data directory and ports and waits until it is healthy. */
  startEtcd(): Promise<void>;
  /** Stops both daemons and removes every temporary file. Safe to call twice. */
  stop(): Promise<void>;
}

interface Ports {
  etcdClient: number;
  etcdPeer: number;
  apiServer: number;
}

/**
 * Starts etcd and kube-apiserver and resolves once the API server is ready and the `default`
 * namespace exists. Everything lives in a fresh temporary directory; {@link ControlPlane.stop}
 * removes it. Takes a few seconds with cached binaries.
 */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const binDir = options.binDir ?? (await provideBinaries());
  await removeAbandonedControlPlanes();
  const rootDir = await createOwnedDirectory();
  let lifecycle: Lifecycle | undefined;
  try {
    const layout = await prepareLayout(rootDir, binDir);
    lifecycle = createLifecycle(layout, options);
    await lifecycle.startEtcd();
    await lifecycle.startApiServer();
    return { ...createControlPlaneClient(layout.info), ...lifecycle };
  } catch (err) {
    await (lifecycle?.stop() ?? removeDirectory(rootDir));
    throw err;
  }
}

const ROOT_PREFIX = 'gitops-rollback-envtest-';
// Names the process that owns a control plane's directory, so a later run can tell it abandoned.
const OWNER_FILE = 'owner.pid';

type Lifecycle = Pick<ControlPlane, 'startEtcd' | 'stopEtcd' | 'startApiServer' | 'stopApiServer' | 'stop'>;

/** The start/stop operations of one control plane; each start waits until the daemon is ready. */
function createLifecycle(layout: Layout, options: ControlPlaneOptions): Lifecycle {
  const { info } = layout;
  const admin = readAdminConnection(info);
  const timeoutMs = options.startTimeoutMs ?? 180_000;
  const etcdArgs = buildEtcdArgs(layout);
  const apiServerArgs = [...buildApiServerArgs(layout, options.serviceAccountAdmission ?? false), ...(options.extraApiServerArgs ?? [])];
  let etcd: Daemon | undefined;
  let apiServer: Daemon | undefined;
  return {
    startEtcd: async () => {
      etcd = spawnDaemon('etcd', join(info.binDir, 'etcd'), etcdArgs, join(info.rootDir, 'etcd.log'));
      info.pids.etcd = etcd.pid;
      await waitForEtcd(info.etcdUrl, etcd, timeoutMs);
    },
    stopEtcd: async () => {
      await etcd?.stop();
    },
    startApiServer: async () => {
      apiServer = spawnDaemon('kube-apiserver', join(info.binDir, 'kube-apiserver'), apiServerArgs, join(info.rootDir, 'kube-apiserver.log'));
      info.pids.kubeApiServer = apiServer.pid;
      await waitForApiServer(admin, apiServer, timeoutMs);
    },
    stopApiServer: async () => {
      await apiServer?.stop();
    },
    stop: async () => {
      await apiServer?.stop();
      await etcd?.stop();
      await removeDirectory(info.rootDir);
    },
  };
}

async function createOwnedDirectory(): Promise<string> {
  const rootDir = await mkdtemp(join(tmpdir(), ROOT_PREFIX));
  await writeFile(join(rootDir, OWNER_FILE), `${process.pid}\n`);
  removeAtExit(rootDir);
  return rootDir;
}

async function removeDirectory(rootDir: string): Promise<void> {
  await rm(rootDir, { recursive: true, force: true });
  forgetDirectory(rootDir);
}

/** Certificates, ports, directories and the admin kubeconfig of a new control plane. */
async function prepareLayout(rootDir: string, binDir: string): Promise<Layout> {
  const [certs, ports] = await Promise.all([generateCertificates(join(rootDir, 'pki')), findFreePorts(3)]);
  const layout = describeLayout(rootDir, binDir, certs, { etcdClient: ports[0], etcdPeer: ports[1], apiServer: ports[2] });
  const admin = readAdminConnection(layout.info);
  await Promise.all([
    // 0700: etcd warns about (and a future version may refuse) a world-readable data directory.
    mkdir(layout.etcdDataDir, { mode: 0o700 }),
    mkdir(layout.info.identitiesDir),
    mkdir(layout.apiServerCertDir),
    writeKubeconfig(layout.info.kubeconfigPath, {
      server: layout.info.server,
      caPem: admin.caPem,
      userName: ADMIN_USER,
      credentials: { clientCertPem: admin.adminCertPem, clientKeyPem: admin.adminKeyPem },
    }),
  ]);
  return layout;
}

interface Layout {
  info: ConnectionInfo;
  certs: CertificatePaths;
  ports: Ports;
  etcdDataDir: string;
  apiServerCertDir: string;
}

function describeLayout(rootDir: string, binDir: string, certs: CertificatePaths, ports: Ports): Layout {
  return {
    info: {
      rootDir,
      binDir,
      server: `https://127.0.0.1:${ports.apiServer}`,
      etcdUrl: `http://127.0.0.1:${ports.etcdClient}`,
      kubeconfigPath: join(rootDir, 'admin.kubeconfig'),
      caCertPath: certs.caCert,
      adminCertPath: certs.adminCert,
      adminKeyPath: certs.adminKey,
      identitiesDir: join(rootDir, 'identities'),
      pids: { etcd: 0, kubeApiServer: 0 },
    },
    certs,
    ports,
    etcdDataDir: join(rootDir, 'etcd-data'),
    apiServerCertDir: join(rootDir, 'apiserver-certs'),
  };
}

function buildEtcdArgs(layout: Layout): string[] {
  const client = layout.info.etcdUrl;
  const peer = `http://127.0.0.1:${layout.ports.etcdPeer}`;
  return [
    '--name=envtest',
    `--data-dir=${layout.etcdDataDir}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    // Without these etcd would claim the default peer port 2380, which parallel planes share.
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=envtest=${peer}`,
    // Test data need not survive a power cut; fsync dominates etcd's write latency.
    '--unsafe-no-fsync=true',
  ];
}

function buildApiServerArgs(layout: Layout, serviceAccountAdmission: boolean): string[] {
  const { certs, info } = layout;
  return [
    `--etcd-servers=${info.etcdUrl}`,
    `--secure-port=${layout.ports.apiServer}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    // Its default (/var/run/kubernetes) may not be writable; nothing is generated there anyway.
    `--cert-dir=${layout.apiServerCertDir}`,
    `--tls-cert-file=${certs.servingCert}`,
    `--tls-private-key-file=${certs.servingKey}`,
    `--client-ca-file=${certs.caCert}`,
    '--authorization-mode=RBAC',
    `--service-account-issuer=${info.server}`,
    `--service-account-key-file=${certs.serviceAccountKey}`,
    `--service-account-signing-key-file=${certs.serviceAccountKey}`,
    '--service-cluster-ip-range=10.0.0.0/24',
    '--allow-privileged=true',
    // Without a controller-manager nothing creates the ServiceAccounts and tokens pods need.
    ...(serviceAccountAdmission ? [] : ['--disable-admission-plugins=ServiceAccount']),
  ];
}

async function waitForEtcd(etcdUrl: string, etcd: Daemon, timeoutMs: number): Promise<void> {
  await eventually(
    'etcd to become healthy',
    async () => {
      const res = await fetch(`${etcdUrl}/health`, { signal: AbortSignal.timeout(2_000) });
      return res.ok && ((await res.json()) as { health?: string }).health === 'true';
    },
    { timeoutMs, intervalMs: 100, abort: describeExit(etcd) },
  );
}

async function waitForApiServer(admin: AdminConnection, apiServer: Daemon, timeoutMs: number): Promise<void> {
  const abort = describeExit(apiServer);
  await eventually(
    'kube-apiserver to become ready',
    async () => {
      return (await requestAsAdmin(admin, 'GET', '/readyz')).status === 200;
    },
    { timeoutMs, intervalMs: 100, abort },
  );
  // /readyz does not wait for the bootstrap controller to create the default namespace.
  await eventually(
    'the default namespace to appear',
    async () => {
      return (await requestAsAdmin(admin, 'GET', '/api/v1/namespaces/default')).status === 200;
    },
    { timeoutMs, intervalMs: 100, abort },
  );
}

/** Resolves, if the daemon exits, with a message quoting the end of its log. */
async function describeExit(daemon: Daemon): Promise<string> {
  const code = await daemon.exited;
  return `${daemon.name} exited (${code}); the end of ${daemon.logPath}:\n${readLogTail(daemon.logPath)}`;
}

/**
 * Removes the directories of control planes whose owning process died without cleaning up (a
 * SIGKILLed or crashed Jest worker; its daemons died with it through their parent-death signal).
 * Directories without an owner file are left alone: they may be in the middle of being created.
 */
async function removeAbandonedControlPlanes(): Promise<void> {
  const names = (await readdir(tmpdir())).filter((name) => name.startsWith(ROOT_PREFIX));
  await Promise.all(
    names.map(async (name) => {
      const dir = join(tmpdir(), name);
      const owner = Number.parseInt(await readFile(join(dir, OWNER_FILE), 'utf8').catch(() => ''), 10);
      if (Number.isInteger(owner) && !isProcessAlive(owner)) await rm(dir, { recursive: true, force: true });
    }),
  );
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive, but someone else's.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
