/**
 * `npm run bench`: the revert engine against the git CLI, in the same run on the same machine,
 * on generated repositories of several shapes (BENCH_SHAPE=deep,flat,large or all, the default):
 *
 * - deep:  apps/<team>/<svc>/<env>/, 25 files per directory, packed with `git gc`
 *          (BENCH_FILES, default 50,000; BENCH_COMMITS, default 10,000);
 * - flat:  200 directories (250 files each at 50,000), the pack as `git fast-import` wrote it
 *          (as pushed, no gc) (same BENCH_FILES, BENCH_COMMITS);
 * - large: the deep layout with a long history (BENCH_LARGE_FILES, default BENCH_FILES / 5 =
 *          10,000; BENCH_LARGE_COMMITS, default BENCH_COMMITS * 10 = 100,000).
 *
 * Every revert row is measured for each target in BENCH_DEPTHS (default "100,9900": main~100 and
 * main~9900, clamped to the history). Prints, per shape, a table of medians (BENCH_RUNS, default
 * 5), ratios (engine/git) and peak RSS, then PASS/MISS against issue 12's targets. Exits non-zero
 * only when a measurement failed. Engine processes run without any V8 flag (NODE_OPTIONS removed).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openCacheRepo } from '../src/git/remote.js';
import { startGitHttpServer, type GitHttpServer } from '../test/helpers/git-http-server.js';
import { DEEP_TARGET_DEPTH, NEXT_COMMITS, TARGET_DEPTH, ensureRepo, type BenchRepo, type RepoSpec, type RevertTarget } from './generate-repo.js';
import { HAS_GNU_TIME, copyDir, envInt, maxOrNull, median, runGit, timeProcess, type ProcessSample } from './measure.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = path.join(ROOT, 'dist', 'cli', 'gitops-rollback.js');
const WORKER = fileURLToPath(new URL('./engine-worker.js', import.meta.url));
const NODE = process.execPath;
const AUTHOR = 'Bench <bench@example.com>';

const FILES = envInt('BENCH_FILES', 50_000);
const COMMITS = envInt('BENCH_COMMITS', 10_000);
// By default the large shape follows the others: a fifth of the files, ten times the commits
// (10,000 and 100,000 at full size), so a small smoke run stays small.
const LARGE_FILES = envInt('BENCH_LARGE_FILES', Math.max(10, Math.round(FILES / 5)));
const LARGE_COMMITS = envInt('BENCH_LARGE_COMMITS', COMMITS * 10);
const RUNS = envInt('BENCH_RUNS', 5);
const DEPTHS = envDepths('BENCH_DEPTHS', [TARGET_DEPTH, DEEP_TARGET_DEPTH]);

/** Issue 12's targets. */
const WHOLE_PROCESS_TARGET = 1.0;
const CLONE_TARGET = 1.5;
const FETCH_TARGET = 1.5;
const RSS_TARGET_MIB = 150;

type ShapeName = 'deep' | 'flat' | 'large';
const SHAPE_NAMES: ShapeName[] = ['deep', 'flat', 'large'];

interface Shape {
  name: ShapeName;
  spec: RepoSpec;
  /** How the tree and pack look, for the report. */
  describe: (repo: BenchRepo) => string;
}

function shapeFor(name: ShapeName): Shape {
  const packed = (r: BenchRepo): string =>
    `${r.gc ? "git gc'd" : 'as git fast-import wrote it (not gc\'d, "as pushed")'}: ${r.packs} pack${r.packs > 1 ? 's' : ''}, ${(r.packBytes / 2 ** 20).toFixed(1)} MiB`;
  switch (name) {
    case 'deep':
      return {
        name,
        spec: { layout: 'deep', files: FILES, commits: COMMITS, gc: true, targetDepths: DEPTHS },
        describe: (r) => `deep narrow tree apps/<team>/<svc>/<env>/ (${r.dirs} directories of 25 files); pack ${packed(r)}`,
      };
    case 'flat':
      return {
        name,
        spec: { layout: 'flat', files: FILES, commits: COMMITS, gc: false, targetDepths: DEPTHS },
        describe: (r) => `flat wide tree app-<n>/ (${r.dirs} directories of ${Math.ceil(r.files / r.dirs)} files); pack ${packed(r)}`,
      };
    case 'large':
      return {
        name,
        spec: { layout: 'deep', files: LARGE_FILES, commits: LARGE_COMMITS, gc: true, targetDepths: DEPTHS },
        describe: (r) => `large history, deep narrow tree (${r.dirs} directories of 25 files); pack ${packed(r)}`,
      };
  }
}

