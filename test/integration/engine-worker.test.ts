/**
 * The engine in its own worker process (src/controller/engine-worker.ts, run from dist/ as the
 * operator runs it) on local bare repositories and a crafted SSH key: results and typed errors
 * cross as plain data and come back as the same classes; the operator's event loop keeps
 * running while the worker burns CPU; the deadline kills the worker with a typed error and its
 * repository lock does not outlive it; an abort (Lease lost) stops a run before its push but
 * never during it. Build first: `npm run build`.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { classifyError, StallingError } from '../../src/controller/classify-error.js';
import { createWorkerEngine, createWorkerRangeReader, EngineLimitExceededError } from '../../src/controller/engine-worker.js';
import type { RollbackRequest } from '../../src/git/engine.js';
import {
  AuthFailedError,
  CommitNotFoundError,
  GitHostNotAllowedError,
  InvalidRepositoryUrlError,
  RevertConflictError,
  TransferLimitExceededError,
} from '../../src/git/errors.js';
import { LOCAL_NETWORK_POLICY, STRICT_NETWORK_POLICY } from '../../src/git/url-policy.js';
import type { SafetyVerdict } from '../../src/safety/evaluate-safety.js';
import { SafetyCheckFailedError } from '../../src/safety/safety-gate.js';
import { cloneBare, commitFiles, git, initRepo, makeTempDir, publishBare } from '../helpers/git-cli.js';
import { startGitHttpServer } from '../helpers/git-http-server.js';

const ENTRY = new URL(`file://${path.resolve('dist/controller/engine-worker-entry.js')}`);
const CRD = 'apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\n';

function buildRepo(): { bare: string; c1: string; c2: string; addCrd: string } {
  const work = initRepo();
  // Reverting c1 conflicts (web.yaml changed since); reverting c2 is clean.
  const c1 = commitFiles(work, 'Deploy web 1', { 'apps/web.yaml': 'image: web:1\n' });
  const c2 = commitFiles(work, 'Deploy api 1', { 'apps/api.yaml': 'image: api:1\n' });
  const addCrd = commitFiles(work, 'Add widgets CRD', { 'crds/widgets.yaml': CRD });
  commitFiles(work, 'Deploy web 3', { 'apps/web.yaml': 'image: web:3\n' });
  return { bare: cloneBare(work), c1, c2, addCrd };
}

const revert = (url: string, commit: string, credentials?: RollbackRequest['repository']['credentials']): RollbackRequest => ({
  repository: { url, branch: 'main', credentials },
  action: { kind: 'revert', commits: [commit] },
  requestId: 'ns/rb/uid',
});

/**
 * An encrypted OpenSSH key asking for 128 bcrypt rounds (the cap): seconds of CPU to try. The
 * count is rewritten after ssh-keygen wrote it (ssh-keygen would spend the same time), so the
 * passphrase no longer fits: the worker runs all 128 rounds, then reports a wrong passphrase.
 */
function costlyKey(): { identity: string; passphrase: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'ssh-key-'));
  try {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'Pa55', '-a', '16', '-f', path.join(dir, 'key')], { stdio: 'ignore' });
    const lines = readFileSync(path.join(dir, 'key'), 'utf8').trim().split('\n');
    const data = Buffer.from(lines.slice(1, -1).join(''), 'base64');
    let offset = 15;
    const skip = () => (offset += 4 + data.readUInt32BE(offset));
    skip();
    skip();
    offset += 4;
    skip();
    data.writeUInt32BE(128, offset);
    return {
      identity: `${lines[0]}\n${data
        .toString('base64')
        .match(/.{1,70}/g)!
        .join('\n')}\n${lines.at(-1)}\n`,
      passphrase: 'Pa55',
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Counts the main loop's timer ticks while `work` runs. */
async function countTicks<T>(work: () => Promise<T>): Promise<{ ticks: number; outcome: T | unknown }> {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 10);
  try {
    const outcome = await work().catch((error: unknown) => error);
    return { ticks, outcome };
  } finally {
    clearInterval(timer);
  }
}

