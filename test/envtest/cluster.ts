/**
 * The cluster mode of the test control plane: etcd + kube-apiserver (control-plane.ts) plus
 * kube-controller-manager, kube-scheduler, kwok with one fake node, and the real Flux
 * source-controller and kustomize-controller, all as local processes (no containers). Deployments
 * get ReplicaSets and pods, pods are scheduled onto the kwok node and become Running and Ready,
 * and Flux clones, builds and applies GitRepositories and Kustomizations for real.
 *
 * A "broken" pod is one whose template carries the annotation {@link BROKEN_POD_ANNOTATION}:
 * kwok keeps it Running but never Ready (a CrashLoopBackOff without a real container), so a
 * Deployment with a progressDeadlineSeconds fails its rollout and kustomize-controller's health
 * check fails, as a bad image does in a real cluster.
 *
 * Erasable TypeScript only (no enums or parameter properties), like the rest of test/envtest.
 */
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { eventually } from '../helpers/eventually.js';
import { provideBinaries, provideClusterBinaries, provideFluxCrds } from './binaries.js';
import { startControlPlane, waitForCrdsEstablished, type ControlPlane } from './control-plane.js';
import { findFreePorts } from './free-ports.js';
import { readLogTail, spawnDaemon, type Daemon } from './processes.js';

/** Pod-template annotation that makes kwok keep a pod Running but unready. */
export const BROKEN_POD_ANNOTATION = 'kwok.gitops-rollback.test/broken';
/** The fake node's name. */
export const NODE_NAME = 'kwok-node-0';
/** Where Flux's controllers run (RUNTIME_NAMESPACE); events name it as their source. */
export const FLUX_NAMESPACE = 'flux-system';

/** Options of {@link startCluster}. */
export interface ClusterOptions {
  /**
   * kustomize-controller's `--events-addr`: every event it emits is POSTed there as JSON (what
   * notification-controller receives). Default: none.
   */
  eventsAddress?: string;
  /** kustomize-controller's feature gate CancelHealthCheckOnNewRevision. Default false (Flux's). */
  cancelHealthCheckOnNewRevision?: boolean;
  /** How long each component may take to become ready. Default 120 s. */
  startTimeoutMs?: number;
}

/** Start-up time and memory of one process of the cluster. */
export interface ProcessReport {
  name: string;
  pid: number;
  /** From spawning it to ready, in milliseconds. */
  readyMs: number;
  /** Resident set size now, in MiB (from /proc/<pid>/status), or undefined if it has exited. */
  rssMiB: number | undefined;
}

/** A running cluster; `plane` is its API server side (kubectl, ServiceAccount kubeconfigs). */
export interface Cluster {
  readonly plane: ControlPlane;
  /** Milliseconds from startCluster() to every component ready (binaries already provided). */
  readonly startMs: number;
  /** Each process with its start-up time and current memory. */
  processes(): ProcessReport[];
  /** Log file of a component (e.g. 'kustomize-controller'), for diagnostics. */
  logPath(name: string): string;
  /** Stops every process, then the control plane, and removes all files. Safe to call twice. */
  stop(): Promise<void>;
}

interface Component {
  daemon: Daemon;
  readyMs: number;
}

