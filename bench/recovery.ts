/**
 * `npm run bench:recovery`: mean time to recovery with the real Flux, on the cluster mode of the
 * test control plane (test/envtest/cluster.ts). The automated path: a bad deploy fails
 * kustomize-controller's health check; its HealthCheckFailed event goes through a signing relay
 * (notification-controller's generic-hmac part, test/helpers/flux-fleet.ts) to the operator's webhook;
 * the GitOpsRollbackPolicy creates a GitOpsRollback; the operator pushes the revert and asks Flux
 * to reconcile; kustomize-controller applies it; the Deployment is healthy again.
 *
 * Phases, each from the previous mark: HealthCheckFailed event -> rollback created -> revert
 * pushed -> Flux applied the revert -> Deployment healthy (every replica updated and available on
 * the good image). Also reported: Flux's own Ready=True for the revert (its health check polls
 * every 5 s) and the rollback's Ready=True.
 *
 * Settings: kustomize-controller with --feature-gates=CancelHealthCheckOnNewRevision=false and
 * =true (a cluster each), and per cluster two request patterns:
 *  - operator: what the operator does (GitRepository at once, each Kustomization once its source
 *    serves the pushed commit: src/flux/request-reconcile.ts);
 *  - old: as before, the Kustomization annotated together with the GitRepository (like
 *    `flux reconcile kustomization --with-source`): the bench annotates it the moment the revert
 *    is on the server branch. Skip with BENCH_OLD_PATTERN=0.
 *
 * Each run gets a fresh namespace, repository, GitRepository, Kustomization (wait: true, timeout
 * BENCH_FLUX_TIMEOUT, default 30s) and policy. The Deployment has Kubernetes' default
 * progressDeadlineSeconds (600) unless BENCH_PROGRESS_DEADLINE is set.
 *
 * Timestamps are taken in this process, in milliseconds: the relay's receipt of the event; watch
 * events (client-node Watch) for the GitOpsRollback, the Kustomization and the Deployment; the
 * server's refs/heads/main polled every 5 ms for the push. (The objects' own times, such as
 * lastTransitionTime, have whole-second resolution.)
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import type { GitOpsRollback } from '../src/api/v1alpha1/types.js';
import { startCluster, type Cluster, type ProcessReport } from '../test/envtest/cluster.js';
import { startGitHttpServer, type GitHttpServer } from '../test/helpers/git-http-server.js';
import { createGitAuthSecret, GIT_AUTH, installOperator } from '../test/helpers/operator-install.js';
import type { OperatorProcess } from '../test/helpers/operator-process.js';
import {
  FleetRepo,
  SigningRelay,
  deployment,
  deploymentHealthy,
  eventRevision,
  git,
  gitRepositoryYaml,
  imageOf,
  kustomizationApplied,
  kustomizationOutcome,
  kustomizationYaml,
  revisionOf,
  type DeploymentObject,
  type FluxKustomization,
  type Kubectl,
} from '../test/helpers/flux-fleet.js';
import { eventually } from '../test/helpers/eventually.js';
import { envInt, median } from './measure.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RUNS = envInt('BENCH_RUNS', 3);
const FLUX_TIMEOUT = process.env.BENCH_FLUX_TIMEOUT || '30s';
const PROGRESS_DEADLINE = process.env.BENCH_PROGRESS_DEADLINE ? envInt('BENCH_PROGRESS_DEADLINE', 600) : undefined;
const OLD_PATTERN = process.env.BENCH_OLD_PATTERN !== '0';
const GATES = (process.env.BENCH_GATES ?? 'false,true').split(',').map((g) => g.trim() === 'true');
const TOKEN = 'bench-hmac-t0ken';
const WAIT_MS = 5 * 60_000;

type Pattern = 'operator' | 'old';

function log(message: string): void {
  process.stdout.write(`[bench:recovery] ${message}\n`);
}

/** Milliseconds from the HealthCheckFailed event. */
interface Sample {
  gate: boolean;
  pattern: Pattern;
  created: number;
  pushed: number;
  applied: number;
  healthy: number;
  fluxReady: number;
  rollbackReady: number;
  /** kustomize-controller ran the broken revision's health check again after the push. */
  reranBroken: boolean;
}

