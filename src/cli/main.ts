#!/usr/bin/env node
/**
 * The operator's composition root: reads flags and environment (the only place that does),
 * wires the Kubernetes client, informer, work queue, leader election, reconciler and engine, and
 * serves health probes. SIGTERM drains the work in flight, releases the lease, then exits.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { API_VERSION, GROUP, PLURAL, VERSION, type GitOpsRollback } from '../api/v1alpha1/types.js';
import { slimRollback } from '../controller/cached-objects.js';
import { isFinished, RollbackReconciler } from '../controller/reconciler.js';
import { DEFAULT_ROLLBACK_HISTORY_LIMIT, policyKeyOf, RollbackHistory } from '../controller/rollback-history.js';
import { PolicyResources } from '../kube/policy-resources.js';
import type { ClusterPort } from '../controller/ports.js';
import { createWorkerEngine } from '../controller/engine-worker.js';
import { WorkQueue } from '../controller/work-queue.js';
import { DEFAULT_CACHE_MAX_BYTES, evictCaches } from '../git/cache-dir.js';
import type { EngineOptions } from '../git/engine.js';
import type { NetworkPolicy } from '../git/url-policy.js';
import { removeStaleLockFiles } from '../git/lock.js';
import { DEFAULT_TRANSFER_LIMITS, parseByteSize } from '../git/transfer-limits.js';
import { loadKubeConfig } from '../kube/client.js';
import { EventRecorder } from '../kube/events.js';
import { FluxResources } from '../kube/flux-resources.js';
import { Informer } from '../kube/informer.js';
import { LeaderElector, LeadershipLostError } from '../kube/leader-election.js';
import { createBearerTokenAuthorizer, createKubeAccessReviews } from '../kube/token-review.js';
import { ClusterResources } from '../kube/resources.js';
import { createLogger } from '../logging/logger.js';
import { instrumentEngine } from '../metrics/engine-metrics.js';
import { startMetricsServer } from '../metrics/metrics-server.js';
import { OperatorMetrics } from '../metrics/operator-metrics.js';
import { RollbackMetrics } from '../metrics/rollback-metrics.js';
import { recordAutomaticRollback, recordWebhookRequest } from '../metrics/trigger-metrics.js';
import { createWorkQueueHooks, observeWorkQueue } from '../metrics/work-queue-metrics.js';
import { startAutomatedTriggers } from './automated-triggers.js';
import { FAULT_ENV, injectFault, parseFault } from './fault-injection.js';

const FLAGS = {
  kubeconfig: { type: 'string' },
  'health-probe-bind-address': { type: 'string', default: ':8081' },
  'metrics-bind-address': { type: 'string', default: ':8080' },
  /** /metrics needs a bearer token allowed to get /metrics (TokenReview + SubjectAccessReview); --no-metrics-auth opens it. */
  'metrics-auth': { type: 'boolean', default: true },
  /** The webhook receiver for automated rollback triggers (Flux, Alertmanager); 0 disables it. */
  'webhook-bind-address': { type: 'string', default: ':9292' },
  'leader-elect': { type: 'boolean', default: false },
  'leader-election-namespace': { type: 'string' },
  'leader-election-id': { type: 'string', default: 'gitops-rollback-leader' },
  concurrent: { type: 'string', default: '4' },
  'cache-dir': { type: 'string', default: '/var/cache/gitops-rollback' },
  /** Byte budget of the cache repositories (LRU eviction); keep it below the volume's sizeLimit. */
  'cache-max-bytes': { type: 'string', default: String(DEFAULT_CACHE_MAX_BYTES) },
  'watch-namespace': { type: 'string' },
  'allow-cross-namespace-refs': { type: 'boolean', default: false },
  /** Lets a GitOpsRollbackPolicy name Kustomizations outside its own namespace (off: refused). */
  'allow-cross-namespace-policies': { type: 'boolean', default: false },
  /** Finished GitOpsRollbacks kept per GitOpsRollbackPolicy (older ones are deleted); 0 keeps all. */
  'rollback-history-limit': { type: 'string', default: String(DEFAULT_ROLLBACK_HISTORY_LIMIT) },
  /** Seconds between reads of the Kustomizations while a rollback waits for Flux to apply it. */
  'apply-poll-interval': { type: 'string', default: '2' },
  /** Comma-separated kinds the safety gate protects besides CRD, PVC, PV and Namespace. */
  'safety-protected-kinds': { type: 'string', default: '' },
  'git-timeout': { type: 'string', default: '60' },
  /** Seconds one engine run (in its own worker process) may take in total before it is stopped. */
  'engine-deadline': { type: 'string', default: '600' },
  /** Heap limit of an engine run's worker process, MiB. */
  'engine-memory-limit': { type: 'string', default: '256' },
  /** Git network policy: tenants choose repository URLs, so internal hosts and http:// are refused unless allowed. */
  'allow-private-git-hosts': { type: 'boolean', default: false },
  'allow-insecure-http': { type: 'boolean', default: false },
  /** Comma-separated hosts (or *.domain) repositories may live on; empty: any public host. */
  'git-allowed-hosts': { type: 'string', default: '' },
  /** Total seconds per fetch/push (besides --git-timeout's inactivity limit); byte limits as 128Mi, 32Mi. */
  'git-deadline': { type: 'string', default: String(DEFAULT_TRANSFER_LIMITS.deadlineMs / 1000) },
  'git-max-pack-size': { type: 'string', default: '128Mi' },
  'git-max-object-size': { type: 'string', default: '32Mi' },
  'shutdown-timeout': { type: 'string', default: '30' },
  'log-level': { type: 'string', default: 'info' },
} as const;

