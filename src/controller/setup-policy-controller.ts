/**
 * Sets up the GitOpsRollbackPolicy controller (automated rollback triggers) with the manager, as
 * Flux's `SetupWithManager` does beside each reconciler: the webhook receiver, its trigger queue
 * and processor, and the revision tracker fed by informers on GitOpsRollbackPolicies and Flux
 * Kustomizations. None of it needs the Lease: every replica runs all of it, because rollback names
 * are deterministic and status writes are guarded by resourceVersion, so replicas cannot create
 * duplicates or lose writes.
 */
import type { Logger } from 'pino';
import { POLICY_PLURAL, type GitOpsRollbackPolicy } from '../api/v1alpha1/policy-types.js';
import { GROUP, VERSION } from '../api/v1alpha1/types.js';
import { KUSTOMIZATION_RESOURCE } from '../flux/api-resources.js';
import type { Kustomization } from '../flux/kustomization.js';
import type { RepositoryTarget } from '../git/engine.js';
import type { RangeCommit } from '../git/read-range.js';
import { collectionPath, type ClusterClients } from '../kube/cluster-clients.js';
import { Informer } from '../kube/informer.js';
import { queueRunnable, serverRunnable, type Manager } from '../kube/manager.js';
import type { OperatorMetrics } from '../metrics/operator-metrics.js';
import { recordAutomaticRollback, recordWebhookRequest } from '../metrics/trigger-metrics.js';
import { cachedLoader } from '../webhook/access-cache.js';
import { startWebhookReceiver, type PolicyAccess } from '../webhook/receiver.js';
import { TriggerQueue } from '../webhook/trigger-queue.js';
import { slimKustomization } from './cached-objects.js';
import type { PolicyClusterPort } from './policy-ports.js';
import { resolveGitRepositoryRef } from './resolve-repository.js';
import { RevisionTracker } from './revision-tracker.js';
import { TriggerProcessor } from './trigger-processor.js';
import { WorkQueue } from './work-queue.js';
import { CodedError } from '../coded-error.js';
import { objectKey, splitObjectKey } from '../object-key.js';

export const POLICY_CONTROLLER_NAME = 'gitopsrollbackpolicy';

/** How long the receiver reuses a policy and its token: a rotated token takes effect within it. */
const ACCESS_CACHE_TTL_MS = 5000;

/** Thrown when a policy names a token Secret that cannot be used: requests are refused. */
class TokenUnavailableError extends CodedError {
  readonly code = 'TokenUnavailableError' as const;
}

/** The operator flags this controller reads (named as in cli/operator-flags.ts). */
export interface PolicyControllerSettings {
  allowCrossNamespaceRefs: boolean;
  /** `--allow-cross-namespace-policies`: policies may name Kustomizations outside their namespace. */
  allowCrossNamespacePolicies: boolean;
  /** `--shutdown-timeout`: how long the revision tracker's queue may drain. */
  shutdownTimeoutMs: number;
}

export interface PolicyControllerDeps {
  clients: ClusterClients;
  metrics: OperatorMetrics;
  logger: Logger;
  /** Where the receiver listens (--webhook-bind-address). */
  address: { host?: string; port: number };
  /** Reads a commit range of a repository (in a worker process, with the operator's network policy and limits). */
  readCommitRange: (target: RepositoryTarget, from: string, to: string) => Promise<RangeCommit[]>;
  settings: PolicyControllerSettings;
}

export function setupPolicyController(manager: Manager, deps: PolicyControllerDeps): void {
  const { metrics, address, settings } = deps;
  const log = deps.logger.child({ controller: POLICY_CONTROLLER_NAME });
  const cluster = policyClusterPortOf(deps.clients);
  const triggers = buildTriggerQueue(deps, cluster, log);
  const tracking = buildRevisionTracking(deps.clients, cluster, settings, log);
  const loadAccess = policyAccessLoader(deps.clients);

  manager.add(
    serverRunnable('webhook-receiver', async () => {
      const receiver = await startWebhookReceiver({
        host: address.host,
        port: address.port,
        logger: log,
        onRequest: (source, code) => recordWebhookRequest(metrics, source, code),
        enqueue: (trigger) => triggers.add(trigger),
        loadPolicy: (namespace, name) => loadAccess(`${namespace}/${name}`),
      });
      log.info({ port: receiver.port }, 'Webhook receiver listening');
      return receiver;
    }),
  );
  manager.add({
    name: 'policy-informers',
    group: 'cache',
    needLeaderElection: false,
    // Not awaited: without Flux's CRDs installed the informers keep retrying, and the receiver and
    // the rest of the operator work regardless.
    start: () => {
      void tracking.policies.start().catch(() => undefined);
      void tracking.kustomizations.start().catch(() => undefined);
    },
    stop: () => Promise.all([tracking.policies.stop(), tracking.kustomizations.stop()]).then(() => undefined),
  });
  manager.add({ name: 'trigger-queue', group: 'worker', needLeaderElection: false, start: () => undefined, stop: () => triggers.stop() });
  manager.add(queueRunnable('revision-tracker', tracking.queue, { needLeaderElection: false, drainTimeoutMs: settings.shutdownTimeoutMs }));
}