function parseShapes(value: string | undefined): Shape[] {
  const names = (value ?? 'all')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const chosen = new Set<ShapeName>();
  for (const n of names.length ? names : ['all']) {
    if (n === 'all') SHAPE_NAMES.forEach((s) => chosen.add(s));
    else if ((SHAPE_NAMES as string[]).includes(n)) chosen.add(n as ShapeName);
    else throw new Error(`BENCH_SHAPE: unknown shape "${n}" (deep, flat, large, all, or a comma-separated list)`);
  }
  return SHAPE_NAMES.filter((s) => chosen.has(s)).map(shapeFor);
}

function envDepths(name: string, fallback: number[]): number[] {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const depths = value.split(',').map((s) => Number(s.trim()));
  if (!depths.length || depths.some((d) => !Number.isInteger(d) || d <= 0))
    throw new Error(`${name} must be a comma-separated list of positive integers, got "${value}"`);
  return depths;
}

function log(message: string): void {
  process.stdout.write(`[bench] ${message}\n`);
}

interface Side {
  ms: number[];
  rssKiB: (number | null)[];
}

/** A PASS/MISS line: engine/git ratio of this row at most `limit`. */
interface RatioTarget {
  limit: number;
  /** What the engine is compared with, for the PASS/MISS line. */
  against: string;
}

interface Row {
  operation: string;
  /** `main~N (k files)`, or '-' for rows that do not revert. */
  target: string;
  /** Position of the target in the repository's targets (nearest first), for the table across shapes. */
  targetIndex?: number;
  engineLabel: string;
  gitLabel: string;
  engine?: Side;
  git?: Side;
  ratioTarget?: RatioTarget;
  error?: string;
}

interface ShapeResult {
  shape: Shape;
  repo?: BenchRepo;
  rows: Row[];
  notes: string[];
  error?: string;
  seconds: number;
}

/** The V8 heap limit the engine worker reported (shows that no memory flag was given). */
let workerHeapLimitMiB: number | undefined;

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

/**
 * The environment of every engine process (CLI and worker): the bench's own, without
 * NODE_OPTIONS, so no V8 memory flag (or any other Node flag) reaches the engine.
 */
function engineEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  return env;
}

/** Runs bench/engine-worker.js with no Node flags at all. */
async function runWorker(args: string[]): Promise<{ sample: ProcessSample; out: WorkerOutput }> {
  const sample = await timeProcess(NODE, [WORKER, ...args], { cwd: ROOT, env: engineEnv() });
  const out = lastJsonLine(sample.stdout) as unknown as WorkerOutput;
  if (out.heapLimitMiB !== undefined) workerHeapLimitMiB = out.heapLimitMiB;
  return { sample, out };
}

interface WorkerOutput {
  ms: number[];
  durations?: { fetch: number; compute: number; push: number }[];
  head?: string;
  heapLimitMiB?: number;
}

function cliRevert(repo: string, sha: string, cacheDir: string, dryRun: boolean): Promise<ProcessSample> {
  const args = [CLI, 'revert', '--repo', repo, '--commit', sha, '--cache-dir', cacheDir, '--author', AUTHOR, '--output', 'json'];
  if (dryRun) args.push('--dry-run');
  return timeProcess(NODE, args, { cwd: ROOT, env: engineEnv() });
}

function expectResult(sample: ProcessSample, expected: string): Record<string, unknown> {
  const json = lastJsonLine(sample.stdout);
  if (json.result !== expected) throw new Error(`engine returned ${String(json.result)}, expected ${expected}: ${sample.stdout.slice(-500)}`);
  return json;
}

