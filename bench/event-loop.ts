/**
 * `npm run bench:event-loop`: what one large revert does to the operator's event loop. The
 * hardening audit saw a 30,000-path revert hold the loop for 14 s (the Lease went unrenewed); the
 * operator now runs every engine run in a worker process (src/controller/engine-worker.ts).
 *
 * Setting: a local bare repository whose last commit changes BENCH_PATHS (default 30,000) files,
 * written with `git fast-import`; the revert of that commit is computed and pushed to the bare
 * repository with the safety gate inspecting every changed manifest, as the operator does: once
 * in this process (runGuardedRollback, as before the worker) and once through the worker engine,
 * each BENCH_RUNS times (default 3) on a fresh copy. The loop's delay is measured
 * with perf_hooks.monitorEventLoopDelay (10 ms resolution) while each run is in flight.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createWorkerEngine } from '../src/controller/engine-worker.js';
import { runGuardedRollback } from '../src/controller/engine-run.js';
import type { RollbackRequest } from '../src/git/engine.js';
import { LOCAL_NETWORK_POLICY } from '../src/git/url-policy.js';
import { envInt, median } from './measure.js';

const PATHS = envInt('BENCH_PATHS', 30_000);
const RUNS = envInt('BENCH_RUNS', 3);

/** A bare repository: one commit adding PATHS files in 100 directories, one changing them all. */
function buildRepo(dir: string): { bare: string; target: string } {
  const bare = path.join(dir, 'template.git');
  execFileSync('git', ['init', '-q', '--bare', '-b', 'main', bare]);
  const lines: string[] = [];
  const commit = (mark: number, message: string, version: number, parent?: number) => {
    lines.push(
      'commit refs/heads/main',
      `mark :${mark}`,
      `committer Bench <bench@example.com> ${1_700_000_000 + mark} +0000`,
      `data ${Buffer.byteLength(message)}`,
      message,
    );
    if (parent) lines.push(`from :${parent}`);
    for (let i = 0; i < PATHS; i++) {
      const content = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-${i}\ndata:\n  version: "${version}"\n`;
      lines.push(`M 100644 inline apps/dir-${i % 100}/cm-${i}.yaml`, `data ${Buffer.byteLength(content)}`, content);
    }
    lines.push('');
  };
  commit(1, 'Deploy 1', 1);
  commit(2, 'Deploy 2', 2, 1);
  execFileSync('git', ['fast-import', '--quiet'], { cwd: bare, input: lines.join('\n') + '\n', maxBuffer: 1 << 30 });
  return { bare, target: execFileSync('git', ['rev-parse', 'main'], { cwd: bare, encoding: 'utf8' }).trim() };
}

async function measure(run: () => Promise<unknown>): Promise<{ ms: number; maxDelayMs: number; p99DelayMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  const started = performance.now();
  await run();
  const ms = performance.now() - started;
  histogram.disable();
  return { ms, maxDelayMs: histogram.max / 1e6, p99DelayMs: histogram.percentile(99) / 1e6 };
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-event-loop-'));
  try {
    const built = performance.now();
    const { bare: template, target } = buildRepo(dir);
    console.error(`event-loop bench: ${PATHS} paths written in ${Math.round(performance.now() - built)} ms`);
    const request = (bare: string): RollbackRequest => ({
      repository: { url: bare, branch: 'main' },
      action: { kind: 'revert', commits: [target] },
      author: { name: 'Bench', email: 'bench@example.com' },
    });
    const fresh = (i: number, kind: string) => {
      const bare = path.join(dir, `${kind}-${i}.git`);
      fs.cpSync(template, bare, { recursive: true });
      return { bare, cacheDir: path.join(dir, `${kind}-${i}-cache`) };
    };
    const rows: Record<string, { ms: number; maxDelayMs: number; p99DelayMs: number }[]> = { 'in-process (before)': [], 'worker process (now)': [] };
    for (let i = 0; i < RUNS; i++) {
      const a = fresh(i, 'inproc');
      rows['in-process (before)'].push(
        await measure(() => runGuardedRollback(request(a.bare), { cacheDir: a.cacheDir, policy: LOCAL_NETWORK_POLICY }, { safety: {} })),
      );
      const b = fresh(i, 'worker');
      const engine = createWorkerEngine({ cacheDir: b.cacheDir, policy: LOCAL_NETWORK_POLICY, memoryLimitMb: 1024 });
      rows['worker process (now)'].push(await measure(() => engine(request(b.bare), { safety: {} })));
      const pushed = execFileSync('git', ['log', '-1', '--format=%s', 'main'], { cwd: b.bare, encoding: 'utf8' }).trim();
      if (pushed !== 'Revert "Deploy 2"') throw new Error(`worker run ${i} pushed "${pushed}"`);
    }
    console.log(`\nOne revert of a commit changing ${PATHS} paths (local bare repository, pushed), ${RUNS} runs each, median (min–max):\n`);
    console.log('| engine | run time | longest event-loop stall | p99 event-loop delay |');
    console.log('| --- | --- | --- | --- |');
    const cell = (values: number[]) => `${median(values).toFixed(0)} ms (${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)})`;
    for (const [name, results] of Object.entries(rows)) {
      console.log(`| ${name} | ${cell(results.map((r) => r.ms))} | ${cell(results.map((r) => r.maxDelayMs))} | ${cell(results.map((r) => r.p99DelayMs))} |`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
