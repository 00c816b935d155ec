/**
 * `history --kustomization [NS/]NAME`: the branch history of the Kustomization's GitRepository,
 * limited to its path, joined with what the cluster saw — from Flux's `status.history` when each
 * revision was applied and whether it was healthy, which revision is applied now, and which
 * GitOpsRollbacks reverted a commit or wrote it, and how they ended. Loaded only for this form.
 *
 * The repository's credentials come from the GitRepository's Secret when the user may read it;
 * otherwise from the environment, as for `--repo` (an on-call role often cannot read Secrets).
 */
import type { Condition, GitOpsRollback } from '../api/v1alpha1/types.js';
import { resolveGitRepositoryRef } from '../controller/resolve-repository.js';
import type { RepositoryTarget } from '../git/engine.js';
import type { DeployHistory, DeployHistoryCommit } from '../git/deploy-history.js';
import { isSshUrl } from '../git/ssh-url.js';
import type { HistorySnapshot, Kustomization } from '../flux/kustomization.js';
import { parseRevision } from '../flux/revision.js';
import { normalizeSourcePathInRoot } from '../flux/source-path.js';
import { HEALTHY_SNAPSHOT_STATUS, readSnapshots } from '../flux/status-history.js';
import { shortSha } from '../short-sha.js';
import { readCredentials } from './args.js';
import { connectCluster, splitReference, type OnCallCluster } from './cluster-access.js';
import { readSshCredentials } from './ssh-credentials.js';
import { UsageError } from './usage-error.js';

/** What Flux's status.history says of one revision (several entries when it was applied with different outcomes). */
export interface Deployment {
  firstReconciled?: string;
  lastReconciled: string;
  /** kustomize-controller's outcome: ReconciliationSucceeded, HealthCheckFailed, ... */
  status: string;
  healthy: boolean;
  reconciliations?: number;
}

/** A GitOpsRollback that reverted this commit, or whose revert this commit is. */
export interface RollbackLink {
  name: string;
  role: 'reverted' | 'revert';
  /** Ready (reason), Stalled (reason), or in progress. */
  outcome: string;
}

export interface ClusterCommit extends DeployHistoryCommit {
  deployments: Deployment[];
  current: boolean;
  rollbacks: RollbackLink[];
}

export interface KustomizationHistoryReport {
  kustomization: string;
  branch: string;
  head: string;
  lastAppliedRevision: string | null;
  commits: ClusterCommit[];
}

/** What the history command needs from the cluster: where to read, and how to present each commit. */
export interface ClusterSide {
  repository: RepositoryTarget;
  paths: string[];
  title: string;
  marks(commit: DeployHistoryCommit): string[];
  toJson(history: DeployHistory): KustomizationHistoryReport;
}

export async function readClusterSide(
  command: { reference: string; kubeconfig?: string },
  env: NodeJS.ProcessEnv,
  connect: (kubeconfig?: string) => OnCallCluster = connectCluster,
): Promise<ClusterSide> {
  const cluster = connect(command.kubeconfig);
  const { namespace, name } = splitReference(command.reference, cluster.defaultNamespace);
  const kustomization = await cluster.getKustomization(namespace, name);
  if (!kustomization) throw new UsageError(`Kustomization ${namespace}/${name} was not found`);
  const sourceRef = kustomization.spec?.sourceRef;
  if (sourceRef?.kind !== 'GitRepository')
    throw new UsageError(`Kustomization ${namespace}/${name} applies a ${sourceRef?.kind ?? 'missing'} source, not a GitRepository`);
  const source = { namespace: sourceRef.namespace ?? namespace, name: sourceRef.name };
  const repository = await resolveGitRepositoryRef(
    {
      getGitRepository: (ns, n) => cluster.getGitRepository(ns, n),
      // Not allowed to read the Secret: the environment's credentials, as for --repo.
      getSecretData: async (ns, n) => (await cluster.getSecretData(ns, n)) ?? {},
    },
    source,
  ).catch((error: unknown) => {
    if ((error as { reason?: string }).reason === 'InvalidSpec') return undefined;
    throw error;
  });
  const target = repository ?? (await fallbackTarget(cluster, source, env));
  const path = normalizeSourcePathInRoot(kustomization.spec?.path);
  const join = joinCluster(kustomization, await cluster.listRollbacks(namespace));
  const key = `${namespace}/${name}`;
  return {
    repository: target.credentials ? target : { ...target, credentials: envCredentials(target.url, env) },
    paths: path ? [path] : [],
    title: `Kustomization ${key}: ./${path} of GitRepository ${source.namespace}/${source.name}\nApplied now: ${shortSha(join.current) || 'nothing'}`,
    marks: (commit) => join.marks(commit.sha),
    toJson: (history) => ({
      kustomization: key,
      branch: history.branch,
      head: history.head,
      lastAppliedRevision: kustomization.status?.lastAppliedRevision ?? null,
      commits: history.commits.map((commit) => ({
        ...commit,
        deployments: join.deployments.get(commit.sha) ?? [],
        current: commit.sha === join.current,
        rollbacks: join.rollbacks.get(commit.sha) ?? [],
      })),
    }),
  };
}

