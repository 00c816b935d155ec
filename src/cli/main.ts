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
import { API_VERSION, GROUP, PLURAL, VERSION, type GitOpsRollback } from '../api/v1alpha1/types.js';
import { slimRollback } from '../controller/cached-objects.js';
import { isFinished, RollbackReconciler } from '../controller/reconciler.js';
import { policyKeyOf, RollbackHistory } from '../controller/rollback-history.js';
import { PolicyResources } from '../kube/policy-resources.js';
import type { ClusterPort } from '../controller/ports.js';
import { createWorkerEngine } from '../controller/engine-worker.js';
import { WorkQueue } from '../controller/work-queue.js';
import { evictCaches } from '../git/cache-dir.js';
import type { EngineOptions } from '../git/engine.js';
import type { NetworkPolicy } from '../git/url-policy.js';
import { removeStaleLockFiles } from '../git/lock.js';
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
import type { BindAddress } from './flags/flag-kinds.js';
import { FlagError } from './flags/parse-flags.js';
import { formatOperatorHelp, parseOperatorFlags, type OperatorOptions } from './operator-flags.js';

export const CONTROLLER_NAME = 'gitopsrollback';

async function main(): Promise<void> {
  // Flags first: --help and a bad flag end here, before any kubeconfig is read.
  const options = readOptionsOrExit(process.argv.slice(2));
  if (!options) return;
  const logger = createLogger({ level: options.logLevel });
  const kubeConfig = loadKubeConfig(options.kubeconfig);
  const resources = new ClusterResources(kubeConfig);
  const recorder = new EventRecorder(kubeConfig, 'gitops-rollback-controller', logger);
  const cluster: ClusterPort = {
    getRollback: (ns, name) => resources.getRollback(ns, name),
    patchRollbackStatus: (rollback, patch) => resources.patchRollbackStatus(rollback, patch),
    getGitRepository: (ns, name) => resources.getGitRepository(ns, name),
    getSecretData: (ns, name) => resources.getSecretData(ns, name),
    getNamespaceAnnotations: (name) => resources.getNamespaceAnnotations(name),
    recordEvent: (rollback, type, reason, message) => recorder.record(rollback, type, reason, message),
  };
  const { cacheDir, cacheMaxBytes } = options;
  // Lock files left by the previous container (same pid, surviving volume) would block forever.
  const staleLocks = await removeStaleLockFiles(path.join(cacheDir, 'locks'));
  await evictCaches({ fs, cacheDir, maxBytes: cacheMaxBytes, lockDir: path.join(cacheDir, 'locks') });
  logger.info({ cacheDir, cacheMaxBytes, staleLocks }, 'Cache directory ready');
  // One private registry; /metrics is served before the informer syncs, like controller-runtime.
  const metrics = new OperatorMetrics();
  const { metricsAddress, gitTimeoutMs } = options;
  const checkAccess = options.metricsAuth ? createBearerTokenAuthorizer(createKubeAccessReviews(kubeConfig), { path: '/metrics', verb: 'get' }) : undefined;
  const metricsServer = metricsAddress === 'off' ? undefined : await startMetricsServer(metrics, metricsAddress, { checkAccess });
  const gitNetwork = buildGitNetwork(options);
  // Aborted when the Lease is lost: engine runs stop before their push, never during it.
  const stopWork = new AbortController();
  const runEngine = createWorkerEngine({
    cacheDir,
    timeoutMs: gitTimeoutMs,
    cacheMaxBytes,
    ...gitNetwork,
    deadlineMs: options.engineDeadlineMs,
    memoryLimitMb: options.engineMemoryLimitMb,
  });
  const reconciler = new RollbackReconciler({
    cluster,
    // Test-only: GITOPS_ROLLBACK_FAULT makes the operator crash at a chosen point (fault-injection.ts).
    runEngine: injectFault(parseFault(process.env[FAULT_ENV]), instrumentEngine(metrics, runEngine)),
    signal: stopWork.signal,
    allowCrossNamespaceRefs: options.allowCrossNamespaceRefs,
    flux: new FluxResources(kubeConfig),
    applyPollIntervalMs: options.applyPollIntervalMs,
    protectedKinds: options.protectedKinds,
    logger: logger.child({ controller: CONTROLLER_NAME }),
    observer: new RollbackMetrics(metrics),
  });
  const concurrency = options.concurrent;
  const queue = new WorkQueue({ concurrency, process: (key) => reconciler.reconcile(key), hooks: createWorkQueueHooks(metrics, CONTROLLER_NAME, concurrency) });
  observeWorkQueue(metrics, CONTROLLER_NAME, queue);

  const namespace = options.watchNamespace;
  const historyLimit = options.rollbackHistoryLimit;
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
  const health = startHealthServer(options.healthProbeAddress, () => ready);

  await informer.start();
  ready = true;
  logger.info({ apiVersion: API_VERSION, namespace: namespace ?? '(all)' }, 'Informer synced');

  const { webhookAddress } = options;
  const triggers = webhookAddress === 'off' ? undefined : await startAutomatedTriggers({
    kubeConfig, logger, cluster, recorder, cacheDir, gitTimeoutMs, gitNetwork,
    address: webhookAddress,
    watchNamespace: namespace,
    allowCrossNamespaceRefs: options.allowCrossNamespaceRefs,
    allowCrossNamespacePolicies: options.allowCrossNamespacePolicies,
    onRequest: (source, code) => recordWebhookRequest(metrics, source, code),
    onRollbackCreated: (policy, reason) => recordAutomaticRollback(metrics, policy, reason),
  });

  let elector: LeaderElector | undefined;
  if (options.leaderElect) {
    elector = new LeaderElector({
      kubeConfig,
      // parseOperatorFlags refuses --leader-elect without a namespace.
      namespace: options.leaderElectionNamespace!,
      name: options.leaderElectionId,
      identity: `${os.hostname()}_${process.pid}`,
      leaseDurationSeconds: options.leaseDurationMs / 1000,
      renewDeadlineSeconds: options.renewDeadlineMs / 1000,
      retryPeriodSeconds: options.retryPeriodMs / 1000,
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
        await queue.shutDown({ drainTimeoutMs: options.shutdownTimeoutMs });
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
    await queue.shutDown({ drainTimeoutMs: options.shutdownTimeoutMs });
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

/**
 * The options of the command line, or undefined when the process should end without running:
 * --help printed (exit 0), or a bad flag reported on stderr (exit 2, as Go's flag package does).
 */
function readOptionsOrExit(argv: string[]): OperatorOptions | undefined {
  try {
    const parsed = parseOperatorFlags(argv, process.env);
    if (!parsed.help) return parsed.options;
    process.stdout.write(formatOperatorHelp());
    process.exitCode = 0;
  } catch (error) {
    if (!(error instanceof FlagError)) throw error;
    process.stderr.write(`${error.message}\nRun with --help to list the flags.\n`);
    process.exitCode = 2;
  }
  return undefined;
}

/** The engine's network policy and transfer limits from the --allow-*-git/http and --git-* flags. */
function buildGitNetwork(options: OperatorOptions): { policy: NetworkPolicy; limits: EngineOptions['limits'] } {
  return {
    policy: {
      allowPrivateHosts: options.allowPrivateGitHosts,
      allowInsecureHttp: options.allowInsecureHttp,
      allowedHosts: options.gitAllowedHosts,
    },
    limits: { deadlineMs: options.gitDeadlineMs, maxPackBytes: options.gitMaxPackBytes, maxObjectBytes: options.gitMaxObjectBytes },
  };
}

/** /healthz answers while the process runs; /readyz once the informer has synced. */
function startHealthServer(address: BindAddress, isReady: () => boolean): http.Server {
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
