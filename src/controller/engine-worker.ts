/**
 * Runs each engine run in its own worker process, so that nothing a tenant controls (a pack, a
 * tree, an SSH key's KDF rounds, a known_hosts pattern, a huge revert) can hold the operator's
 * event loop: health probes, the Lease renewal and other rollbacks keep running. Each run has:
 *
 * - a total deadline: at it, the process is killed and the run fails with
 *   EngineLimitExceededError (limit `deadline`);
 * - a heap limit (`--max-old-space-size`): a run that exceeds it dies and fails with
 *   EngineLimitExceededError (limit `memory`);
 * - plain data across the boundary (./engine-protocol.ts): the request, credentials, settings
 *   and safety policy in; the result, the gate's verdict, or the typed error out;
 * - the push under the operator's control: the worker asks leave before each push, and the
 *   operator runs `beforePublish` (suspending image automation) and checks `signal` first. A run
 *   aborted (the Lease lost) before its push is killed at once; one already pushing is let
 *   finish, since a push is applied atomically by the server and its outcome must be recorded.
 *
 * A killed worker's repository lock file names a dead pid, so the next run breaks it (src/git/lock.ts).
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { RepositoryTarget, RollbackResult } from '../git/engine.js';
import type { RangeCommit } from '../git/read-range.js';
import type { EngineSettings } from './engine-run.js';
import { reviveError, type FromWorker, type ToWorker, type WorkerJob } from './engine-protocol.js';
import type { EngineHooks, RunEngine } from './ports.js';
import { CodedError } from '../coded-error.js';

/** Default total time of one run (fetch, compute, safety gate, push, retries). */
export const DEFAULT_ENGINE_DEADLINE_MS = 10 * 60_000;
/** Default heap of one run's worker, MiB. */
export const DEFAULT_ENGINE_MEMORY_LIMIT_MB = 256;

export interface WorkerEngineOptions extends EngineSettings {
  /** Total time of one run; default {@link DEFAULT_ENGINE_DEADLINE_MS}. */
  deadlineMs?: number;
  /** Heap limit of a worker, MiB; default {@link DEFAULT_ENGINE_MEMORY_LIMIT_MB}. */
  memoryLimitMb?: number;
  /** The worker's script; default the compiled ./engine-worker-entry.js next to this file. */
  entry?: URL;
}

/** A run exceeded the operator's bounds on one engine run, or its worker died; nothing was pushed unless it was pushing. */
export class EngineLimitExceededError extends CodedError {
  readonly code = 'EngineLimitExceededError' as const;
  constructor(readonly data: { limit: 'deadline' | 'memory' | 'crash'; job?: WorkerJob['type']; deadlineMs?: number; memoryLimitMb?: number; exit?: string }) {
    super(describeLimit(data));
  }
}

/** What the worker was doing, for the message: a prefetch's log must not speak of a rollback. */
const JOB_NAMES: Record<WorkerJob['type'], string> = {
  run: "The rollback's engine run",
  'read-range': "The commit range read's engine run",
  prefetch: 'The cache prefetch',
};

function describeLimit(data: EngineLimitExceededError['data']): string {
  const what = JOB_NAMES[data.job ?? 'run'];
  switch (data.limit) {
    case 'deadline':
      return `${what} did not finish within ${Math.round((data.deadlineMs ?? 0) / 1000)} s and was stopped (--engine-deadline)`;
    case 'memory':
      return `${what} exceeded its ${data.memoryLimitMb} MiB heap and was stopped (--engine-memory-limit)`;
    case 'crash':
      return `${what} ended unexpectedly: its worker exited (${data.exit ?? 'no exit status'})`;
  }
}

/** Everything but the worker's own bounds crosses: the network policy and transfer limits too. */
function engineSettings(options: WorkerEngineOptions): EngineSettings {
  const { deadlineMs: _deadline, memoryLimitMb: _memory, entry: _entry, ...settings } = options;
  return settings;
}

