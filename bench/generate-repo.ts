/**
 * Generates the benchmark repositories with `git fast-import`: one commit adding `files` small
 * YAML manifests, then commits modifying 1-3 files each, up to `commits` commits on main, plus
 * 10 more commits on refs/bench/next (for the incremental fetch). Two layouts:
 *
 * - `deep`: a deep narrow tree, apps/<team>/<service>/<env>/<kind>-<n>.yaml, 25 files per
 *   directory; packed with `git gc`, as a server's repository would be;
 * - `flat`: a flat wide tree, app-<d>/<kind>-<n>.yaml, 200 directories (250 files each at 50,000
 *   files); left as `git fast-import` wrote it (its own pack, no gc, no commit-graph), as pushed.
 *
 * Each revert target (`main~depth`, one per depth) touches files that no later commit touches
 * (neither on main nor on refs/bench/next), so every revert is clean. Cached under
 * .cache/bench/ keyed by the format version and all the parameters.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gitEnv, runGit } from './measure.js';

export type Layout = 'deep' | 'flat';

/** What to generate. */
export interface RepoSpec {
  layout: Layout;
  files: number;
  commits: number;
  /** `git gc` after fast-import (a server's repository), or the pack as fast-import wrote it (as pushed). */
  gc: boolean;
  /** Revert targets as distances from the head of main (`main~depth`), nearest first. */
  targetDepths: number[];
}

export interface RevertTarget {
  /** `main~depth`. */
  depth: number;
  sha: string;
  /** The files it changes (no later commit changes them). */
  files: string[];
}

export interface BenchRepo {
  /** The bare repository (never modified by the benchmark: it is copied). */
  gitdir: string;
  layout: Layout;
  files: number;
  commits: number;
  /** Directories holding the files. */
  dirs: number;
  gc: boolean;
  /** Head of main. */
  head: string;
  /** refs/bench/next: main plus NEXT_COMMITS commits. */
  next: string;
  /** The nearest target: `main~TARGET_DEPTH`, touching 1-3 files (kept for the other benches). */
  target: string;
  targetFiles: string[];
  /** Every target, nearest first. */
  targets: RevertTarget[];
  /** Size of the packs in bytes, and how many packs. */
  packBytes: number;
  packs: number;
  /** How long generation took when it ran (ms); gc null when not gc'd. */
  generation: { fastImportMs: number; gcMs: number | null };
  /** True when this call found it in the cache (not stored). */
  cached?: boolean;
}

/** The near target. */
export const TARGET_DEPTH = 100;
/** The deep target (~10,000 commits back), clamped to the history's length. */
export const DEEP_TARGET_DEPTH = 9_900;
export const NEXT_COMMITS = 10;
/** Commits kept older than the deepest target (so it is never the initial import). */
const OLDEST_MARGIN = 50;
const FORMAT_VERSION = 2;
const FILES_PER_DIR = 25;
const ENVS = ['base', 'dev', 'staging', 'prod'];
const SERVICES_PER_TEAM = 25;
const KINDS = ['deployment', 'service', 'configmap', 'hpa', 'kustomization'];
const FLAT_DIRS = 200;

/** The default targets for a history of `commits`: main~100 and main~9900 (or as deep as the history allows). */
export function defaultTargetDepths(commits: number): number[] {
  return normalizeDepths([TARGET_DEPTH, DEEP_TARGET_DEPTH], commits);
}

/** Clamps depths to the history (oldest allowed: commits - 50), drops duplicates, sorts nearest first. */
export function normalizeDepths(depths: number[], commits: number): number[] {
  const max = commits - OLDEST_MARGIN;
  return [...new Set(depths.map((d) => Math.min(d, max)).filter((d) => d >= 1))].sort((a, b) => a - b);
}

/**
 * The deep-layout, gc'd repository with the default targets: the one every bench shares
 * (`npm run bench`'s "deep" shape, bench:startup, bench:operator).
 */
export function ensureBenchRepo(cacheRoot: string, files: number, commits: number, log: (s: string) => void): Promise<BenchRepo> {
  return ensureRepo(cacheRoot, { layout: 'deep', files, commits, gc: true, targetDepths: defaultTargetDepths(commits) }, log);
}

