/**
 * `npm run demo`: the whole system on this machine, no cluster needed. Brings up a real
 * kube-apiserver + etcd (test/envtest), a git server holding a small GitOps repository whose last
 * deploy is bad, installs the CRD and RBAC from config/default, runs the operator with its own
 * ServiceAccount, applies a GitOpsRollback, and shows what happened. Everything it started is
 * stopped and removed at the end, also on Ctrl-C or an error.
 *
 *   npm run demo               # the run above
 *   npm run demo -- --keep     # same, then leave everything running until Ctrl-C, to explore
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import type { GitOpsRollback } from '../src/api/v1alpha1/types.js';
import { provideBinaries } from '../test/envtest/binaries.js';
import { startControlPlane, waitForCrdsEstablished, type ControlPlane } from '../test/envtest/control-plane.js';
import { startGitHttpServer } from '../test/helpers/git-http-server.js';

// dist-tools/scripts/demo.js -> the repository root (the operator and config/ are found from there).
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SYSTEM_NAMESPACE = 'gitops-rollback-system';
const NAMESPACE = 'demo';
const ROLLBACK = 'revert-frontend-1-5-0';
const SECRET = 'fleet-git-credentials';
const KEEP = process.argv.includes('--keep');

// ---------------------------------------------------------------------------------------------
// Output

const tty = process.stdout.isTTY === true;
const bold = (s: string): string => (tty ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s: string): string => (tty ? `\x1b[2m${s}\x1b[0m` : s);
const started = Date.now();
let sectionNumber = 0;

function section(title: string): void {
  process.stdout.write(`\n${bold(`== ${++sectionNumber}. ${title} ==`)}\n`);
}

function say(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** Prints a command as a user would type it, then its output indented. */
function shown(command: string, output: string): void {
  say(dim(`$ ${command}`));
  const body = output.replace(/\s+$/, '');
  if (body) say(body.split('\n').map((line) => `  ${line}`).join('\n'));
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
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
// The sample GitOps repository

const GIT_ENV = {
  ...process.env,
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 'CI Deploy',
  GIT_AUTHOR_EMAIL: 'ci@example.com',
  GIT_COMMITTER_NAME: 'CI Deploy',
  GIT_COMMITTER_EMAIL: 'ci@example.com',
};

/** Synchronous git: only ever on local repositories, never through the in-process HTTP server. */
function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trimEnd();
}

function deployment(name: string, image: string, replicas: number): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  namespace: shop
spec:
  replicas: ${replicas}
  selector:
    matchLabels: {app: ${name}}
  template:
    metadata:
      labels: {app: ${name}}
    spec:
      containers:
        - name: ${name}
          image: registry.example.com/shop/${image}