// ---------------------------------------------------------------------------------------------
// Recording what happens in a namespace

interface Snapshot<T> {
  at: number;
  object: T;
}

/** Every version of the objects at `apiPath` (a namespaced list path) seen by a watch, with its time. */
class Recorder<T> {
  readonly seen: Snapshot<T>[] = [];
  private controller?: AbortController;
  error?: unknown;

  async start(kc: KubeConfig, apiPath: string): Promise<void> {
    const watch = new Watch(kc);
    Object.assign(watch, { requestTimeoutMs: 15 * 60_000 });
    this.controller = await watch.watch(
      apiPath,
      {},
      (phase, object) => {
        if (phase === 'ADDED' || phase === 'MODIFIED') this.seen.push({ at: Date.now(), object: object as T });
      },
      (err: unknown) => {
        if (err && !this.controller?.signal.aborted) this.error = err;
      },
    );
  }

  /** Time of the first snapshot at or after `after` for which `test` holds. */
  first(test: (object: T) => boolean, after = 0): number | undefined {
    return this.seen.find((s) => s.at >= after && test(s.object))?.at;
  }

  stop(): void {
    this.controller?.abort();
  }
}

/** refs/heads/main of a bare repository, from its files (loose ref, else packed-refs). */
function readBranch(gitdir: string): string {
  try {
    return fs.readFileSync(path.join(gitdir, 'refs', 'heads', 'main'), 'utf8').trim();
  } catch {
    const line = fs
      .readFileSync(path.join(gitdir, 'packed-refs'), 'utf8')
      .split('\n')
      .find((l) => l.endsWith(' refs/heads/main'));
    return line?.slice(0, 40) ?? '';
  }
}

