/**
 * The operator's composition root, shaped like a controller-runtime main.go after its flags are
 * parsed (./main.ts does that): build the parts (clients, servers, controllers, each controller set
 * up with the manager beside its reconciler), then start the manager, which orders start-up,
 * leader election and shutdown (src/kube/manager.ts).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Logger } from 'pino';
import { createWorkerEngine, createWorkerPrefetcher, createWorkerRangeReader, type WorkerEngineOptions } from '../controller/engine-worker.js';
import type { RunEngine } from '../controller/ports.js';
import { setupCachePrefetch } from '../controller/setup-cache-prefetch.js';
import { setupPolicyController } from '../controller/setup-policy-controller.js';
import { setupRollbackController } from '../controller/setup-rollback-controller.js';
import { evictCaches } from '../git/cache-dir.js';
import { verifyCaches } from '../git/cache-integrity.js';
import { isBranchCached } from '../git/cache-lookup.js';
import { isRemoteUrl, type EngineOptions } from '../git/engine.js';
import { removeStaleLockFiles } from '../git/lock.js';
import type { NetworkPolicy } from '../git/url-policy.js';
import { loadKubeConfig } from '../kube/client.js';
import { createClusterClients, type ClusterClients } from '../kube/cluster-clients.js';
import { startHealthProbeServer } from '../kube/health-probes.js';
import { LeaderElector } from '../kube/leader-election.js';
import { Manager, serverRunnable, type LeaderCallbacks, type LeaderElection, type Runnable } from '../kube/manager.js';
import { createBearerTokenAuthorizer, createKubeAccessReviews } from '../kube/token-review.js';
import { createLogger } from '../logging/logger.js';
import { countCacheHits } from '../metrics/cache-metrics.js';
import { instrumentEngine } from '../metrics/engine-metrics.js';
import { startMetricsServer } from '../metrics/metrics-server.js';
import { OperatorMetrics } from '../metrics/operator-metrics.js';
import { FAULT_ENV, injectFault, parseFault } from './fault-injection.js';
import { createHttpApiTransport } from '../pull-request/api-client.js';
import { pullRequestClientFactory } from '../pull-request/create-client.js';
import type { BindAddress } from './flags/flag-kinds.js';
import type { OperatorOptions } from './operator-flags.js';

/** Builds the parts and runs them until a graceful stop (resolves) or a failure or lost Lease (rejects). */
export async function runOperator(options: OperatorOptions): Promise<void> {
  const logger = createLogger({ level: options.logLevel });
  const kubeConfig = loadKubeConfig(options.kubeconfig);
  const clients = createClusterClients(kubeConfig, { watchNamespace: options.watchNamespace, component: 'gitops-rollback-controller', logger });
  // One private registry; /metrics is served before the informer syncs, like controller-runtime.
  const metrics = new OperatorMetrics();
  await prepareCacheDir(options, logger, metrics);
  const workers = workerOptions(options);

  const manager = new Manager({
    logger,
    shutdownTimeoutMs: options.shutdownTimeoutMs,
    leaderElection: options.leaderElect ? buildLeaderElection(options, clients, logger) : undefined,
  });
  if (options.metricsAddress !== 'off') manager.add(metricsServer(options.metricsAddress, options, metrics, clients));
  manager.add(serverRunnable('health-probes', () => startHealthProbeServer(options.healthProbeAddress, () => manager.isReady)));
  // The git hosts' APIs (pull requests) are reached under the same network policy as their git servers.
  const pullRequests = pullRequestClientFactory(createHttpApiTransport({ policy: workers.policy!, timeoutMs: options.gitTimeoutMs }));
  setupRollbackController(manager, { clients, runEngine: buildEngine(workers, metrics), pullRequests, metrics, logger, settings: options });
  setupCachePrefetch(manager, { clients, metrics, logger, fetch: createWorkerPrefetcher(workers), settings: options });
  if (options.webhookAddress !== 'off')
    setupPolicyController(manager, {
      clients,
      metrics,
      logger,
      address: options.webhookAddress,
      readCommitRange: createWorkerRangeReader(workers),
      settings: options,
    });

  const shutdown = new AbortController();
  process.once('SIGTERM', () => shutdown.abort('SIGTERM'));
  process.once('SIGINT', () => shutdown.abort('SIGINT'));
  await manager.start(shutdown.signal);
}

