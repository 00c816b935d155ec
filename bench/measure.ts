/**
 * Measuring whole processes: wall time (from the parent) and peak RSS (GNU time's %M, which on
 * Linux is the largest of the process and its waited-for descendants). Plus a deterministic git
 * environment and small statistics helpers.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';

export const GNU_TIME = '/usr/bin/time';
export const HAS_GNU_TIME = fs.existsSync(GNU_TIME);

/** git with no user/system config and a fixed identity, so results do not depend on the machine. */
export function gitEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: os.tmpdir(),
    LANG: 'C',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_AUTHOR_NAME: 'Bench',
    GIT_AUTHOR_EMAIL: 'bench@example.com',
    GIT_COMMITTER_NAME: 'Bench',
    GIT_COMMITTER_EMAIL: 'bench@example.com',
    ...extra,
  };
}

/** Runs git synchronously (setup and reset steps, never timed); returns trimmed stdout. */
export function runGit(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: gitEnv(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 }).trim();
}

export interface ProcessSample {
  ms: number;
  /** Peak RSS in KiB, when GNU time is available. */
  maxRssKiB: number | null;
  stdout: string;
}

/**
 * Runs a command as a whole process and times it. Throws when it exits non-zero (with its
 * stderr), so a benchmark never reports the time of a failure.
 */
export async function timeProcess(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<ProcessSample> {
  const rssFile = path.join(os.tmpdir(), `bench-rss-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const [cmd, argv] = HAS_GNU_TIME ? [GNU_TIME, ['-f', '%M', '-o', rssFile, command, ...args]] : [command, args];
  const started = performance.now();
  const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(cmd, argv, { cwd: options.cwd, env: options.env ?? gitEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (c) => resolve({ code: c ?? 1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
  });
  const ms = performance.now() - started;
  let maxRssKiB: number | null = null;
  if (HAS_GNU_TIME) {
    const text = fs.readFileSync(rssFile, 'utf8');
    fs.rmSync(rssFile, { force: true });
    // GNU time writes "Command exited with non-zero status N" before the format on failure.
    const last = text.trim().split('\n').pop() ?? '';
    maxRssKiB = /^\d+$/.test(last) ? Number(last) : null;
  }
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${code}: ${stderr.trim().slice(-2000)}`);
  return { ms, maxRssKiB, stdout };
}

/** A positive integer from the environment (BENCH_RUNS...), or the fallback when unset. */
export function envInt(name: string, fallback: number): number {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got "${value}"`);
  return n;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function maxOrNull(values: (number | null)[]): number | null {
  const known = values.filter((v): v is number => v !== null);
  return known.length ? Math.max(...known) : null;
}

/** Copies a directory tree (setup only; `cp -a` keeps it fast and faithful). */
export function copyDir(from: string, to: string): void {
  fs.rmSync(to, { recursive: true, force: true });
  execFileSync('cp', ['-a', from, to]);
}