`;
}

/** A fleet repository: a good deploy of frontend and backend, then a bad frontend deploy. */
function createSampleRepository(work: string, bare: string): { good: string; bad: string } {
  const write = (path: string, content: string): void => {
    mkdirSync(dirname(join(work, path)), { recursive: true });
    writeFileSync(join(work, path), content);
  };
  mkdirSync(work, { recursive: true });
  git(work, 'init', '-q', '-b', 'main');
  write('apps/frontend/deployment.yaml', deployment('frontend', 'frontend:1.4.0', 3));
  write('apps/backend/deployment.yaml', deployment('backend', 'backend:2.0.0', 2));
  write('apps/kustomization.yaml', 'resources:\n  - frontend/deployment.yaml\n  - backend/deployment.yaml\n');
  git(work, 'add', '-A');
  git(work, 'commit', '-q', '-m', 'Deploy frontend 1.4.0 and backend 2.0.0');
  const good = git(work, 'rev-parse', 'HEAD');
  write('apps/frontend/deployment.yaml', deployment('frontend', 'frontend:1.5.0', 3));
  git(work, 'commit', '-q', '-am', 'Deploy frontend 1.5.0');
  const bad = git(work, 'rev-parse', 'HEAD');
  git(dirname(bare), 'clone', '-q', '--bare', work, bare);
  return { good, bad };
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  process.chdir(ROOT);
  const demoDir = mkdtempSync(join(tmpdir(), 'gitops-rollback-demo-'));
  onCleanup('the demo directory', () => rmSync(demoDir, { recursive: true, force: true }));

  say(bold('gitops-rollback demo: the operator on a real Kubernetes API server, against a real git server'));
  say('A bad deploy was pushed to a GitOps repository; a GitOpsRollback asks the operator to revert it.');
  say(dim(`(working files in ${demoDir}; all removed at the end)`));

  section('Binaries: kube-apiserver, etcd, kubectl');
  say('test/envtest/provide-binaries.sh takes them from KUBEBUILDER_ASSETS or its cache. On a fresh');
  say('machine it first builds them from the Go module proxy (needs Go): about 8 minutes on 2 cores,');
  say('once; later runs take a second.');
  let began = Date.now();
  const slowNotice = setTimeout(() => say('Building... (progress from go below; Ctrl-C is safe)'), 5_000);
  let binDir: string;
  try {
    binDir = await provideBinaries();
  } finally {
    clearTimeout(slowNotice);
  }
  say(`Ready in ${seconds(Date.now() - began)}: ${binDir}`);

  section('A Kubernetes control plane: etcd + kube-apiserver');
  began = Date.now();
  const plane: ControlPlane = await startControlPlane({ binDir });
  onCleanup('the control plane', () => plane.stop());
  const kubectl = (args: string[], input?: string): Promise<string> => plane.kubectl(args, input === undefined ? undefined : { input });
  say(`API server at ${plane.server}, ready in ${seconds(Date.now() - began)} (RBAC on; no nodes, no controller-manager).`);
  shown('kubectl version', await kubectl(['version']));

  section('A git server with a small GitOps repository');
  const auth = { username: 'flux', password: randomBytes(12).toString('hex') };
  const serverRoot = join(demoDir, 'git-server');
  mkdirSync(serverRoot);
  const bare = join(serverRoot, 'fleet.git');
  const { bad } = createSampleRepository(join(demoDir, 'work'), bare);
  const server = await startGitHttpServer({ root: serverRoot, auth });
  onCleanup('the git server', () => server.stop());
  const url = server.urlFor('fleet.git');
  say(`${url} (git smart HTTP, basic auth), branch main: a good deploy, then the bad one.`);
  shown('git log --stat', git(bare, 'log', '--stat', '--format=%h %s (%an)', 'main'));

  section('Install the CRD and RBAC (config/default)');
  await kubectl(['create', 'namespace', SYSTEM_NAMESPACE]);
  shown(`kubectl create namespace ${SYSTEM_NAMESPACE}`, `namespace/${SYSTEM_NAMESPACE} created`);
  shown('kubectl apply --server-side -k config/default', await kubectl(['apply', '--server-side', '-k', 'config/default']));
  await waitForCrdsEstablished(plane, ['gitopsrollbacks.rollback.gitops.dev']);
  say(dim('(No kubelet runs here, so the Deployment never starts a pod: the operator runs below as a local'));
  say(dim(' process, with the Deployment\'s ServiceAccount and flags.)'));

  section('Run the operator as its ServiceAccount');
  const identity = await plane.createServiceAccountKubeconfig(SYSTEM_NAMESPACE, 'gitops-rollback-controller');
  say(`A token for ${identity.username}`);
  say('(minted with the TokenRequest API): the operator gets exactly what config/rbac grants, not admin.');
  const args = ['--leader-elect', `--leader-election-namespace=${SYSTEM_NAMESPACE}`];
  const cacheDir = join(demoDir, 'operator-cache');
  mkdirSync(cacheDir);
  // Imported here: operator-process.ts resolves dist/cli/main.js from the working directory.
  const { startOperator } = await import('../test/helpers/operator-process.js');
  began = Date.now();
  const operator = await startOperator({ kubeconfigPath: identity.kubeconfigPath, args, cacheDir });
  onCleanup('the operator', () => operator.stop());
  shown(`node dist/cli/main.js --kubeconfig=<ServiceAccount kubeconfig> ${args.join(' ')} --cache-dir=<tmp>`, `ready in ${seconds(Date.now() - began)} (${operator.healthUrl}/readyz answers 200)`);

  try {
    await rollBack(kubectl, url, bad, auth);
    await showResults(kubectl, bare, operator.logs());
  } catch (err) {
    if (!interrupted) say(`\nOperator log (last lines):\n${operator.logs().trimEnd().split('\n').slice(-20).join('\n')}`);
    throw err;
  }

  if (KEEP) {
    section('Still running (--keep)');
    say('In another shell:');
    say(`  export PATH=${binDir}:$PATH KUBECONFIG=${plane.kubeconfigPath}`);
    say(`  kubectl get gitopsrollbacks -A; git --git-dir=${bare} log --oneline`);
    say(`The git server (user ${auth.username}, password ${auth.password}): ${url}`);
    say('Press Ctrl-C to stop everything.');
    await new Promise(() => {}); // until the SIGINT handler cleans up and exits
  }
}

type Kubectl = (args: string[], input?: string) => Promise<string>;

async function rollBack(kubectl: Kubectl, url: string, bad: string, auth: { username: string; password: string }): Promise<void> {
  section('Ask for the rollback');
  await kubectl(['create', 'namespace', NAMESPACE]);
  shown(`kubectl create namespace ${NAMESPACE}`, `namespace/${NAMESPACE} created`);
  const secretArgs = ['create', 'secret', 'generic', SECRET, '-n', NAMESPACE, `--from-literal=username=${auth.username}`];
  shown(
    `kubectl create secret generic ${SECRET} -n ${NAMESPACE} --from-literal=username=${auth.username} --from-literal=password=********`,
    await kubectl([...secretArgs, `--from-literal=password=${auth.password}`]),
  );
  const manifest = `# Revert the bad frontend deploy. The repository is given inline, with a Secret in Flux's format
