/**
 * Generates the benchmark repository with `git fast-import`: one commit adding `files` small
 * YAML manifests under apps/<team>/<service>/<env>/, then commits modifying 1-3 files each, up
 * to `commits` commits on main, plus 10 more commits on refs/bench/next (for the incremental
 * fetch). The commit ~100 back from the head (the revert target) touches files no later commit
 * touches, so its revert is clean. Cached under .cache/bench/ keyed by the parameters.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gitEnv, runGit } from './measure.js';

export interface BenchRepo {
  /** The bare repository (never modified by the benchmark: it is copied). */
  gitdir: string;
  files: number;
  commits: number;
  /** Head of main. */
  head: string;
  /** refs/bench/next: main plus NEXT_COMMITS commits. */
  next: string;
  /** The commit to revert: `main~TARGET_DEPTH`, touching 1-3 files. */
  target: string;
  targetFiles: string[];
  /** Size of the packed repository in bytes. */
  packBytes: number;
}

export const TARGET_DEPTH = 100;
export const NEXT_COMMITS = 10;
const FORMAT_VERSION = 1;
const FILES_PER_DIR = 25;
const ENVS = ['base', 'dev', 'staging', 'prod'];
const SERVICES_PER_TEAM = 25;
const KINDS = ['deployment', 'service', 'configmap', 'hpa', 'kustomization'];

/** Returns the cached repository for these parameters, generating it first if needed. */
export async function ensureBenchRepo(cacheRoot: string, files: number, commits: number, log: (s: string) => void): Promise<BenchRepo> {
  if (files < 10 || commits < TARGET_DEPTH + 2) throw new Error(`need at least 10 files and ${TARGET_DEPTH + 2} commits`);
  const dir = path.join(cacheRoot, `repo-v${FORMAT_VERSION}-f${files}-c${commits}`);
  const metaFile = path.join(dir, 'meta.json');
  if (fs.existsSync(metaFile)) return JSON.parse(fs.readFileSync(metaFile, 'utf8')) as BenchRepo;

  fs.rmSync(dir, { recursive: true, force: true });
  const gitdir = path.join(dir, 'repo.git');
  fs.mkdirSync(gitdir, { recursive: true });
  runGit(gitdir, 'init', '-q', '--bare', '-b', 'main');
  runGit(gitdir, 'config', 'gc.auto', '0');

  log(`generating ${files} files, ${commits} commits with git fast-import...`);
  let started = Date.now();
  const targetFiles = await fastImport(gitdir, files, commits);
  log(`  fast-import: ${((Date.now() - started) / 1000).toFixed(1)} s`);

  // A server repository is normally packed and gc'ed: one pack with deltas, a commit-graph.
  started = Date.now();
  runGit(gitdir, 'gc', '-q', '--prune=now');
  log(`  git gc: ${((Date.now() - started) / 1000).toFixed(1)} s`);

  const packDir = path.join(gitdir, 'objects', 'pack');
  const packBytes = fs
    .readdirSync(packDir)
    .filter((f) => f.endsWith('.pack'))
    .reduce((n, f) => n + fs.statSync(path.join(packDir, f)).size, 0);
  const repo: BenchRepo = {
    gitdir,
    files,
    commits,
    head: runGit(gitdir, 'rev-parse', 'refs/heads/main'),
    next: runGit(gitdir, 'rev-parse', 'refs/bench/next'),
    target: runGit(gitdir, 'rev-parse', `refs/heads/main~${TARGET_DEPTH}`),
    targetFiles,
    packBytes,
  };
  fs.writeFileSync(metaFile, `${JSON.stringify(repo, null, 2)}\n`);
  return repo;
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

function filePath(index: number): string {
  const dirIndex = Math.floor(index / FILES_PER_DIR);
  const env = ENVS[dirIndex % ENVS.length];
  const service = Math.floor(dirIndex / ENVS.length) % SERVICES_PER_TEAM;
  const team = Math.floor(dirIndex / (ENVS.length * SERVICES_PER_TEAM));
  const kind = KINDS[index % KINDS.length];
  return `apps/team-${team}/svc-${service}/${env}/${kind}-${Math.floor((index % FILES_PER_DIR) / KINDS.length)}.yaml`;
}

function fileContent(index: number, revision: number): string {
  const p = filePath(index).split('/');
  const name = `${p[2]}-${p[4].replace('.yaml', '')}`;
  return `apiVersion: apps/v1
kind: ${KINDS[index % KINDS.length]}
metadata:
  name: ${name}
  namespace: ${p[1]}-${p[3]}
  labels:
    app.kubernetes.io/name: ${p[2]}
    app.kubernetes.io/part-of: ${p[1]}
spec:
  replicas: ${1 + (revision % 5)}
  template:
    spec:
      containers:
        - name: app
          image: registry.example.com/${p[1]}/${p[2]}:v1.${revision}.0
          resources:
            requests: {cpu: 100m, memory: 128Mi}
          env:
            - name: FILE_INDEX
              value: "${index}"
            - name: REVISION
              value: "${revision}"
`;
}

/** Streams the history into `git fast-import`; returns the target commit's files. */
async function fastImport(gitdir: string, files: number, commits: number): Promise<string[]> {
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

  const random = makeRandom(42);
  const revisions = new Uint32Array(files);
  const targetMark = commits - TARGET_DEPTH;
  let protectedFiles = new Set<number>();
  let targetFiles: string[] = [];

  await emit(header('refs/heads/main', 1, T0, 'Initial import of all manifests\n'));
  for (let i = 0; i < files; i++) await emit(`M 100644 inline ${filePath(i)}\n${data(fileContent(i, 0))}`);

  const modify = async (ref: string, mark: number, from?: number): Promise<void> => {
    const count = 1 + Math.floor(random() * 3);
    const chosen = new Set<number>();
    while (chosen.size < count) {
      const f = Math.floor(random() * files);
      if (!protectedFiles.has(f)) chosen.add(f);
    }
    const indices = [...chosen];
    const first = filePath(indices[0]).split('/');
    await emit(header(ref, mark, T0 + mark * 60, `${first[1]}/${first[2]}: roll out v1.${mark}.0 (${indices.length} file${indices.length > 1 ? 's' : ''})\n`));
    if (from !== undefined) await emit(`from :${from}\n`);
    for (const f of indices) {
      revisions[f] = mark;
      await emit(`M 100644 inline ${filePath(f)}\n${data(fileContent(f, mark))}`);
    }
    if (mark === targetMark) {
      protectedFiles = chosen;
      targetFiles = indices.map(filePath).sort();
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
