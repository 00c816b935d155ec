/**
 * `npm run bench`: the revert engine against the git CLI, in the same run on the same machine,
 * on a generated repository (default 50,000 files, 10,000 commits; BENCH_FILES, BENCH_COMMITS,
 * BENCH_RUNS override). Prints a table of medians, ratios (engine/git) and peak RSS, and
 * PASS/MISS against the targets. Exits non-zero only when a measurement failed.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openCacheRepo } from '../src/git/remote.js';
import { startGitHttpServer, type GitHttpServer } from '../test/helpers/git-http-server.js';
import { NEXT_COMMITS, TARGET_DEPTH, ensureBenchRepo, type BenchRepo } from './generate-repo.js';
import { HAS_GNU_TIME, copyDir, envInt, maxOrNull, median, runGit, timeProcess, type ProcessSample } from './measure.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = path.join(ROOT, 'dist', 'cli', 'gitops-rollback.js');
const WORKER = fileURLToPath(new URL('./engine-worker.js', import.meta.url));
const NODE = process.execPath;
const AUTHOR = 'Bench <bench@example.com>';

const FILES = envInt('BENCH_FILES', 50_000);
const COMMITS = envInt('BENCH_COMMITS', 10_000);
const RUNS = envInt('BENCH_RUNS', 5);
const RATIO_TARGET = 2;
const RSS_TARGET_MIB = 300;

function log(message: string): void {
  process.stdout.write(`[bench] ${message}\n`);
}

interface Side {
  ms: number[];
  rssKiB: (number | null)[];
}

interface Row {
  operation: string;
  engineLabel: string;
  gitLabel: string;
  engine?: Side;
  git?: Side;
  /** A whole-process comparison with the 2x target. */
  ratioTarget?: boolean;
  error?: string;
}

const rows: Row[] = [];
const notes: string[] = [];

function side(): Side {
  return { ms: [], rssKiB: [] };
}

function add(s: Side, sample: ProcessSample, ms = sample.ms): void {
  s.ms.push(ms);
  s.rssKiB.push(sample.maxRssKiB);
}

