/**
 * Wires automated rollback triggers for the operator: the webhook receiver, its trigger queue and
 * processor, and the revision tracker fed by informers on GitOpsRollbackPolicies and Flux
 * Kustomizations. Every replica runs all of it: rollback names are deterministic and status
 * writes are guarded by resourceVersion, so replicas cannot create duplicates or lose writes.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { POLICY_PLURAL, type GitOpsRollbackPolicy } from '../api/v1alpha1/policy-types.js';
import { GROUP, VERSION, type GitOpsRollback } from '../api/v1alpha1/types.js';
import type { ClusterPort } from '../controller/ports.js';
import type { PolicyClusterPort } from '../controller/policy-ports.js';
import { slimKustomization } from '../controller/cached-objects.js';
import { resolveRepository } from '../controller/resolve-repository.js';
import { RevisionTracker } from '../controller/revision-tracker.js';
import { TriggerProcessor } from '../controller/trigger-processor.js';
import { WorkQueue } from '../controller/work-queue.js';
import { KUSTOMIZATION_RESOURCE, type ApiResource } from '../flux/api-resources.js';
import type { Kustomization } from '../flux/kustomization.js';
import type { EngineOptions } from '../git/engine.js';
import { readCommitRange } from '../git/read-range.js';
import type { EventRecorder } from '../kube/events.js';
import { FluxResources } from '../kube/flux-resources.js';
import { Informer } from '../kube/informer.js';
import { PolicyResources } from '../kube/policy-resources.js';
import { cachedLoader } from '../webhook/access-cache.js';
import { startWebhookReceiver, type PolicyAccess, type WebhookReceiverOptions } from '../webhook/receiver.js';
import { TriggerQueue } from '../webhook/trigger-queue.js';

export interface AutomatedTriggersOptions {
  kubeConfig: KubeConfig;
  logger: Logger;
  address: { host?: string; port: number };
  watchNamespace?: string;
  /** The reconciler's cluster port: GitRepositories and Secrets for reading commit ranges. */
  cluster: ClusterPort;
  recorder: EventRecorder;
  cacheDir: string;
  gitTimeoutMs: number;
  /** The operator's network policy and transfer limits, as for rollbacks. */
  gitNetwork?: Pick<EngineOptions, 'policy' | 'limits'>;
  allowCrossNamespaceRefs: boolean;
  /** `--allow-cross-namespace-policies`: policies may name Kustomizations outside their namespace. */
  allowCrossNamespacePolicies: boolean;
  onRequest?: WebhookReceiverOptions['onRequest'];
  /** Told of each GitOpsRollback a trigger created (for gitops_rollback_automatic_total). */
  onRollbackCreated?: (policy: string, reason: string) => void;
}

export interface AutomatedTriggers {
  port: number;
  stop(): Promise<void>;
}

/** How long the receiver reuses a policy and its token: a rotated token takes effect within it. */
const ACCESS_CACHE_TTL_MS = 5000;

/** Thrown when a policy names a token Secret that cannot be used: requests are refused. */
class TokenUnavailableError extends Error {
  readonly code = 'TokenUnavailableError';
}