/** The policy controller's port onto the shared clients. */
function policyClusterPortOf({ policies, flux, recorder }: ClusterClients): PolicyClusterPort {
  return {
    getPolicy: (ns, name) => policies.getPolicy(ns, name),
    patchPolicyStatus: (policy, patch) => policies.patchPolicyStatus(policy, patch),
    getKustomization: (namespace, name) => flux.getKustomizationObject({ namespace, name }),
    listPolicyRollbacks: (policy) => policies.listPolicyRollbacks(policy),
    createRollback: (rollback) => policies.createRollback(rollback),
    recordEvent: (policy, type, reason, message) => recorder.record(policy as GitOpsRollbackPolicy & { metadata: object }, type, reason, message),
  };
}

/** Triggers from the receiver, each decided by the TriggerProcessor; created rollbacks counted. */
function buildTriggerQueue({ clients, metrics, readCommitRange, settings }: PolicyControllerDeps, cluster: PolicyClusterPort, log: Logger): TriggerQueue {
  const processor = new TriggerProcessor({
    cluster,
    allowCrossNamespaceRefs: settings.allowCrossNamespaceRefs,
    allowCrossNamespacePolicies: settings.allowCrossNamespacePolicies,
    logger: log,
    readCommitRange: async (source, from, to) => {
      // The same resolution as a rollback of this source would get (cross-namespace already checked).
      const target = await resolveGitRepositoryRef(clients.resources, source);
      return readCommitRange(target, from, to);
    },
  });
  return new TriggerQueue({
    process: async (trigger) => {
      const outcome = await processor.process(trigger);
      if (outcome.action === 'created') recordAutomaticRollback(metrics, `${trigger.policy.namespace}/${trigger.policy.name}`, trigger.reason);
    },
    onError: (trigger, error, willRetry) =>
      log.warn({ policy: `${trigger.policy.namespace}/${trigger.policy.name}`, err: (error as Error).message, willRetry }, 'Trigger processing failed'),
  });
}

/**
 * The revision tracker and what feeds it: informers on policies and Kustomizations, whose
 * changes enqueue the keys of the policies concerned.
 */
function buildRevisionTracking(
  clients: ClusterClients,
  cluster: PolicyClusterPort,
  settings: PolicyControllerSettings,
  log: Logger,
): { policies: Informer<GitOpsRollbackPolicy>; kustomizations: Informer<Kustomization>; queue: WorkQueue } {
  let kustomizations: Informer<Kustomization> | undefined = undefined;
  const tracker = new RevisionTracker({
    cluster,
    listKustomizations: () => kustomizations?.list() ?? [],
    hasSynced: () => kustomizations?.hasSynced ?? false,
    allowCrossNamespacePolicies: settings.allowCrossNamespacePolicies,
  });
  const queue = new WorkQueue({ concurrency: 2, process: (key) => tracker.syncPolicy(key) });
  const policies = new Informer<GitOpsRollbackPolicy>({
    kubeConfig: clients.kubeConfig,
    path: collectionPath({ group: GROUP, version: VERSION, plural: POLICY_PLURAL }, clients.watchNamespace),
    logger: log,
    onEvent: (type, policy) => {
      if (type !== 'DELETED') queue.add(objectKey(policy));
    },
  });
  kustomizations = new Informer({
    kubeConfig: clients.kubeConfig,
    // Kustomizations anywhere a policy may look (the watched namespace only, with --watch-namespace,
    // where the namespace-scoped install's Role grants no cluster-wide list).
    path: collectionPath(KUSTOMIZATION_RESOURCE, clients.watchNamespace),
    logger: log,
    transform: slimKustomization,
    onEvent: (_type, kustomization) => {
      for (const key of RevisionTracker.policiesCovering(policies.list(), kustomization)) queue.add(key);
    },
  });
  return { policies, kustomizations, queue };
}

/** The receiver's view of a policy: the policy and its token, cached for a few seconds. */
function policyAccessLoader({ policies, resources, watchNamespace }: ClusterClients): (key: string) => Promise<PolicyAccess | null> {
  return cachedLoader(
    async (key): Promise<PolicyAccess | null> => {
      const { namespace, name } = splitObjectKey(key);
      if (watchNamespace && namespace !== watchNamespace) return null;
      const policy = await policies.getPolicy(namespace, name);
      if (!policy) return null;
      const secretName = policy.spec.secretRef?.name;
      // No Secret named (a policy stored before secretRef was required): the receiver refuses.
      if (!secretName) return { policy, token: undefined };
      const secret = await resources.getSecretData(namespace, secretName);
      if (!secret?.token) throw new TokenUnavailableError(`Secret ${namespace}/${secretName} of policy ${namespace}/${name} is missing or has no token key`);
      return { policy, token: secret.token };
    },
    { ttlMs: ACCESS_CACHE_TTL_MS, maxEntries: 1000 },
  );
}