/** Starts the cluster; resolves once every component is ready and the node is Ready. */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const began = Date.now();
  const [binDir, clusterDir, crdDir] = await Promise.all([provideBinaries(), provideClusterBinaries(), provideFluxCrds()]);
  const providedAt = Date.now();
  const timeoutMs = options.startTimeoutMs ?? 120_000;
  const plane = await startControlPlane({ binDir, serviceAccountAdmission: true, startTimeoutMs: timeoutMs });
  const components = new Map<string, Component>();
  const stopAll = async (): Promise<void> => {
    // Flux first (it would log errors about a vanishing API server), the API server last.
    for (const component of [...components.values()].reverse()) await component.daemon.stop();
    components.clear();
    await plane.stop();
  };
  try {
    await installFluxCrds(plane, crdDir);
    await plane.kubectl(['create', 'namespace', FLUX_NAMESPACE]);
    const dir = join(plane.info.rootDir, 'cluster');
    // source-controller refuses a storage path that does not exist.
    await mkdir(join(dir, 'artifacts'), { recursive: true });
    const ports = await findFreePorts(8);
    const kubeconfig = plane.kubeconfigPath;
    const log = (name: string) => join(dir, `${name}.log`);
    const start = (name: string, args: string[], env?: Record<string, string>): Daemon => spawnDaemon(name, join(clusterDir, name), args, log(name), env);

    const startedAt = Date.now();
    const daemons = {
      controllerManager: start('kube-controller-manager', controllerManagerArgs(plane, dir, kubeconfig, ports[0])),
      scheduler: start('kube-scheduler', [
        `--kubeconfig=${kubeconfig}`,
        `--authentication-kubeconfig=${kubeconfig}`,
        `--authorization-kubeconfig=${kubeconfig}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${ports[1]}`,
        '--leader-elect=false',
      ]),
      kwok: start('kwok', await kwokArgs(clusterDir, dir, kubeconfig, ports[2])),
      source: start(
        'source-controller',
        [
          '--watch-all-namespaces=true',
          '--enable-leader-election=false',
          '--log-level=info',
          `--metrics-addr=127.0.0.1:${ports[3]}`,
          `--health-addr=127.0.0.1:${ports[4]}`,
          `--storage-addr=127.0.0.1:${ports[5]}`,
          `--storage-adv-addr=127.0.0.1:${ports[5]}`,
          `--storage-path=${join(dir, 'artifacts')}`,
        ],
        { KUBECONFIG: kubeconfig, RUNTIME_NAMESPACE: FLUX_NAMESPACE },
      ),
      kustomize: start(
        'kustomize-controller',
        [
          '--watch-all-namespaces=true',
          '--enable-leader-election=false',
          '--log-level=info',
          `--metrics-addr=127.0.0.1:${ports[6]}`,
          `--health-addr=127.0.0.1:${ports[7]}`,
          // Failing dependencies are re-checked every 30 s by default; a dependent waits at most this long.
          '--requeue-dependency=5s',
          `--feature-gates=CancelHealthCheckOnNewRevision=${options.cancelHealthCheckOnNewRevision === true}`,
          ...(options.eventsAddress ? [`--events-addr=${options.eventsAddress}`] : []),
        ],
        { KUBECONFIG: kubeconfig, RUNTIME_NAMESPACE: FLUX_NAMESPACE },
      ),
    };
    for (const daemon of Object.values(daemons)) components.set(daemon.name, { daemon, readyMs: 0 });
    const ready = (daemon: Daemon) => () => {
      components.get(daemon.name)!.readyMs = Date.now() - startedAt;
    };
    const wait = (daemon: Daemon, what: string, probe: () => Promise<boolean>) =>
      eventually(`${daemon.name}: ${what}`, probe, { timeoutMs, intervalMs: 200, abort: describeExit(daemon) }).then(ready(daemon));

    await Promise.all([
      // The serviceaccount controller creates `default` in every namespace: the manager runs.
      wait(
        daemons.controllerManager,
        'the default ServiceAccount to appear',
        async () => (await plane.kubectl(['get', 'serviceaccount', 'default', '-n', 'default', '-o', 'name']).catch(() => '')).trim() !== '',
      ),
      wait(daemons.scheduler, '/healthz to answer', () => httpsOk(`https://127.0.0.1:${ports[1]}/healthz`)),
      registerNode(plane).then(() => wait(daemons.kwok, `node ${NODE_NAME} to become Ready and schedulable`, () => makeSchedulable(plane))),
      wait(daemons.source, '/readyz to answer', () => httpOk(`http://127.0.0.1:${ports[4]}/readyz`)),
      wait(daemons.kustomize, '/readyz to answer', () => httpOk(`http://127.0.0.1:${ports[7]}/readyz`)),
    ]);
    const startMs = Date.now() - providedAt;
    process.stderr.write(`\nenvtest cluster: ready in ${startMs} ms (binaries ${providedAt - began} ms)\n`);
    let stopped: Promise<void> | undefined;
    return {
      plane,
      startMs,
      processes: () => [
        { name: 'etcd', pid: plane.info.pids.etcd, readyMs: 0, rssMiB: readRssMiB(plane.info.pids.etcd) },
        { name: 'kube-apiserver', pid: plane.info.pids.kubeApiServer, readyMs: 0, rssMiB: readRssMiB(plane.info.pids.kubeApiServer) },
        ...[...components.values()].map(({ daemon, readyMs }) => ({ name: daemon.name, pid: daemon.pid, readyMs, rssMiB: readRssMiB(daemon.pid) })),
      ],
      logPath: log,
      stop: () => (stopped ??= stopAll()),
    };
  } catch (err) {
    const tails = [...components.values()].map(({ daemon }) => `--- ${daemon.name}:\n${readLogTail(daemon.logPath, 15)}`).join('\n');
    await stopAll();
    throw new Error(`${(err as Error).message}\n${tails}`, { cause: err });
  }
}

