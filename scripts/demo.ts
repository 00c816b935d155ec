/**
 * `npm run demo`: the whole loop on this machine, with the real Flux and no cluster needed. Brings
 * up the cluster mode of the test control plane (test/envtest/cluster.ts: etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler, a kwok node, Flux's source-controller and
 * kustomize-controller), a git server holding a small GitOps repository, and the operator with
 * its own ServiceAccount. Flux applies a good deploy (pods Ready), then a bad one (pods never
 * Ready, the Kustomization's health check fails); a GitOpsRollback reverts it, Flux applies the
 * revert, and the pods are Ready again. Everything it started is stopped and removed at the end,
 * also on Ctrl-C or an error.
 *
 *   npm run demo                    # the run above (manual rollback)
 *   npm run demo -- --automated     # then a second scene: a GitOpsRollbackPolicy rolls the next
 *                                   # bad deploy back by itself, from kustomize-controller's event
 *   npm run demo -- --oncall        # then a scene as an on-call engineer lives it: the next bad deploy,
 *                                   # `gitops-rollback history` and `rollback --to-last-healthy --wait`
 *   npm run demo -- --keep          # leave everything running at the end until Ctrl-C, to explore
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import type { GitOpsRollback } from '../src/api/v1alpha1/types.js';
import { provideBinaries, provideClusterBinaries, provideFluxCrds } from '../test/envtest/binaries.js';
import { startCluster, type Cluster } from '../test/envtest/cluster.js';
import { startGitHttpServer } from '../test/helpers/git-http-server.js';
import { eventually } from '../test/helpers/eventually.js';
import {
  FleetRepo,
  SigningRelay,
  deployment,
  deploymentHealthy,
  eventRevision,
  git,
  gitRepositoryYaml,
  imageOf,
  kustomizationOutcome,
  kustomizationYaml,
  revisionOf,
  type DeploymentObject,
  type FluxKustomization,
  type Kubectl,
} from '../test/helpers/flux-fleet.js';

// dist-tools/scripts/demo.js -> the repository root (the operator and config/ are found from there).
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NAMESPACE = 'shop';
const ROLLBACK = 'revert-frontend-1-5-0';
const SECRET = 'fleet-git-credentials';
const WEBHOOK_SECRET = 'rollback-webhook-token';
const KEEP = process.argv.includes('--keep');
const AUTOMATED = process.argv.includes('--automated');
const ONCALL = process.argv.includes('--oncall');
/** Deployments fail their rollout after this long without progress: Flux's health check fails fast. */
const PROGRESS_DEADLINE = 15;
/** The Kustomization's health-check timeout (an upper bound: the progress deadline ends it first). */
const FLUX_TIMEOUT = '1m';
const WAIT_MS = 5 * 60_000;

// ---------------------------------------------------------------------------------------------
// Output

const tty = process.stdout.isTTY === true;
const bold = (s: string): string => (tty ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s: string): string => (tty ? `\x1b[2m${s}\x1b[0m` : s);
const started = Date.now();
let sectionNumber = 0;

function section(title: string): void {
  endProgress();
  process.stdout.write(`\n${bold(`== ${++sectionNumber}. ${title} ==`)}\n`);
}

function say(text: string): void {
  endProgress();
  process.stdout.write(`${text}\n`);
}

