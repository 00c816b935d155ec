/**
 * Sets up the GitOpsRollback controller with the manager, as Flux's controllers do in
 * `SetupWithManager` beside their reconciler: an informer whose handlers only enqueue keys, the
 * work queue and the reconciler behind it, and the history pruning of policy-created rollbacks.
 * The informer runs on every replica (a standby's cache is warm when it takes over); the queues
 * need the Lease.
 */
import type { Logger } from 'pino';
import { API_VERSION, GROUP, PLURAL, VERSION, type GitOpsRollback } from '../api/v1alpha1/types.js';
import { collectionPath, type ClusterClients } from '../kube/cluster-clients.js';
import { Informer } from '../kube/informer.js';
import { queueRunnable, type Manager } from '../kube/manager.js';
import type { OperatorMetrics } from '../metrics/operator-metrics.js';
import { RollbackMetrics } from '../metrics/rollback-metrics.js';
import { createWorkQueueHooks, observeWorkQueue } from '../metrics/work-queue-metrics.js';
import { slimRollback } from './cached-objects.js';
import type { ClusterPort, RunEngine } from './ports.js';
import { isFinished, RollbackReconciler } from './reconciler.js';
import { policyKeyOf, RollbackHistory } from './rollback-history.js';
import { WorkQueue } from './work-queue.js';
import { objectKey } from '../object-key.js';
import type { PullRequestClientFactory } from '../pull-request/create-client.js';

export const ROLLBACK_CONTROLLER_NAME = 'gitopsrollback';

/** The operator flags this controller reads (named as in cli/operator-flags.ts). */
export interface RollbackControllerSettings {
  concurrent: number;
  shutdownTimeoutMs: number;
  rollbackHistoryLimit: number;
  allowCrossNamespaceRefs: boolean;
  applyPollIntervalMs: number;
  mergePollIntervalMs: number;
  protectedKinds: string[];
}

export interface RollbackControllerDeps {
  clients: ClusterClients;
  /** The engine (worker processes, instrumented). */
  runEngine: RunEngine;
  /** The git hosts' API clients for spec.pullRequest (through the operator's network policy). */
  pullRequests: PullRequestClientFactory;
  metrics: OperatorMetrics;
  logger: Logger;
  settings: RollbackControllerSettings;
}

export function setupRollbackController(manager: Manager, { clients, runEngine, pullRequests, metrics, logger, settings }: RollbackControllerDeps): void {
  const reconciler = new RollbackReconciler({
    cluster: clusterPortOf(clients),
    runEngine,
    // Aborted when the Lease is lost: engine runs stop before their push, never during it.
    signal: manager.leadershipLost,
    allowCrossNamespaceRefs: settings.allowCrossNamespaceRefs,
    flux: clients.flux,
    applyPollIntervalMs: settings.applyPollIntervalMs,
    pullRequests,
    mergePollIntervalMs: settings.mergePollIntervalMs,
    protectedKinds: settings.protectedKinds,
    logger: logger.child({ controller: ROLLBACK_CONTROLLER_NAME }),
    observer: new RollbackMetrics(metrics),
  });
  const concurrency = settings.concurrent;
  const hooks = createWorkQueueHooks(metrics, ROLLBACK_CONTROLLER_NAME, concurrency);
  const queue = new WorkQueue({ concurrency, process: (key) => reconciler.reconcile(key), hooks });
  observeWorkQueue(metrics, ROLLBACK_CONTROLLER_NAME, queue);

  const historyLimit = settings.rollbackHistoryLimit;
  const history = new RollbackHistory({
    limit: historyLimit,
    isFinished,
    port: {
      listRollbacks: () => informer.list(),
      getPolicy: (ns, name) => clients.policies.getPolicy(ns, name),
      deleteRollback: (ns, name, uid) => clients.resources.deleteRollback(ns, name, uid),
    },
  });
  const historyQueue = new WorkQueue({ concurrency: 1, process: (key) => history.prunePolicy(key) });
  const namespace = clients.watchNamespace;
  const informer = new Informer<GitOpsRollback>({
    kubeConfig: clients.kubeConfig,
    path: collectionPath({ group: GROUP, version: VERSION, plural: PLURAL }, namespace),
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
      queue.add(objectKey(rollback));
    },
  });

  manager.add({
    name: 'gitopsrollback-informer',
    group: 'cache',
    needLeaderElection: false,
    start: async () => {
      await informer.start();
      logger.info({ apiVersion: API_VERSION, namespace: namespace ?? '(all)' }, 'Informer synced');
    },
    stop: () => informer.stop(),
  });
  const drain = { needLeaderElection: true, drainTimeoutMs: settings.shutdownTimeoutMs };
  manager.add(queueRunnable(ROLLBACK_CONTROLLER_NAME, queue, drain));
  manager.add(queueRunnable('gitopsrollback-history', historyQueue, drain));
}

/** The reconciler's port onto the shared clients. */
function clusterPortOf({ resources, recorder }: ClusterClients): ClusterPort {
  return {
    getRollback: (ns, name) => resources.getRollback(ns, name),
    patchRollbackStatus: (rollback, patch) => resources.patchRollbackStatus(rollback, patch),
    getGitRepository: (ns, name) => resources.getGitRepository(ns, name),
    getSecretData: (ns, name) => resources.getSecretData(ns, name),
    getNamespaceAnnotations: (name) => resources.getNamespaceAnnotations(name),
    recordEvent: (rollback, type, reason, message) => recorder.record(rollback, type, reason, message),
  };
}