/** Applies every Flux CRD the two controllers watch and waits until they are Established. */
async function installFluxCrds(plane: ControlPlane, crdDir: string): Promise<void> {
  const files = (await readdir(crdDir)).filter((f) => /^(source|kustomize)\.toolkit\.fluxcd\.io_.*\.yaml$/.test(f));
  await plane.kubectl(['apply', '--server-side', ...files.flatMap((f) => ['-f', join(crdDir, f)])]);
  await waitForCrdsEstablished(
    plane,
    files.map((f) => {
      const [group, plural] = f.replace(/\.yaml$/, '').split('_');
      return `${plural}.${group}`;
    }),
  );
}

function controllerManagerArgs(plane: ControlPlane, dir: string, kubeconfig: string, port: number): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${port}`,
    '--leader-elect=false',
    // What Deployments need, and ServiceAccounts with tokens for the pods; nothing else.
    '--controllers=deployment-controller,replicaset-controller,serviceaccount-controller,serviceaccount-token-controller,namespace-controller,garbage-collector-controller,root-ca-certificate-publisher-controller',
    `--service-account-private-key-file=${join(plane.info.rootDir, 'pki', 'service-account.key')}`,
    `--root-ca-file=${plane.info.caCertPath}`,
    '--use-service-account-credentials=false',
    // Its default is under /usr/libexec, which it would try to create.
    `--flex-volume-plugin-dir=${join(dir, 'flexvolume')}`,
  ];
}

/**
 * kwok's arguments: manage only nodes annotated as fake, with kwok's fast stages (nodes Ready and
 * pods Running at once) except that broken pods stay unready. Its default pod CIDR (10.0.0.0/24)
 * is the API server's service range, hence --cidr.
 */
async function kwokArgs(clusterDir: string, dir: string, kubeconfig: string, port: number): Promise<string[]> {
  const stagesDir = join(clusterDir, 'kwok-stages');
  const documents: unknown[] = [];
  for (const file of (await readdir(stagesDir)).filter((f) => f.endsWith('.yaml')).sort()) {
    for (const doc of parseAllDocuments(await readFile(join(stagesDir, file), 'utf8'))) {
      const stage = doc.toJS() as { kind?: string; metadata?: { name?: string }; spec?: { selector?: { matchExpressions?: unknown[] } } };
      if (stage?.kind !== 'Stage') continue;
      if (stage.metadata?.name === 'pod-ready') stage.spec!.selector!.matchExpressions!.push({ key: brokenKey, operator: 'DoesNotExist' });
      documents.push(stage);
    }
  }
  documents.push(BROKEN_POD_STAGE);
  const config = join(dir, 'kwok-stages.yaml');
  await writeFile(config, documents.map((doc) => stringify(doc)).join('---\n'));
  return [
    `--kubeconfig=${kubeconfig}`,
    `--config=${config}`,
    '--manage-all-nodes=false',
    '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
    '--cidr=10.244.0.0/16',
    '--node-ip=10.244.0.1',
    '--node-lease-duration-seconds=40',
    `--server-address=127.0.0.1:${port}`,
  ];
}

const brokenKey = `.metadata.annotations["${BROKEN_POD_ANNOTATION}"]`;

/** Pods carrying the broken annotation: Running, never Ready, the container crash-looping. */
const BROKEN_POD_STAGE = {
  apiVersion: 'kwok.x-k8s.io/v1alpha1',
  kind: 'Stage',
  metadata: { name: 'pod-broken' },
  spec: {
    resourceRef: { apiGroup: 'v1', kind: 'Pod' },
    selector: {
      matchExpressions: [
        { key: '.metadata.deletionTimestamp', operator: 'DoesNotExist' },
        { key: '.status.phase', operator: 'In', values: ['Pending'] },
        { key: brokenKey, operator: 'Exists' },
      ],
    },
    next: {
      statusTemplate: `{{ $now := Now }}