async function main(): Promise<number> {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  const shapes = parseShapes(process.env.BENCH_SHAPE);
  const cacheRoot = path.join(ROOT, '.cache', 'bench');
  log(`shapes: ${shapes.map((s) => s.name).join(', ')}; runs per measurement: ${RUNS} (median)`);
  log(`peak RSS via ${HAS_GNU_TIME ? '/usr/bin/time %M' : 'n/a (no /usr/bin/time)'}; engine processes: no Node/V8 flags, NODE_OPTIONS removed`);
  const results: ShapeResult[] = [];
  const started = Date.now();
  for (const shape of shapes) results.push(await benchShape(shape, cacheRoot));
  printReport(results, (Date.now() - started) / 1000);
  return results.some((r) => r.error || r.rows.some((row) => row.error)) ? 1 : 0;
}

async function benchShape(shape: Shape, cacheRoot: string): Promise<ShapeResult> {
  const result: ShapeResult = { shape, rows: [], notes: [], seconds: 0 };
  const started = Date.now();
  log(`=== shape ${shape.name} ===`);
  try {
    const repo = await ensureRepo(cacheRoot, shape.spec, log);
    result.repo = repo;
    const gen = `fast-import ${(repo.generation.fastImportMs / 1000).toFixed(1)} s${repo.generation.gcMs === null ? '' : `, gc ${(repo.generation.gcMs / 1000).toFixed(1)} s`}`;
    log(`repository: ${repo.files} files, ${repo.commits} commits; ${shape.describe(repo)}`);
    log(`generation: ${gen}${repo.cached ? ' (by an earlier run: cached)' : ''}`);
    result.notes.push(`repository generated with ${gen}${repo.cached ? ' (by an earlier run; cached in .cache/bench)' : ''}`);
    for (const t of repo.targets) log(`revert target: main~${t.depth} = ${t.sha} (${t.files.join(', ')})`);

    const work = path.join(cacheRoot, `work-${shape.name}-f${repo.files}-c${repo.commits}`);
    fs.rmSync(work, { recursive: true, force: true });
    fs.mkdirSync(path.join(work, 'server'), { recursive: true });
    const serverGitdir = path.join(work, 'server', 'bench.git');
    copyDir(repo.gitdir, serverGitdir);
    runGit(serverGitdir, 'config', 'receive.autogc', 'false');
    const localGit = path.join(work, 'local.git');
    copyDir(repo.gitdir, localGit);

    const server = await startGitHttpServer({ root: path.join(work, 'server') });
    try {
      await runMeasurements(result, repo, work, localGit, serverGitdir, server);
    } finally {
      await server.stop();
      if (!process.env.BENCH_KEEP) fs.rmSync(work, { recursive: true, force: true });
    }
  } catch (error) {
    result.error = (error as Error).message.split('\n').slice(0, 6).join('\n');
    log(`ERROR in shape ${shape.name}: ${result.error}`);
  }
  result.seconds = (Date.now() - started) / 1000;
  log(`shape ${shape.name} done in ${result.seconds.toFixed(1)} s`);
  return result;
}

function targetLabel(t: RevertTarget): string {
  return `main~${t.depth} (${t.files.length} file${t.files.length > 1 ? 's' : ''})`;
}