/** The GitRepository read without its Secret (a Secret with no credential key, or none readable). */
async function fallbackTarget(cluster: OnCallCluster, source: { namespace: string; name: string }, env: NodeJS.ProcessEnv): Promise<RepositoryTarget> {
  const view = await cluster.getGitRepository(source.namespace, source.name);
  if (!view) throw new UsageError(`GitRepository ${source.namespace}/${source.name} was not found`);
  return { url: view.url, branch: view.ref?.branch ?? 'master', credentials: envCredentials(view.url, env) };
}

function envCredentials(url: string, env: NodeJS.ProcessEnv): RepositoryTarget['credentials'] {
  return isSshUrl(url) ? readSshCredentials(env) : readCredentials(env);
}

/** The cluster's side of each commit: Flux's deployments, the applied revision, the rollbacks. */
export function joinCluster(kustomization: Kustomization, rollbacks: GitOpsRollback[]) {
  const deployments = new Map<string, Deployment[]>();
  for (const snapshot of readSnapshots(kustomization.status?.history)) {
    const sha = parseRevision(snapshot.metadata?.revision ?? '')?.digest;
    if (sha) deployments.set(sha, [...(deployments.get(sha) ?? []), toDeployment(snapshot)]);
  }
  const links = new Map<string, RollbackLink[]>();
  const add = (sha: string, link: RollbackLink) => links.set(sha, [...(links.get(sha) ?? []), link]);
  const { namespace, name } = kustomization.metadata;
  for (const rollback of rollbacks) {
    const waitsForIt = rollback.spec.reconcile?.kustomizations?.some((k) => k.name === name && (k.namespace ?? rollback.metadata.namespace) === namespace);
    const sameSource = rollback.spec.sourceRef?.name === kustomization.spec?.sourceRef?.name;
    if (!waitsForIt && !sameSource) continue;
    const outcome = describeOutcome(rollback);
    for (const sha of rollback.status?.revertedCommits ?? []) add(sha, { name: rollback.metadata.name!, role: 'reverted', outcome });
    for (const sha of rollback.status?.revertCommits ?? []) add(sha, { name: rollback.metadata.name!, role: 'revert', outcome });
  }
  const current = parseRevision(kustomization.status?.lastAppliedRevision ?? '')?.digest ?? '';
  return {
    deployments,
    rollbacks: links,
    current,
    marks(sha: string): string[] {
      const marks: string[] = [];
      if (sha === current) marks.push('APPLIED NOW');
      for (const d of deployments.get(sha) ?? []) marks.push(`${d.healthy ? 'healthy' : `failed (${d.status})`} ${formatTime(d.lastReconciled)}`);
      for (const link of links.get(sha) ?? [])
        marks.push(link.role === 'reverted' ? `rolled back by ${link.name} (${link.outcome})` : `written by ${link.name} (${link.outcome})`);
      return marks;
    },
  };
}

function toDeployment(snapshot: HistorySnapshot): Deployment {
  return {
    ...(snapshot.firstReconciled ? { firstReconciled: snapshot.firstReconciled } : {}),
    lastReconciled: snapshot.lastReconciled,
    status: snapshot.lastReconciledStatus,
    healthy: snapshot.lastReconciledStatus === HEALTHY_SNAPSHOT_STATUS,
    ...(typeof snapshot.totalReconciliations === 'number' ? { reconciliations: snapshot.totalReconciliations } : {}),
  };
}

function describeOutcome(rollback: GitOpsRollback): string {
  const find = (type: string): Condition | undefined => rollback.status?.conditions?.find((c) => c.type === type);
  const stalled = find('Stalled');
  if (stalled?.status === 'True') return `Stalled ${stalled.reason}`;
  const ready = find('Ready');
  return ready?.status === 'True' ? `Ready ${ready.reason}` : 'in progress';
}

/** `2026-11-30 10:02` (UTC), as the table's dates. */
function formatTime(iso: string): string {
  const time = new Date(iso);
  return Number.isNaN(time.getTime()) ? '' : time.toISOString().slice(0, 16).replace('T', ' ');
}