describe('the engine in a worker process', () => {
  test('a revert runs in the worker and returns its result as plain data, with the safety verdict', async () => {
    const { bare, c2 } = buildRepo();
    const verdicts: SafetyVerdict[] = [];
    const engine = createWorkerEngine({ policy: LOCAL_NETWORK_POLICY, cacheDir: makeTempDir(), entry: ENTRY });
    const result = await engine(revert(bare, c2), { safety: {}, onVerdict: (v) => verdicts.push(v) });
    expect(result).toMatchObject({ result: 'reverted', branch: 'main', changedPaths: ['apps/api.yaml'] });
    expect(git(bare, 'rev-parse', 'main')).toBe(result.head);
    expect(verdicts).toEqual([expect.objectContaining({ verdict: 'Passed' })]);
  });

  test.each([
    ['a conflicting revert', 'RevertConflict', 'c1', RevertConflictError],
    ['a revert removing a CRD', 'SafetyCheckFailed', 'addCrd', SafetyCheckFailedError],
  ] as const)('%s comes back as the same typed error, classified as in-process (Stalled %s), nothing pushed', async (_name, reason, which, errorClass) => {
    const repo = buildRepo();
    const before = git(repo.bare, 'rev-parse', 'main');
    const engine = createWorkerEngine({ policy: LOCAL_NETWORK_POLICY, cacheDir: makeTempDir(), entry: ENTRY });
    const error = await engine(revert(repo.bare, repo[which]), { safety: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(errorClass);
    expect((error as { code: string }).code).toBe(errorClass.name);
    expect((error as { data: unknown }).data).toBeDefined();
    expect(classifyError(error)).toMatchObject({ stalling: true, reason });
    expect(git(repo.bare, 'rev-parse', 'main')).toBe(before);
  });

  test("the operator's network policy and transfer limits hold inside the worker", async () => {
    // A real git server on loopback over plain http: the strict policy refuses it before any request.
    const root = makeTempDir();
    const work = initRepo();
    const c1 = commitFiles(work, 'Deploy web 1', { 'apps/web.yaml': `image: web:1\n# ${randomBytes(4096).toString('hex')}\n` });
    commitFiles(work, 'Deploy web 2', { 'apps/web.yaml': 'image: web:2\n' });
    publishBare(work, root, 'fleet.git');
    const server = await startGitHttpServer({ root });
    try {
      const url = server.urlFor('fleet.git');
      const strict = createWorkerEngine({ policy: STRICT_NETWORK_POLICY, cacheDir: makeTempDir(), entry: ENTRY });
      await expect(strict(revert(url, c1))).rejects.toBeInstanceOf(InvalidRepositoryUrlError);
      await expect(strict(revert(url.replace('http:', 'https:'), c1))).rejects.toBeInstanceOf(GitHostNotAllowedError);
      expect(server.requests).toHaveLength(0);
      // Allowed, but a pack larger than the limit is refused while it is read.
      const small = createWorkerEngine({ policy: LOCAL_NETWORK_POLICY, limits: { maxPackBytes: 1024 }, cacheDir: makeTempDir(), entry: ENTRY });
      const error = await small(revert(url, c1)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TransferLimitExceededError);
      expect(error).toMatchObject({ data: { what: 'pack', limit: 1024 } });
    } finally {
      await server.stop();
    }
  });

  test("an automated trigger's commit range is read in a worker too: the commits as git lists them, typed errors, the policy", async () => {
    const { bare, c1, c2 } = buildRepo();
    const read = createWorkerRangeReader({ policy: LOCAL_NETWORK_POLICY, cacheDir: makeTempDir(), entry: ENTRY });
    const head = git(bare, 'rev-parse', 'main');
    const commits = await read({ url: bare, branch: 'main' }, c1, head);
    expect(commits.map((c) => c.oid)).toEqual(git(bare, 'rev-list', `${c1}..${head}`).split('\n'));
    expect(commits.find((c) => c.oid === c2)?.message).toBe('Deploy api 1\n');
    await expect(read({ url: bare, branch: 'main' }, 'f'.repeat(40), head)).rejects.toBeInstanceOf(CommitNotFoundError);
    const strict = createWorkerRangeReader({ policy: STRICT_NETWORK_POLICY, cacheDir: makeTempDir(), entry: ENTRY });
    await expect(strict({ url: 'http://127.0.0.1:1/fleet.git', branch: 'main' }, c1, head)).rejects.toBeInstanceOf(InvalidRepositoryUrlError);
  });

  test('the main event loop keeps ticking while the worker decrypts a 128-round key', async () => {
    const key = costlyKey();
    const engine = createWorkerEngine({ policy: LOCAL_NETWORK_POLICY, cacheDir: makeTempDir(), entry: ENTRY, timeoutMs: 5000 });
    const knownHosts = '[127.0.0.1]:1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA==\n';
    const credentials = { identity: key.identity, password: key.passphrase, knownHosts };
    const { ticks, outcome } = await countTicks(() => engine(revert('ssh://git@127.0.0.1:1/fleet.git', 'a'.repeat(40), credentials)));
    // The rewritten round count derives another key: seconds of bcrypt, then a wrong passphrase.
    expect(outcome).toBeInstanceOf(AuthFailedError);
    expect((outcome as Error).message).toMatch(/could not be decrypted/);
    // In-process, bcrypt would have held every tick until it finished; here the loop ran on.
    expect(ticks).toBeGreaterThanOrEqual(20);
  });

  test('at the deadline the worker is killed with EngineLimitExceededError, and its repository lock does not outlive it', async () => {
    const key = costlyKey();
    const cacheDir = makeTempDir();
    const knownHosts = '[127.0.0.1]:1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA==\n';
    const url = 'ssh://git@127.0.0.1:1/fleet.git';
    const slow = createWorkerEngine({ policy: LOCAL_NETWORK_POLICY, cacheDir, entry: ENTRY, deadlineMs: 1500 });
    const error = await slow(revert(url, 'a'.repeat(40), { identity: key.identity, password: key.passphrase, knownHosts })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineLimitExceededError);
    expect(error).toMatchObject({ code: 'EngineLimitExceededError', data: { limit: 'deadline', deadlineMs: 1500 } });
    expect((error as Error).message).toBe("The rollback's engine run did not finish within 2 s and was stopped (--engine-deadline)");
    // The same bound stops prefetches and range reads: their logs name what was stopped.
    expect(new EngineLimitExceededError({ limit: 'deadline', job: 'prefetch', deadlineMs: 60_000 }).message).toBe(
      'The cache prefetch did not finish within 60 s and was stopped (--engine-deadline)',
    );
    expect(classifyError(error)).toMatchObject({ stalling: true, reason: 'EngineLimitExceeded' });
    // The next run on the same cache and URL takes the lock at once (the dead worker's pid is
    // stale) and fails on the network, not after the 120 s lock wait.
    const next = createWorkerEngine({ policy: LOCAL_NETWORK_POLICY, cacheDir, entry: ENTRY });
    const again = await next(revert(url, 'a'.repeat(40), { identity: undefined, knownHosts })).catch((e: unknown) => e);
    expect((again as Error).name).not.toBe('GitTimeoutError');
  });

  test('a worker that outgrows its heap limit ends with EngineLimitExceededError (memory), and the operator lives on', async () => {
    // A stand-in worker that only allocates: the real entry cannot be made to, short of a pack bomb.
    const dir = makeTempDir('heap-hog-');
    const hog = path.join(dir, 'hog.mjs');
    writeFileSync(hog, 'const kept = [];\nfor (;;) kept.push(new Array(1e6).fill(Math.random()));\n');
    const engine = createWorkerEngine({ policy: LOCAL_NETWORK_POLICY, cacheDir: dir, entry: new URL(`file://${hog}`), memoryLimitMb: 32 });
    const error = await engine(revert(dir, 'a'.repeat(40))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineLimitExceededError);
    expect(error).toMatchObject({ data: { limit: 'memory', memoryLimitMb: 32 } });
    expect(classifyError(error)).toMatchObject({ stalling: true, reason: 'EngineLimitExceeded' });
  });

  test("an error thrown by beforePublish is the run's error, and nothing is pushed", async () => {
    const { bare, c2 } = buildRepo();
    const before = git(bare, 'rev-parse', 'main');
    const refusal = new StallingError('ImageUpdateAutomationNotFound', 'not found');
    const engine = createWorkerEngine({ policy: LOCAL_NETWORK_POLICY, cacheDir: makeTempDir(), entry: ENTRY });
    await expect(engine(revert(bare, c2), { beforePublish: async () => Promise.reject(refusal) })).rejects.toBe(refusal);
    expect(git(bare, 'rev-parse', 'main')).toBe(before);
  });

  test('an abort before the push stops the run with the abort reason and nothing is pushed', async () => {
    const { bare, c2 } = buildRepo();
    const before = git(bare, 'rev-parse', 'main');
    const controller = new AbortController();
    const reason = new Error('lease lost');
    const engine = createWorkerEngine({ policy: LOCAL_NETWORK_POLICY, cacheDir: makeTempDir(), entry: ENTRY });
    const run = engine(revert(bare, c2), { signal: controller.signal, beforePublish: async () => controller.abort(reason) });
    await expect(run).rejects.toBe(reason);
    expect(git(bare, 'rev-parse', 'main')).toBe(before);
  });

  test('an abort once the push started lets it finish and reports it', async () => {
    const { bare, c2 } = buildRepo();
    const controller = new AbortController();
    const engine = createWorkerEngine({ policy: LOCAL_NETWORK_POLICY, cacheDir: makeTempDir(), entry: ENTRY });
    // Fires after the operator gave leave to push.
    const result = await engine(revert(bare, c2), {
      signal: controller.signal,
      beforePublish: async () => void setImmediate(() => controller.abort(new Error('lease lost'))),
    });
    expect(controller.signal.aborted).toBe(true);
    expect(result.result).toBe('reverted');
    expect(git(bare, 'rev-parse', 'main')).toBe(result.head);
  });
});
