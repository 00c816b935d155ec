/**
 * A seeded generator of small, messy git histories built with the git CLI, for oracle tests that
 * compare the revert engine against `git revert`. The same seed always gives the same history
 * (same trees, messages and dates, hence the same commit shas on the same git version).
 *
 * The tree is a handful of YAML-ish manifests in nested directories. Commits edit lines close to
 * each other (so reverts conflict sometimes), add and delete files, rename them (exactly, or
 * edited to ~60-90% similarity), move whole directories, toggle the executable bit, touch binary
 * files (with NUL bytes) and symlinks, swap a file and a directory, revert earlier commits, and
 * merge side branches with `git merge --no-ff`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** A small fast seeded PRNG (mulberry32) with the helpers the generator needs. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
  /** `count` distinct items, in their original order. */
  sample<T>(items: readonly T[], count: number): T[] {
    const indexes = items.map((_, i) => i);
    for (let i = indexes.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [indexes[i], indexes[j]] = [indexes[j], indexes[i]];
    }
    return indexes
      .slice(0, count)
      .sort((a, b) => a - b)
      .map((i) => items[i]);
  }
}

export const AUTHOR = { name: 'A U Thor', email: 'author@example.com' };

/** Configuration every git command sees (there is no global or system configuration). */
const CONFIG: [string, string][] = [
  ['core.autocrlf', 'false'],
  ['core.filemode', 'true'],
  ['core.symlinks', 'true'],
  ['commit.gpgsign', 'false'],
  ['gc.auto', '0'],
  ['init.defaultBranch', 'main'],
];

/** Seconds since the epoch of the first generated commit; each commit is one second later. */
const BASE_TIME = 1_700_000_000;

export interface GitResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs the git CLI in one repository with no global/system configuration and fixed identities. */
export class GitRunner {
  private time = BASE_TIME;
  constructor(readonly dir: string) {}

  /** Advances the clock used for author and committer dates by one second. */
  tick(): void {
    this.time += 1;
  }

  env(): NodeJS.ProcessEnv {
    const date = `${this.time} +0000`;
    return {
      PATH: process.env.PATH,
      HOME: this.dir,
      LANG: 'C',
      LC_ALL: 'C',
      TZ: 'UTC',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_TERMINAL_PROMPT: '0',
      GIT_AUTHOR_NAME: AUTHOR.name,
      GIT_AUTHOR_EMAIL: AUTHOR.email,
      GIT_COMMITTER_NAME: AUTHOR.name,
      GIT_COMMITTER_EMAIL: AUTHOR.email,
      GIT_AUTHOR_DATE: date,
      GIT_COMMITTER_DATE: date,
      // Like `-c key=value` on every command, also for git run from `shell` scripts.
      GIT_CONFIG_COUNT: String(CONFIG.length),
      ...Object.fromEntries(
        CONFIG.flatMap(([key, value], i) => [
          [`GIT_CONFIG_KEY_${i}`, key],
          [`GIT_CONFIG_VALUE_${i}`, value],
        ]),
      ),
    };
  }

  private args(args: string[]): string[] {
    return args;
  }