/** Prints a command as a user would type it, then its output indented. */
function shown(command: string, output: string): void {
  say(dim(`$ ${command}`));
  const body = output.replace(/\s+$/, '');
  if (body)
    say(
      body
        .split('\n')
        .map((line) => `  ${line}`)
        .join('\n'),
    );
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

// A waiting line: "waiting for X ... 12 s" updated in place on a terminal, dots otherwise.
let progress: { what: string; since: number } | undefined;

function startProgress(what: string): () => void {
  endProgress();
  progress = { what, since: Date.now() };
  process.stdout.write(dim(`  ${what} ...`));
  return () => {
    if (!progress) return;
    if (tty) process.stdout.write(`\r\x1b[K${dim(`  ${progress.what} ... ${seconds(Date.now() - progress.since)}`)}`);
    else process.stdout.write('.');
  };
}

function endProgress(): void {
  if (!progress) return;
  const took = seconds(Date.now() - progress.since);
  process.stdout.write(tty ? `\r\x1b[K${dim(`  ${progress.what}: ${took}`)}\n` : ` ${took}\n`);
  progress = undefined;
}

// ---------------------------------------------------------------------------------------------
// Clean-up: everything started registers its undo; run newest first, once, whatever happens.

const cleanups: { what: string; undo: () => Promise<unknown> | void }[] = [];
let cleaning: Promise<void> | undefined;

function onCleanup(what: string, undo: () => Promise<unknown> | void): void {
  cleanups.push({ what, undo });
}

function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    while (cleanups.length > 0) {
      const { what, undo } = cleanups.pop()!;
      try {
        await undo();
      } catch (err) {
        process.stderr.write(`demo: could not stop ${what}: ${(err as Error).message}\n`);
      }
    }
  })();
  return cleaning;
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130); // a second Ctrl-C: stop waiting (daemons die with us)
    interrupted = true;
    say(`\n${signal === 'SIGINT' ? 'Interrupted' : signal}: stopping everything the demo started...`);
    void cleanUp().then(() => process.exit(KEEP && signal === 'SIGINT' ? 0 : 130));
  });
}

// ---------------------------------------------------------------------------------------------

interface Demo {
  cluster: Cluster;
  kubectl: Kubectl;
  repo: FleetRepo;
  relay: SigningRelay;
  operatorLogs: () => string;
  webhookUrl: string;
}

const frontend = (version: string, broken = false): string =>
  deployment('frontend', version, { broken, replicas: 2, progressDeadlineSeconds: PROGRESS_DEADLINE });

