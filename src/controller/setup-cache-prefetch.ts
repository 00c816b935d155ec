/**
 * Sets up the cache prefetcher (./cache-prefetcher.ts) with the manager: its sources listed from
 * the API (src/kube/prefetch-sources.ts) and chosen by ./prefetch-selection.ts, each GitRepository
 * resolved as a rollback resolves it, fetched by the engine's worker, outcomes counted. It needs
 * no Lease: every replica keeps its own cache, so a standby that takes over starts warm; it
 * writes nothing to the cluster.
 */
import type { Logger } from 'pino';
import type { RepositoryTarget } from '../git/engine.js';
import type { ClusterClients } from '../kube/cluster-clients.js';
import type { Manager } from '../kube/manager.js';
import { PrefetchSources } from '../kube/prefetch-sources.js';
import { recordPrefetch } from '../metrics/cache-metrics.js';
import type { OperatorMetrics } from '../metrics/operator-metrics.js';
import { CachePrefetcher, type PrefetchPort } from './cache-prefetcher.js';
import { selectPrefetchSources } from './prefetch-selection.js';
import { resolveGitRepositoryRef } from './resolve-repository.js';

/** The operator flags the prefetcher reads (named as in cli/operator-flags.ts). */
export interface CachePrefetchSettings {
  /** 0: no prefetching. */
  cachePrefetchIntervalMs: number;
  cachePrefetchSelector: string | undefined;
  allowCrossNamespaceRefs: boolean;
  allowCrossNamespacePolicies: boolean;
}

export interface CachePrefetchDeps {
  clients: ClusterClients;
  metrics: OperatorMetrics;
  logger: Logger;
  /** Fetches a branch into the cache in an engine worker (src/controller/engine-worker.ts createWorkerPrefetcher). */
  fetch: (target: RepositoryTarget, signal: AbortSignal) => Promise<string>;
  settings: CachePrefetchSettings;
}

/** Adds the prefetcher to the manager, unless --cache-prefetch-interval is 0. Returns it (tests), or undefined. */
export function setupCachePrefetch(manager: Manager, deps: CachePrefetchDeps): CachePrefetcher | undefined {
  const { settings, metrics } = deps;
  if (settings.cachePrefetchIntervalMs <= 0) return undefined;
  const prefetcher = new CachePrefetcher({
    port: prefetchPortOf(deps),
    intervalMs: settings.cachePrefetchIntervalMs,
    logger: deps.logger.child({ component: 'cache-prefetch' }),
    onOutcome: (outcome) => recordPrefetch(metrics, outcome),
    onSelectFailed: () => metrics.cacheListFailures.inc(),
  });
  manager.add({ name: 'cache-prefetch', group: 'worker', needLeaderElection: false, start: () => prefetcher.start(), stop: () => prefetcher.stop() });
  return prefetcher;
}

/** The prefetcher's port onto the cluster and the engine worker. */
export function prefetchPortOf({ clients, fetch, settings }: Pick<CachePrefetchDeps, 'clients' | 'fetch' | 'settings'>): PrefetchPort {
  const sources = new PrefetchSources(clients.kubeConfig, clients.watchNamespace);
  const selector = settings.cachePrefetchSelector;
  return {
    selectSources: async () => {
      const [policies, kustomizations, labelled] = await Promise.all([
        sources.listPolicies(),
        sources.listKustomizations(),
        selector ? sources.listGitRepositories(selector) : Promise.resolve([]),
      ]);
      return selectPrefetchSources({
        policies,
        kustomizations,
        labelled: labelled.map(({ metadata }) => ({ namespace: metadata.namespace!, name: metadata.name! })),
        allowCrossNamespaceRefs: settings.allowCrossNamespaceRefs,
        allowCrossNamespacePolicies: settings.allowCrossNamespacePolicies,
      });
    },
    // The rollback's own resolution: URL, branch (refusing pinned tags and commits), Secret.
    resolve: (source) => resolveGitRepositoryRef(clients.resources, source),
    fetch,
  };
}
