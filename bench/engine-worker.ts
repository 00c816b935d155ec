/**
 * Runs one engine operation in its own process, so the benchmark can measure its whole-process
 * time and peak RSS like a git command's. Prints one JSON line: the in-process milliseconds of
 * each run (and the engine's own phase durations where it reports them).
 *
 *   engine-worker compute-warm <bare repo> <sha> <runs> <cacheDir>
 *   engine-worker push-warm    <url> <sha> <runs> <cacheDir> <server gitdir> <head>
 *   engine-worker clone        <url> <cacheDir>
 *   engine-worker fetch        <url> <cacheDir>
 *
 * It refuses to run with a V8 memory flag (in its argv or NODE_OPTIONS): the benchmark's peak
 * RSS must be the engine's with Node's defaults. It reports V8's heap limit to show that.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import * as v8 from 'node:v8';
import { runRollback, type RollbackResult } from '../src/git/engine.js';
import { fetchBranch, openCacheRepo } from '../src/git/remote.js';

const AUTHOR = { name: 'Bench', email: 'bench@example.com' };

interface WorkerOutput {
  ms: number[];
  durations?: RollbackResult['durations'][];
  head?: string;
  /** V8's heap size limit in this process (MiB): Node's default when no flag was given. */
  heapLimitMiB?: number;
}

/** V8 flags that change how much memory the heap may use (or when it is collected). */
const MEMORY_FLAG =
  /--(max|min)[-_](old|semi|new)[-_]space[-_]size|--max[-_]heap[-_]size|--initial[-_]heap[-_]size|--heapsnapshot-near-heap-limit|--gc[-_]interval|--optimize[-_]for[-_]size/;

function refuseMemoryFlags(): void {
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].filter((f) => MEMORY_FLAG.test(f));
  if (given.length) throw new Error(`engine-worker must run without V8 memory flags, got: ${given.join(' ')}`);
}

async function revert(url: string, sha: string, cacheDir: string, dryRun: boolean): Promise<RollbackResult> {
  return runRollback({ repository: { url, branch: 'main' }, action: { kind: 'revert', commits: [sha] }, author: AUTHOR, dryRun }, { cacheDir });
}

async function main(argv: string[]): Promise<WorkerOutput> {
  refuseMemoryFlags();
  const [command, ...args] = argv;
  switch (command) {
    case 'compute-warm': {
      const [bare, sha, runs, cacheDir] = args;
      const expect = (r: RollbackResult): void => {
        if (r.result !== 'planned') throw new Error(`expected planned, got ${r.result}`);
      };
      expect(await revert(bare, sha, cacheDir, true)); // warm-up
      const out: WorkerOutput = { ms: [], durations: [] };
      for (let i = 0; i < Number(runs); i++) {
        const started = performance.now();
        const result = await revert(bare, sha, cacheDir, true);
        out.ms.push(performance.now() - started);
        expect(result);
        out.durations!.push(result.durations);
      }
      return out;
    }
    case 'push-warm': {
      const [url, sha, runs, cacheDir, serverGitdir, head] = args;
      const cacheGitdir = await openCacheRepo(fs, cacheDir, url);
      const reset = (): void => {
        execFileSync('git', ['update-ref', 'refs/heads/main', head], { cwd: serverGitdir });
        execFileSync('git', ['update-ref', 'refs/remotes/origin/main', head], { cwd: cacheGitdir });
      };
      const expect = (r: RollbackResult): void => {
        if (r.result !== 'reverted') throw new Error(`expected reverted, got ${r.result}`);
      };
      expect(await revert(url, sha, cacheDir, false)); // warm-up
      reset();
      const out: WorkerOutput = { ms: [], durations: [] };
      for (let i = 0; i < Number(runs); i++) {
        const started = performance.now();
        const result = await revert(url, sha, cacheDir, false);
        out.ms.push(performance.now() - started);
        reset();
        expect(result);
        out.durations!.push(result.durations);
      }
      return out;
    }
    case 'clone':
    case 'fetch': {
      const [url, cacheDir] = args;
      const started = performance.now();
      const gitdir = await openCacheRepo(fs, cacheDir, url);
      const head = await fetchBranch(fs, gitdir, { url, branch: 'main' });
      return { ms: [performance.now() - started], head };
    }
    default:
      throw new Error(`unknown command ${command}`);
  }
}

main(process.argv.slice(2)).then(
  (out) => process.stdout.write(`${JSON.stringify({ ...out, heapLimitMiB: Math.round(v8.getHeapStatistics().heap_size_limit / 2 ** 20) })}\n`),
  (error: unknown) => {
    process.stderr.write(`engine-worker: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  },
);