async function main(): Promise<void> {
  process.chdir(ROOT);
  const demoDir = mkdtempSync(join(tmpdir(), 'gitops-rollback-demo-'));
  onCleanup('the demo directory', () => rmSync(demoDir, { recursive: true, force: true }));

  say(bold('gitops-rollback demo: a bad deploy, the real Flux, and a rollback that ends when the pods are back'));
  say("A local Kubernetes control plane with a fake node (kwok), Flux's source-controller and");
  say('kustomize-controller, a git server, and the operator. Flux applies a good deploy, then a bad one');
  say(`whose pods never become Ready; a GitOpsRollback reverts it${AUTOMATED ? ', then (--automated) a policy does it by itself' : ''}.`);
  say(dim(`(working files in ${demoDir}; all removed at the end)`));

  section('Binaries: Kubernetes, kwok and Flux');
  say('test/envtest/provide-*.sh take them from their cache (~/.cache/gitops-rollback/envtest). On a');
  say('fresh machine the first run builds them from the Go module proxy (needs Go): kube-apiserver, etcd,');
  say('kubectl, kube-controller-manager, kube-scheduler, kwok, source-controller and kustomize-controller');
  say('v1.9.6: about 25 minutes on 2 cores (an hour on a busy machine), once; their progress is shown below.');
  say('Later runs find them in the cache at once.');
  let began = Date.now();
  const slowNotice = setTimeout(() => say('Building... (progress from the provide scripts and go below; Ctrl-C is safe)'), 5_000);
  try {
    await Promise.all([provideBinaries(), provideClusterBinaries(), provideFluxCrds()]);
  } finally {
    clearTimeout(slowNotice);
  }
  say(`Ready in ${seconds(Date.now() - began)}.`);

  section('A cluster: control plane, a kwok node, Flux');
  const relay = new SigningRelay();
  await relay.start();
  onCleanup('the event relay', () => relay.stop());
  began = Date.now();
  const tick = startProgress('starting etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok, source-controller, kustomize-controller');
  const ticker = setInterval(tick, 1_000);
  let cluster: Cluster;
  try {
    cluster = await startCluster({ eventsAddress: relay.url, cancelHealthCheckOnNewRevision: true });
  } finally {
    clearInterval(ticker);
  }
  onCleanup('the cluster', () => cluster.stop());
  endProgress();
  say(`Ready in ${seconds(Date.now() - began)}; each process (all local, no containers):`);
  say(
    cluster
      .processes()
      .map(
        (p) =>
          `  ${p.name.padEnd(24)} pid ${String(p.pid).padEnd(7)} ${p.readyMs ? `ready after ${seconds(p.readyMs).padStart(7)}` : ''.padEnd(19)}  ${p.rssMiB ?? '?'} MiB`,
      )
      .join('\n'),
  );
  say(dim('kustomize-controller runs with --feature-gates=CancelHealthCheckOnNewRevision=true and'));
  say(dim("--events-addr=<a relay in this process> (notification-controller's part: it signs and forwards events)."));
  const kubectl: Kubectl = (args, input) => cluster.plane.kubectl(args, input === undefined ? undefined : { input });
  shown('kubectl get nodes', await kubectl(['get', 'nodes']));

  section('A git server with the GitOps repository');
  const auth = { username: 'flux', password: randomBytes(12).toString('hex') };
  const serverRoot = join(demoDir, 'git-server');
  mkdirSync(serverRoot);
  const repo = FleetRepo.create(join(demoDir, 'work'), serverRoot, 'fleet', 'Deploy frontend 1.4.0', { 'apps/frontend/deployment.yaml': frontend('1.4.0') });
  const server = await startGitHttpServer({ root: serverRoot, auth });
  onCleanup('the git server', () => server.stop());
  const url = server.urlFor('fleet.git');
  say(`${url} (git smart HTTP, basic auth), branch main:`);
  shown('git log --stat', git(repo.bare, 'log', '--stat', '--format=%h %s (%an)', 'main'));

  section('Install the operator (config/default) and run it as its ServiceAccount');
  const { installOperator } = await import('../test/helpers/operator-install.js');
  const operatorKubeconfig = await installOperator(cluster.plane);
  say('As a user installs it: the CRDs, then `kubectl apply --server-side -k config/default` (namespace, RBAC).');
  shown(
    'kubectl get crds -o name | grep gitops',
    (await kubectl(['get', 'crds', '-o', 'name']))
      .split('\n')
      .filter((l) => l.includes('gitops'))
      .join('\n'),
  );
  // Imported here: operator-process.ts resolves dist/cli/main.js from the working directory.
  const { startOperator } = await import('../test/helpers/operator-process.js');
  const cacheDir = join(demoDir, 'operator-cache');
  mkdirSync(cacheDir);
  const args = ['--apply-poll-interval=1'];
  began = Date.now();
  const operator = await startOperator({ kubeconfigPath: operatorKubeconfig, args, cacheDir });
  onCleanup('the operator', () => operator.stop());
  shown(
    `node dist/cli/main.js --kubeconfig=<ServiceAccount token> ${args.join(' ')} ...`,
    `ready in ${seconds(Date.now() - began)} (${operator.healthUrl}/readyz answers 200)`,
  );

  const demo: Demo = { cluster, kubectl, repo, relay, operatorLogs: () => operator.logs(), webhookUrl: operator.webhookUrl };
  try {
    await fluxAppliesGoodDeploy(demo, url, auth);
    const bad = await badDeploy(demo, '1.5.0', 'Deploy frontend 1.5.0');
    await manualRollback(demo, bad);
    if (AUTOMATED) await automatedRollback(demo);
    if (ONCALL) await oncallRollback(demo);
    await showHistory(demo);
  } catch (err) {
    if (!interrupted) say(`\nOperator log (last lines):\n${operator.logs().trimEnd().split('\n').slice(-20).join('\n')}`);
    throw err;
  }

  if (KEEP) {
    section('Still running (--keep)');
    say('In another shell:');
    say(`  export PATH=${cluster.plane.info.binDir}:$PATH KUBECONFIG=${cluster.plane.kubeconfigPath}`);
    say(`  kubectl get pods,kustomizations,gitopsrollbacks -n ${NAMESPACE}; git --git-dir=${repo.bare} log --oneline`);
    say(`The git server (user ${auth.username}, password ${auth.password}): ${url}`);
    say(`Flux's logs: ${cluster.logPath('kustomize-controller')}, ${cluster.logPath('source-controller')}`);
    say('Press Ctrl-C to stop everything.');
    await new Promise(() => {}); // until the SIGINT handler cleans up and exits
  }
}