/**
 * Lock files left by the previous container (same pid, surviving volume) would block forever; a
 * cache repository a crash or a full volume damaged (a persistent cache) would fail a rollback.
 */
async function prepareCacheDir({ cacheDir, cacheMaxBytes }: OperatorOptions, logger: Logger, metrics: OperatorMetrics): Promise<void> {
  const lockDir = path.join(cacheDir, 'locks');
  const staleLocks = await removeStaleLockFiles(lockDir);
  const verified = await verifyCaches({ fs, cacheDir, lockDir });
  for (const { gitdir, problem } of verified.removed)
    logger.warn({ gitdir, problem }, 'Removed a broken cache repository; it is fetched again when next needed');
  metrics.cacheRepositoriesRemoved.inc(verified.removed.length);
  await evictCaches({ fs, cacheDir, maxBytes: cacheMaxBytes, lockDir });
  logger.info({ cacheDir, cacheMaxBytes, staleLocks, sound: verified.sound, removed: verified.removed.length }, 'Cache directory ready');
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

/** Every engine run and commit-range read happens in a worker process with these settings and bounds. */
function workerOptions(options: OperatorOptions): WorkerEngineOptions {
  return {
    cacheDir: options.cacheDir,
    timeoutMs: options.gitTimeoutMs,
    cacheMaxBytes: options.cacheMaxBytes,
    ...buildGitNetwork(options),
    deadlineMs: options.engineDeadlineMs,
    memoryLimitMb: options.engineMemoryLimitMb,
  };
}

/**
 * Engine runs in worker processes, measured (cache hit or miss as each starts, then its git
 * operations); test-only, GITOPS_ROLLBACK_FAULT makes it crash at a chosen point.
 */
function buildEngine(workers: WorkerEngineOptions, metrics: OperatorMetrics): RunEngine {
  const isCached = async ({ url, branch }: { url: string; branch: string }) => isRemoteUrl(url) && isBranchCached(fs, workers.cacheDir, url, branch);
  return injectFault(parseFault(process.env[FAULT_ENV]), countCacheHits(metrics, isCached, instrumentEngine(metrics, createWorkerEngine(workers))));
}

/** --leader-elect: one Lease shared by the replicas; this replica's identity is host and pid. */
function buildLeaderElection(options: OperatorOptions, clients: ClusterClients, logger: Logger): (callbacks: LeaderCallbacks) => LeaderElection {
  return (callbacks: LeaderCallbacks) =>
    new LeaderElector({
      kubeConfig: clients.kubeConfig,
      // parseOperatorFlags refuses --leader-elect without a namespace.
      namespace: options.leaderElectionNamespace!,
      name: options.leaderElectionId,
      identity: `${os.hostname()}_${process.pid}`,
      leaseDurationSeconds: options.leaseDurationMs / 1000,
      renewDeadlineSeconds: options.renewDeadlineMs / 1000,
      retryPeriodSeconds: options.retryPeriodMs / 1000,
      logger,
      ...callbacks,
    });
}

/** /metrics on --metrics-bind-address, behind TokenReview + SubjectAccessReview with --metrics-auth. */
function metricsServer(address: BindAddress, options: OperatorOptions, metrics: OperatorMetrics, clients: ClusterClients): Runnable {
  const checkAccess = options.metricsAuth
    ? createBearerTokenAuthorizer(createKubeAccessReviews(clients.kubeConfig), { path: '/metrics', verb: 'get' })
    : undefined;
  return serverRunnable('metrics', () => startMetricsServer(metrics, address, { checkAccess }));
}
