#!/usr/bin/env node
/**
 * The operator's composition root: reads flags and environment (the only place that does),
 * wires the Kubernetes client, informer, work queue, leader election, reconciler and engine, and
 * serves health probes. SIGTERM drains the work in flight, releases the lease, then exits.
 */
import * as http from 'node:http';
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import { API_VERSION, GROUP, PLURAL, VERSION, type GitOpsRollback } from '../api/v1alpha1/types.js';
import { isFinished, RollbackReconciler } from '../controller/reconciler.js';
import type { ClusterPort } from '../controller/ports.js';
import { WorkQueue } from '../controller/work-queue.js';
import { runRollback } from '../git/engine.js';
import { loadKubeConfig } from '../kube/client.js';
import { EventRecorder } from '../kube/events.js';
import { FluxResources } from '../kube/flux-resources.js';
import { Informer } from '../kube/informer.js';
import { LeaderElector } from '../kube/leader-election.js';
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
  /** The webhook receiver for automated rollback triggers (Flux, Alertmanager); 0 disables it. */
  'webhook-bind-address': { type: 'string', default: ':9292' },
  'leader-elect': { type: 'boolean', default: false },
  'leader-election-namespace': { type: 'string' },
  'leader-election-id': { type: 'string', default: 'gitops-rollback-leader' },
  concurrent: { type: 'string', default: '4' },
  'cache-dir': { type: 'string', default: '/var/cache/gitops-rollback' },
  'watch-namespace': { type: 'string' },
  'allow-cross-namespace-refs': { type: 'boolean', default: false },
  /** Seconds between reads of the Kustomizations while a rollback waits for Flux to apply it. */
  'apply-poll-interval': { type: 'string', default: '2' },
  /** Comma-separated kinds the safety gate protects besides CRD, PVC, PV and Namespace. */
  'safety-protected-kinds': { type: 'string', default: '' },
  'git-timeout': { type: 'string', default: '60' },
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
  const { values: flags } = parseArgs({ options: FLAGS, strict: true });
  const logger = createLogger({ level: flags['log-level'] });
  const kubeConfig = loadKubeConfig(flags.kubeconfig);
  const resources = new ClusterResources(kubeConfig);
  const recorder = new EventRecorder(kubeConfig, 'gitops-rollback-controller', logger);
  const cluster: ClusterPort = {
    getRollback: (ns, name) => resources.getRollback(ns, name),
    patchRollbackStatus: (rollback, status) => resources.patchRollbackStatus(rollback, status),
    getGitRepository: (ns, name) => resources.getGitRepository(ns, name),
    getSecretData: (ns, name) => resources.getSecretData(ns, name),
    recordEvent: (rollback, type, reason, message) => recorder.record(rollback, type, reason, message),
  };
  const cacheDir = flags['cache-dir'];
  // One private registry; /metrics is served before the informer syncs, like controller-runtime.
  const metrics = new OperatorMetrics();
  const metricsAddress = flags['metrics-bind-address'];
  const metricsServer = metricsAddress === '0' ? undefined : await startMetricsServer(metrics, parseAddress(metricsAddress));
  const gitTimeoutMs = Number(flags['git-timeout']) * 1000;
  const reconciler = new RollbackReconciler({
    cluster,
    // Test-only: GITOPS_ROLLBACK_FAULT makes the operator crash at a chosen point (fault-injection.ts).
    runEngine: injectFault(parseFault(process.env[FAULT_ENV]), instrumentEngine(metrics, (request, hooks) => runRollback(request, { cacheDir, timeoutMs: gitTimeoutMs, ...hooks }))),
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
  const informer = new Informer<GitOpsRollback>({
    kubeConfig,
    path: namespace ? `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}` : `/apis/${GROUP}/${VERSION}/${PLURAL}`,
    logger,
    // Handlers only enqueue keys; finished rollbacks are never touched again.
    onEvent: (type, rollback) => {
      if (type === 'DELETED' || isFinished(rollback)) return;
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
    kubeConfig, logger, cluster, recorder, cacheDir, gitTimeoutMs,
    address: parseAddress(webhookAddress),
    watchNamespace: namespace,
    allowCrossNamespaceRefs: flags['allow-cross-namespace-refs'],
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
      },
      onStoppedLeading: () => {
        // Another replica may lead now: stop at once rather than risk two writers.
        logger.error({}, 'Lost leadership; exiting');
        process.exit(1);
      },
    });
    await elector.start();
  } else {
    queue.start();
  }

  const shutdown = async (signal: string) => {
    logger.info({ signal }, 'Shutting down: draining work in flight');
    ready = false;
    await queue.shutDown({ drainTimeoutMs: Number(flags['shutdown-timeout']) * 1000 });
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