// ---------------------------------------------------------------------------------------------
// The scenes

async function getKustomization(kubectl: Kubectl): Promise<FluxKustomization> {
  return JSON.parse(await kubectl(['get', 'kustomization', 'apps', '-n', NAMESPACE, '-o', 'json'])) as FluxKustomization;
}

async function getFrontend(kubectl: Kubectl): Promise<DeploymentObject> {
  return JSON.parse(await kubectl(['get', 'deployment', 'frontend', '-n', NAMESPACE, '-o', 'json'])) as DeploymentObject;
}

/** Waits until the Kustomization reports `outcome` on `sha`, showing the pods meanwhile. */
async function waitFlux(kubectl: Kubectl, sha: string, outcome: 'applied' | 'failed', what: string): Promise<void> {
  const tick = startProgress(what);
  let last: FluxKustomization | undefined;
  await eventually(
    what,
    async () => {
      tick();
      last = await getKustomization(kubectl);
      return kustomizationOutcome(last, sha) === outcome ? true : undefined;
    },
    { timeoutMs: WAIT_MS, diagnostics: () => JSON.stringify(last?.status) },
  );
  endProgress();
}

async function waitHealthy(kubectl: Kubectl, version: string): Promise<void> {
  const tick = startProgress(`waiting for the frontend Deployment to run ${version} on every replica`);
  await eventually(
    'frontend healthy',
    async () => {
      tick();
      return deploymentHealthy(await getFrontend(kubectl), imageOf('frontend', version));
    },
    { timeoutMs: WAIT_MS },
  );
  endProgress();
}

async function fluxAppliesGoodDeploy(demo: Demo, url: string, auth: { username: string; password: string }): Promise<void> {
  const { kubectl, repo } = demo;
  section('Flux: a GitRepository and a Kustomization with wait: true');
  await kubectl(['create', 'namespace', NAMESPACE]);
  shown(`kubectl create namespace ${NAMESPACE}`, `namespace/${NAMESPACE} created`);
  shown(
    `kubectl create secret generic ${SECRET} -n ${NAMESPACE} --from-literal=username=${auth.username} --from-literal=password=********`,
    await kubectl([
      'create',
      'secret',
      'generic',
      SECRET,
      '-n',
      NAMESPACE,
      `--from-literal=username=${auth.username}`,
      `--from-literal=password=${auth.password}`,
    ]),
  );
  const manifest = `${gitRepositoryYaml('fleet', url, SECRET)}---
# wait: true: Flux applies, then waits until every object is healthy (kstatus), at most timeout.
${kustomizationYaml('apps', './apps', 'fleet', FLUX_TIMEOUT)}  targetNamespace: ${NAMESPACE}
`;
  say('flux.yaml:');
  say(
    manifest
      .trimEnd()
      .split('\n')
      .map((line) => `  ${line}`)
      .join('\n'),
  );
  shown(`kubectl apply -n ${NAMESPACE} -f flux.yaml`, await kubectl(['apply', '-n', NAMESPACE, '-f', '-'], manifest));
  await waitFlux(kubectl, repo.head(), 'applied', 'waiting for Flux to apply it and the pods to be Ready');
  shown(`kubectl get kustomization apps -n ${NAMESPACE}`, await kubectl(['get', 'kustomization', 'apps', '-n', NAMESPACE]));
  shown(`kubectl get pods -n ${NAMESPACE}`, await kubectl(['get', 'pods', '-n', NAMESPACE]));
}

