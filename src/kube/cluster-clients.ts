/**
 * The operator's API clients, made once from one kubeconfig and shared by its controllers, as
 * controller-runtime's manager hands every controller the same client (`mgr.GetClient()`). Each
 * is built with createApiClient, so each request follows the one timeout policy of client.ts.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { EventRecorder } from './events.js';
import { FluxResources } from './flux-resources.js';
import { PolicyResources } from './policy-resources.js';
import { ClusterResources } from './resources.js';

export interface ClusterClients {
  /** For informers (list + watch) and clients made elsewhere (the Lease, access reviews). */
  kubeConfig: KubeConfig;
  /** GitOpsRollbacks, their status, GitRepositories, Secrets, Namespaces. */
  resources: ClusterResources;
  /** Kustomizations, artifacts, reconcile requests, ImageUpdateAutomations. */
  flux: FluxResources;
  /** GitOpsRollbackPolicies and the rollbacks they create (listed in --watch-namespace only). */
  policies: PolicyResources;
  recorder: EventRecorder;
  /** The namespace watched (--watch-namespace), or undefined for all. */
  watchNamespace: string | undefined;
}

/** Makes the clients; `component` is the Events' source (`kubectl describe`'s FROM). */
export function createClusterClients(kubeConfig: KubeConfig, options: { watchNamespace?: string; component: string; logger: Logger }): ClusterClients {
  return {
    kubeConfig,
    resources: new ClusterResources(kubeConfig),
    flux: new FluxResources(kubeConfig),
    policies: new PolicyResources(kubeConfig),
    recorder: new EventRecorder(kubeConfig, options.component, options.logger),
    watchNamespace: options.watchNamespace,
  };
}

/** The API path of a resource collection, in the watched namespace or across all of them. */
export function collectionPath({ group, version, plural }: { group: string; version: string; plural: string }, watchNamespace: string | undefined): string {
  return watchNamespace ? `/apis/${group}/${version}/namespaces/${watchNamespace}/${plural}` : `/apis/${group}/${version}/${plural}`;
}