/** Starts the receiver (resolves once it listens) and the informers (in the background). */
export async function startAutomatedTriggers(options: AutomatedTriggersOptions): Promise<AutomatedTriggers> {
  const { kubeConfig, logger, watchNamespace, cluster } = options;
  const log = logger.child({ controller: 'gitopsrollbackpolicy' });
  const resources = new PolicyResources(kubeConfig, watchNamespace);
  const flux = new FluxResources(kubeConfig);
  const policyCluster: PolicyClusterPort = {
    getPolicy: (ns, name) => resources.getPolicy(ns, name),
    listPolicies: () => resources.listPolicies(),
    replacePolicyStatus: (policy, status) => resources.replacePolicyStatus(policy, status),
    getKustomization: (namespace, name) => flux.getKustomizationObject({ namespace, name }),
    listPolicyRollbacks: (policy) => resources.listPolicyRollbacks(policy),
    createRollback: (rollback) => resources.createRollback(rollback),
    recordEvent: (policy, type, reason, message) => options.recorder.record(policy as GitOpsRollbackPolicy & { metadata: object }, type, reason, message),
  };

  const processor = new TriggerProcessor({
    cluster: policyCluster,
    allowCrossNamespaceRefs: options.allowCrossNamespaceRefs,
    allowCrossNamespacePolicies: options.allowCrossNamespacePolicies,
    logger: log,
    readCommitRange: async (source, from, to) => {
      // The same resolution as a rollback of this source would get (cross-namespace already checked).
      const probe = { metadata: { namespace: source.namespace }, spec: { sourceRef: { kind: 'GitRepository', name: source.name } } } as GitOpsRollback;
      const target = await resolveRepository(cluster, probe, true);
      return readCommitRange(target, from, to, { cacheDir: options.cacheDir, timeoutMs: options.gitTimeoutMs, ...options.gitNetwork });
    },
  });
  const triggers = new TriggerQueue({
    process: async (trigger) => {
      const outcome = await processor.process(trigger);
      if (outcome.action === 'created') options.onRollbackCreated?.(`${trigger.policy.namespace}/${trigger.policy.name}`, trigger.reason);
    },
    onError: (trigger, error, willRetry) => log.warn({ policy: `${trigger.policy.namespace}/${trigger.policy.name}`, err: (error as Error).message, willRetry }, 'Trigger processing failed'),
  });

  const collection = ({ group, version, plural }: ApiResource) =>
    watchNamespace ? `/apis/${group}/${version}/namespaces/${watchNamespace}/${plural}` : `/apis/${group}/${version}/${plural}`;
  let kustomizations: Informer<Kustomization> | undefined = undefined;
  const tracker = new RevisionTracker({
    cluster: policyCluster,
    listKustomizations: () => kustomizations?.list() ?? [],
    hasSynced: () => kustomizations?.hasSynced ?? false,
    allowCrossNamespacePolicies: options.allowCrossNamespacePolicies,
  });
  const trackerQueue = new WorkQueue({ concurrency: 2, process: (key) => tracker.syncPolicy(key) });
  const policies = new Informer<GitOpsRollbackPolicy>({
    kubeConfig,
    path: collection({ group: GROUP, version: VERSION, plural: POLICY_PLURAL }),
    logger: log,
    onEvent: (type, policy) => {
      if (type !== 'DELETED') trackerQueue.add(`${policy.metadata.namespace}/${policy.metadata.name}`);
    },
  });
  kustomizations = new Informer({
    kubeConfig,
    // Kustomizations anywhere a policy may look (the watched namespace only, with --watch-namespace,
    // where the namespace-scoped install's Role grants no cluster-wide list).
    path: collection(KUSTOMIZATION_RESOURCE),
    logger: log,
    transform: slimKustomization,
    onEvent: (_type, kustomization) => {
      for (const key of RevisionTracker.policiesCovering(policies.list(), kustomization)) trackerQueue.add(key);
    },
  });
  trackerQueue.start();
  // Not awaited: without Flux's CRDs installed the informers keep retrying, and the receiver and
  // the rest of the operator work regardless.
  void policies.start().catch(() => undefined);
  void kustomizations.start().catch(() => undefined);

  const loadAccess = cachedLoader(async (key): Promise<PolicyAccess | null> => {
    const [namespace, name] = key.split('/');
    if (watchNamespace && namespace !== watchNamespace) return null;
    const policy = await resources.getPolicy(namespace, name);
    if (!policy) return null;
    const secretName = policy.spec.secretRef?.name;
    // No Secret named (a policy stored before secretRef was required): the receiver refuses.
    if (!secretName) return { policy, token: undefined };
    const secret = await cluster.getSecretData(namespace, secretName);
    if (!secret?.token) throw new TokenUnavailableError(`Secret ${namespace}/${secretName} of policy ${namespace}/${name} is missing or has no token key`);
    return { policy, token: secret.token };
  }, { ttlMs: ACCESS_CACHE_TTL_MS, maxEntries: 1000 });
  const receiver = await startWebhookReceiver({
    host: options.address.host,
    port: options.address.port,
    logger: log,
    onRequest: options.onRequest,
    enqueue: (trigger) => triggers.add(trigger),
    loadPolicy: (namespace, name) => loadAccess(`${namespace}/${name}`),
  });
  log.info({ port: receiver.port }, 'Webhook receiver listening');

  return {
    port: receiver.port,
    stop: async () => {
      await receiver.close();
      await triggers.stop();
      await trackerQueue.shutDown({ drainTimeoutMs: 5000 });
      await Promise.all([policies.stop(), kustomizations!.stop()]);
    },
  };
}
