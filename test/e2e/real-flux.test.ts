/**
 * The real Flux in the loop, end to end: the cluster mode of the test control plane
 * (test/envtest/cluster.ts: kube-apiserver, etcd, kube-controller-manager, kube-scheduler, a kwok
 * node, source-controller and kustomize-controller v1.9.6) and a real git server. Nothing here
 * writes Flux's status: kustomize-controller applies every revision, runs its health checks and
 * sends its own events; Deployments roll out on the kwok node, where a pod template annotated
 * broken stays unready (a bad image). The operator runs as its own process with its
 * ServiceAccount, as in a cluster.
 *
 * Each test gets its own namespace, repository, GitRepository and Kustomizations. The test checks
 * the cluster itself (Deployment available, pods on the good image), git (one revert commit), and
 * the rollback's conditions.
 */
import { jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import type { GitOpsRollback } from '../../src/api/v1alpha1/types.js';
import { BROKEN_POD_ANNOTATION, startCluster, type Cluster } from '../envtest/cluster.js';
import { commitFiles, git, initRepo, makeTempDir, publishBare } from '../helpers/git-cli.js';
import { startGitHttpServer, type GitHttpServer } from '../helpers/git-http-server.js';
import { createGitAuthSecret, GIT_AUTH, installOperator } from '../helpers/operator-install.js';
import { startOperator, type OperatorProcess } from '../helpers/operator-process.js';
import { eventually } from '../helpers/eventually.js';
import { deployment as fleetDeployment, SigningRelay } from '../helpers/flux-fleet.js';
import { conditionOf, isFinished } from '../helpers/rollback-status.js';

// A real rollout on a busy machine: Flux polls health every 5 s, Deployments need a few seconds.
jest.setTimeout(10 * 60_000);
const WAIT = { timeoutMs: 4 * 60_000 };
const TOKEN = 'relay-hmac-t0ken';

/** A Deployment of one replica; a broken one never becomes ready and misses its progress deadline. */
const deployment = (app: string, version: string, broken = false): string => fleetDeployment(app, version, { broken, progressDeadlineSeconds: 20 });

interface FluxStatus {
  metadata: { generation: number };
  status?: {
    observedGeneration?: number;
    lastAppliedRevision?: string;
    lastAttemptedRevision?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}

/** A GitOpsRollbackPolicy as the revision tracker writes its status. */
interface PolicyObject {
  metadata: { generation: number };
  status?: { observedGeneration?: number; kustomizations?: { name: string; lastHealthyRevision: string; previousHealthyRevision?: string }[] };
}

/** Ready=True; on failure the message shows every condition (the Stalled reason and message). */
function expectReady(rollback: GitOpsRollback): void {
  expect({ name: rollback.metadata.name, conditions: rollback.status?.conditions }).toMatchObject({
    conditions: expect.arrayContaining([expect.objectContaining({ type: 'Ready', status: 'True' })]),
  });
}

describe('real Flux in the loop (cluster mode)', () => {
  let cluster: Cluster;
  let server: GitHttpServer;
  let operator: OperatorProcess;
  let gitRoot: string;
  const relay = new SigningRelay();

  const kubectl = (args: string[], input?: string) => cluster.plane.kubectl(args, input === undefined ? undefined : { input });
  const forwardedFor = (namespace: string) => relay.forwarded.filter((e) => e.namespace === namespace);
  const diagnostics = () => `operator:\n${operator.logs().slice(-3000)}`;

  beforeAll(async () => {
    await relay.start();
    cluster = await startCluster({ eventsAddress: relay.url });
    const kubeconfig = await installOperator(cluster.plane);
    gitRoot = makeTempDir();
    server = await startGitHttpServer({ root: gitRoot, auth: GIT_AUTH });
    operator = await startOperator({ kubeconfigPath: kubeconfig, args: ['--apply-poll-interval=1'] });
    const report = cluster
      .processes()
      .map((p) => `${p.name} ${p.readyMs} ms ${p.rssMiB} MiB`)
      .join(', ');
    process.stderr.write(`real-flux: cluster ready in ${cluster.startMs} ms; ${report}\n`);
  });

  afterAll(async () => {
    await operator?.stop();
    await server?.stop();
    await cluster?.stop();
    await relay.stop();
  });

  /** One tenant's fleet: namespace, repository (work tree + bare on the server), GitRepository. */
  class Fleet {
    readonly ns = `fleet-${randomBytes(3).toString('hex')}`;
    readonly work = initRepo();
    bare = '';
    private lastStatus: unknown;

    async create(files: Record<string, string>, message = 'Deploy version 1'): Promise<string> {
      const first = commitFiles(this.work, message, files);
      this.bare = publishBare(this.work, gitRoot, `${this.ns}.git`);
      await kubectl(['create', 'namespace', this.ns]);
      await createGitAuthSecret(cluster.plane, this.ns);
      await kubectl(
        ['apply', '-n', this.ns, '-f', '-'],
        `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: fleet}
spec: {interval: 10m, url: '${server.urlFor(`${this.ns}.git`)}', ref: {branch: main}, secretRef: {name: git-auth}}
`,
      );
      return first;
    }

    /** A Kustomization applying `path` into this namespace, waiting for health. */
    async kustomization(name: string, path: string, extra = ''): Promise<void> {
      await kubectl(
        ['apply', '-n', this.ns, '-f', '-'],
        `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: ${name}}
spec:
  interval: 10m
  path: ${path}
  prune: true
  wait: true
  timeout: 3m
  targetNamespace: ${this.ns}
  sourceRef: {kind: GitRepository, name: fleet}
${extra}`,
      );
    }

    /** Commits and pushes to the server, then asks Flux to fetch, as `flux reconcile source git` does. */
    async push(message: string, files: Record<string, string | null>): Promise<string> {
      // Up to date first: the operator's reverts land on the server branch.
      git(this.work, 'pull', '-q', '--ff-only', this.bare, 'main');
      const sha = commitFiles(this.work, message, files);
      git(this.work, 'push', '-q', this.bare, 'main');
      await kubectl(['annotate', '--overwrite', '-n', this.ns, 'gitrepository/fleet', `reconcile.fluxcd.io/requestedAt=${new Date().toISOString()}`]);
      return sha;
    }

    head(): string {
      return git(this.bare, 'rev-parse', 'main');
    }

    async get<T>(kind: string, name: string): Promise<T> {
      return JSON.parse(await kubectl(['get', kind, name, '-n', this.ns, '-o', 'json'])) as T;
    }

    /** Waits until the Kustomization reports `sha` applied (Ready=True) or failed on it. */
    async waitKustomization(name: string, sha: string, outcome: 'applied' | 'failed'): Promise<FluxStatus> {
      return eventually(
        `Kustomization ${this.ns}/${name} ${outcome} ${sha.slice(0, 7)}`,
        async () => {
          const k = await this.get<FluxStatus>('kustomization', name).catch(() => undefined);
          this.lastStatus = k?.status;
          const ready = k?.status?.conditions?.find((c) => c.type === 'Ready');
          if (!k || k.status?.observedGeneration !== k.metadata.generation) return undefined;
          if (outcome === 'applied') return ready?.status === 'True' && k.status?.lastAppliedRevision === `main@sha1:${sha}` ? k : undefined;
          return ready?.status === 'False' && ready.reason === 'HealthCheckFailed' && k.status?.lastAttemptedRevision === `main@sha1:${sha}` ? k : undefined;
        },
        { ...WAIT, diagnostics: () => `${JSON.stringify(this.lastStatus)}\n${diagnostics()}` },
      );
    }

    /** The Deployment is Available with its update done, and every live pod is ready on `image`. */
    async waitHealthy(app: string, version: string): Promise<void> {
      await eventually(
        `${app} healthy on ${version}`,
        async () => {
          const pods = JSON.parse(await kubectl(['get', 'pods', '-n', this.ns, '-l', `app=${app}`, '-o', 'json'])) as {
            items: {
              metadata: { deletionTimestamp?: string };
              spec: { containers: { image: string }[] };
              status: { conditions?: { type: string; status: string }[] };
            }[];
          };
          const live = pods.items.filter((p) => !p.metadata.deletionTimestamp);
          const onImage =
            live.length > 0 &&
            live.every(
              (p) =>
                p.spec.containers[0].image === `registry.example/${app}:${version}` &&
                p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
            );
          const d = await this.get<{ status?: { updatedReplicas?: number; availableReplicas?: number; replicas?: number } }>('deployment', app);
          return onImage && d.status?.updatedReplicas === 1 && d.status.availableReplicas === 1 && d.status.replicas === 1 ? true : undefined;
        },
        { ...WAIT, diagnostics },
      );
    }

    async rollback(name: string, spec: string): Promise<void> {
      await kubectl(
        ['apply', '-n', this.ns, '-f', '-'],
        `apiVersion: rollback.gitops.dev/v1alpha1
kind: GitOpsRollback
metadata: {name: ${name}}
spec:
  sourceRef: {kind: GitRepository, name: fleet}
  incident: INC-4242
${spec}`,
      );
    }

    /**
     * Waits for the rollback to finish, checking at every look that it never reports Ready=True
     * before kustomize-controller has applied its commit.
     */
    async waitRollback(name: string, kustomizations: string[]): Promise<GitOpsRollback> {
      // What each Kustomization had applied when the rollback was first seen Ready.
      let appliedWhenReady: string[] | undefined;
      const rollback = await eventually(
        `rollback ${this.ns}/${name}`,
        async () => {
          const current = await this.get<GitOpsRollback>('gitopsrollback', name).catch(() => undefined);
          if (!current || !isFinished(current)) return undefined;
          if (conditionOf(current, 'Ready')?.status === 'True' && appliedWhenReady === undefined) {
            appliedWhenReady = [];
            for (const k of kustomizations) appliedWhenReady.push((await this.get<FluxStatus>('kustomization', k)).status?.lastAppliedRevision ?? '');
          }
          return current;
        },
        { ...WAIT, diagnostics },
      );
      if (appliedWhenReady) expect(appliedWhenReady).toEqual(kustomizations.map(() => `main@sha1:${rollback.status?.headAfter}`));
      return rollback;
    }

    revertCount(since: string): number {
      return Number(git(this.bare, 'rev-list', '--count', '--grep=^Revert', '--grep=^Restore', `${since}..main`));
    }
  }

  test('manual: a bad deploy fails its health check; the GitOpsRollback reverts it and is Ready only once Flux applied it and the pods are back', async () => {
    const fleet = new Fleet();
    const good = await fleet.create({ 'apps/frontend/deployment.yaml': deployment('frontend', '1.0') });
    await fleet.kustomization('frontend', './apps/frontend');
    await fleet.waitKustomization('frontend', good, 'applied');
    await fleet.waitHealthy('frontend', '1.0');

    const bad = await fleet.push('Deploy frontend 2.0', { 'apps/frontend/deployment.yaml': deployment('frontend', '2.0', true) });
    const failed = await fleet.waitKustomization('frontend', bad, 'failed');
    // kustomize-controller v1.9.6 keeps the last *healthy* revision as applied on a failed check.
    expect(failed.status?.lastAppliedRevision).toBe(`main@sha1:${good}`);

    await fleet.rollback('undo-frontend', `  revert: {commits: ['${bad.slice(0, 10)}']}\n  reason: frontend 2.0 crash-loops`);
    const done = await fleet.waitRollback('undo-frontend', ['frontend']);
    expect(conditionOf(done, 'Ready')).toMatchObject({ status: 'True', reason: 'Succeeded' });
    expect(conditionOf(done, 'Applied')).toMatchObject({ status: 'True' });
    expect(done.status?.revertedCommits).toEqual([bad]);
    await fleet.waitHealthy('frontend', '1.0');

    expect(fleet.head()).toBe(done.status?.headAfter);
    expect(fleet.revertCount(bad)).toBe(1);
    expect(git(fleet.bare, 'log', '-1', '--format=%s', 'main')).toBe('Revert "Deploy frontend 2.0"');
    expect(git(fleet.bare, 'show', 'main:apps/frontend/deployment.yaml')).toBe(deployment('frontend', '1.0').trimEnd());
  });

  test('a path restore and a merge revert (-m 1) are applied by the real kustomize-controller', async () => {
    const fleet = new Fleet();
    const good = await fleet.create({
      'apps/frontend/deployment.yaml': deployment('frontend', '1.0'),
      'apps/backend/deployment.yaml': deployment('backend', '1.0'),
    });
    await fleet.kustomization('frontend', './apps/frontend');
    await fleet.kustomization('backend', './apps/backend');
    await fleet.waitKustomization('frontend', good, 'applied');
    await fleet.waitKustomization('backend', good, 'applied');

    // The backend change arrives as a merged pull request (--no-ff).
    git(fleet.work, 'checkout', '-q', '-b', 'backend-2');
    commitFiles(fleet.work, 'Backend 2.0', { 'apps/backend/deployment.yaml': deployment('backend', '2.0', true) });
    git(fleet.work, 'checkout', '-q', 'main');
    git(fleet.work, 'merge', '-q', '--no-ff', '-m', 'Merge pull request #7 from backend-2', 'backend-2');
    const merge = await fleet.push('Frontend 1.1', { 'apps/frontend/deployment.yaml': deployment('frontend', '1.1', true) });
    const mergeCommit = git(fleet.work, 'rev-parse', 'HEAD~1');
    await fleet.waitKustomization('frontend', merge, 'failed');
    await fleet.waitKustomization('backend', merge, 'failed');

    await fleet.rollback('undo-backend-pr', `  revert: {commits: ['${mergeCommit}'], mainline: 1}`);
    const reverted = await fleet.waitRollback('undo-backend-pr', ['backend']);
    expectReady(reverted);
    await fleet.waitHealthy('backend', '1.0');
    expect(git(fleet.bare, 'log', '-1', '--format=%B', 'main')).toContain(`This reverts commit ${mergeCommit}, reversing\nchanges made to`);

    await fleet.rollback('restore-frontend', `  restore: {revision: '${good}', paths: [apps/frontend]}`);
    const restored = await fleet.waitRollback('restore-frontend', ['frontend']);
    expectReady(restored);
    await fleet.waitHealthy('frontend', '1.0');
    expect(git(fleet.bare, 'show', 'main:apps/frontend/deployment.yaml')).toBe(deployment('frontend', '1.0').trimEnd());
    expect(git(fleet.bare, 'show', 'main:apps/backend/deployment.yaml')).toBe(deployment('backend', '1.0').trimEnd());
  });

  test('two Kustomizations, one dependsOn the other, broken by one commit: the rollback waits for both', async () => {
    const fleet = new Fleet();
    const good = await fleet.create({ 'infra/deployment.yaml': deployment('cache', '1.0'), 'apps/deployment.yaml': deployment('shop', '1.0') });
    await fleet.kustomization('infra', './infra');
    await fleet.kustomization('apps', './apps', '  dependsOn: [{name: infra}]\n');
    await fleet.waitKustomization('apps', good, 'applied');

    const bad = await fleet.push('Cache 2.0 and shop 2.0', {
      'infra/deployment.yaml': deployment('cache', '2.0', true),
      'apps/deployment.yaml': deployment('shop', '2.0', true),
    });
    await fleet.waitKustomization('infra', bad, 'failed');

    await fleet.rollback('undo-both', `  revert: {commits: ['${bad}']}`);
    const done = await fleet.waitRollback('undo-both', ['infra', 'apps']);
    expectReady(done);
    expect(done.status?.kustomizations?.map((k) => k.name).sort()).toEqual(['apps', 'infra']);
    await fleet.waitHealthy('cache', '1.0');
    await fleet.waitHealthy('shop', '1.0');
  });

  test('GitOps-managed request: Flux applies the committed GitOpsRollback, the revert lands once, and removing the file prunes it without touching git', async () => {
    const fleet = new Fleet();
    const good = await fleet.create({ 'apps/frontend/deployment.yaml': deployment('frontend', '1.0'), 'rollbacks/.keep': '' });
    await fleet.kustomization('frontend', './apps/frontend');
    await fleet.kustomization('requests', './rollbacks');
    await fleet.waitKustomization('frontend', good, 'applied');
    const bad = await fleet.push('Deploy frontend 2.0', { 'apps/frontend/deployment.yaml': deployment('frontend', '2.0', true) });
    await fleet.waitKustomization('frontend', bad, 'failed');

    // The on-call engineer commits the request; Flux applies it and waits for its kstatus.
    const request = await fleet.push('Request rollback of frontend 2.0 (INC-4243)', {
      'rollbacks/undo-frontend.yaml': `apiVersion: rollback.gitops.dev/v1alpha1
kind: GitOpsRollback
metadata: {name: undo-frontend}
spec:
  sourceRef: {kind: GitRepository, name: fleet}
  revert: {commits: ['${bad}']}
  incident: INC-4243
`,
    });
    const done = await fleet.waitRollback('undo-frontend', ['frontend']);
    expectReady(done);
    await fleet.waitHealthy('frontend', '1.0');
    // Flux re-applies the same request at the revert's revision (and waits for it to be Ready).
    const revert = fleet.head();
    await fleet.waitKustomization('requests', revert, 'applied');
    expect(fleet.revertCount(request)).toBe(1);

    const removal = await fleet.push('Rollback done', { 'rollbacks/undo-frontend.yaml': null });
    await fleet.waitKustomization('requests', removal, 'applied');
    await expect(kubectl(['get', 'gitopsrollback', 'undo-frontend', '-n', fleet.ns])).rejects.toMatchObject({
      data: { stderr: expect.stringContaining('NotFound') },
    });
    expect(fleet.head()).toBe(removal);
    expect(fleet.revertCount(bad)).toBe(1);
  });

  describe("automated: kustomize-controller's own HealthCheckFailed event reaches the webhook", () => {
    async function createPolicy(fleet: Fleet, kustomization: string): Promise<void> {
      await kubectl(['create', 'secret', 'generic', 'webhook-token', '-n', fleet.ns, `--from-literal=token=${TOKEN}`]);
      await kubectl(
        ['apply', '-n', fleet.ns, '-f', '-'],
        `apiVersion: rollback.gitops.dev/v1alpha1
kind: GitOpsRollbackPolicy
metadata: {name: auto}
spec:
  kustomizations: {names: [${kustomization}]}
  secretRef: {name: webhook-token}
  cooldown: 1s
`,
      );
      relay.route(fleet.ns, `${operator.webhookUrl}/hook/flux/${fleet.ns}/auto`, TOKEN);
    }
    const rollbacks = async (fleet: Fleet) =>
      (JSON.parse(await kubectl(['get', 'gitopsrollbacks', '-n', fleet.ns, '-o', 'json'])) as { items: GitOpsRollback[] }).items;
    /** The operator has seen `good` healthy: the policy's record of it. */
    const waitHealthyRecorded = (fleet: Fleet, good: string) =>
      eventually(
        'the healthy revision in the policy status',
        async () => {
          const policy = await fleet.get<{ status?: { kustomizations?: { lastHealthyRevision: string }[] } }>('gitopsrollbackpolicy', 'auto');
          return policy.status?.kustomizations?.[0]?.lastHealthyRevision === `main@sha1:${good}` ? true : undefined;
        },
        { ...WAIT, diagnostics },
      );
    /** The first GitOpsRollback the policy created. */
    const waitAutomaticRollback = async (fleet: Fleet) =>
      (
        await eventually(
          'the automatic GitOpsRollback',
          async () => {
            const list = await rollbacks(fleet);
            return list.length > 0 ? list : undefined;
          },
          { ...WAIT, diagnostics },
        )
      )[0];

    test('exactly one GitOpsRollback and one revert commit, the cluster healthy again, and no second rollback while Flux keeps sending events', async () => {
      const fleet = new Fleet();
      const good = await fleet.create({ 'apps/frontend/deployment.yaml': deployment('frontend', '1.0') });
      await createPolicy(fleet, 'frontend');
      await fleet.kustomization('frontend', './apps/frontend');
      await fleet.waitKustomization('frontend', good, 'applied');
      await waitHealthyRecorded(fleet, good);

      const bad = await fleet.push('Deploy frontend 2.0', { 'apps/frontend/deployment.yaml': deployment('frontend', '2.0', true) });
      const created = await waitAutomaticRollback(fleet);
      const done = await fleet.waitRollback(created.metadata.name!, ['frontend']);
      expectReady(done);
      expect(done.spec.revert?.range).toEqual({ from: good, to: bad });
      await fleet.waitHealthy('frontend', '1.0');

      // Flux went on sending (Progressing, ReconciliationSucceeded for the revert, ...): still one.
      const revert = fleet.head();
      await eventually(
        "Flux's event for the revert",
        async () => (forwardedFor(fleet.ns).some((e) => e.revision === `main@sha1:${revert}`) ? true : undefined),
        { ...WAIT, diagnostics },
      );
      const forwarded = forwardedFor(fleet.ns);
      expect(forwarded.filter((e) => e.reason === 'HealthCheckFailed' && e.revision === `main@sha1:${bad}`).length).toBeGreaterThanOrEqual(1);
      expect(forwarded.every((e) => e.status === 202)).toBe(true);
      expect(await rollbacks(fleet)).toHaveLength(1);
      expect(fleet.revertCount(bad)).toBe(1);
    });

    test("a policy created while the Kustomization already fails, so the operator never saw the good revision: the rollback reverts good..bad from Flux's status.history", async () => {
      const fleet = new Fleet();
      const good = await fleet.create({ 'apps/frontend/deployment.yaml': deployment('frontend', '1.0') });
      await fleet.kustomization('frontend', './apps/frontend');
      await fleet.waitKustomization('frontend', good, 'applied');
      const bad = await fleet.push('Deploy frontend 2.0', { 'apps/frontend/deployment.yaml': deployment('frontend', '2.0', true) });
      await fleet.waitKustomization('frontend', bad, 'failed');
      // kustomize-controller remembers both: good healthy, bad failed.
      const kustomization = await fleet.get<{ status?: { history?: { lastReconciledStatus: string; metadata?: { revision?: string } }[] } }>(
        'kustomization',
        'frontend',
      );
      expect(kustomization.status?.history?.map((s) => [s.lastReconciledStatus, s.metadata?.revision])).toEqual([
        ['HealthCheckFailed', `main@sha1:${bad}`],
        ['ReconciliationSucceeded', `main@sha1:${good}`],
      ]);

      // Only now the policy (and the relay's route to its webhook): the revision tracker reads
      // the Kustomization as it is, failing, and has no healthy revision to record.
      await createPolicy(fleet, 'frontend');
      const synced = await eventually(
        'the revision tracker to sync the new policy',
        async () => {
          const policy = await fleet.get<PolicyObject>('gitopsrollbackpolicy', 'auto');
          return policy.status?.observedGeneration === policy.metadata.generation ? policy : undefined;
        },
        { ...WAIT, diagnostics },
      );
      expect(synced.status?.kustomizations ?? []).toEqual([]);

      // Flux tries the failing revision again (`flux reconcile kustomization`); its HealthCheckFailed reaches the webhook.
      await kubectl(['annotate', '--overwrite', '-n', fleet.ns, 'kustomization/frontend', `reconcile.fluxcd.io/requestedAt=${new Date().toISOString()}`]);
      const created = await waitAutomaticRollback(fleet);
      expect(created.spec.revert?.range).toEqual({ from: good, to: bad });
      expect(created.spec.reason).toContain(`(last healthy revision ${good.slice(0, 12)} from Flux's status.history)`);
      expect(forwardedFor(fleet.ns).some((e) => e.reason === 'HealthCheckFailed' && e.revision === `main@sha1:${bad}` && e.status === 202)).toBe(true);
      const event = await eventually(
        'the RollbackCreated Event on the policy',
        async () => {
          const events = JSON.parse(
            await kubectl(['get', 'events', '-n', fleet.ns, '--field-selector', 'involvedObject.kind=GitOpsRollbackPolicy', '-o', 'json']),
          ) as { items: { reason: string; message: string }[] };
          return events.items.find((e) => e.reason === 'RollbackCreated');
        },
        { ...WAIT, diagnostics },
      );
      expect(event.message).toMatch(
        new RegExp(`^Created GitOpsRollback ${created.metadata.name}: .*; last healthy revision ${good.slice(0, 12)} from Flux's status\\.history$`),
      );

      const done = await fleet.waitRollback(created.metadata.name!, ['frontend']);
      expectReady(done);
      expect(done.status?.revertedCommits).toEqual([bad]);
      await fleet.waitHealthy('frontend', '1.0');
      expect(git(fleet.bare, 'show', 'main:apps/frontend/deployment.yaml')).toBe(deployment('frontend', '1.0').trimEnd());
      // The revert is recorded healthy. (That the policy had no record before the rollback is asserted
      // above; what the tracker records while Flux applies the revert is not this test's subject:
      // runs have seen `good` appear as previousHealthyRevision then, see the closing note.)
      const revert = fleet.head();
      await waitHealthyRecorded(fleet, revert);
      const after = await fleet.get<PolicyObject>('gitopsrollbackpolicy', 'auto');
      expect(after.status?.kustomizations?.[0]?.lastHealthyRevision).toBe(`main@sha1:${revert}`);
      expect(await rollbacks(fleet)).toHaveLength(1);
      expect(fleet.revertCount(bad)).toBe(1);
    });

    test('a revert that itself fails its health check does not trigger another rollback', async () => {
      const fleet = new Fleet();
      // The frontend pulls in a shared component from outside its path: the policy's revert is
      // limited to apps/frontend, so a breakage in apps/shared survives it.
      const component = (annotations: string) => `apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\ncommonAnnotations: {${annotations}}\n`;
      const good = await fleet.create({
        'apps/frontend/deployment.yaml': deployment('frontend', '1.0'),
        'apps/frontend/kustomization.yaml':
          'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [deployment.yaml]\ncomponents: [../shared]\n',
        'apps/shared/kustomization.yaml': component('team: shop'),
      });
      await createPolicy(fleet, 'frontend');
      await fleet.kustomization('frontend', './apps/frontend');
      await fleet.waitKustomization('frontend', good, 'applied');
      await waitHealthyRecorded(fleet, good);

      await fleet.push('Frontend 2.0 with shared annotations', {
        'apps/frontend/deployment.yaml': deployment('frontend', '2.0'),
        'apps/shared/kustomization.yaml': component(`team: shop, ${BROKEN_POD_ANNOTATION}: "true"`),
      });
      const created = await waitAutomaticRollback(fleet);
      const done = await eventually(
        'the rollback to end',
        async () => {
          const r = await fleet.get<GitOpsRollback>('gitopsrollback', created.metadata.name!);
          return isFinished(r) ? r : undefined;
        },
        { ...WAIT, diagnostics },
      );
      // Flux applied the revert and its health check failed again (the shared breakage stays).
      expect(conditionOf(done, 'Stalled')).toMatchObject({ status: 'True', reason: 'ApplyFailed' });
      const revert = done.status!.headAfter!;
      await eventually(
        "Flux's HealthCheckFailed for the revert to reach the webhook",
        async () =>
          forwardedFor(fleet.ns).some((e) => e.reason === 'HealthCheckFailed' && e.revision === `main@sha1:${revert}` && e.status === 202) ? true : undefined,
        { ...WAIT, diagnostics },
      );
      const refused = await eventually(
        'the loop guard',
        async () => {
          const events = JSON.parse(
            await kubectl(['get', 'events', '-n', fleet.ns, '--field-selector', 'involvedObject.kind=GitOpsRollbackPolicy', '-o', 'json']),
          ) as { items: { reason: string }[] };
          return events.items.find((e) => e.reason === 'RollbackLoopPrevented');
        },
        { ...WAIT, diagnostics },
      );
      expect(refused).toBeDefined();
      expect(await rollbacks(fleet)).toHaveLength(1);
      expect(fleet.head()).toBe(revert);
    });
  });
});
