/**
 * The messages between the operator and an engine worker process (./engine-worker.ts and
 * ./engine-worker-entry.ts), and how a typed error crosses: as its code, name, message and data,
 * re-created on the operator's side as an instance of the same class, so classify-error.ts and
 * the metrics sort it exactly as if the engine had run in-process.
 */
import type { RepositoryTarget, RollbackRequest, RollbackResult } from '../git/engine.js';
import * as gitErrors from '../git/errors.js';
import type { RangeCommit } from '../git/read-range.js';
import type { SafetyPolicy, SafetyVerdict } from '../safety/evaluate-safety.js';
import { SafetyCheckFailedError } from '../safety/safety-gate.js';
import type { EngineSettings } from './engine-run.js';

/** Operator -> worker: the rollback run (then `publish-ok` for each `publish` the worker asks), a range read, or a cache prefetch. */
export type WorkerJob =
  | { type: 'run'; request: RollbackRequest; settings: EngineSettings; safety?: SafetyPolicy }
  | { type: 'read-range'; target: RepositoryTarget; from: string; to: string; settings: EngineSettings }
  | { type: 'prefetch'; target: RepositoryTarget; settings: EngineSettings };
export type ToWorker = WorkerJob | { type: 'publish-ok' };

/** Worker -> operator. `publish` asks leave to push and waits for `publish-ok`. */
export type FromWorker =
  | { type: 'verdict'; verdict: SafetyVerdict }
  | { type: 'publish' }
  | { type: 'result'; result: RollbackResult }
  | { type: 'range'; commits: RangeCommit[] }
  | { type: 'prefetched'; head: string }
  | { type: 'error'; error: SerializedError };

/** An error as plain data. */
export interface SerializedError {
  code?: string;
  name: string;
  message: string;
  data?: unknown;
}

/**
 * The typed errors a run can end with: every error class of git/errors.ts (so a new one crosses
 * without being listed here) and the safety gate's; each class's name equals its code.
 */
const ERROR_CLASSES = new Map<string, { prototype: Error }>(
  ([...Object.values(gitErrors), SafetyCheckFailedError] as unknown[])
    .filter((value): value is { name: string; prototype: Error } => typeof value === 'function' && value.prototype instanceof Error)
    .map((errorClass) => [errorClass.name, errorClass]),
);

/** The error as plain data (its code and data when it is one of ours). */
export function serializeError(error: unknown): SerializedError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const { code, data } = error as { code?: unknown; data?: unknown };
  return { name: error.name, message: error.message, ...(typeof code === 'string' ? { code, data } : {}) };
}

/**
 * The error again: an instance of the class its code names (without running the constructor,
 * so message and data are exactly those sent), or a plain Error for anything else.
 */
export function reviveError(serialized: SerializedError): Error {
  const errorClass = serialized.code ? ERROR_CLASSES.get(serialized.code) : undefined;
  if (!errorClass) return Object.assign(new Error(serialized.message), { name: serialized.name });
  const error = Object.create(errorClass.prototype) as Error;
  Object.defineProperties(error, {
    message: { value: serialized.message, writable: true, configurable: true },
    name: { value: serialized.name, writable: true, configurable: true },
    code: { value: serialized.code, enumerable: true },
    data: { value: serialized.data, enumerable: true },
  });
  Error.captureStackTrace(error, reviveError);
  return error;
}
