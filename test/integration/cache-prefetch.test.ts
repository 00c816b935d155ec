/**
 * Caches warm before the incident, end to end: the operator (its own process, the ServiceAccount
 * config/rbac binds) on the shared kube-apiserver + etcd and a real git server with basic auth.
 * Its cache directory holds a repository a crash damaged, removed at start. Before it starts, a namespace holds a policy covering a Kustomization whose GitRepository is
 * `fleet`, a GitRepository carrying the prefetch label, one whose Secret is missing, and one
 * nobody covers. At start the operator fetches the first two into its cache (and counts the
 * third's failure, without a credential in its logs); the first rollback of `fleet` then counts
 * a cache hit and fetches incrementally (its upload-pack request sends a "have"). No Flux
 * controller runs here, so the rollback is followed up to its push.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { GitOpsRollback } from '../../src/api/v1alpha1/types.js';
import { checkCacheRepo } from '../../src/git/cache-integrity.js';
import { isBranchCached } from '../../src/git/cache-lookup.js';
import { cacheRepoPath } from '../../src/git/remote.js';
import { connectToControlPlane, type ControlPlaneClient } from '../envtest/control-plane.js';
import { commitFiles, git, initRepo, makeTempDir, publishBare } from '../helpers/git-cli.js';
import { startGitHttpServer, type GitHttpServer, type RecordedRequest } from '../helpers/git-http-server.js';
import {
  createGitAuthSecret,
  createMetricsReaderToken,
  FLUX_GIT_REPOSITORIES,
  FLUX_KUSTOMIZATIONS,
  GIT_AUTH as AUTH,
  installOperator,
} from '../helpers/operator-install.js';
import { startOperator, type OperatorProcess } from '../helpers/operator-process.js';
import { conditionOf, waitForRollback } from '../helpers/rollback-status.js';
import { eventually } from '../helpers/eventually.js';

const PREFETCH_LABEL = 'rollback.gitops.dev/prefetch';

/** The value of one sample of the exposition, or undefined. */
function sample(exposition: string, series: string): number | undefined {
  const line = exposition.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** The upload-pack requests (fetches) the server received for one repository. */
function uploadPackBodies(server: GitHttpServer, repoName: string): string[] {
  return server.requests
    .filter((r: RecordedRequest) => r.method === 'POST' && r.url.startsWith(`/${repoName}/git-upload-pack`))
    .map((r) => (r.headers['content-encoding'] === 'gzip' ? gunzipSync(r.body) : r.body).toString('latin1'));
}

describe('cache prefetch on a real API server and git server', () => {
  let plane: ControlPlaneClient;
  let server: GitHttpServer;
  let operator: OperatorProcess | undefined;
  let metricsToken: string;
  const namespace = `prefetch-${randomBytes(3).toString('hex')}`;
  const cacheDir = makeTempDir('prefetch-cache-');
  const repos = { fleet: 'fleet.git', labelled: 'labelled.git', noSecret: 'no-secret.git', uncovered: 'uncovered.git' };
  let badCommit: string;
  let work: string;
  let fleetBare: string;
  const brokenCache = path.join(cacheDir, createHash('sha256').update('a repository cut off by a crash').digest('hex'));

  const kubectl = (args: string[], input?: string) => plane.kubectl(args, input === undefined ? undefined : { input });
  const scrape = async () => (await fetch(`${operator!.metricsUrl}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } })).text();

  beforeAll(async () => {
    plane = connectToControlPlane();
    const operatorKubeconfig = await installOperator(plane, { fluxCrds: [FLUX_GIT_REPOSITORIES, FLUX_KUSTOMIZATIONS] });
    metricsToken = await createMetricsReaderToken(plane);

    const root = makeTempDir();
    server = await startGitHttpServer({ root, auth: AUTH });
    work = initRepo();
    commitFiles(work, 'Deploy frontend 1.0', { 'apps/frontend/deploy.yaml': 'image: frontend:1.0\n' });
    badCommit = commitFiles(work, 'Deploy frontend 2.0', { 'apps/frontend/deploy.yaml': 'image: frontend:2.0\n' });
    for (const name of Object.values(repos)) publishBare(work, root, name);
    fleetBare = path.join(root, repos.fleet);

    await kubectl(['create', 'namespace', namespace]);
    await createGitAuthSecret(plane, namespace);
    const gitRepository = (name: string, repo: string, secret: string, labels = '{}') => `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: ${name}, namespace: ${namespace}, labels: ${labels}}
spec: {interval: 1m, url: ${server.urlFor(repo)}, ref: {branch: main}, secretRef: {name: ${secret}}}
---
`;
    await kubectl(
      ['apply', '-f', '-'],
      gitRepository('fleet', repos.fleet, 'git-auth') +
        gitRepository('labelled', repos.labelled, 'git-auth', `{${PREFETCH_LABEL}: "true"}`) +
        gitRepository('no-secret', repos.noSecret, 'missing-secret', `{${PREFETCH_LABEL}: "true"}`) +
        gitRepository('uncovered', repos.uncovered, 'git-auth') +
        `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: ${namespace}}
spec: {interval: 10m, path: ./apps, prune: true, sourceRef: {kind: GitRepository, name: fleet}}
---
apiVersion: rollback.gitops.dev/v1alpha1
kind: GitOpsRollbackPolicy
metadata: {name: apps, namespace: ${namespace}}
spec:
  kustomizations: {names: [apps]}
  secretRef: {name: rollback-webhook-token}
`,
    );

    // A cache repository a crash damaged (its pack's index lost), as a persistent volume may keep it.
    git(cacheDir, 'init', '-q', '--bare', brokenCache);
    git(brokenCache, '-c', 'fetch.unpackLimit=1', 'fetch', '-q', `file://${work}`, 'main:refs/remotes/origin/main');
    for (const name of fs.readdirSync(path.join(brokenCache, 'objects', 'pack'))) {
      if (name.endsWith('.idx')) fs.rmSync(path.join(brokenCache, 'objects', 'pack', name));
    }

    // Started after the objects exist: the pass at start-up is the one under test.
    operator = await startOperator({
      kubeconfigPath: operatorKubeconfig,
      cacheDir,
      args: [`--watch-namespace=${namespace}`, `--cache-prefetch-selector=${PREFETCH_LABEL}=true`],
    });
  });

  afterAll(async () => {
    await operator?.stop();
    await server?.stop();
    await plane?.kubectl(['delete', 'namespace', namespace, '--wait=false']).catch(() => undefined);
  });

  test('at start a broken cache repository is removed, with a log line and a count', async () => {
    expect(fs.existsSync(brokenCache)).toBe(false);
    expect(operator!.logs()).toMatch(/"problem":"objects\/pack\/pack-[0-9a-f]+\.pack has no index".*"msg":"Removed a broken cache repository/);
    expect(sample(await scrape(), 'gitops_rollback_git_cache_removed_total')).toBe(1);
  });

  test('at start the covered and the labelled repositories are fetched into the cache; a failure is counted and logged without credentials', async () => {
    const body = await eventually(
      'the start-up prefetch pass to finish',
      async () => {
        const text = await scrape();
        const succeeded = sample(text, 'gitops_rollback_cache_prefetch_total{result="succeeded",error="none"}') ?? 0;
        const failed = sample(text, 'gitops_rollback_cache_prefetch_total{result="failed",error="SecretNotFound"}') ?? 0;
        return succeeded + failed >= 3 ? text : undefined;
      },
      { timeoutMs: 50_000, diagnostics: () => operator!.logs().slice(-3000) },
    );
    expect(sample(body, 'gitops_rollback_cache_prefetch_total{result="succeeded",error="none"}')).toBe(2);
    expect(sample(body, 'gitops_rollback_cache_prefetch_total{result="failed",error="SecretNotFound"}')).toBe(1);
    expect(sample(body, 'gitops_rollback_cache_prefetch_duration_seconds_count{result="succeeded"}')).toBe(2);

    expect(await isBranchCached(fs, cacheDir, server.urlFor(repos.fleet), 'main')).toBe(true);
    expect(await isBranchCached(fs, cacheDir, server.urlFor(repos.labelled), 'main')).toBe(true);
    expect(await isBranchCached(fs, cacheDir, server.urlFor(repos.noSecret), 'main')).toBe(false);
    expect(await isBranchCached(fs, cacheDir, server.urlFor(repos.uncovered), 'main')).toBe(false);
    expect(uploadPackBodies(server, repos.uncovered)).toEqual([]);
    // What the prefetch wrote is a cache the start-up integrity check accepts.
    expect(await checkCacheRepo(fs, cacheRepoPath(cacheDir, server.urlFor(repos.fleet)))).toBeUndefined();

    const logs = operator!.logs();
    expect(logs).toContain('Cache prefetch failed');
    expect(logs).toContain(`${namespace}/no-secret`);
    expect(logs).not.toContain(AUTH.password);
    // No rollback ran yet: nothing counted on the rollback path.
    expect(sample(body, 'gitops_rollback_git_cache_total{result="hit"}')).toBe(0);
    expect(sample(body, 'gitops_rollback_git_cache_total{result="miss"}')).toBe(0);
  });

  test('the first rollback of the prefetched GitRepository counts a cache hit and fetches only what is new', async () => {
    await eventually('the fleet repository in the cache', () => isBranchCached(fs, cacheDir, server.urlFor(repos.fleet), 'main'));
    // The branch moves on after the prefetch, so the rollback has something new to fetch.
    const prefetchedHead = git(fleetBare, 'rev-parse', 'main');
    commitFiles(work, 'Document the frontend', { 'docs/frontend.md': 'The shop frontend.\n' });
    git(work, 'push', '-q', fleetBare, 'HEAD:refs/heads/main');
    const fetchesBefore = uploadPackBodies(server, repos.fleet).length;
    await kubectl(
      ['apply', '-f', '-'],
      `apiVersion: rollback.gitops.dev/v1alpha1
kind: GitOpsRollback
metadata: {name: first, namespace: ${namespace}}
spec:
  sourceRef: {kind: GitRepository, name: fleet}
  revert: {commits: [${badCommit}]}
  incident: INC-1
`,
    );
    // Pushed is the engine's part; Flux (not running here) would then apply it (Ready waits for that).
    const pushed = (r: GitOpsRollback) => conditionOf(r, 'Pushed')?.status === 'True' || conditionOf(r, 'Stalled')?.status === 'True';
    const rollback = await waitForRollback(plane, namespace, 'first', pushed, { diagnostics: () => operator!.logs().slice(-3000) });
    expect(conditionOf(rollback, 'Pushed')).toMatchObject({ status: 'True' });

    const body = await scrape();
    expect(sample(body, 'gitops_rollback_git_cache_total{result="hit"}')).toBe(1);
    expect(sample(body, 'gitops_rollback_git_cache_total{result="miss"}')).toBe(0);
    // The rollback's fetch offered the prefetched head: an incremental fetch, not a clone.
    const rollbackFetches = uploadPackBodies(server, repos.fleet).slice(fetchesBefore);
    expect(rollbackFetches.length).toBeGreaterThanOrEqual(1);
    expect(rollbackFetches[0]).toContain(`have ${prefetchedHead}`);
  });
});