conditions:
- {lastTransitionTime: {{ $now | Quote }}, status: "True", type: Initialized}
- {lastTransitionTime: {{ $now | Quote }}, status: "False", type: Ready, reason: ContainersNotReady}
- {lastTransitionTime: {{ $now | Quote }}, status: "False", type: ContainersReady, reason: ContainersNotReady}
containerStatuses:
{{ range .spec.containers }}
- image: {{ .image | Quote }}
  name: {{ .name | Quote }}
  ready: false
  restartCount: 3
  state:
    waiting: {reason: CrashLoopBackOff, message: "back-off restarting failed container"}
{{ end }}
phase: Running
startTime: {{ $now | Quote }}
`,
    },
  },
};

/** The fake node kwok manages (it has no kubelet: kwok plays its part). */
async function registerNode(plane: ControlPlane): Promise<void> {
  await plane.kubectl(['apply', '-f', '-'], {
    input: `apiVersion: v1
kind: Node
metadata:
  name: ${NODE_NAME}
  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}
  labels: {type: kwok, kubernetes.io/hostname: ${NODE_NAME}, kubernetes.io/os: linux, kubernetes.io/arch: amd64}
`,
  });
}

/**
 * True once the node is Ready and carries no taint. The API server taints a new node
 * `node.kubernetes.io/not-ready:NoSchedule`, which only the node-lifecycle controller removes; that
 * controller is left out on purpose (on a busy machine it would mark the node unreachable when
 * kwok renews its lease late, and evict every pod), so the taint is removed here once.
 */
async function makeSchedulable(plane: ControlPlane): Promise<boolean> {
  const node = JSON.parse(await plane.kubectl(['get', 'node', NODE_NAME, '-o', 'json'])) as {
    spec: { taints?: { key: string; effect: string }[] };
    status: { conditions?: { type: string; status: string }[] };
  };
  if (node.status.conditions?.find((c) => c.type === 'Ready')?.status !== 'True') return false;
  if (!node.spec.taints?.length) return true;
  await plane.kubectl(['patch', 'node', NODE_NAME, '--type=json', '-p', '[{"op":"remove","path":"/spec/taints"}]']);
  return false;
}

function httpOk(url: string): Promise<boolean> {
  return fetch(url, { signal: AbortSignal.timeout(2_000) }).then(
    (res) => res.ok,
    () => false,
  );
}

/** GET over TLS without verifying the self-signed serving certificate of a component. */
function httpsOk(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpsRequest(url, { rejectUnauthorized: false, timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

async function describeExit(daemon: Daemon): Promise<string> {
  const code = await daemon.exited;
  return `${daemon.name} exited (${code}); the end of ${daemon.logPath}:\n${readLogTail(daemon.logPath)}`;
}

function readRssMiB(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Math.round(Number(match[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}