/** Pushes a broken frontend and waits until Flux's health check fails on it. */
async function badDeploy(demo: Demo, version: string, message: string, automated = false): Promise<string> {
  const { kubectl, repo, relay } = demo;
  // With a policy the rollback follows the failure within seconds: wait for Flux's event itself.
  let bad = '';
  let unlisten = (): unknown => undefined;
  const failedEvent = new Promise<void>((resolve) => {
    unlisten = relay.listen((event) => {
      if (event.involvedObject.namespace === NAMESPACE && event.reason === 'HealthCheckFailed' && bad !== '' && eventRevision(event) === revisionOf(bad))
        resolve();
    });
  });
  section(`A bad deploy: frontend ${version}`);
  say(`CI pushes ${version}. Its pods start but never become Ready (kwok plays a crash-looping container).`);
  say(
    dim(`The Deployment has progressDeadlineSeconds: ${PROGRESS_DEADLINE}, so its rollout fails after ${PROGRESS_DEADLINE} s and Flux's health check with it.`),
  );
  bad = repo.push(message, { 'apps/frontend/deployment.yaml': frontend(version, true) });
  shown(`git push   # ${message}`, git(repo.bare, 'log', '-1', '--format=%h %s', 'main'));
  // What CI or `flux reconcile source git fleet` does, instead of waiting for the interval.
  const requestedAt = new Date().toISOString();
  shown(
    `kubectl annotate -n ${NAMESPACE} gitrepository/fleet reconcile.fluxcd.io/requestedAt=${requestedAt}   # flux reconcile source git fleet`,
    await kubectl(['annotate', '--overwrite', '-n', NAMESPACE, 'gitrepository/fleet', `reconcile.fluxcd.io/requestedAt=${requestedAt}`]),
  );
  if (automated) {
    const tick = startProgress('waiting for Flux to apply it and its health check to fail');
    const ticker = setInterval(tick, 1_000);
    try {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no HealthCheckFailed event for ${bad.slice(0, 7)} within ${WAIT_MS / 1000} s`)), WAIT_MS);
      });
      await Promise.race([failedEvent, timeout]).finally(() => clearTimeout(timer));
    } finally {
      clearInterval(ticker);
      unlisten();
    }
    endProgress();
    say('kustomize-controller sent HealthCheckFailed; the relay signed it and forwarded it to the webhook.');
  } else {
    unlisten();
    await waitFlux(kubectl, bad, 'failed', 'waiting for Flux to apply it and its health check to fail');
  }
  shown(`kubectl get pods -n ${NAMESPACE}`, await kubectl(['get', 'pods', '-n', NAMESPACE]));
  shown(`kubectl get deployment frontend -n ${NAMESPACE}`, await kubectl(['get', 'deployment', 'frontend', '-n', NAMESPACE]));
  const ready = (await getKustomization(kubectl)).status?.conditions?.find((c) => c.type === 'Ready');
  shown(`kubectl get kustomization apps -n ${NAMESPACE} -o jsonpath='{.status.conditions[?(@.type=="Ready")]}'`, toYaml(ready, { lineWidth: 0 }));
  shown(
    `kubectl get events -n ${NAMESPACE} --field-selector involvedObject.kind=Kustomization,reason=HealthCheckFailed`,
    await kubectl(['get', 'events', '-n', NAMESPACE, '--field-selector', 'involvedObject.kind=Kustomization,reason=HealthCheckFailed']),
  );
  return bad;
}

async function manualRollback(demo: Demo, bad: string): Promise<void> {
  const { kubectl, repo } = demo;
  section('Roll back: a GitOpsRollback');
  const manifest = `apiVersion: rollback.gitops.dev/v1alpha1
kind: GitOpsRollback
metadata:
  name: ${ROLLBACK}
  namespace: ${NAMESPACE}
spec:
  sourceRef: {kind: GitRepository, name: fleet}   # the repository and credentials Flux uses
  revert:
    commits: [${bad.slice(0, 7)}]
  reason: frontend 1.5.0 pods never become Ready
  incident: INC-12345
`;
  say(`${ROLLBACK}.yaml:`);
  say(
    manifest
      .trimEnd()
      .split('\n')
      .map((line) => `  ${line}`)
      .join('\n'),
  );
  shown(`kubectl apply -f ${ROLLBACK}.yaml`, await kubectl(['apply', '-f', '-'], manifest));
  say('The operator reverts the commit in its cache, pushes (never force), asks Flux to fetch, and waits');
  say('until the Kustomization has applied the revert and its health check passed:');
  const rollback = await followRollback(kubectl, ROLLBACK);
  await recovered(demo, rollback, repo);
}

/** Prints each new state of the rollback's conditions until it is finished. */
async function followRollback(kubectl: Kubectl, name: string): Promise<GitOpsRollback> {
  const began = Date.now();
  let shownState = '';
  const rollback = await eventually(
    `${name} finished`,
    async () => {
      const object = JSON.parse(await kubectl(['get', 'gitopsrollback', name, '-n', NAMESPACE, '-o', 'json'])) as GitOpsRollback;
      const conditions = object.status?.conditions ?? [];
      const order = ['Reverted', 'Pushed', 'Applied', 'Reconciling', 'Stalled', 'Ready'];
      const state = [...conditions]
        .sort((a, b) => order.indexOf(a.type) - order.indexOf(b.type))
        .map((c) => `${c.type}=${c.status}${c.reason ? ` (${c.reason})` : ''}`)
        .join('  ');
      if (state && state !== shownState) {
        shownState = state;
        say(`  +${seconds(Date.now() - began).padStart(7)}  ${state}`);
      }
      return conditions.some((c) => (c.type === 'Ready' || c.type === 'Stalled') && c.status === 'True') ? object : undefined;
    },
    { timeoutMs: WAIT_MS, intervalMs: 300 },
  );
  const ready = rollback.status?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status !== 'True') throw new Error(`the rollback did not succeed: ${ready?.reason}: ${ready?.message}`);
  return rollback;
}

/** The cluster after a rollback: Flux applied the revert, pods Ready, the rollback's record. */
async function recovered(demo: Demo, rollback: GitOpsRollback, repo: FleetRepo): Promise<void> {
  const { kubectl } = demo;
  const name = rollback.metadata.name!;
  section('Flux applied the revert: pods Ready again');
  await waitHealthy(kubectl, '1.4.0');
  const k = await getKustomization(kubectl);
  say(`The Kustomization applied ${k.status?.lastAppliedRevision} (the revert, ${repo.head().slice(0, 7)}) and its health check passed.`);
  shown(`kubectl get kustomization apps -n ${NAMESPACE}`, await kubectl(['get', 'kustomization', 'apps', '-n', NAMESPACE]));
  shown(`kubectl get pods -n ${NAMESPACE}`, await kubectl(['get', 'pods', '-n', NAMESPACE]));
  shown(`kubectl get gitopsrollbacks -n ${NAMESPACE}`, await kubectl(['get', 'gitopsrollbacks', '-n', NAMESPACE]));
  const object = parseYaml(await kubectl(['get', 'gitopsrollback', name, '-n', NAMESPACE, '-o', 'yaml'])) as GitOpsRollback;
  const { conditions, phases, kustomizations, revertedCommits, headAfter } = object.status ?? {};
  shown(
    `kubectl get gitopsrollback ${name} -n ${NAMESPACE} -o yaml   # part of the status`,
    toYaml({ status: { revertedCommits, headAfter, kustomizations, phases, conditions } }, { lineWidth: 0 }),
  );
  shown(
    `kubectl get events -n ${NAMESPACE} --field-selector involvedObject.name=${name}`,
    await kubectl(['get', 'events', '-n', NAMESPACE, '--field-selector', `involvedObject.name=${name}`, '--sort-by=.lastTimestamp']),
  );
  if (revisionOf(headAfter ?? '') !== k.status?.lastAppliedRevision)
    throw new Error(`the Kustomization applied ${k.status?.lastAppliedRevision}, not the revert ${headAfter}`);
}

async function automatedRollback(demo: Demo): Promise<void> {
  const { kubectl, repo, relay } = demo;
  section('Automated: a GitOpsRollbackPolicy');
  const token = randomBytes(16).toString('hex');
  await kubectl(['create', 'secret', 'generic', WEBHOOK_SECRET, '-n', NAMESPACE, `--from-literal=token=${token}`]);
  shown(`kubectl create secret generic ${WEBHOOK_SECRET} -n ${NAMESPACE} --from-literal=token=********`, `secret/${WEBHOOK_SECRET} created`);
  const manifest = `apiVersion: rollback.gitops.dev/v1alpha1
kind: GitOpsRollbackPolicy
metadata: {name: auto, namespace: ${NAMESPACE}}
spec:
  kustomizations: {names: [apps]}
  reasons: [HealthCheckFailed]
  secretRef: {name: ${WEBHOOK_SECRET}}   # the HMAC key Flux's generic-hmac provider signs with
  incident: INC-AUTO
`;
  say('policy.yaml:');
  say(
    manifest
      .trimEnd()
      .split('\n')
      .map((line) => `  ${line}`)
      .join('\n'),
  );
  shown('kubectl apply -f policy.yaml', await kubectl(['apply', '-f', '-'], manifest));
  const hook = `${demo.webhookUrl}/hook/flux/${NAMESPACE}/auto`;
  relay.route(NAMESPACE, hook, token);
  say(`In a cluster, notification-controller sends Flux's events to the operator (an Alert and a generic-hmac`);
  say(`Provider, config/samples/automated-triggers). Here a relay does it: kustomize-controller's events -> ${hook}`);
  const tick = startProgress('waiting for the policy to record the healthy revision');
  const good = revisionOf(repo.head());
  await eventually(
    'the healthy revision',
    async () => {
      tick();
      const policy = JSON.parse(await kubectl(['get', 'gitopsrollbackpolicy', 'auto', '-n', NAMESPACE, '-o', 'json'])) as {
        status?: { kustomizations?: { lastHealthyRevision?: string }[] };
      };
      return policy.status?.kustomizations?.[0]?.lastHealthyRevision === good ? true : undefined;
    },
    { timeoutMs: WAIT_MS },
  );
  endProgress();
  shown(
    `kubectl get gitopsrollbackpolicy auto -n ${NAMESPACE} -o jsonpath='{.status.kustomizations}'`,
    await kubectl(['get', 'gitopsrollbackpolicy', 'auto', '-n', NAMESPACE, '-o', 'jsonpath={.status.kustomizations}']),
  );

  const events: string[] = [];
  const unlisten = relay.listen((event) => {
    if (event.involvedObject.namespace === NAMESPACE) events.push(`${event.severity.padEnd(5)} ${event.reason.padEnd(24)} ${eventRevision(event) ?? ''}`);
  });
  try {
    const before = new Set(
      JSON.parse(await kubectl(['get', 'gitopsrollbacks', '-n', NAMESPACE, '-o', 'json'])).items.map((r: GitOpsRollback) => r.metadata.name) as string[],
    );
    const bad = await badDeploy(demo, '1.6.0', 'Deploy frontend 1.6.0', true);
    say(`kustomize-controller's events so far (${events.length}, through the relay to the webhook):`);
    say(events.map((e) => `  ${e}`).join('\n'));
    const tickCreated = startProgress("waiting for the policy's GitOpsRollback");
    const name = await eventually(
      'the automatic GitOpsRollback',
      async () => {
        tickCreated();
        const list = JSON.parse(await kubectl(['get', 'gitopsrollbacks', '-n', NAMESPACE, '-o', 'json'])).items as GitOpsRollback[];
        return list.map((r) => r.metadata.name!).find((n) => !before.has(n));
      },
      { timeoutMs: WAIT_MS },
    );
    endProgress();
    shown(
      `kubectl get events -n ${NAMESPACE} --field-selector involvedObject.kind=GitOpsRollbackPolicy`,
      await kubectl(['get', 'events', '-n', NAMESPACE, '--field-selector', 'involvedObject.kind=GitOpsRollbackPolicy']),
    );
    shown(
      `kubectl get gitopsrollback ${name} -n ${NAMESPACE} -o jsonpath='{.spec}'`,
      toYaml(JSON.parse(await kubectl(['get', 'gitopsrollback', name, '-n', NAMESPACE, '-o', 'jsonpath={.spec}'])), { lineWidth: 0 }),
    );
    say(`The range runs from the last healthy revision to the failing one (${bad.slice(0, 7)}); the operator follows it:`);
    const rollback = await followRollback(kubectl, name);
    await recovered(demo, rollback, repo);
  } finally {
    unlisten();
  }
}

/**
 * The on-call scene: the next bad deploy, and the commands a person types during the incident —
 * the built CLI with the admin kubeconfig, its output shown as printed.
 */
async function oncallRollback(demo: Demo): Promise<void> {
  await badDeploy(demo, '1.6.0', 'Deploy frontend 1.6.0');
  section('During an incident: the on-call commands');
  const cli = (args: string[]): Promise<string> =>
    new Promise((resolve, reject) => {
      execFile(
        process.execPath,
        [join(ROOT, 'dist/cli/gitops-rollback.js'), ...args],
        { env: { ...process.env, KUBECONFIG: demo.cluster.plane.kubeconfigPath }, encoding: 'utf8' },
        (error, stdout, stderr) => (error && !stdout ? reject(new Error(`gitops-rollback ${args[0]} failed: ${stderr}`)) : resolve(stdout.trimEnd())),
      );
    });
  const kustomization = `${NAMESPACE}/apps`;
  const history = ['history', '--kustomization', kustomization, '--limit', '6'];
  shown(`gitops-rollback ${history.join(' ')}`, await cli(history));
  const rollback = [
    'rollback',
    '--kustomization',
    kustomization,
    '--to-last-healthy',
    '--wait',
    '--incident',
    'INC-12346',
    '--reason',
    'frontend 1.6.0 pods never become Ready',
  ];
  shown(`gitops-rollback ${rollback.map((a) => (a.includes(' ') ? `"${a}"` : a)).join(' ')}`, await cli(rollback));
  await waitHealthy(demo.kubectl, '1.4.0');
  shown(`kubectl get deployment frontend -n ${NAMESPACE}`, await demo.kubectl(['get', 'deployment', 'frontend', '-n', NAMESPACE]));
}

async function showHistory(demo: Demo): Promise<void> {
  const { repo } = demo;
  section('What git shows: the revert commits on the server');
  shown('git log --oneline main', git(repo.bare, 'log', '--oneline', 'main'));
  say('');
  shown('git show main   # message with the reason and trailers, then the change', git(repo.bare, 'show', '--format=fuller', 'main'));

  section('What the operator logged');
  const lines = demo
    .operatorLogs()
    .split('\n')
    .filter((line) => line.includes(`${NAMESPACE}/`));
  say(lines.map(formatLogLine).join('\n') || '(nothing about the rollback)');
}

/** One pino JSON line as "time level message {fields}" for reading; other lines unchanged. */
function formatLogLine(line: string): string {
  try {
    const { time, level, msg, pid: _pid, hostname: _hostname, ...rest } = JSON.parse(line) as Record<string, unknown>;
    const when = (typeof time === 'number' ? new Date(time).toISOString() : String(time ?? '')).slice(11, 23);
    const fields = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
    return `  ${when} ${String(level)} ${String(msg)}${fields}`;
  } catch {
    return `  ${line}`;
  }
}

main()
  .then(async () => {
    section('Clean up');
    await cleanUp();
    say(`Stopped the operator, Flux, kwok, the control plane and the git server; removed the temporary files. Demo took ${seconds(Date.now() - started)}.`);
    say(`Next: ${AUTOMATED ? '' : '`npm run demo -- --automated` (a policy rolls back by itself), '}config/samples, README "Waiting for Flux",`);
    say('`npm run bench:recovery` (time to recovery), docs/architecture.md.');
  })
  .catch(async (err: unknown) => {
    if (interrupted) return; // the signal handler is cleaning up and will exit
    process.stderr.write(`\ndemo failed: ${err instanceof Error ? err.message : String(err)}\n`);
    await cleanUp();
    process.exit(1);
  });
