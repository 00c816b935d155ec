/**
 * `npm run bench:operator`: end-to-end latency of the operator, from `kubectl apply` of a
 * GitOpsRollback to (a) the revert commit on the server branch and (b) Ready=True in its status.
 *
 * Setting: the engine benchmark's generated repository (default 50,000 files, 10,000 commits,
 * cached under .cache/bench by bench/generate-repo.ts) served by the git HTTP server of the tests
 * (basic auth); a real etcd + kube-apiserver (test/envtest) with config/default applied; the
 * built operator (dist/cli/main.js) as its own process with its ServiceAccount token and
 * `--leader-elect`, as config/manager runs it. Each rollback reverts main~100 (one commit).
 *
 *  - warm: one untimed rollback first (the operator's cache clones and deepens, the lease is
 *    taken), then BENCH_RUNS (default 5) timed rollbacks. Between runs the server branch and the
 *    cache's tracking ref are put back to the original head, as in bench/run.ts, so every run
 *    does the same work: a no-op fetch, the revert, the push, two status writes.
 *  - cold: once, a new operator process with an empty cache (shallow clone, deepen, revert, push).
 *
 * Times are taken in this process: t0 just before kubectl is spawned; (a) when the server's
 * refs/heads/main changes (polled every 5 ms); (b) when a `kubectl get --watch` started
 * beforehand prints Ready=True. BENCH_FILES, BENCH_COMMITS override the repository size.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { openCacheRepo } from '../src/git/remote.js';
import { provideBinaries } from '../test/envtest/binaries.js';
import { startControlPlane, waitForCrdsEstablished, type ControlPlane } from '../test/envtest/control-plane.js';
import { startGitHttpServer, type GitHttpServer } from '../test/helpers/git-http-server.js';
import type { OperatorProcess } from '../test/helpers/operator-process.js';
import { TARGET_DEPTH, ensureBenchRepo, type BenchRepo } from './generate-repo.js';
import { copyDir, envInt, median, runGit } from './measure.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FILES = envInt('BENCH_FILES', 50_000);
const COMMITS = envInt('BENCH_COMMITS', 10_000);
const RUNS = envInt('BENCH_RUNS', 5);
const SYSTEM_NAMESPACE = 'gitops-rollback-system';
const NAMESPACE = 'bench';
const SECRET = 'git-auth';
const AUTH = { username: 'flux', password: 'bench-s3cret' };
const OPERATOR_ARGS = ['--leader-elect', `--leader-election-namespace=${SYSTEM_NAMESPACE}`];
const POLL_MS = 5;

function log(message: string): void {
  process.stdout.write(`[bench:operator] ${message}\n`);
}

/** Milliseconds from just before `kubectl apply` was spawned. */
interface Sample {
  name: string;
  /** kubectl apply exited. */
  applied: number;
  /** The revert commit is the head of the server branch. */
  pushed: number;
  /** A watch saw Ready=True. */
  ready: number;
}

// ---------------------------------------------------------------------------------------------
// Watching Ready with one long-running `kubectl get --watch`

interface ReadyWatch {
  /** Resolves at the first watch event showing Ready=True for `name`; rejects on Stalled=True. */
  waitReady(name: string, timeoutMs: number): Promise<number>;
  /** The last lines the watch printed (for error messages). */
  recent(): string;
  stop(): void;
}