async function runMeasurements(
  result: ShapeResult,
  repo: BenchRepo,
  work: string,
  localGit: string,
  serverGitdir: string,
  server: GitHttpServer,
): Promise<void> {
  const { rows, notes } = result;
  const url = server.urlFor('bench.git');
  const H0 = repo.head;
  const setServerHead = (sha: string): void => void runGit(serverGitdir, 'update-ref', 'refs/heads/main', sha);

  const wt = path.join(work, 'wt');
  log('setting up: work-tree clone for git revert');
  runGit(work, 'clone', '-q', localGit, wt);
  runGit(wt, 'config', 'gc.auto', '0');

  const pushWt = path.join(work, 'push-wt');
  log('setting up: up-to-date work-tree clone with origin = HTTP URL');
  runGit(work, 'clone', '-q', localGit, pushWt);
  runGit(pushWt, 'config', 'gc.auto', '0');
  runGit(pushWt, 'remote', 'set-url', 'origin', url);
  // Async: the HTTP server runs in this process (a synchronous git call would deadlock).
  await timeProcess('git', ['fetch', '-q', 'origin'], { cwd: pushWt });

  for (const [targetIndex, t] of repo.targets.entries()) {
    const X = t.sha;
    const label = targetLabel(t);
    const tag = `main~${t.depth}`;

    // --- Revert compute, local ---------------------------------------------------------------
    const cliCache = path.join(work, `cli-cache-${t.depth}`);
    const computeWhole: Row = {
      operation: 'revert compute, whole process',
      target: label,
      targetIndex,
      engineLabel: 'CLI revert --dry-run (local bare)',
      gitLabel: 'git revert --no-edit (work tree)',
      ratioTarget: { limit: WHOLE_PROCESS_TARGET, against: 'git revert' },
    };
    const computeWarm: Row = {
      operation: 'revert compute, in-process warm',
      target: label,
      targetIndex,
      engineLabel: 'runRollback dryRun (local bare)',
      gitLabel: 'git revert --no-edit (work tree)',
    };
    rows.push(computeWhole, computeWarm);
    await measure(`revert compute ${tag}, whole process`, [computeWhole, computeWarm], async () => {
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

    await measure(`revert compute ${tag}, in-process warm`, [computeWarm], async () => {
      const { sample, out } = await runWorker(['compute-warm', localGit, X, String(RUNS), cliCache]);
      computeWarm.engine = { ms: out.ms, rssKiB: [sample.maxRssKiB] };
      notes.push(`in-process warm compute ${tag}: engine phases (median ms) ${formatPhases(out.durations ?? [])}`);
    });

    // --- Revert + push over smart HTTP ----------------------------------------------------------
    const pushCache = path.join(work, `push-cache-${t.depth}`);
    const pushWhole: Row = {
      operation: 'revert + push (HTTP), whole process',
      target: label,
      targetIndex,
      engineLabel: 'CLI revert (warm cache)',
      gitLabel: 'git revert && git push (up-to-date clone)',
      ratioTarget: { limit: WHOLE_PROCESS_TARGET, against: 'git revert && git push' },
    };
    const pushWarm: Row = {
      operation: 'revert + push (HTTP), in-process warm',
      target: label,
      targetIndex,
      engineLabel: 'runRollback (warm cache)',
      gitLabel: 'git revert && git push (up-to-date clone)',
    };
    rows.push(pushWhole, pushWarm);
    await measure(`revert + push ${tag} over smart HTTP, whole process`, [pushWhole, pushWarm], async () => {
      log('setting up: warm engine cache (cloned, deepened as far as this revert needs)');
      setServerHead(H0);
      const warmStarted = Date.now();
      expectResult(await cliRevert(url, X, pushCache, true), 'planned');
      notes.push(`${tag}: first engine dry run on an empty cache (clone + deepen + revert), once: ${formatMs(Date.now() - warmStarted)}`);
      const cacheGitdir = await openCacheRepo(fs, pushCache, url);
      const reset = (): void => {
        setServerHead(H0);
        runGit(cacheGitdir, 'update-ref', 'refs/remotes/origin/main', H0);
        runGit(pushWt, 'reset', '-q', '--hard', H0);
        runGit(pushWt, 'update-ref', 'refs/remotes/origin/main', H0);
      };
      reset();
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

    await measure(`revert + push ${tag} over smart HTTP, in-process warm`, [pushWarm], async () => {
      try {
        const { sample, out } = await runWorker(['push-warm', url, X, String(RUNS), pushCache, serverGitdir, H0]);
        pushWarm.engine = { ms: out.ms, rssKiB: [sample.maxRssKiB] };
        notes.push(`in-process warm revert + push ${tag}: engine phases (median ms) ${formatPhases(out.durations ?? [])}`);
      } finally {
        setServerHead(H0);
      }
    });
  }

  // --- Cold clone -------------------------------------------------------------------------------
  const cloneFull: Row = { operation: 'cold clone', target: '-', engineLabel: 'cache init + fetchBranch (depth 50)', gitLabel: 'git clone --bare (full)' };
  const cloneShallow: Row = {
    operation: 'cold clone, shallow',
    target: '-',
    engineLabel: 'cache init + fetchBranch (depth 50)',
    gitLabel: 'git clone --bare --depth 50',
    ratioTarget: { limit: CLONE_TARGET, against: 'git clone --bare --depth 50' },
  };
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
      const { sample: e, out } = await runWorker(['clone', url, snapEngine]);
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
    target: '-',
    engineLabel: 'fetchBranch (shallow cache)',
    gitLabel: 'git fetch (full bare clone)',
  };
  const fetchShallow: Row = {
    operation: `incremental fetch (+${NEXT_COMMITS}), shallow`,
    target: '-',
    engineLabel: 'fetchBranch (shallow cache)',
    gitLabel: 'git fetch (depth-50 bare clone)',
    ratioTarget: { limit: FETCH_TARGET, against: 'git fetch into a depth-50 clone' },
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
        const { sample: e, out } = await runWorker(['fetch', url, runEngine]);
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

/** engine median / git median, or null when either side is missing. */
function ratioOf(r: Row): number | null {
  if (r.error || !r.engine?.ms.length || !r.git?.ms.length) return null;
  return median(r.engine.ms) / median(r.git.ms);
}

interface Tally {
  pass: number;
  miss: number;
  error: number;
}

function verdict(tally: Tally, ok: boolean | null): string {
  if (ok === null) {
    tally.error++;
    return 'ERROR';
  }
  if (ok) {
    tally.pass++;
    return 'PASS ';
  }
  tally.miss++;
  return 'MISS ';
}

function printShape(result: ShapeResult, tally: Tally): void {
  const { shape, repo, rows, notes } = result;
  process.stdout.write(`\n## shape ${shape.name}\n\n`);
  if (repo) {
    process.stdout.write(
      `${repo.files} files, ${repo.commits} commits; ${shape.describe(repo)}; targets ${repo.targets.map((t) => `main~${t.depth}`).join(', ')}; ` +
        `${result.seconds.toFixed(0)} s\n\n`,
    );
  }
  if (rows.length) {
    const body = rows.map((r) => {
      const e = r.engine?.ms.length ? median(r.engine.ms) : null;
      const g = r.git?.ms.length ? median(r.git.ms) : null;
      const ratio = ratioOf(r);
      return [
        r.operation,
        r.target,
        r.engineLabel,
        r.error ? 'ERROR' : e === null ? '-' : formatMs(e),
        r.gitLabel,
        g === null ? '-' : formatMs(g),
        ratio === null ? '-' : `${ratio.toFixed(2)}x`,
        formatRss(r.engine?.rssKiB),
        formatRss(r.git?.rssKiB),
      ];
    });
    printTable(['operation', 'target', 'engine', 'median', 'git CLI', 'median', 'engine/git', 'engine RSS', 'git RSS'], body);
  }

  process.stdout.write(`\nTargets (${shape.name}):\n`);
  if (result.error) {
    process.stdout.write(`  ${verdict(tally, null)} shape not measured: ${result.error}\n`);
  }
  for (const r of rows.filter((x) => x.ratioTarget)) {
    const t = r.ratioTarget!;
    const ratio = ratioOf(r);
    const what = `${r.operation}${r.target === '-' ? '' : ` [${r.target}]`} <= ${t.limit.toFixed(1)}x ${t.against}`;
    process.stdout.write(
      `  ${verdict(tally, ratio === null ? null : ratio <= t.limit)} ${what}: ${ratio === null ? 'not measured' : `${ratio.toFixed(2)}x`}\n`,
    );
  }
  // Peak RSS on every engine row (rows sharing one engine measurement count once).
  const seen = new Set<Side>();
  const rss: { mib: number; row: string }[] = [];
  for (const r of rows) {
    if (!r.engine || seen.has(r.engine)) continue;
    seen.add(r.engine);
    const k = maxOrNull(r.engine.rssKiB);
    if (k !== null) rss.push({ mib: k / 1024, row: `${r.operation}${r.target === '-' ? '' : ` [${r.target}]`}` });
  }
  const unmeasured = rows.some((r) => r.error) || !rss.length;
  if (rss.length) {
    const worst = rss.reduce((a, b) => (b.mib > a.mib ? b : a));
    const over = rss.filter((x) => x.mib > RSS_TARGET_MIB);
    const ok = over.length === 0;
    process.stdout.write(
      `  ${verdict(tally, ok)} engine peak RSS <= ${RSS_TARGET_MIB} MiB on every row (no V8 flags): max ${worst.mib.toFixed(0)} MiB (${worst.row})` +
        `${ok ? '' : `; over: ${over.map((x) => `${x.row} ${x.mib.toFixed(0)} MiB`).join(', ')}`}${unmeasured ? ' (some rows not measured)' : ''}\n`,
    );
  } else {
    process.stdout.write(`  ${verdict(tally, null)} engine peak RSS <= ${RSS_TARGET_MIB} MiB on every row: not measured\n`);
  }
  if (notes.length) process.stdout.write(`\nNotes (${shape.name}):\n${notes.map((n) => `  - ${n}`).join('\n')}\n`);
  const errors = rows.filter((r) => r.error);
  if (errors.length) process.stdout.write(`\nErrors (${shape.name}):\n${errors.map((r) => `  - ${r.operation} ${r.target}: ${r.error}`).join('\n')}\n`);
}

/** One line per operation and target, one column per shape: how each cost grows with the shape. */
function printAcrossShapes(results: ShapeResult[]): void {
  const measured = results.filter((r) => r.repo);
  if (measured.length < 2) return;
  // Rows are matched by operation and the target's position (near, deep), whose depth may differ
  // between shapes when a history is too short for it.
  const keys: string[] = [];
  const cells = new Map<string, Map<ShapeName, string>>();
  const depths = new Map<string, Set<string>>();
  for (const r of measured) {
    for (const row of r.rows) {
      const key = `${row.operation}\u0000${row.targetIndex ?? '-'}`;
      if (!cells.has(key)) {
        keys.push(key);
        cells.set(key, new Map());
        depths.set(key, new Set());
      }
      depths.get(key)!.add(row.target.replace(/ \(.*\)$/, ''));
      const e = row.engine?.ms.length ? median(row.engine.ms) : null;
      const ratio = ratioOf(row);
      const cell = ratio === null || e === null ? (row.error ? 'ERROR' : '-') : `${formatMs(e)}, ${ratio.toFixed(2)}x, ${formatRss(row.engine?.rssKiB)}`;
      cells.get(key)!.set(r.shape.name, cell);
    }
  }
  process.stdout.write('\n## across shapes (engine median, engine/git, engine peak RSS)\n\n');
  const header = ['operation', 'target', ...measured.map((r) => `${r.shape.name} (${r.repo!.files} files, ${r.repo!.commits} commits)`)];
  printTable(
    header,
    keys.map((k) => [k.split('\u0000')[0], [...depths.get(k)!].join(' / '), ...measured.map((r) => cells.get(k)!.get(r.shape.name) ?? '-')]),
  );
}

function printReport(results: ShapeResult[], seconds: number): void {
  process.stdout.write(
    `\ngitops-rollback bench: shapes ${results.map((r) => r.shape.name).join(', ')}, median of ${RUNS} runs, ` +
      `${os.cpus().length} CPUs, node ${process.version}, ${runGit(ROOT, 'version')}, load average ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}, ${seconds.toFixed(0)} s in all\n` +
      `engine processes: no Node/V8 flags (NODE_OPTIONS removed)${workerHeapLimitMiB === undefined ? '' : `, V8 heap limit ${workerHeapLimitMiB} MiB (Node's default)`}\n`,
  );
  const tally: Tally = { pass: 0, miss: 0, error: 0 };
  for (const r of results) printShape(r, tally);
  printAcrossShapes(results);
  process.stdout.write(`\nTargets in all: ${tally.pass} PASS, ${tally.miss} MISS, ${tally.error} ERROR\n`);
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
