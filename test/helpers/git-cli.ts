/**
 * The git CLI for tests: builds repositories and serves as the oracle. Runs with no user or
 * system config so results do not depend on the machine.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

let clock = 1_700_000_000;

/** Environment for deterministic git: fixed identity, no global/system config, advancing dates. */
export function gitEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const date = `${clock++} +0000`;
  return {
    PATH: process.env.PATH,
    HOME: os.tmpdir(),
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_AUTHOR_NAME: 'A U Thor',
    GIT_AUTHOR_EMAIL: 'author@example.com',
    GIT_COMMITTER_NAME: 'A U Thor',
    GIT_COMMITTER_EMAIL: 'author@example.com',
    GIT_AUTHOR_DATE: date,
    GIT_COMMITTER_DATE: date,
    ...extra,
  };
}

/** Runs git in `cwd` and returns trimmed stdout; throws with stderr on failure. */
export function git(cwd: string, ...args: string[]): string {
  return gitRaw(cwd, ...args).trim();
}

/** Runs git in `cwd` and returns stdout exactly as printed. */
export function gitRaw(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'init.defaultBranch=main', '-c', 'core.autocrlf=false', ...args], {
    cwd,
    env: gitEnv(),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** The message of a commit, byte for byte (everything after the header's blank line). */
export function commitMessage(cwd: string, rev: string): string {
  const raw = gitRaw(cwd, 'cat-file', 'commit', rev);
  return raw.slice(raw.indexOf('\n\n') + 2);
}

/** A fresh temporary directory, removed by the caller (or left in the OS temp dir). */
export function makeTempDir(prefix = 'gitops-rollback-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A work-tree repository on branch main. */
export function initRepo(dir = makeTempDir()): string {
  git(dir, 'init', '-q', '-b', 'main');
  return dir;
}

/** Writes files (path -> content; null deletes) and commits them all; returns the new sha. */
export function commitFiles(repo: string, message: string, files: Record<string, string | null>): string {
  for (const [file, content] of Object.entries(files)) {
    const full = path.join(repo, file);
    if (content === null) {
      fs.rmSync(full, { recursive: true, force: true });
    } else {
      fs.mkdirSync(path.dirname(full), { recursive: true });
      fs.writeFileSync(full, content);
    }
  }
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '--allow-empty', '-m', message);
  return git(repo, 'rev-parse', 'HEAD');
}

/** A bare clone of a work-tree repository (what the engine operates on locally). */
export function cloneBare(repo: string, dest = path.join(makeTempDir(), 'repo.git')): string {
  git(path.dirname(dest), 'clone', '-q', '--bare', repo, dest);
  return dest;
}

/** A bare clone of `repo` at `<root>/<name>` that pushes over HTTP are accepted into; returns its path. */
export function publishBare(repo: string, root: string, name: string): string {
  const bare = cloneBare(repo, path.join(root, name));
  git(bare, 'config', 'http.receivepack', 'true');
  return bare;
}