/** Runs one measurement; an error is recorded on its row(s) and the run goes on. */
async function measure(label: string, targets: Row[], body: () => Promise<void>): Promise<void> {
  log(`measuring: ${label}`);
  const started = Date.now();
  try {
    await body();
  } catch (error) {
    const message = (error as Error).message.split('\n').slice(0, 6).join('\n');
    log(`ERROR in ${label}: ${message}`);
    for (const row of targets) row.error = message;
  }
  log(`  done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

function lastJsonLine(stdout: string): Record<string, unknown> {
  const line = stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as Record<string, unknown>;
}

function cliRevert(repo: string, sha: string, cacheDir: string, dryRun: boolean): Promise<ProcessSample> {
  const args = [CLI, 'revert', '--repo', repo, '--commit', sha, '--cache-dir', cacheDir, '--author', AUTHOR, '--output', 'json'];
  if (dryRun) args.push('--dry-run');
  return timeProcess(NODE, args, { cwd: ROOT, env: { ...process.env } });
}

function expectResult(sample: ProcessSample, expected: string): Record<string, unknown> {
  const json = lastJsonLine(sample.stdout);
  if (json.result !== expected) throw new Error(`engine returned ${String(json.result)}, expected ${expected}: ${sample.stdout.slice(-500)}`);
  return json;
}

async function main(): Promise<number> {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  const cacheRoot = path.join(ROOT, '.cache', 'bench');
  const repo = await ensureBenchRepo(cacheRoot, FILES, COMMITS, log);
  log(`repository: ${repo.files} files, ${repo.commits} commits, pack ${(repo.packBytes / 2 ** 20).toFixed(1)} MiB`);
  log(`revert target: main~${TARGET_DEPTH} = ${repo.target} (${repo.targetFiles.join(', ')})`);
  log(`runs per measurement: ${RUNS} (median); peak RSS via ${HAS_GNU_TIME ? '/usr/bin/time %M' : 'n/a (no /usr/bin/time)'}`);

  const work = path.join(cacheRoot, `work-f${FILES}-c${COMMITS}`);
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(path.join(work, 'server'), { recursive: true });
  const serverGitdir = path.join(work, 'server', 'bench.git');
  copyDir(repo.gitdir, serverGitdir);
  runGit(serverGitdir, 'config', 'receive.autogc', 'false');
  const localGit = path.join(work, 'local.git');
  copyDir(repo.gitdir, localGit);

  const server = await startGitHttpServer({ root: path.join(work, 'server') });
  try {
    await runMeasurements(repo, work, localGit, serverGitdir, server);
  } finally {
    await server.stop();
    if (!process.env.BENCH_KEEP) fs.rmSync(work, { recursive: true, force: true });
  }
  printReport(repo);
  return rows.some((r) => r.error) ? 1 : 0;
}

async function runMeasurements(repo: BenchRepo, work: string, localGit: string, serverGitdir: string, server: GitHttpServer): Promise<void> {
  const url = server.urlFor('bench.git');
  const H0 = repo.head;
  const X = repo.target;
  const setServerHead = (sha: string): void => void runGit(serverGitdir, 'update-ref', 'refs/heads/main', sha);

  // --- Revert compute, local -----------------------------------------------------------------
  const wt = path.join(work, 'wt');
  log('setting up: work-tree clone for git revert');
  runGit(work, 'clone', '-q', localGit, wt);
  runGit(wt, 'config', 'gc.auto', '0');
  const cliCache = path.join(work, 'cli-cache');

  const computeWhole: Row = {
    operation: 'revert compute, whole process',
    engineLabel: 'CLI revert --dry-run (local bare)',
    gitLabel: 'git revert --no-edit (work tree)',
    ratioTarget: true,
  };
  const computeWarm: Row = {
    operation: 'revert compute, in-process warm',
    engineLabel: 'runRollback dryRun (local bare)',
    gitLabel: 'git revert --no-edit (work tree)',
  };
  rows.push(computeWhole, computeWarm);
  await measure('revert compute, whole process', [computeWhole, computeWarm], async () => {
    const engine = side();
    const git = side();
    const runGitRevert = async (): Promise<ProcessSample> => {
      const sample = await timeProcess('git', ['revert', '--no-edit', X], { cwd: wt });
      const tree = runGit(wt, 'rev-parse', 'HEAD^{tree}');
      runGit(wt, 'reset', '-q', '--hard', H0);
      return Object.assign(sample, { stdout: tree });
    };
    // One untimed warm-up each (page cache), and a check that both compute the same tree.
    const engineTree = (expectResult(await cliRevert(localGit, X, cliCache, true), 'planned').commits as { tree: string }[])[0].tree;
    const gitTree = (await runGitRevert()).stdout;
    if (engineTree !== gitTree) throw new Error(`engine tree ${engineTree} differs from git's ${gitTree}`);
    for (let i = 0; i < RUNS; i++) {
      const engineRun = async (): Promise<void> => {
        const s = await cliRevert(localGit, X, cliCache, true);
        expectResult(s, 'planned');
        add(engine, s);
      };
      const gitRun = async (): Promise<void> => add(git, await runGitRevert());
      if (i % 2) {
        await gitRun();
        await engineRun();
      } else {
        await engineRun();
        await gitRun();
      }
    }
    computeWhole.engine = engine;
    computeWhole.git = git;
    computeWarm.git = git;
  });

  await measure('revert compute, in-process warm', [computeWarm], async () => {
    const s = await timeProcess(NODE, [WORKER, 'compute-warm', localGit, X, String(RUNS), cliCache], { cwd: ROOT, env: { ...process.env } });
    const out = lastJsonLine(s.stdout) as { ms: number[]; durations: { fetch: number; compute: number; push: number }[] };
    computeWarm.engine = { ms: out.ms, rssKiB: [s.maxRssKiB] };
    notes.push(`in-process warm compute: engine phases (median ms) ${formatPhases(out.durations)}`);
  });

  // --- Revert + push over smart HTTP ------------------------------------------------------------
  const pushWt = path.join(work, 'push-wt');
  const pushCache = path.join(work, 'push-cache');
  const pushWhole: Row = {
    operation: 'revert + push (HTTP), whole process',
    engineLabel: 'CLI revert (warm cache)',
    gitLabel: 'git revert && git push (up-to-date clone)',
    ratioTarget: true,
  };
  const pushWarm: Row = {
    operation: 'revert + push (HTTP), in-process warm',
    engineLabel: 'runRollback (warm cache)',
    gitLabel: 'git revert && git push (up-to-date clone)',
  };
  rows.push(pushWhole, pushWarm);
  await measure('revert + push over smart HTTP, whole process', [pushWhole, pushWarm], async () => {
    log('setting up: up-to-date work-tree clone with origin = HTTP URL; warm engine cache');
    runGit(work, 'clone', '-q', localGit, pushWt);
    runGit(pushWt, 'config', 'gc.auto', '0');
    runGit(pushWt, 'remote', 'set-url', 'origin', url);
    // Async: the HTTP server runs in this process (a synchronous git call would deadlock).
    await timeProcess('git', ['fetch', '-q', 'origin'], { cwd: pushWt });
    // The engine's cache: the first run clones (shallow) and deepens as far as the revert needs.
    expectResult(await cliRevert(url, X, pushCache, true), 'planned');
    const cacheGitdir = await openCacheRepo(fs, pushCache, url);
    const reset = (): void => {
      setServerHead(H0);
      runGit(cacheGitdir, 'update-ref', 'refs/remotes/origin/main', H0);
      runGit(pushWt, 'reset', '-q', '--hard', H0);
      runGit(pushWt, 'update-ref', 'refs/remotes/origin/main', H0);
    };
    const engine = side();
    const git = side();
    const engineRun = async (): Promise<ProcessSample> => {
      const s = await cliRevert(url, X, pushCache, false);
      reset();
      expectResult(s, 'reverted');
      return s;
    };
    const gitRun = async (): Promise<ProcessSample> => {
      const s = await timeProcess('sh', ['-c', `git revert --no-edit ${X} && git push -q origin HEAD:main`], { cwd: pushWt });
      reset();
      return s;
    };
    await engineRun(); // warm-up
    await gitRun();
    for (let i = 0; i < RUNS; i++) {
      if (i % 2) {
        add(git, await gitRun());
        add(engine, await engineRun());
      } else {
        add(engine, await engineRun());
        add(git, await gitRun());
      }
    }
    pushWhole.engine = engine;
    pushWhole.git = git;
    pushWarm.git = git;
  });

  await measure('revert + push over smart HTTP, in-process warm', [pushWarm], async () => {
    const s = await timeProcess(NODE, [WORKER, 'push-warm', url, X, String(RUNS), pushCache, serverGitdir, H0], { cwd: ROOT, env: { ...process.env } });
    const out = lastJsonLine(s.stdout) as { ms: number[]; durations: { fetch: number; compute: number; push: number }[] };
    pushWarm.engine = { ms: out.ms, rssKiB: [s.maxRssKiB] };
    notes.push(`in-process warm revert + push: engine phases (median ms) ${formatPhases(out.durations)}`);
    setServerHead(H0);
  });

  // --- Cold clone -------------------------------------------------------------------------------
  const cloneFull: Row = { operation: 'cold clone', engineLabel: 'cache init + fetchBranch (depth 50)', gitLabel: 'git clone --bare (full)' };
  const cloneShallow: Row = { operation: 'cold clone, shallow', engineLabel: 'cache init + fetchBranch (depth 50)', gitLabel: 'git clone --bare --depth 50' };
  rows.push(cloneFull, cloneShallow);
  const snapEngine = path.join(work, 'snap-engine');
  const snapGit = path.join(work, 'snap-git.git');
  const snapGitShallow = path.join(work, 'snap-git-shallow.git');
  await measure('cold clone', [cloneFull, cloneShallow], async () => {
    setServerHead(H0);
    const engine = side();
    const git = side();
    const gitShallow = side();
    const engineInProcess: number[] = [];
    for (let i = 0; i <= RUNS; i++) {
      // Run 0 is an untimed warm-up (server page cache); the last runs' results are kept as
      // the starting points of the incremental fetch.
      fs.rmSync(snapEngine, { recursive: true, force: true });
      fs.rmSync(snapGit, { recursive: true, force: true });
      fs.rmSync(snapGitShallow, { recursive: true, force: true });
      const e = await timeProcess(NODE, [WORKER, 'clone', url, snapEngine], { cwd: ROOT, env: { ...process.env } });
      const out = lastJsonLine(e.stdout) as { ms: number[]; head: string };
      if (out.head !== H0) throw new Error(`engine fetched ${out.head}, expected ${H0}`);
      const g = await timeProcess('git', ['clone', '-q', '--bare', url, snapGit], { cwd: work });
      const gs = await timeProcess('git', ['clone', '-q', '--bare', '--depth', '50', url, snapGitShallow], { cwd: work });
      if (i === 0) continue;
      add(engine, e);
      engineInProcess.push(out.ms[0]);
      add(git, g);
      add(gitShallow, gs);
    }
    cloneFull.engine = engine;
    cloneShallow.engine = engine;
    cloneFull.git = git;
    cloneShallow.git = gitShallow;
    notes.push(`cold clone: engine in-process time (without Node start-up) median ${formatMs(median(engineInProcess))}`);
    notes.push(
      `on-disk size after clone: engine cache ${duMiB(snapEngine)}, git clone --bare ${duMiB(snapGit)}, git clone --bare --depth 50 ${duMiB(snapGitShallow)}`,
    );
  });

  // --- Incremental fetch ------------------------------------------------------------------------
  const fetchFull: Row = {
    operation: `incremental fetch (+${NEXT_COMMITS} commits)`,
    engineLabel: 'fetchBranch (shallow cache)',
    gitLabel: 'git fetch (full bare clone)',
  };
  const fetchShallow: Row = {
    operation: `incremental fetch (+${NEXT_COMMITS}), shallow`,
    engineLabel: 'fetchBranch (shallow cache)',
    gitLabel: 'git fetch (depth-50 bare clone)',
  };
  rows.push(fetchFull, fetchShallow);
  await measure('incremental fetch', [fetchFull, fetchShallow], async () => {
    if (!fs.existsSync(snapEngine) || !fs.existsSync(snapGit)) throw new Error('no clone to fetch into (cold clone failed)');
    const engine = side();
    const git = side();
    const gitShallow = side();
    const engineInProcess: number[] = [];
    const runEngine = path.join(work, 'fetch-engine');
    const runFull = path.join(work, 'fetch-git.git');
    const runShallow = path.join(work, 'fetch-git-shallow.git');
    const refspec = '+refs/heads/main:refs/heads/main';
    setServerHead(repo.next);
    try {
      for (let i = 0; i <= RUNS; i++) {
        copyDir(snapEngine, runEngine);
        copyDir(snapGit, runFull);
        copyDir(snapGitShallow, runShallow);
        const e = await timeProcess(NODE, [WORKER, 'fetch', url, runEngine], { cwd: ROOT, env: { ...process.env } });
        const out = lastJsonLine(e.stdout) as { ms: number[]; head: string };
        if (out.head !== repo.next) throw new Error(`engine fetched ${out.head}, expected ${repo.next}`);
        const g = await timeProcess('git', ['fetch', '-q', 'origin', refspec], { cwd: runFull });
        const gs = await timeProcess('git', ['fetch', '-q', 'origin', refspec], { cwd: runShallow });
        if (runGit(runFull, 'rev-parse', 'refs/heads/main') !== repo.next) throw new Error('git fetch did not reach the new head');
        if (i === 0) continue; // warm-up
        add(engine, e);
        engineInProcess.push(out.ms[0]);
        add(git, g);
        add(gitShallow, gs);
      }
    } finally {
      setServerHead(H0);
    }
    fetchFull.engine = engine;
    fetchShallow.engine = engine;
    fetchFull.git = git;
    fetchShallow.git = gitShallow;
    notes.push(`incremental fetch: engine in-process time (without Node start-up) median ${formatMs(median(engineInProcess))}`);
  });
}