async function waitBranchMoves(gitdir: string, from: string, timeoutMs: number): Promise<{ at: number; head: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let head = from;
    try {
      head = readBranch(gitdir);
    } catch {
      // Between git's lock-file rename steps; read again.
    }
    if (head !== from && /^[0-9a-f]{40}$/.test(head)) return { at: Date.now(), head };
    if (Date.now() > deadline) throw new Error(`the server branch did not move from ${from} within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

// ---------------------------------------------------------------------------------------------

interface Setting {
  cluster: Cluster;
  kubectl: Kubectl;
  kc: KubeConfig;
  relay: SigningRelay;
  server: GitHttpServer;
  serverRoot: string;
  workRoot: string;
  operator: OperatorProcess;
}

let runNumber = 0;

const web = (version: string, broken = false): string => deployment('web', version, { broken, progressDeadlineSeconds: PROGRESS_DEADLINE });

async function measureRun(s: Setting, gate: boolean, pattern: Pattern): Promise<Sample> {
  const { kubectl, relay } = s;
  const ns = `mttr-${++runNumber}`;
  const repo = FleetRepo.create(s.workRoot, s.serverRoot, ns, 'Deploy web 1.0', { 'apps/web/deployment.yaml': web('1.0') });
  const good = repo.head();
  await kubectl(['create', 'namespace', ns]);
  await createGitAuthSecret(s.cluster.plane, ns);
  await kubectl(['create', 'secret', 'generic', 'webhook-token', '-n', ns, `--from-literal=token=${TOKEN}`]);
  await kubectl(
    ['apply', '-n', ns, '-f', '-'],
    `${gitRepositoryYaml('fleet', s.server.urlFor(`${ns}.git`), 'git-auth')}---
${kustomizationYaml('web', './apps/web', 'fleet', FLUX_TIMEOUT)}  targetNamespace: ${ns}
---
apiVersion: rollback.gitops.dev/v1alpha1
kind: GitOpsRollbackPolicy
metadata: {name: auto}
spec:
  kustomizations: {names: [web]}
  reasons: [HealthCheckFailed]
  secretRef: {name: webhook-token}
`,
  );
  relay.route(ns, `${s.operator.webhookUrl}/hook/flux/${ns}/auto`, TOKEN);
  const getJson = async <T>(kind: string, name: string): Promise<T> => JSON.parse(await kubectl(['get', kind, name, '-n', ns, '-o', 'json'])) as T;
  await eventually(
    `${ns}: the good revision applied and healthy`,
    async () => (kustomizationOutcome(await getJson<FluxKustomization>('kustomization', 'web'), good) === 'applied' ? true : undefined),
    { timeoutMs: WAIT_MS },
  );
  await eventually(
    `${ns}: the healthy revision in the policy status`,
    async () => {
      const policy = await getJson<{ status?: { kustomizations?: { lastHealthyRevision?: string }[] } }>('gitopsrollbackpolicy', 'auto');
      return policy.status?.kustomizations?.[0]?.lastHealthyRevision === revisionOf(good) ? true : undefined;
    },
    { timeoutMs: WAIT_MS },
  );

  const kustomizations = new Recorder<FluxKustomization>();
  const deployments = new Recorder<DeploymentObject>();
  const rollbacks = new Recorder<GitOpsRollback>();
  await kustomizations.start(s.kc, `/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/${ns}/kustomizations`);
  await deployments.start(s.kc, `/apis/apps/v1/namespaces/${ns}/deployments`);
  await rollbacks.start(s.kc, `/apis/rollback.gitops.dev/v1alpha1/namespaces/${ns}/gitopsrollbacks`);
  let eventAt: number | undefined;
  let bad = '';
  const unlisten = relay.listen((event, receivedAt) => {
    if (eventAt === undefined && event.involvedObject.namespace === ns && event.reason === 'HealthCheckFailed' && eventRevision(event) === revisionOf(bad))
      eventAt = receivedAt;
  });
  try {
    bad = repo.push('Deploy web 2.0', { 'apps/web/deployment.yaml': web('2.0', true) });
    await kubectl(['annotate', '--overwrite', '-n', ns, 'gitrepository/fleet', `reconcile.fluxcd.io/requestedAt=${new Date().toISOString()}`]);
    const push = await waitBranchMoves(repo.bare, bad, WAIT_MS);
    if (pattern === 'old') {
      await kubectl(['annotate', '--overwrite', '-n', ns, 'kustomization/web', `reconcile.fluxcd.io/requestedAt=${new Date().toISOString()}`]);
    }
    const revert = push.head;
    const diagnostics = () =>
      `kustomization: ${JSON.stringify(kustomizations.seen.at(-1)?.object.status)}\nrollbacks: ${JSON.stringify(rollbacks.seen.at(-1)?.object.status?.conditions)}\noperator:\n${s.operator.logs().slice(-2000)}`;
    const marks = await eventually(
      `${ns}: healthy again and the rollback Ready`,
      async () => {
        const healthy = deployments.first((d) => deploymentHealthy(d, imageOf('web', '1.0')), push.at);
        const rollbackReady = rollbacks.first((r) => r.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true);
        const fluxReady = kustomizations.first((k) => kustomizationOutcome(k, revert) === 'applied');
        if (healthy === undefined || rollbackReady === undefined || fluxReady === undefined) return undefined;
        return { healthy, rollbackReady, fluxReady };
      },
      { timeoutMs: WAIT_MS, intervalMs: 200, diagnostics },
    );
    const created = rollbacks.first(() => true);
    const applied = kustomizations.first((k) => kustomizationApplied(k, revert));
    if (eventAt === undefined || created === undefined || applied === undefined)
      throw new Error(`${ns}: missing marks (event ${eventAt}, created ${created}, applied ${applied})\n${diagnostics()}`);
    const all = JSON.parse(await kubectl(['get', 'gitopsrollbacks', '-n', ns, '-o', 'json'])) as { items: GitOpsRollback[] };
    if (all.items.length !== 1) throw new Error(`${ns}: ${all.items.length} GitOpsRollbacks, expected 1`);
    const reverts = Number(git(repo.bare, 'rev-list', '--count', `${bad}..main`));
    if (reverts !== 1) throw new Error(`${ns}: ${reverts} commits after the bad one, expected 1 revert`);
    const reranBroken =
      kustomizations.first(
        (k) => (k.status?.conditions ?? []).some((c) => c.type === 'Healthy' && c.message?.startsWith(`Running health checks for revision ${revisionOf(bad)}`)),
        push.at,
      ) !== undefined;
    const from = (t: number) => t - eventAt!;
    return {
      gate,
      pattern,
      created: from(created),
      pushed: from(push.at),
      applied: from(applied),
      healthy: from(marks.healthy),
      fluxReady: from(marks.fluxReady),
      rollbackReady: from(marks.rollbackReady),
      reranBroken,
    };
  } finally {
    unlisten();
    kustomizations.stop();
    deployments.stop();
    rollbacks.stop();
  }
}

// ---------------------------------------------------------------------------------------------

interface ClusterReport {
  gate: boolean;
  startMs: number;
  atStart: ProcessReport[];
  atEnd: ProcessReport[];
}

async function benchCluster(gate: boolean, workDir: string, samples: Sample[], undo: (() => Promise<unknown> | void)[]): Promise<ClusterReport> {
  const relay = new SigningRelay();
  await relay.start();
  undo.push(() => relay.stop());
  log(`starting the cluster with --feature-gates=CancelHealthCheckOnNewRevision=${gate}`);
  const cluster = await startCluster({ eventsAddress: relay.url, cancelHealthCheckOnNewRevision: gate });
  undo.push(() => cluster.stop());
  const atStart = cluster.processes();
  log(`  ready in ${cluster.startMs} ms: ${atStart.map((p) => `${p.name} ${p.rssMiB} MiB`).join(', ')}`);
  const kubectl: Kubectl = (args, input) => cluster.plane.kubectl(args, input === undefined ? undefined : { input });
  const operatorKubeconfig = await installOperator(cluster.plane);
  const serverRoot = path.join(workDir, `server-${gate}`);
  const workRoot = path.join(workDir, `work-${gate}`);
  fs.mkdirSync(serverRoot, { recursive: true });
  fs.mkdirSync(workRoot, { recursive: true });
  const server = await startGitHttpServer({ root: serverRoot, auth: GIT_AUTH });
  undo.push(() => server.stop());
  // Imported here: operator-process.ts resolves dist/cli/main.js from the working directory.
  const { startOperator } = await import('../test/helpers/operator-process.js');
  // On a loaded machine the operator can miss startOperator's 30 s readiness limit: one more try.
  const start = () => startOperator({ kubeconfigPath: operatorKubeconfig, cacheDir: path.join(workDir, `cache-${gate}`) });
  const operator = await start().catch((err: unknown) => {
    log(`  operator start failed, retrying: ${(err as Error).message.split('\n')[0]}`);
    return start();
  });
  undo.push(() => operator.stop());
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.plane.kubeconfigPath);
  const setting: Setting = { cluster, kubectl, kc, relay, server, serverRoot, workRoot, operator };
  for (const pattern of OLD_PATTERN ? (['operator', 'old'] as const) : (['operator'] as const)) {
    for (let i = 1; i <= RUNS; i++) {
      const sample = await measureRun(setting, gate, pattern);
      samples.push(sample);
      log(
        `  gate=${gate} ${pattern} ${i}/${RUNS}: created ${fmt(sample.created)}, pushed ${fmt(sample.pushed)}, applied ${fmt(sample.applied)}, healthy ${fmt(sample.healthy)}, Flux Ready ${fmt(sample.fluxReady)}, rollback Ready ${fmt(sample.rollbackReady)}${sample.reranBroken ? ' (re-ran the broken revision)' : ''}`,
      );
    }
  }
  const atEnd = cluster.processes();
  while (undo.length > 0) await undo.pop()!();
  return { gate, startMs: cluster.startMs, atStart, atEnd };
}

async function main(): Promise<void> {
  process.chdir(ROOT);
  if (!fs.existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('dist/cli/main.js is missing: run `npm run build` first');
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-recovery-'));
  const undo: (() => Promise<unknown> | void)[] = [];
  const cleanUp = async (): Promise<void> => {
    while (undo.length) await Promise.resolve(undo.pop()!()).catch((err: unknown) => log(`clean-up: ${(err as Error).message}`));
    fs.rmSync(workDir, { recursive: true, force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void cleanUp().then(() => process.exit(130)));
  const loadBefore = loadAverage();
  const began = Date.now();
  const samples: Sample[] = [];
  const clusters: ClusterReport[] = [];
  try {
    for (const gate of GATES) clusters.push(await benchCluster(gate, workDir, samples, undo));
  } finally {
    await cleanUp();
  }
  printReport(samples, clusters, loadBefore, loadAverage(), Date.now() - began);
}

// ---------------------------------------------------------------------------------------------
// Report

function loadAverage(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

function fmt(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function stats(values: number[]): string {
  return `${fmt(median(values))} (${fmt(Math.min(...values))}–${fmt(Math.max(...values))})`;
}

function printReport(samples: Sample[], clusters: ClusterReport[], loadBefore: string, loadAfter: string, totalMs: number): void {
  const rows: string[] = [
    '| CancelHealthCheckOnNewRevision | reconcile requests | runs | event → rollback created | → pushed | → Flux applied | → healthy | **MTTR: event → healthy** | Flux Ready | rollback Ready | broken revision re-run |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const gate of GATES) {
    for (const pattern of ['operator', 'old'] as const) {
      const set = samples.filter((s) => s.gate === gate && s.pattern === pattern);
      if (set.length === 0) continue;
      const step = (f: (s: Sample) => number) => stats(set.map(f));
      rows.push(
        `| ${gate} | ${pattern === 'operator' ? 'operator (source first)' : 'old (source + Kustomization)'} | ${set.length} | ${step((s) => s.created)} | ${step((s) => s.pushed - s.created)} | ${step((s) => s.applied - s.pushed)} | ${step((s) => s.healthy - s.applied)} | **${step((s) => s.healthy)}** | ${step((s) => s.fluxReady)} | ${step((s) => s.rollbackReady)} | ${set.filter((s) => s.reranBroken).length}/${set.length} |`,
      );
    }
  }
  const memKb = /MemTotal:\s+(\d+) kB/.exec(fs.readFileSync('/proc/meminfo', 'utf8'))?.[1];
  const cpu = /model name\s*:\s*(.+)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'n/a';
  const nproc = execFileSync('nproc', { encoding: 'utf8' }).trim();
  const processes = clusters.map((c) => {
    const table = c.atStart.map((p) => {
      const end = c.atEnd.find((e) => e.name === p.name)?.rssMiB;
      return `| ${p.name} | ${p.readyMs ? fmt(p.readyMs) : '(control plane)'} | ${p.rssMiB ?? '?'} MiB | ${end ?? '?'} MiB |`;
    });
    const total = (list: ProcessReport[]) => list.reduce((sum, p) => sum + (p.rssMiB ?? 0), 0);
    return `cluster with CancelHealthCheckOnNewRevision=${c.gate}: ready in ${fmt(c.startMs)} (after the binaries were provided)\n\n| process | ready after | RSS at start | RSS at the end |\n| --- | --- | --- | --- |\n${table.join('\n')}\n| total | | ${total(c.atStart)} MiB | ${total(c.atEnd)} MiB |`;
  });
  process.stdout.write(`
gitops-rollback recovery: automated path (policy + webhook) on the real Flux v1.9.6, Kustomization timeout ${FLUX_TIMEOUT}, progressDeadlineSeconds ${PROGRESS_DEADLINE ?? '600 (default)'}; times from kustomize-controller's HealthCheckFailed event, median (min–max)

${rows.join('\n')}

${processes.join('\n\n')}

machine: nproc ${nproc} (${cpu}), memory ${memKb ? `${(Number(memKb) / 2 ** 20).toFixed(1)} GiB` : 'n/a'}, node ${process.version}
load average (1, 5, 15 min): ${loadBefore} before, ${loadAfter} after; the whole bench took ${fmt(totalMs)}
`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:recovery failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
