/**
 * `npm run bench:startup`: the CLI's start-up cost, whole process, against `node -e ''` and
 * `git revert` on the same repository, in the same run. Every command runs STARTUP_RUNS times
 * (default 21), round-robin (the order rotates each round), after one untimed warm-up each.
 * Prints median, quartiles and min-max of the wall time (measured by the parent around the
 * spawned child) and the largest peak RSS.
 *
 * Rows: `--help`, `revert --dry-run` and a real `revert` (the bare repository's branch moves;
 * it is set back after each run, outside the timing) on a local bare copy of the benchmark
 * repository (BENCH_FILES, BENCH_COMMITS, as `npm run bench`), each with the compile cache off
 * (NODE_DISABLE_COMPILE_CACHE=1), cold (a new empty NODE_COMPILE_CACHE directory every run) and
 * warm (one directory, filled by the warm-up); `git revert --no-edit` in a checked-out clone
 * (reset with `git reset --hard` outside the timing).
 *
 * STARTUP_CLI overrides the CLI under test (default dist/cli/gitops-rollback.js);
 * STARTUP_BASELINE=<another build's gitops-rollback.js> adds the same rows for that build (for a
 * before/after in one run; copy dist/ under the repository first so it finds node_modules/).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBenchRepo } from './generate-repo.js';
import { copyDir, envInt, maxOrNull, median, runGit, timeProcess, type ProcessSample } from './measure.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NODE = process.execPath;
const AUTHOR = 'Bench <bench@example.com>';
const RUNS = envInt('STARTUP_RUNS', 21);
const FILES = envInt('BENCH_FILES', 50_000);
const COMMITS = envInt('BENCH_COMMITS', 10_000);

interface Command {
  label: string;
  /** Runs once, timed; returns the sample. */
  run: () => Promise<ProcessSample>;
  ms: number[];
  rssKiB: (number | null)[];
}

function quantile(sorted: number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Node's environment without any compile-cache setting of the caller's. */
function nodeEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_COMPILE_CACHE;
  delete env.NODE_DISABLE_COMPILE_CACHE;
  delete env.NODE_OPTIONS;
  return { ...env, ...extra };
}

async function main(): Promise<void> {
  const cli = path.resolve(process.env.STARTUP_CLI ?? path.join(ROOT, 'dist', 'cli', 'gitops-rollback.js'));
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first`);
  const baseline = process.env.STARTUP_BASELINE ? path.resolve(process.env.STARTUP_BASELINE) : undefined;
  if (baseline && !fs.existsSync(baseline)) throw new Error(`${baseline} is missing`);

  const repo = await ensureBenchRepo(path.join(ROOT, '.cache', 'bench'), FILES, COMMITS, (s) => process.stdout.write(`[startup] ${s}\n`));
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'startup-bench-'));
  try {
    const bare = path.join(work, 'local.git');
    copyDir(repo.gitdir, bare);
    const wt = path.join(work, 'wt');
    runGit(work, 'clone', '-q', bare, wt);
    runGit(wt, 'config', 'gc.auto', '0');

    let fresh = 0;
    const cacheFor = (mode: string, name: string): Record<string, string> => {
      if (mode === 'off') return { NODE_DISABLE_COMPILE_CACHE: '1' };
      if (mode === 'warm') return { NODE_COMPILE_CACHE: path.join(work, `compile-cache-${name}`) };
      return { NODE_COMPILE_CACHE: path.join(work, `compile-cache-cold-${fresh++}`) };
    };
    const commands: Command[] = [];
    const add = (label: string, run: () => Promise<ProcessSample>): void => void commands.push({ label, run, ms: [], rssKiB: [] });

    add("node -e ''", () => timeProcess(NODE, ['-e', ''], { cwd: ROOT, env: nodeEnv({}) }));
    const builds: [string, string][] = baseline
      ? [
          ['baseline', baseline],
          ['current', cli],
        ]
      : [['current', cli]];
    for (const [build, entry] of builds) {
      for (const mode of ['off', 'cold', 'warm']) {
        const name = `${build}-${mode}`;
        add(`${build}: --help (compile cache ${mode})`, () => timeProcess(NODE, [entry, '--help'], { cwd: ROOT, env: nodeEnv(cacheFor(mode, name)) }));
        const dryRun = [entry, 'revert', '--repo', bare, '--commit', repo.target, '--cache-dir', path.join(work, `cli-cache-${build}`)];
        add(`${build}: revert --dry-run (compile cache ${mode})`, () =>
          timeProcess(NODE, [...dryRun, '--author', AUTHOR, '--output', 'json', '--dry-run'], { cwd: ROOT, env: nodeEnv(cacheFor(mode, name)) }),
        );
      }
      const push = path.join(work, `push-${build}.git`);
      copyDir(repo.gitdir, push);
      add(`${build}: revert, pushed to the local bare repository (compile cache warm)`, async () => {
        const args = [entry, 'revert', '--repo', push, '--commit', repo.target, '--cache-dir', path.join(work, `push-cache-${build}`), '--author', AUTHOR];
        const sample = await timeProcess(NODE, [...args, '--output', 'json'], { cwd: ROOT, env: nodeEnv(cacheFor('warm', `${build}-warm`)) });
        if (!sample.stdout.includes('"result":"reverted"')) throw new Error(`expected reverted: ${sample.stdout.slice(0, 300)}`);
        runGit(push, 'update-ref', 'refs/heads/main', repo.head);
        return sample;
      });
    }
    add('git revert --no-edit (work tree)', async () => {
      const sample = await timeProcess('git', ['revert', '--no-edit', repo.target], { cwd: wt });
      runGit(wt, 'reset', '-q', '--hard', repo.head);
      return sample;
    });

    for (const c of commands) await c.run(); // warm-up (page cache, warm compile caches)
    for (let round = 0; round < RUNS; round++) {
      for (let i = 0; i < commands.length; i++) {
        const c = commands[(i + round) % commands.length];
        const s = await c.run();
        c.ms.push(s.ms);
        c.rssKiB.push(s.maxRssKiB);
      }
    }

    const load = os.loadavg().map((l) => l.toFixed(2));
    process.stdout.write(
      `\nCLI start-up: ${RUNS} runs each, round-robin; ${os.cpus().length} CPUs, node ${process.version}, load average ${load.join(' ')}; ` +
        `repository ${repo.files} files, ${repo.commits} commits, revert of ${repo.target.slice(0, 12)}\n\n`,
    );
    const width = Math.max(...commands.map((c) => c.label.length));
    process.stdout.write(`| ${'command'.padEnd(width)} | median | p25-p75   | min-max   | peak RSS |\n`);
    process.stdout.write(`|${'-'.repeat(width + 2)}|--------|-----------|-----------|----------|\n`);
    for (const c of commands) {
      const s = [...c.ms].sort((a, b) => a - b);
      const ms = (v: number): string => Math.round(v).toString();
      const rss = maxOrNull(c.rssKiB);
      process.stdout.write(
        `| ${c.label.padEnd(width)} | ${`${ms(median(s))} ms`.padEnd(6)} | ${`${ms(quantile(s, 0.25))}-${ms(quantile(s, 0.75))}`.padEnd(9)} | ` +
          `${`${ms(s[0])}-${ms(s[s.length - 1])}`.padEnd(9)} | ${(rss === null ? 'n/a' : `${Math.round(rss / 1024)} MiB`).padEnd(8)} |\n`,
      );
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  () => undefined,
  (error: unknown) => {
    process.stderr.write(`startup bench failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  },
);