function duMiB(dir: string): string {
  const kib = Number(execFileSync('du', ['-sk', dir], { encoding: 'utf8' }).split('\t')[0]);
  return `${(kib / 1024).toFixed(1)} MiB`;
}

function formatPhases(durations: { fetch: number; compute: number; push: number }[]): string {
  if (!durations.length) return 'n/a';
  return `fetch ${median(durations.map((d) => d.fetch))}, compute ${median(durations.map((d) => d.compute))}, push ${median(durations.map((d) => d.push))}`;
}

function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`;
}

function formatRss(rss: (number | null)[] | undefined): string {
  const max = rss ? maxOrNull(rss) : null;
  return max === null ? 'n/a' : `${(max / 1024).toFixed(0)} MiB`;
}

function printTable(header: string[], body: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  process.stdout.write(`${line(header)}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|\n`);
  for (const r of body) process.stdout.write(`${line(r)}\n`);
}

function printReport(repo: BenchRepo): void {
  process.stdout.write(
    `\ngitops-rollback bench: ${repo.files} files, ${repo.commits} commits, revert of main~${TARGET_DEPTH} ` +
      `(${repo.targetFiles.length} file${repo.targetFiles.length > 1 ? 's' : ''}), median of ${RUNS} runs, ` +
      `${os.cpus().length} CPUs, node ${process.version}\n\n`,
  );
  const body = rows.map((r) => {
    const e = r.engine?.ms.length ? median(r.engine.ms) : null;
    const g = r.git?.ms.length ? median(r.git.ms) : null;
    return [
      r.operation,
      r.engineLabel,
      r.error ? 'ERROR' : e === null ? '-' : formatMs(e),
      r.gitLabel,
      g === null ? '-' : formatMs(g),
      e !== null && g !== null && !r.error ? `${(e / g).toFixed(2)}x` : '-',
      formatRss(r.engine?.rssKiB),
      formatRss(r.git?.rssKiB),
    ];
  });
  printTable(['operation', 'engine', 'median', 'git CLI', 'median', 'engine/git', 'engine RSS', 'git RSS'], body);

  process.stdout.write('\nTargets:\n');
  for (const r of rows.filter((x) => x.ratioTarget)) {
    if (r.error || !r.engine || !r.git) {
      process.stdout.write(`  ERROR ${r.operation} within ${RATIO_TARGET}x of git: not measured\n`);
      continue;
    }
    const ratio = median(r.engine.ms) / median(r.git.ms);
    process.stdout.write(`  ${ratio <= RATIO_TARGET ? 'PASS' : 'MISS'}  ${r.operation} within ${RATIO_TARGET}x of git: ${ratio.toFixed(2)}x\n`);
  }
  const rss = rows.flatMap((r) => (r.engine ? r.engine.rssKiB.map((k) => ({ k, op: r.operation })) : [])).filter((x) => x.k !== null);
  if (rss.length) {
    const worst = rss.reduce((a, b) => (b.k! > a.k! ? b : a));
    const mib = worst.k! / 1024;
    process.stdout.write(`  ${mib < RSS_TARGET_MIB ? 'PASS' : 'MISS'}  engine peak RSS under ${RSS_TARGET_MIB} MiB: max ${mib.toFixed(0)} MiB (${worst.op})\n`);
  } else {
    process.stdout.write(`  ERROR engine peak RSS under ${RSS_TARGET_MIB} MiB: not measured\n`);
  }
  if (notes.length) process.stdout.write(`\nNotes:\n${notes.map((n) => `  - ${n}`).join('\n')}\n`);
  const errors = rows.filter((r) => r.error);
  if (errors.length) process.stdout.write(`\nErrors:\n${errors.map((r) => `  - ${r.operation}: ${r.error}`).join('\n')}\n`);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`bench: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  },
);