function watchReady(plane: ControlPlane): ReadyWatch {
  // Fields separated by '|' (kubectl's watch output turns tabs into aligned spaces).
  const jsonpath =
    '{.metadata.name}{"|"}{.status.conditions[?(@.type=="Ready")].status}{"|"}{.status.conditions[?(@.type=="Stalled")].status}{"|"}{.status.conditions[?(@.type=="Ready")].message}{"\\n"}';
  const child: ChildProcess = spawn(
    path.join(plane.info.binDir, 'kubectl'),
    [`--kubeconfig=${plane.kubeconfigPath}`, 'get', 'gitopsrollbacks', '-n', NAMESPACE, '--watch', '-o', `jsonpath=${jsonpath}`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const waiters = new Map<string, { resolve: (t: number) => void; reject: (e: Error) => void }>();
  const finished = new Map<string, { at: number; error?: Error }>();
  let buffer = '';
  let stderr = '';
  const seen: string[] = [];
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout!.on('data', (chunk: Buffer) => {
    const at = performance.now();
    buffer += chunk.toString();
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      seen.push(line);
      if (seen.length > 20) seen.shift();
      const [name, ready, stalled, ...message] = line.split('|').map((field) => field.trim());
      if (finished.has(name)) continue;
      if (ready === 'True') finished.set(name, { at });
      else if (stalled === 'True') finished.set(name, { at, error: new Error(`${name} stalled: ${message.join('|')}`) });
      else continue;
      const waiter = waiters.get(name);
      if (waiter) settle(name, waiter);
    }
  });
  const settle = (name: string, waiter: { resolve: (t: number) => void; reject: (e: Error) => void }): void => {
    const result = finished.get(name)!;
    waiters.delete(name);
    if (result.error) waiter.reject(result.error);
    else waiter.resolve(result.at);
  };
  return {
    waitReady: (name, timeoutMs) =>
      new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(name);
          reject(
            new Error(`${name}: no Ready=True within ${timeoutMs / 1000} s (kubectl watch: ${child.exitCode === null ? 'running' : `exited: ${stderr}`})`),
          );
        }, timeoutMs);
        const waiter = {
          resolve: (t: number) => {
            clearTimeout(timer);
            resolve(t);
          },
          reject: (e: Error) => {
            clearTimeout(timer);
            reject(e);
          },
        };
        waiters.set(name, waiter);
        if (finished.has(name)) settle(name, waiter);
      }),
    recent: () => `${seen.join('\n')}${stderr ? `\nstderr: ${stderr}` : ''}`,
    stop: () => {
      child.kill('SIGTERM');
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The server branch

/** refs/heads/main of a bare repository, read from the files (loose, else packed-refs). */
function readBranch(gitdir: string): string {
  try {
    return fs.readFileSync(path.join(gitdir, 'refs', 'heads', 'main'), 'utf8').trim();
  } catch {
    const packed = fs.readFileSync(path.join(gitdir, 'packed-refs'), 'utf8');
    const line = packed.split('\n').find((l) => l.endsWith(' refs/heads/main'));
    if (!line) throw new Error(`no refs/heads/main in ${gitdir}`);
    return line.slice(0, 40);
  }
}

/** Resolves with the time at which the branch first differs from `from`. */
async function waitBranchMoves(gitdir: string, from: string, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    let head = from;
    try {
      head = readBranch(gitdir);
    } catch {
      // Between git's lock-file rename steps; read again.
    }
    if (head !== from) return performance.now();
    if (performance.now() > deadline) throw new Error(`the server branch did not move within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

// ---------------------------------------------------------------------------------------------

interface Setting {
  plane: ControlPlane;
  server: GitHttpServer;
  url: string;
  serverGitdir: string;
  repo: BenchRepo;
  watch: ReadyWatch;
  operatorKubeconfig: string;
}

function rollbackYaml(name: string, url: string, target: string): string {
  return `apiVersion: rollback.gitops.dev/v1alpha1
kind: GitOpsRollback
metadata:
  name: ${name}
  namespace: ${NAMESPACE}
spec:
  repository:
    url: ${url}
    branch: main
    secretRef:
      name: ${SECRET}
  revert:
    commits: [${target}]
  reason: operator latency benchmark
  incident: BENCH-1
`;
}

/** Applies one GitOpsRollback and times it; checks that exactly one revert commit landed. */
async function measureOne(s: Setting, name: string, timeoutMs: number): Promise<Sample> {
  const head = readBranch(s.serverGitdir);
  if (head !== s.repo.head) throw new Error(`server branch at ${head}, expected ${s.repo.head}`);
  const t0 = performance.now();
  const ready = s.watch.waitReady(name, timeoutMs);
  const pushed = waitBranchMoves(s.serverGitdir, head, timeoutMs);
  const applied = s.plane.kubectl(['apply', '-f', '-'], { input: rollbackYaml(name, s.url, s.repo.target) }).then(() => performance.now());
  const [tApplied, tPushed, tReady] = await Promise.all([applied, pushed, ready]);
  const newHead = readBranch(s.serverGitdir);
  const subject = runGit(s.serverGitdir, 'log', '-1', '--format=%P %s', newHead);
  if (!subject.startsWith(`${head} Revert "`)) throw new Error(`unexpected head after ${name}: ${subject}`);
  return { name, applied: tApplied - t0, pushed: tPushed - t0, ready: tReady - t0 };
}

/** Puts the server branch and the operator cache's tracking ref back to the original head. */
async function reset(s: Setting, cacheDir: string): Promise<void> {
  runGit(s.serverGitdir, 'update-ref', 'refs/heads/main', s.repo.head);
  const cacheGitdir = await openCacheRepo(fs, cacheDir, s.url);
  runGit(cacheGitdir, 'update-ref', 'refs/remotes/origin/main', s.repo.head);
}

async function startLeadingOperator(kubeconfigPath: string, cacheDir: string): Promise<OperatorProcess> {
  // Imported here: operator-process.ts resolves dist/cli/main.js from the working directory.
  const { startOperator } = await import('../test/helpers/operator-process.js');
  const operator = await startOperator({ kubeconfigPath, args: OPERATOR_ARGS, cacheDir });
  const deadline = Date.now() + 60_000;
  while (!operator.logs().includes('Started leading')) {
    if (Date.now() > deadline) {
      await operator.kill();
      throw new Error(`operator did not take the lease within 60 s:\n${operator.logs().slice(-2000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return operator;
}

async function main(): Promise<void> {
  process.chdir(ROOT);
  if (!fs.existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('dist/cli/main.js is missing: run `npm run build` first');
  const facts = machineFacts();
  const cacheRoot = path.join(ROOT, '.cache', 'bench');
  const repo = await ensureBenchRepo(cacheRoot, FILES, COMMITS, log);
  log(
    `repository: ${repo.files} files, ${repo.commits} commits, pack ${(repo.packBytes / 2 ** 20).toFixed(1)} MiB; revert target main~${TARGET_DEPTH} = ${repo.target}`,
  );

  const work = path.join(cacheRoot, `work-operator-f${FILES}-c${COMMITS}`);
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(path.join(work, 'server'), { recursive: true });
  const serverGitdir = path.join(work, 'server', 'bench.git');
  copyDir(repo.gitdir, serverGitdir);
  runGit(serverGitdir, 'config', 'receive.autogc', 'false');

  const undo: (() => Promise<unknown> | void)[] = [() => fs.rmSync(work, { recursive: true, force: true })];
  const cleanUp = async (): Promise<void> => {
    while (undo.length) await Promise.resolve(undo.pop()!()).catch((err: unknown) => log(`clean-up: ${(err as Error).message}`));
  };
  process.once('SIGINT', () => void cleanUp().then(() => process.exit(130)));
  try {
    log('starting the control plane (binaries from test/envtest/provide-binaries.sh)');
    const plane = await startControlPlane({ binDir: await provideBinaries() });
    undo.push(() => plane.stop());
    facts.kubernetes = `kube-apiserver ${commandOutput(path.join(plane.info.binDir, 'kube-apiserver'), '--version')}`;
    const server = await startGitHttpServer({ root: path.join(work, 'server'), auth: AUTH });
    undo.push(() => server.stop());
    await plane.kubectl(['create', 'namespace', SYSTEM_NAMESPACE]);
    await plane.kubectl(['apply', '--server-side', '-k', 'config/default']);
    await waitForCrdsEstablished(plane, ['gitopsrollbacks.rollback.gitops.dev']);
    const operatorKubeconfig = (await plane.createServiceAccountKubeconfig(SYSTEM_NAMESPACE, 'gitops-rollback-controller')).kubeconfigPath;
    await plane.kubectl(['create', 'namespace', NAMESPACE]);
    await plane.kubectl([
      'create',
      'secret',
      'generic',
      SECRET,
      '-n',
      NAMESPACE,
      `--from-literal=username=${AUTH.username}`,
      `--from-literal=password=${AUTH.password}`,
    ]);
    const watch = watchReady(plane);
    undo.push(() => watch.stop());
    const setting: Setting = { plane, server, url: server.urlFor('bench.git'), serverGitdir, repo, watch, operatorKubeconfig };
    facts.loadBefore = os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');

    // Warm: the operator's cache already holds the repository.
    const warmCache = path.join(work, 'cache-warm');
    let operator = await startLeadingOperator(operatorKubeconfig, warmCache);
    undo.push(() => operator.stop());
    const timed = async (name: string, timeoutMs: number): Promise<Sample> => {
      try {
        return await measureOne(setting, name, timeoutMs);
      } catch (err) {
        throw new Error(
          `${(err as Error).message}\n--- kubectl watch (last lines):\n${watch.recent()}\n--- operator log (end):\n${operator.logs().slice(-4000)}`,
        );
      }
    };
    log('warm-up rollback (untimed: the operator clones and deepens its cache)');
    const warmUp = await timed('warm-up', 300_000);
    log(`  warm-up: pushed after ${formatMs(warmUp.pushed)}, Ready after ${formatMs(warmUp.ready)}`);
    await reset(setting, warmCache);
    const warm: Sample[] = [];
    for (let i = 1; i <= RUNS; i++) {
      await new Promise((resolve) => setTimeout(resolve, 500)); // let the operator settle (Events, logs)
      const sample = await timed(`warm-${i}`, 120_000);
      warm.push(sample);
      log(`  warm ${i}/${RUNS}: kubectl apply ${formatMs(sample.applied)}, pushed ${formatMs(sample.pushed)}, Ready ${formatMs(sample.ready)}`);
      await reset(setting, warmCache);
    }
    await operator.stop();
    undo.pop();

    // Cold: a new operator process with an empty cache.
    log('cold rollback (new operator process, empty cache)');
    operator = await startLeadingOperator(operatorKubeconfig, path.join(work, 'cache-cold'));
    undo.push(() => operator.stop());
    const cold = await timed('cold', 300_000);
    log(`  cold: kubectl apply ${formatMs(cold.applied)}, pushed ${formatMs(cold.pushed)}, Ready ${formatMs(cold.ready)}`);
    facts.loadAfter = os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
    printReport(repo, facts, warm, cold);
  } finally {
    await cleanUp();
  }
}

// ---------------------------------------------------------------------------------------------
// Report

interface MachineFacts {
  nproc: string;
  cpu: string;
  memory: string;
  kernel: string;
  node: string;
  git: string;
  kubernetes: string;
  loadBefore: string;
  loadAfter: string;
}

/** A command's trimmed stdout, or 'n/a'. */
function commandOutput(cmd: string, ...args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'n/a';
  }
}

function machineFacts(): MachineFacts {
  const run = commandOutput;
  const memKb = /MemTotal:\s+(\d+) kB/.exec(fs.readFileSync('/proc/meminfo', 'utf8'))?.[1];
  const cpu = /model name\s*:\s*(.+)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'n/a';
  return {
    nproc: run('nproc'),
    cpu,
    memory: memKb ? `${(Number(memKb) / 2 ** 20).toFixed(1)} GiB (MemTotal ${memKb} kB)` : 'n/a',
    kernel: run('uname', '-r'),
    node: process.version,
    git: run('git', '--version'),
    kubernetes: '',
    loadBefore: '',
    loadAfter: '',
  };
}

function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`;
}

function stats(values: number[]): string {
  return `${formatMs(median(values))} (${formatMs(Math.min(...values))} – ${formatMs(Math.max(...values))})`;
}

function printReport(repo: BenchRepo, facts: MachineFacts, warm: Sample[], cold: Sample): void {
  const table = [
    '| case | runs | `kubectl apply` returned | revert commit on the server branch | Ready=True in status |',
    '| --- | --- | --- | --- | --- |',
    `| warm (median, min – max) | ${warm.length} | ${stats(warm.map((s) => s.applied))} | ${stats(warm.map((s) => s.pushed))} | ${stats(warm.map((s) => s.ready))} |`,
    `| cold (fresh operator cache) | 1 | ${formatMs(cold.applied)} | ${formatMs(cold.pushed)} | ${formatMs(cold.ready)} |`,
  ];
  const perRun = warm.map((s) => `${s.name}: apply ${formatMs(s.applied)}, pushed ${formatMs(s.pushed)}, Ready ${formatMs(s.ready)}`);
  process.stdout.write(`
gitops-rollback operator latency: ${repo.files} files, ${repo.commits} commits, revert of main~${TARGET_DEPTH}, times from \`kubectl apply\`

${table.join('\n')}

warm runs: ${perRun.join('; ')}
machine: nproc ${facts.nproc} (${facts.cpu}), memory ${facts.memory}, kernel ${facts.kernel}, node ${facts.node}, ${facts.git}, ${facts.kubernetes}
load average (1, 5, 15 min): ${facts.loadBefore} before, ${facts.loadAfter} after
`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:operator failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