# (as config/samples/rollback_v1alpha1_gitopsrollback_repository.yaml); with Flux installed,
# sourceRef: {kind: GitRepository, name: flux-system} names it instead.
apiVersion: rollback.gitops.dev/v1alpha1
kind: GitOpsRollback
metadata:
  name: ${ROLLBACK}
  namespace: ${NAMESPACE}
spec:
  repository:
    url: ${url}
    branch: main
    secretRef:
      name: ${SECRET}
  revert:
    commits: [${bad.slice(0, 7)}]
  reason: 500s on /checkout after the frontend 1.5.0 deploy
  incident: INC-12345
`;
  say(`${ROLLBACK}.yaml:`);
  say(manifest.trimEnd().split('\n').map((line) => `  ${line}`).join('\n'));
  shown(`kubectl apply -f ${ROLLBACK}.yaml`, await kubectl(['apply', '-f', '-'], manifest));

  section('Wait for Ready');
  const began = Date.now();
  const rollback = await waitFinished(kubectl, 60_000);
  const ready = rollback.status?.conditions?.find((c) => c.type === 'Ready');
  say(`Ready=${ready?.status} (${ready?.reason}) ${seconds(Date.now() - began)} after kubectl apply returned.`);
  if (ready?.status !== 'True') throw new Error(`the rollback did not succeed: ${ready?.reason}: ${ready?.message}`);
}

/** Polls until Ready=True or Stalled=True (what `kubectl wait --for=condition=Ready` waits for). */
async function waitFinished(kubectl: Kubectl, timeoutMs: number): Promise<GitOpsRollback> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rollback = JSON.parse(await kubectl(['get', 'gitopsrollback', ROLLBACK, '-n', NAMESPACE, '-o', 'json'])) as GitOpsRollback;
    const done = (rollback.status?.conditions ?? []).some((c) => (c.type === 'Ready' || c.type === 'Stalled') && c.status === 'True');
    if (done) return rollback;
    if (Date.now() > deadline) throw new Error(`${ROLLBACK} not finished after ${seconds(timeoutMs)}: ${JSON.stringify(rollback.status)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function showResults(kubectl: Kubectl, bare: string, operatorLogs: string): Promise<void> {
  section('What Kubernetes shows');
  shown(`kubectl get gitopsrollbacks -n ${NAMESPACE}`, await kubectl(['get', 'gitopsrollbacks', '-n', NAMESPACE]));
  say('');
  const object = parseYaml(await kubectl(['get', 'gitopsrollback', ROLLBACK, '-n', NAMESPACE, '-o', 'yaml'])) as GitOpsRollback;
  shown(`kubectl get gitopsrollback ${ROLLBACK} -n ${NAMESPACE} -o yaml   # status only`, toYaml({ status: object.status }, { lineWidth: 0 }));
  say('');
  const events = await kubectl(['get', 'events', '-n', NAMESPACE, '--field-selector', `involvedObject.name=${ROLLBACK}`, '--sort-by=.lastTimestamp']);
  shown(`kubectl get events -n ${NAMESPACE} --field-selector involvedObject.name=${ROLLBACK}`, events);

  section('What git shows: the revert commit on the server');
  shown('git log --oneline main', git(bare, 'log', '--oneline', 'main'));
  say('');
  shown('git show main   # message with the reason and trailers, then the change', git(bare, 'show', '--format=fuller', 'main'));

  section('What the operator logged');
  const lines = operatorLogs.split('\n').filter((line) => line.includes(`${NAMESPACE}/${ROLLBACK}`) || line.includes('"Started leading'));
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
    say(`Stopped the operator, the git server and the control plane; removed the temporary files. Demo took ${seconds(Date.now() - started)}.`);
    say('Next: config/samples (one GitOpsRollback per kind of target), `npm run demo:cli` (the CLI alone),');
    say('`npm test` (everything), docs/architecture.md.');
  })
  .catch(async (err: unknown) => {
    if (interrupted) return; // the signal handler is cleaning up and will exit
    process.stderr.write(`\ndemo failed: ${err instanceof Error ? err.message : String(err)}\n`);
    await cleanUp();
    process.exit(1);
  });