/** Returns the cached repository for this spec, generating it first if needed. */
export async function ensureRepo(cacheRoot: string, spec: RepoSpec, log: (s: string) => void): Promise<BenchRepo> {
  const { layout, files, commits, gc } = spec;
  const depths = normalizeDepths(spec.targetDepths, commits);
  if (files < 10 || commits < TARGET_DEPTH + OLDEST_MARGIN + 2) throw new Error(`need at least 10 files and ${TARGET_DEPTH + OLDEST_MARGIN + 2} commits`);
  if (!depths.length) throw new Error('no revert target');
  const key = `repo-v${FORMAT_VERSION}-${layout}-${gc ? 'gc' : 'raw'}-f${files}-c${commits}-t${depths.join('_')}`;
  const dir = path.join(cacheRoot, key);
  const metaFile = path.join(dir, 'meta.json');
  if (fs.existsSync(metaFile)) return { ...(JSON.parse(fs.readFileSync(metaFile, 'utf8')) as BenchRepo), cached: true };

  fs.rmSync(dir, { recursive: true, force: true });
  const gitdir = path.join(dir, 'repo.git');
  fs.mkdirSync(gitdir, { recursive: true });
  runGit(gitdir, 'init', '-q', '--bare', '-b', 'main');
  runGit(gitdir, 'config', 'gc.auto', '0');

  log(`generating ${layout} layout: ${files} files, ${commits} commits, targets ${depths.map((d) => `main~${d}`).join(', ')} with git fast-import...`);
  let started = Date.now();
  const targetFiles = await fastImport(gitdir, layout, files, commits, depths);
  const fastImportMs = Date.now() - started;
  log(`  fast-import: ${(fastImportMs / 1000).toFixed(1)} s`);

  let gcMs: number | null = null;
  if (gc) {
    // A server repository is normally packed and gc'ed: one pack with deltas, a commit-graph.
    started = Date.now();
    runGit(gitdir, 'gc', '-q', '--prune=now');
    gcMs = Date.now() - started;
    log(`  git gc: ${(gcMs / 1000).toFixed(1)} s`);
  }

  const packDir = path.join(gitdir, 'objects', 'pack');
  const packs = fs.readdirSync(packDir).filter((f) => f.endsWith('.pack'));
  const targets = depths.map((depth, i) => ({ depth, sha: runGit(gitdir, 'rev-parse', `refs/heads/main~${depth}`), files: targetFiles[i] }));
  const repo: BenchRepo = {
    gitdir,
    layout,
    files,
    commits,
    dirs: new Set(Array.from({ length: files }, (_, i) => path.posix.dirname(filePath(layout, files, i)))).size,
    gc,
    head: runGit(gitdir, 'rev-parse', 'refs/heads/main'),
    next: runGit(gitdir, 'rev-parse', 'refs/bench/next'),
    target: targets[0].sha,
    targetFiles: targets[0].files,
    targets,
    packBytes: packs.reduce((n, f) => n + fs.statSync(path.join(packDir, f)).size, 0),
    packs: packs.length,
    generation: { fastImportMs, gcMs },
  };
  fs.writeFileSync(metaFile, `${JSON.stringify(repo, null, 2)}\n`);
  return { ...repo, cached: false };
}

/** Deterministic PRNG (mulberry32). */
function makeRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function filePath(layout: Layout, files: number, index: number): string {
  const kind = KINDS[index % KINDS.length];
  if (layout === 'flat') {
    const perDir = Math.ceil(files / FLAT_DIRS);
    return `app-${Math.floor(index / perDir)}/${kind}-${Math.floor((index % perDir) / KINDS.length)}.yaml`;
  }
  const dirIndex = Math.floor(index / FILES_PER_DIR);
  const env = ENVS[dirIndex % ENVS.length];
  const service = Math.floor(dirIndex / ENVS.length) % SERVICES_PER_TEAM;
  const team = Math.floor(dirIndex / (ENVS.length * SERVICES_PER_TEAM));
  return `apps/team-${team}/svc-${service}/${env}/${kind}-${Math.floor((index % FILES_PER_DIR) / KINDS.length)}.yaml`;
}

/** Names used inside a manifest: [namespace/part-of, app name, env, file name]. */
function manifestNames(layout: Layout, file: string): { team: string; app: string; env: string; name: string } {
  const p = file.split('/');
  const base = p[p.length - 1].replace('.yaml', '');
  if (layout === 'flat') return { team: 'platform', app: p[0], env: 'prod', name: `${p[0]}-${base}` };
  return { team: p[1], app: p[2], env: p[3], name: `${p[2]}-${base}` };
}