/** The engine, run in one worker process per call. */
export function createWorkerEngine(options: WorkerEngineOptions): RunEngine {
  return (request, hooks = {}) =>
    runInWorker<RollbackResult>({ type: 'run', request, settings: engineSettings(options), safety: hooks.safety }, hooks, options, (message) =>
      message.type === 'result' ? message.result : undefined,
    );
}

/**
 * Reads a commit range (an automated trigger's loop guard) in a worker process too: it fetches
 * from the tenant's server and parses its pack, under the same deadline and heap limit.
 */
export function createWorkerRangeReader(options: WorkerEngineOptions): (target: RepositoryTarget, from: string, to: string) => Promise<RangeCommit[]> {
  return (target, from, to) =>
    runInWorker<RangeCommit[]>({ type: 'read-range', target, from, to, settings: engineSettings(options) }, {}, options, (message) =>
      message.type === 'range' ? message.commits : undefined,
    );
}

/**
 * Fetches a branch into the cache (src/git/warm-cache.ts) in a worker process too, under the
 * same deadline and heap limit as a rollback; `signal` kills the worker (shutdown). Resolves
 * with the branch head.
 */
export function createWorkerPrefetcher(options: WorkerEngineOptions): (target: RepositoryTarget, signal?: AbortSignal) => Promise<string> {
  return (target, signal) =>
    runInWorker<string>({ type: 'prefetch', target, settings: engineSettings(options) }, { signal }, options, (message) =>
      message.type === 'prefetched' ? message.head : undefined,
    );
}

/** Forks a worker for one job; `answer` picks the job's result out of the worker's messages. */
function runInWorker<T>(job: WorkerJob, hooks: EngineHooks, options: WorkerEngineOptions, answer: (message: FromWorker) => T | undefined): Promise<T> {
  const deadlineMs = options.deadlineMs ?? DEFAULT_ENGINE_DEADLINE_MS;
  const memoryLimitMb = options.memoryLimitMb ?? DEFAULT_ENGINE_MEMORY_LIMIT_MB;
  const { signal } = hooks;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const child: ChildProcess = fork(options.entry ?? new URL('./engine-worker-entry.js', import.meta.url), [], {
      execArgv: [`--max-old-space-size=${memoryLimitMb}`],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    let settled = false;
    let publishing = false;
    const finish = (outcome: { result: T } | { error: unknown }) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      signal?.removeEventListener('abort', onAbort);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      if ('result' in outcome) resolve(outcome.result);
      else reject(outcome.error);
    };
    const deadline = setTimeout(() => finish({ error: new EngineLimitExceededError({ limit: 'deadline', job: job.type, deadlineMs }) }), deadlineMs);
    // Aborted before its push: stop now. While pushing: let the push finish and report.
    const onAbort = () => {
      if (!publishing) finish({ error: signal!.reason });
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const post = (message: ToWorker) => child.send(message, (error) => error && finish({ error }));

    child.on('message', (message: FromWorker) => {
      switch (message.type) {
        case 'verdict':
          hooks.onVerdict?.(message.verdict);
          break;
        case 'publish':
          void allowPublish();
          break;
        case 'error':
          finish({ error: reviveError(message.error) });
          break;
        default: {
          const result = answer(message);
          if (result !== undefined) finish({ result });
        }
      }
    });
    const allowPublish = async () => {
      try {
        publishing = false;
        signal?.throwIfAborted();
        await hooks.beforePublish?.();
        signal?.throwIfAborted();
        publishing = true;
        post({ type: 'publish-ok' });
      } catch (error) {
        finish({ error });
      }
    };
    child.on('error', (error) => finish({ error }));
    child.on('exit', (code, exitSignal) => {
      // V8 aborts the process when the heap limit is reached.
      const outOfMemory = exitSignal === 'SIGABRT' || code === 134;
      const exit = exitSignal ? `signal ${exitSignal}` : `exit code ${code}`;
      finish({
        error: new EngineLimitExceededError(outOfMemory ? { limit: 'memory', job: job.type, memoryLimitMb } : { limit: 'crash', job: job.type, exit }),
      });
    });
    post(job);
  });
}