export const CONTROLLER_NAME = 'gitopsrollback';

function parseAddress(value: string): { host?: string; port: number } {
  const match = /^(.*):(\d+)$/.exec(value);
  if (!match) throw new Error(`Invalid bind address "${value}" (expected [host]:port)`);
  return { host: match[1] || undefined, port: Number(match[2]) };
}

async function main(): Promise<void> {
  // allowNegative: a later --no-allow-private-git-hosts overrides an earlier flag (tests use it).
  const { values: flags } = parseArgs({ options: FLAGS, strict: true, allowNegative: true });
  const logger = createLogger({ level: flags['log-level'] });
  const kubeConfig = loadKubeConfig(flags.kubeconfig);
  const resources = new ClusterResources(kubeConfig);
  const recorder = new EventRecorder(kubeConfig, 'gitops-rollback-controller', logger);
  const cluster: ClusterPort = {
    getRollback: (ns, name) => resources.getRollback(ns, name),
    patchRollbackStatus: (rollback, status) => resources.patchRollbackStatus(rollback, status),
    getGitRepository: (ns, name) => resources.getGitRepository(ns, name),
    getSecretData: (ns, name) => resources.getSecretData(ns, name),
    getNamespaceAnnotations: (name) => resources.getNamespaceAnnotations(name),
    recordEvent: (rollback, type, reason, message) => recorder.record(rollback, type, reason, message),
  };
  const cacheDir = flags['cache-dir'];
  const cacheMaxBytes = Number(flags['cache-max-bytes']);
  if (!Number.isSafeInteger(cacheMaxBytes) || cacheMaxBytes < 0) throw new Error(`Invalid --cache-max-bytes "${flags['cache-max-bytes']}"`);
  // Lock files left by the previous container (same pid, surviving volume) would block forever.
  const staleLocks = await removeStaleLockFiles(path.join(cacheDir, 'locks'));
  await evictCaches({ fs, cacheDir, maxBytes: cacheMaxBytes, lockDir: path.join(cacheDir, 'locks') });
  logger.info({ cacheDir, cacheMaxBytes, staleLocks }, 'Cache directory ready');
  // One private registry; /metrics is served before the informer syncs, like controller-runtime.
  const metrics = new OperatorMetrics();
  const metricsAddress = flags['metrics-bind-address'];
  const checkAccess = flags['metrics-auth'] ? createBearerTokenAuthorizer(createKubeAccessReviews(kubeConfig), { path: '/metrics', verb: 'get' }) : undefined;
  const metricsServer = metricsAddress === '0' ? undefined : await startMetricsServer(metrics, parseAddress(metricsAddress), { checkAccess });
  const gitTimeoutMs = Number(flags['git-timeout']) * 1000;
  const gitNetwork = readGitNetworkFlags(flags);
  // Aborted when the Lease is lost: engine runs stop before their push, never during it.
  const stopWork = new AbortController();
  const runEngine = createWorkerEngine({
    cacheDir,
    timeoutMs: gitTimeoutMs,
    cacheMaxBytes,
    ...gitNetwork,
    deadlineMs: Number(flags['engine-deadline']) * 1000,
    memoryLimitMb: Number(flags['engine-memory-limit']),
  });
  const reconciler = new RollbackReconciler({
    cluster,
    // Test-only: GITOPS_ROLLBACK_FAULT makes the operator crash at a chosen point (fault-injection.ts).
    runEngine: injectFault(parseFault(process.env[FAULT_ENV]), instrumentEngine(metrics, runEngine)),
    signal: stopWork.signal,
    allowCrossNamespaceRefs: flags['allow-cross-namespace-refs'],
    flux: new FluxResources(kubeConfig),
    applyPollIntervalMs: Number(flags['apply-poll-interval']) * 1000,
    protectedKinds: flags['safety-protected-kinds'].split(',').map((k) => k.trim()).filter(Boolean),
    logger: logger.child({ controller: CONTROLLER_NAME }),
    observer: new RollbackMetrics(metrics),
  });
  const concurrency = Number(flags.concurrent);
  const queue = new WorkQueue({ concurrency, process: (key) => reconciler.reconcile(key), hooks: createWorkQueueHooks(metrics, CONTROLLER_NAME, concurrency) });
  observeWorkQueue(metrics, CONTROLLER_NAME, queue);

  const namespace = flags['watch-namespace'];
  const historyLimit = Number(flags['rollback-history-limit']);
  const policyResources = new PolicyResources(kubeConfig, namespace);
  const history = new RollbackHistory({
    limit: historyLimit,
    isFinished,
    port: { listRollbacks: () => informer.list(), getPolicy: (ns, name) => policyResources.getPolicy(ns, name), deleteRollback: (ns, name, uid) => resources.deleteRollback(ns, name, uid) },
  });
  const historyQueue = new WorkQueue({ concurrency: 1, process: (key) => history.prunePolicy(key) });
  const informer = new Informer<GitOpsRollback>({
    kubeConfig,
    path: namespace ? `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}` : `/apis/${GROUP}/${VERSION}/${PLURAL}`,
    logger,
    // Only identity, owners and the finishing conditions are cached; reconcile reads the object.
    transform: slimRollback,
    // Handlers only enqueue keys; finished rollbacks are never touched again (but for the history limit).
    onEvent: (type, rollback) => {
      if (type === 'DELETED') return;
      if (isFinished(rollback)) {
        const policyKey = policyKeyOf(rollback);
        if (policyKey && historyLimit > 0) historyQueue.add(policyKey);
        return;
      }
      queue.add(`${rollback.metadata.namespace}/${rollback.metadata.name}`);
    },
  });

  let ready = false;
  const health = startHealthServer(parseAddress(flags['health-probe-bind-address']), () => ready);

  await informer.start();
  ready = true;
  logger.info({ apiVersion: API_VERSION, namespace: namespace ?? '(all)' }, 'Informer synced');

  const webhookAddress = flags['webhook-bind-address'];
  const triggers = webhookAddress === '0' ? undefined : await startAutomatedTriggers({
    kubeConfig, logger, cluster, recorder, cacheDir, gitTimeoutMs, gitNetwork,
    address: parseAddress(webhookAddress),
    watchNamespace: namespace,
    allowCrossNamespaceRefs: flags['allow-cross-namespace-refs'],
    allowCrossNamespacePolicies: flags['allow-cross-namespace-policies'],
    onRequest: (source, code) => recordWebhookRequest(metrics, source, code),
    onRollbackCreated: (policy, reason) => recordAutomaticRollback(metrics, policy, reason),
  });

  let elector: LeaderElector | undefined;
  if (flags['leader-elect']) {
    const leaseNamespace = flags['leader-election-namespace'] ?? process.env.POD_NAMESPACE;
    if (!leaseNamespace) throw new Error('--leader-elect needs --leader-election-namespace or POD_NAMESPACE');
    elector = new LeaderElector({
      kubeConfig,
      namespace: leaseNamespace,
      name: flags['leader-election-id'],
      identity: `${os.hostname()}_${process.pid}`,
      logger,
      onStartedLeading: () => {
        logger.info({}, 'Started leading; reconciling');
        queue.start();
        historyQueue.start();
      },
      onStoppedLeading: async () => {
        // Another replica may lead now: take no more work, stop runs that have not started
        // their push, let a push in flight finish and record it, then exit for a fresh start.
        logger.error({}, 'Lost leadership; stopping work at a safe point, then exiting');
        stopWork.abort(new LeadershipLostError());
        await queue.shutDown({ drainTimeoutMs: Number(flags['shutdown-timeout']) * 1000 });
        process.exit(1);
      },
    });
    await elector.start();
  } else {
    queue.start();
    historyQueue.start();
  }

  const shutdown = async (signal: string) => {
    logger.info({ signal }, 'Shutting down: draining work in flight');
    ready = false;
    await queue.shutDown({ drainTimeoutMs: Number(flags['shutdown-timeout']) * 1000 });
    await historyQueue.shutDown({ drainTimeoutMs: 5000 });
    await triggers?.stop();
    await elector?.stop();
    await informer.stop();
    health.close();
    metricsServer?.close();
    logger.info({}, 'Stopped');
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

/** The engine's network policy and transfer limits from the --allow-*-git/http and --git-* flags. */
function readGitNetworkFlags(flags: {
  'allow-private-git-hosts': boolean;
  'allow-insecure-http': boolean;
  'git-allowed-hosts': string;
  'git-deadline': string;
  'git-max-pack-size': string;
  'git-max-object-size': string;
}): { policy: NetworkPolicy; limits: EngineOptions['limits'] } {
  const size = (flag: 'git-max-pack-size' | 'git-max-object-size') => {
    const bytes = parseByteSize(flags[flag]);
    if (bytes === undefined) throw new Error(`Invalid --${flag} "${flags[flag]}" (expected bytes, or a number with Ki, Mi or Gi)`);
    return bytes;
  };
  const deadlineSeconds = Number(flags['git-deadline']);
  if (!(deadlineSeconds > 0)) throw new Error(`Invalid --git-deadline "${flags['git-deadline']}" (expected seconds)`);
  return {
    policy: {
      allowPrivateHosts: flags['allow-private-git-hosts'],
      allowInsecureHttp: flags['allow-insecure-http'],
      allowedHosts: flags['git-allowed-hosts'].split(',').map((h) => h.trim()).filter(Boolean),
    },
    limits: { deadlineMs: deadlineSeconds * 1000, maxPackBytes: size('git-max-pack-size'), maxObjectBytes: size('git-max-object-size') },
  };
}

/** /healthz answers while the process runs; /readyz once the informer has synced. */
function startHealthServer(address: { host?: string; port: number }, isReady: () => boolean): http.Server {
  const server = http.createServer((req, res) => {
    const ok = req.url === '/healthz' || (req.url === '/readyz' && isReady());
    res.writeHead(ok ? 200 : req.url === '/readyz' ? 503 : 404, { 'Content-Type': 'text/plain' });
    res.end(ok ? 'ok' : 'not ready');
  });
  server.listen(address.port, address.host);
  return server;
}

main().catch((error: unknown) => {
  process.stderr.write(`${JSON.stringify({ level: 'fatal', msg: 'Operator failed to start', err: (error as Error).message })}\n`);
  process.exit(1);
});