function fileContent(layout: Layout, files: number, index: number, revision: number): string {
  const n = manifestNames(layout, filePath(layout, files, index));
  return `apiVersion: apps/v1
kind: ${KINDS[index % KINDS.length]}
metadata:
  name: ${n.name}
  namespace: ${n.team}-${n.env}
  labels:
    app.kubernetes.io/name: ${n.app}
    app.kubernetes.io/part-of: ${n.team}
spec:
  replicas: ${1 + (revision % 5)}
  template:
    spec:
      containers:
        - name: app
          image: registry.example.com/${n.team}/${n.app}:v1.${revision}.0
          resources:
            requests: {cpu: 100m, memory: 128Mi}
          env:
            - name: FILE_INDEX
              value: "${index}"
            - name: REVISION
              value: "${revision}"
`;
}

/** Streams the history into `git fast-import`; returns each target's files (in `depths` order). */
async function fastImport(gitdir: string, layout: Layout, files: number, commits: number, depths: number[]): Promise<string[][]> {
  const child = spawn('git', ['fast-import', '--quiet', '--done'], { cwd: gitdir, env: gitEnv(), stdio: ['pipe', 'ignore', 'pipe'] });
  const stderr: Buffer[] = [];
  child.stderr.on('data', (c: Buffer) => stderr.push(c));
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });

  let buffer: string[] = [];
  let buffered = 0;
  const flush = async (): Promise<void> => {
    if (!buffer.length) return;
    const chunk = buffer.join('');
    buffer = [];
    buffered = 0;
    if (!child.stdin.write(chunk)) await new Promise<void>((resolve) => child.stdin.once('drain', resolve));
  };
  const emit = async (s: string): Promise<void> => {
    buffer.push(s);
    buffered += s.length;
    if (buffered > 1 << 20) await flush();
  };
  const data = (s: string): string => `data ${Buffer.byteLength(s)}\n${s}\n`;
  const T0 = 1_600_000_000;
  const header = (ref: string, mark: number, time: number, message: string): string =>
    `commit ${ref}\nmark :${mark}\nauthor Dev ${mark % 7} <dev${mark % 7}@example.com> ${time} +0000\n` +
    `committer Dev ${mark % 7} <dev${mark % 7}@example.com> ${time} +0000\n${data(message)}`;
  const pathOf = (i: number): string => filePath(layout, files, i);

  const random = makeRandom(42);
  // Mark of each target commit (main~depth is mark commits - depth) -> its index in `depths`.
  const targetMarks = new Map(depths.map((d, i) => [commits - d, i]));
  // Files of the targets met so far: no later commit may touch them.
  const protectedFiles = new Set<number>();
  const targetFiles: string[][] = depths.map(() => []);

  await emit(header('refs/heads/main', 1, T0, 'Initial import of all manifests\n'));
  for (let i = 0; i < files; i++) await emit(`M 100644 inline ${pathOf(i)}\n${data(fileContent(layout, files, i, 0))}`);

  const modify = async (ref: string, mark: number, from?: number): Promise<void> => {
    const count = 1 + Math.floor(random() * 3);
    if (protectedFiles.size + count > files) throw new Error('too few files for the targets');
    const chosen = new Set<number>();
    while (chosen.size < count) {
      const f = Math.floor(random() * files);
      if (!protectedFiles.has(f)) chosen.add(f);
    }
    const indices = [...chosen];
    const first = manifestNames(layout, pathOf(indices[0]));
    await emit(
      header(ref, mark, T0 + mark * 60, `${first.team}/${first.app}: roll out v1.${mark}.0 (${indices.length} file${indices.length > 1 ? 's' : ''})\n`),
    );
    if (from !== undefined) await emit(`from :${from}\n`);
    for (const f of indices) await emit(`M 100644 inline ${pathOf(f)}\n${data(fileContent(layout, files, f, mark))}`);
    const target = targetMarks.get(mark);
    if (target !== undefined) {
      for (const f of indices) protectedFiles.add(f);
      targetFiles[target] = indices.map(pathOf).sort();
    }
  };
  for (let mark = 2; mark <= commits; mark++) await modify('refs/heads/main', mark);
  for (let i = 1; i <= NEXT_COMMITS; i++) await modify('refs/bench/next', commits + i, i === 1 ? commits : undefined);
  await emit('done\n');
  await flush();
  child.stdin.end();
  const code = await exited;
  if (code !== 0) throw new Error(`git fast-import failed (${code}): ${Buffer.concat(stderr).toString()}`);
  return targetFiles;
}