  /**
   * Runs a POSIX shell script (several git commands for one spawn from this large process,
   * which is what costs) and returns its stdout; throws on a non-zero exit.
   */
  shell(script: string, input?: string): string {
    return execFileSync('sh', ['-c', script], {
      cwd: this.dir,
      env: this.env(),
      encoding: 'utf8',
      input,
      stdio: ['pipe', 'pipe', 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
    });
  }

  /** Runs git and returns stdout; throws (with stderr) on a non-zero exit. */
  run(args: string[], input?: string): string {
    return execFileSync('git', this.args(args), {
      cwd: this.dir,
      env: this.env(),
      encoding: 'utf8',
      input,
      stdio: ['pipe', 'pipe', 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
    });
  }

  /** Runs git and returns stdout as bytes; throws on a non-zero exit. */
  runRaw(args: string[], input?: string): Buffer {
    return execFileSync('git', this.args(args), { cwd: this.dir, env: this.env(), input, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
  }

  /** Runs git and reports the exit status instead of throwing. */
  try(args: string[], input?: string): GitResult {
    const r = spawnSync('git', this.args(args), { cwd: this.dir, env: this.env(), encoding: 'utf8', input, maxBuffer: 64 * 1024 * 1024 });
    if (r.error) throw r.error;
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }
}

export interface GeneratedCommit {
  sha: string;
  parents: string[];
  subject: string;
  /** What the commit did, for failure messages. */
  ops: string[];
  /** The commit this one reverts, when the generator made it with `git revert`. */
  reverts?: string;
}

export interface RandomHistory {
  seed: number;
  /** The non-bare repository (branch main). */
  dir: string;
  git: GitRunner;
  /** Every commit reachable from head, oldest first. */
  commits: GeneratedCommit[];
  head: string;
}

export interface HistoryOptions {
  /** Commits on main, merges and side-branch commits included (approximately). */
  commits?: number;
}

const DIRS = ['apps/frontend', 'apps/backend', 'apps/worker', 'infra', 'infra/monitoring', 'infra/ingress', 'clusters/prod', 'clusters/staging/patches'];
const KEYS = [
  'replicas',
  'image',
  'tag',
  'cpu',
  'memory',
  'port',
  'host',
  'path',
  'timeout',
  'retries',
  'enabled',
  'level',
  'region',
  'zone',
  'weight',
  'name',
  'namespace',
  'secret',
  'schedule',
  'limit',
];
const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet', 'kilo', 'lima', 'mike', 'nov', 'oscar', 'papa'];

/** Builds a history in `dir` (created, must not exist or be empty) from `seed`. */
export function buildRandomHistory(dir: string, seed: number, options: HistoryOptions = {}): RandomHistory {
  fs.mkdirSync(dir, { recursive: true });
  const builder = new HistoryBuilder(dir, seed);
  builder.build(options.commits ?? 12);
  return builder.result();
}

class HistoryBuilder {
  readonly rng: Rng;
  readonly git: GitRunner;
  private counter = 0;
  private readonly ops = new Map<string, string[]>();

  constructor(
    readonly dir: string,
    readonly seed: number,
  ) {
    this.rng = new Rng(seed);
    this.git = new GitRunner(dir);
  }

  build(target: number): void {
    this.git.run(['init', '-q', '-b', 'main']);
    this.writeInitialTree();
    this.commit('Initial manifests');
    let made = 1;
    while (made < target) {
      const roll = this.rng.next();
      if (roll < 0.14 && made + 3 <= target) {
        made += this.mergeBranch();
      } else if (roll < 0.22 && made > 2) {
        made += this.revertEarlier();
      } else {
        this.randomCommit();
        made += 1;
      }
    }
  }

  result(): RandomHistory {
    const head = this.git.run(['rev-parse', 'HEAD']).trim();
    const log = this.git.run(['log', '--reverse', '--date-order', '--format=%H %P%x00%s']).split('\n').filter(Boolean);
    const commits = log.map((line) => {
      const [ids, subject] = line.split('\0');
      const [sha, ...parents] = ids.trim().split(' ');
      const ops = this.ops.get(sha) ?? [];
      const reverts = ops.length === 1 && ops[0].startsWith('revert ') ? ops[0].slice('revert '.length) : undefined;
      return { sha, parents: parents.filter(Boolean), subject, ops, ...(reverts ? { reverts } : {}) };
    });
    return { seed: this.seed, dir: this.dir, git: this.git, commits, head };
  }

  // ---------------------------------------------------------------- files

  private abs(rel: string): string {
    return path.join(this.dir, rel);
  }

  /** Regular files and symlinks of the work tree (relative paths), sorted. */
  private listEntries(): { files: string[]; links: string[]; dirs: string[] } {
    const files: string[] = [];
    const links: string[] = [];
    const dirs: string[] = [];
    const walk = (rel: string): void => {
      for (const name of fs.readdirSync(this.abs(rel)).sort()) {
        if (rel === '' && name === '.git') continue;
        const child = rel ? `${rel}/${name}` : name;
        const stat = fs.lstatSync(this.abs(child));
        if (stat.isSymbolicLink()) links.push(child);
        else if (stat.isDirectory()) {
          dirs.push(child);
          walk(child);
        } else files.push(child);
      }
    };
    walk('');
    return { files, links, dirs };
  }

  private textFiles(): string[] {
    return this.listEntries().files.filter((f) => f.endsWith('.yaml') || f.endsWith('.yml') || f.endsWith('.md'));
  }

  private write(rel: string, content: string | Buffer): void {
    const file = this.abs(rel);
    // A file standing where a directory is needed (or the reverse) is removed first.
    this.clearPathFor(rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
  }

  private clearPathFor(rel: string): void {
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const prefix = this.abs(parts.slice(0, i).join('/'));
      const stat = lstatOrNull(prefix);
      if (stat && !stat.isDirectory()) fs.rmSync(prefix, { force: true });
    }
    const stat = lstatOrNull(this.abs(rel));
    if (stat?.isDirectory()) fs.rmSync(this.abs(rel), { recursive: true, force: true });
  }

  private remove(rel: string): void {
    fs.rmSync(this.abs(rel), { recursive: true, force: true });
    this.pruneEmptyDirs(path.dirname(rel));
  }

  private pruneEmptyDirs(rel: string): void {
    let dir = rel;
    while (dir && dir !== '.') {
      const abs = this.abs(dir);
      if (!fs.existsSync(abs) || fs.readdirSync(abs).length) break;
      fs.rmdirSync(abs);
      dir = path.dirname(dir);
    }
  }

  private value(): string {
    return this.rng.chance(0.5) ? `${this.rng.pick(WORDS)}-${this.rng.int(1, 99)}` : String(this.rng.int(1, 9999));
  }

  private yamlLine(): string {
    const indent = '  '.repeat(this.rng.int(0, 3));
    return `${indent}${this.rng.pick(KEYS)}: ${this.value()}`;
  }

  private yamlFile(name: string): string {
    const lines = [
      `# ${name}`,
      'apiVersion: v1',
      `kind: ${this.rng.pick(['ConfigMap', 'Deployment', 'Service', 'Kustomization'])}`,
      'metadata:',
      `  name: ${path.basename(name, '.yaml')}-${this.rng.int(1, 99)}`,
    ];
    const count = this.rng.int(10, 22);
    for (let i = 0; i < count; i++) lines.push(this.yamlLine());
    return `${lines.join('\n')}\n`;
  }

  private binary(): Buffer {
    const size = this.rng.int(64, 400);
    const buf = Buffer.alloc(size);
    for (let i = 0; i < size; i++) buf[i] = this.rng.chance(0.2) ? 0 : this.rng.int(0, 255);
    return buf;
  }

  private writeInitialTree(): void {
    for (const file of [
      'apps/frontend/deploy.yaml',
      'apps/frontend/service.yaml',
      'apps/backend/deploy.yaml',
      'apps/backend/config.yaml',
      'infra/monitoring/values.yaml',
      'infra/ingress.yaml',
      'clusters/prod/kustomization.yaml',
    ]) {
      this.write(file, this.yamlFile(file));
    }
    this.write('README.md', '# fleet\n\nManifests for the fleet.\n');
    if (this.rng.chance(0.5)) this.write('assets/logo.bin', this.binary());
    if (this.rng.chance(0.5)) fs.symlinkSync('deploy.yaml', this.abs('apps/frontend/current.yaml'));
  }

  // ---------------------------------------------------------------- operations

  /** Edits lines of a text file near a "hot" spot so that edits of different commits collide. */
  private editLines(file: string, edits = this.rng.int(1, 3)): string {
    const lines = fs.readFileSync(this.abs(file), 'utf8').split('\n');
    const trailing = lines[lines.length - 1] === '' ? lines.pop() : undefined;
    const hot = this.rng.chance(0.6) ? this.rng.int(4, 9) : this.rng.int(1, Math.max(1, lines.length - 1));
    const done: string[] = [];
    for (let i = 0; i < edits; i++) {
      const at = Math.min(lines.length, Math.max(1, hot + this.rng.int(-2, 2)));
      const kind = this.rng.next();
      if (kind < 0.55 && at < lines.length) {
        const line = lines[at];
        const colon = line.indexOf(':');
        lines[at] = colon >= 0 ? `${line.slice(0, colon)}: ${this.value()}` : this.yamlLine();
        done.push(`change@${at}`);
      } else if (kind < 0.8 || lines.length < 6) {
        lines.splice(at, 0, this.yamlLine());
        done.push(`insert@${at}`);
      } else if (at < lines.length) {
        lines.splice(at, 1);
        done.push(`delete@${at}`);
      }
    }
    if (trailing !== undefined || this.rng.chance(0.95)) lines.push('');
    fs.writeFileSync(this.abs(file), lines.join('\n'));
    return `edit ${file} ${done.join(',')}`;
  }

  private freshPath(ext = '.yaml'): string {
    for (;;) {
      const rel = `${this.rng.pick(DIRS)}/${this.rng.pick(WORDS)}${ext}`;
      if (!lstatOrNull(this.abs(rel)) && !this.blockedByFile(rel)) return rel;
    }
  }

  /** True when a prefix of `rel` is an existing non-directory. */
  private blockedByFile(rel: string): boolean {
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const stat = lstatOrNull(this.abs(parts.slice(0, i).join('/')));
      if (stat && !stat.isDirectory()) return true;
    }
    return false;
  }

  private randomOp(): string {
    const { files, links, dirs } = this.listEntries();
    const texts = this.textFiles();
    const roll = this.rng.next();
    if (roll < 0.42 && texts.length) return this.editLines(this.rng.pick(texts));
    if (roll < 0.5) {
      const rel = this.freshPath();
      this.write(rel, this.yamlFile(rel));
      return `add ${rel}`;
    }
    if (roll < 0.56 && files.length > 3) {
      const rel = this.rng.pick(files);
      this.remove(rel);
      return `delete ${rel}`;
    }
    if (roll < 0.66 && texts.length) {
      // Rename, exact or edited afterwards (a few lines of ~15-25: roughly 60-90% similar).
      const from = this.rng.pick(texts);
      const to = this.rng.chance(0.5) ? `${path.dirname(from)}/${this.rng.pick(WORDS)}.yaml` : this.freshPath();
      if (lstatOrNull(this.abs(to)) || this.blockedByFile(to)) return this.editLines(from);
      const content = fs.readFileSync(this.abs(from));
      this.remove(from);
      this.write(to, content);
      if (this.rng.chance(0.5)) return `rename ${from} -> ${to}; ${this.editLines(to, this.rng.int(1, 4))}`;
      return `rename ${from} -> ${to}`;
    }
    if (roll < 0.7 && dirs.length) {
      // Move a whole leaf directory (git may detect a directory rename).
      const leaves = dirs.filter((d) => !dirs.some((e) => e.startsWith(`${d}/`)));
      const from = this.rng.pick(leaves);
      const to = `${this.rng.pick(['apps', 'infra', 'clusters'])}/${this.rng.pick(WORDS)}`;
      if (lstatOrNull(this.abs(to)) || this.blockedByFile(to) || to.startsWith(`${from}/`)) return this.randomOp();
      fs.mkdirSync(path.dirname(this.abs(to)), { recursive: true });
      fs.renameSync(this.abs(from), this.abs(to));
      this.pruneEmptyDirs(path.dirname(from));
      return `move-dir ${from} -> ${to}`;
    }
    if (roll < 0.76 && files.length) {
      const rel = this.rng.pick(files);
      const mode = fs.statSync(this.abs(rel)).mode;
      fs.chmodSync(this.abs(rel), mode & 0o111 ? 0o644 : 0o755);
      return `chmod ${mode & 0o111 ? '-x' : '+x'} ${rel}`;
    }
    if (roll < 0.82) {
      const bins = files.filter((f) => f.endsWith('.bin'));
      if (bins.length && this.rng.chance(0.7)) {
        const rel = this.rng.pick(bins);
        const buf = fs.readFileSync(this.abs(rel));
        for (let i = 0; i < this.rng.int(1, 4); i++) buf[this.rng.int(0, buf.length - 1)] = this.rng.int(0, 255);
        fs.writeFileSync(this.abs(rel), buf);
        return `edit-binary ${rel}`;
      }
      const rel = this.freshPath('.bin');
      this.write(rel, this.binary());
      return `add-binary ${rel}`;
    }
    if (roll < 0.9) {
      if (links.length && this.rng.chance(0.6)) {
        const rel = this.rng.pick(links);
        if (this.rng.chance(0.3)) {
          this.remove(rel);
          return `delete-symlink ${rel}`;
        }
        fs.rmSync(this.abs(rel));
        fs.symlinkSync(
          this.rng.chance(0.7) && texts.length
            ? path.relative(path.dirname(this.abs(rel)), this.abs(this.rng.pick(texts)))
            : `missing-${this.rng.pick(WORDS)}.yaml`,
          this.abs(rel),
        );
        return `retarget-symlink ${rel}`;
      }
      const rel = this.freshPath();
      fs.mkdirSync(path.dirname(this.abs(rel)), { recursive: true });
      const target = texts.length ? path.relative(path.dirname(this.abs(rel)), this.abs(this.rng.pick(texts))) : 'nowhere';
      fs.symlinkSync(target, this.abs(rel));
      return `add-symlink ${rel}`;
    }
    if (roll < 0.95 && texts.length) {
      // File -> directory: the file's path becomes a directory holding a file.
      const rel = this.rng.pick(texts);
      const content = fs.readFileSync(this.abs(rel));
      fs.rmSync(this.abs(rel));
      this.write(`${rel}/main.yaml`, content);
      return `file->dir ${rel}`;
    }
    if (dirs.length) {
      // Directory -> file: a leaf directory is replaced by a file of the same name.
      const leaves = dirs.filter((d) => !dirs.some((e) => e.startsWith(`${d}/`)) && d.includes('/'));
      if (leaves.length) {
        const rel = this.rng.pick(leaves);
        fs.rmSync(this.abs(rel), { recursive: true, force: true });
        this.write(rel, this.yamlFile(rel));
        return `dir->file ${rel}`;
      }
    }
    return texts.length ? this.editLines(this.rng.pick(texts)) : 'noop';
  }

  private message(ops: string[]): string {
    this.counter += 1;
    const kind = this.rng.next();
    const subject = `${ops[0]?.split(' ').slice(0, 2).join(' ') ?? 'change'} #${this.counter}`;
    if (kind < 0.6) return subject;
    if (kind < 0.75) return `${subject}\n\nWhy: ${this.rng.pick(WORDS)} ${this.rng.pick(WORDS)}.\nDetails: ${ops.join('; ')}`;
    if (kind < 0.85) return `Bump "${this.rng.pick(WORDS)}" to ${this.value()} #${this.counter}`;
    if (kind < 0.93) return `${subject}\nsecond line of the first paragraph`;
    return `fix: ünïcode – ${this.rng.pick(WORDS)} #${this.counter}\n\nCo-authored-by: B <b@example.com>`;
  }

  private commit(message: string, ops: string[] = []): string {
    this.git.tick();
    this.git.shell('git add -A && git commit -q --allow-empty --no-verify -F -', message);
    const sha = this.readHead();
    this.ops.set(sha, ops);
    return sha;
  }

  private randomCommit(): void {
    const ops: string[] = [];
    const count = this.rng.int(1, 3);
    for (let i = 0; i < count; i++) ops.push(this.randomOp());
    this.commit(this.message(ops), ops);
  }

  /** Branch off, commit on both sides, merge with --no-ff. Returns the commits made. */
  private mergeBranch(): number {
    const branch = `topic-${this.counter}`;
    this.git.run(['checkout', '-q', '-b', branch]);
    const sideCommits = this.rng.int(1, 2);
    for (let i = 0; i < sideCommits; i++) this.randomCommit();
    this.git.run(['checkout', '-q', 'main']);
    this.cleanWorkTree();
    const mainCommits = this.rng.int(0, 1);
    for (let i = 0; i < mainCommits; i++) this.randomCommit();
    this.git.tick();
    const message = `Merge branch '${branch}'`;
    // Clean merge if possible, else favour the branch, else keep main's tree (-s ours).
    let merged = this.git.try(['merge', '--no-ff', '-q', '-m', message, branch]);
    if (merged.status !== 0) {
      this.abortMerge();
      merged = this.git.try(['merge', '--no-ff', '-q', '-X', 'theirs', '-m', message, branch]);
    }
    if (merged.status !== 0) {
      this.abortMerge();
      this.git.run(['merge', '--no-ff', '-q', '-s', 'ours', '-m', `${message} (ours)`, branch]);
    }
    this.git.run(['branch', '-q', '-D', branch]);
    const sha = this.git.run(['rev-parse', 'HEAD']).trim();
    this.ops.set(sha, [`merge ${branch}`]);
    return sideCommits + mainCommits + 1;
  }

  /** Reverts an earlier non-merge commit with git itself (when clean), so histories hold reverts. */
  private revertEarlier(): number {
    const candidates = this.git.run(['rev-list', '--no-merges', 'HEAD']).split('\n').filter(Boolean);
    const target = this.rng.pick(candidates.slice(0, -1).length ? candidates.slice(0, -1) : candidates);
    this.git.tick();
    const r = this.git.try(['revert', '--no-edit', target]);
    if (r.status !== 0) {
      this.git.try(['revert', '--abort']);
      this.abortMerge();
      this.randomCommit();
      return 1;
    }
    const sha = this.git.run(['rev-parse', 'HEAD']).trim();
    this.ops.set(sha, [`revert ${target}`]);
    return 1;
  }

  /** HEAD's sha without spawning git (refs are loose: nothing packs them here). */
  private readHead(): string {
    const head = fs.readFileSync(path.join(this.dir, '.git', 'HEAD'), 'utf8').trim();
    if (!head.startsWith('ref: ')) return head;
    return fs.readFileSync(path.join(this.dir, '.git', head.slice(5)), 'utf8').trim();
  }

  /** Drops a failed merge (`merge --abort` refuses some failures; reset does not). */
  private abortMerge(): void {
    this.git.shell('git reset -q --hard HEAD && git clean -q -f -d -x');
  }

  private cleanWorkTree(): void {
    this.git.run(['clean', '-q', '-f', '-d', '-x']);
  }
}

function lstatOrNull(file: string): fs.Stats | null {
  try {
    return fs.lstatSync(file);
  } catch {
    return null;
  }
}

/** What to revert: commits newest first, and `mainline` when the target is a merge. */
export interface RevertTarget {
  commits: string[];
  mainline?: 1;
  label: string;
}

/**
 * Picks something to revert: one commit (~50%), two or three non-merge commits (~30%), or a
 * merge commit with mainline 1 (~20%, when the history has merges).
 */
export function pickRevertTarget(history: RandomHistory, rng: Rng): RevertTarget {
  const position = new Map(history.commits.map((c, i) => [c.sha, i]));
  const newestFirst = (shas: string[]): string[] => [...shas].sort((a, b) => position.get(b)! - position.get(a)!);
  const merges = history.commits.filter((c) => c.parents.length > 1);
  const singles = history.commits.filter((c) => c.parents.length <= 1);
  const roll = rng.next();
  if (merges.length && roll < 0.2) {
    const merge = rng.pick(merges);
    return { commits: [merge.sha], mainline: 1, label: `merge ${merge.sha.slice(0, 8)} -m 1` };
  }
  if (roll < 0.5 && singles.length >= 2) {
    const chosen = newestFirst(rng.sample(singles, Math.min(singles.length, rng.int(2, 3))).map((c) => c.sha));
    return { commits: chosen, label: `commits ${chosen.map((s) => s.slice(0, 8)).join(' ')}` };
  }
  // Mostly recent commits, where reverts are likeliest to be clean.
  const recent = rng.chance(0.5) ? singles.slice(-4) : singles;
  const one = rng.pick(recent.length ? recent : singles);
  return { commits: [one.sha], label: `commit ${one.sha.slice(0, 8)}` };
}
