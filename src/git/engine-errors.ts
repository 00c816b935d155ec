/**
 * The engine's boundary for errors: whatever escapes a run (a Node file-system error, an object
 * error of ./object-errors.ts, our pack reader's CorruptObjectError, a bug) leaves as one of the
 * typed errors of ./errors.ts, so the CLI and the operator never show an untyped "Unexpected error".
 * As isomorphic-git's own commands do, a failure keeps its code; ours add what to do.
 * Errors that are already typed (any CodedError), the abort signal's reason and callers' own
 * errors carrying a non-string code (a Kubernetes API exception) pass through unchanged.
 */
import { resolve, sep } from 'node:path';
import { CodedError } from '../coded-error.js';
import { CorruptRepositoryError, InternalError, STORAGE_ERRNOS, StorageError } from './errors.js';
import { GitObjectError } from './object-errors.js';
import { CorruptObjectError } from './pack-reader.js';

/** Where the failing run was: the repository as the user named it, and the cache directory. */
export interface ErrorScope {
  /** The repository for messages: a URL without credentials, or a local path. */
  repository: string;
  /** The cache directory (locks, cache repositories). */
  cacheDir: string;
  /** Whether the repository's objects live in a cache repository (a remote URL). */
  cached: boolean;
  /** The damaged cache repository was removed (the next run fetches it again). */
  removed?: boolean;
  signal?: AbortSignal;
}

/** The codes of an object ObjectStore (./object-errors.ts) or isomorphic-git cannot accept. */
const MALFORMED_OBJECT_CODES = new Set(['ObjectTypeError', 'ParseError', 'UnsafeFilepathError', 'MalformedTreeError', 'InternalError']);
const OID = /^[0-9a-f]{40}$/;
/** Longest original message an InternalError repeats. */
const MAX_DETAIL = 500;

/** The typed error for `error`; see the file's comment for what passes through. */
export function toEngineError(error: unknown, scope: ErrorScope): unknown {
  // The fetch's own mapping (./remote-errors.ts) does not know the cache directory's path.
  if (error instanceof StorageError && error.data.path === undefined) return new StorageError({ ...error.data, path: scope.cacheDir });
  // The repository's objects (./object-errors.ts, ./pack-reader.ts) are sorted below.
  if (error instanceof CodedError && !(error instanceof CorruptObjectError) && !(error instanceof GitObjectError)) return error;
  if (scope.signal?.aborted && error === scope.signal.reason) return error;
  const e = error as { code?: unknown; syscall?: unknown; path?: unknown; name?: unknown; message?: unknown } | null;
  if (e && e.code !== undefined && typeof e.code !== 'string') return error;
  if (isRepositoryDamage(error)) {
    return new CorruptRepositoryError({ repository: scope.repository, kind: 'damaged', detail: describeDamage(error), removed: scope.removed === true });
  }
  const code = typeof e?.code === 'string' ? e.code : undefined;
  if (code && STORAGE_ERRNOS.has(code)) {
    const path = typeof e?.path === 'string' ? e.path : undefined;
    // A write to an open file names no path: then the directory the run writes most.
    const location = scope.cached || (path !== undefined && isInside(path, scope.cacheDir)) ? 'cache' : 'repository';
    return new StorageError({
      location,
      errno: code,
      ...(typeof e?.syscall === 'string' ? { syscall: e.syscall } : {}),
      path: path ?? (location === 'cache' ? scope.cacheDir : scope.repository),
    });
  }
  if (code && MALFORMED_OBJECT_CODES.has(code)) {
    return new CorruptRepositoryError({ repository: scope.repository, kind: 'malformed', detail: clip(String(e?.message)), removed: false });
  }
  const name = typeof e?.name === 'string' && e.name ? e.name : 'Error';
  return new InternalError({ name: code && code !== name ? `${name} ${code}` : name, detail: clip(error instanceof Error ? error.message : String(error)) });
}

/**
 * Bytes that do not check out (CorruptObjectError) or an object missing that the history names
 * (ObjectStore's NotFoundError for a full object id): a cache repository in this state is dropped.
 */
export function isRepositoryDamage(error: unknown): boolean {
  if (error instanceof CorruptObjectError) return true;
  const e = error as { code?: unknown; data?: { what?: unknown } } | null;
  return e?.code === 'NotFoundError' && typeof e.data?.what === 'string' && OID.test(e.data.what);
}

function describeDamage(error: unknown): string {
  if (error instanceof CorruptObjectError) return clip(error.message);
  return `object ${(error as { data: { what: string } }).data.what} is missing`;
}

function isInside(path: string, dir: string): boolean {
  const base = resolve(dir);
  const full = resolve(path);
  return full === base || full.startsWith(base + sep);
}

/** One line, bounded, without URL credentials. */
function clip(text: string): string {
  const line = text.replace(/\/\/[^/@\s]*@/g, '//').replace(/\s+/g, ' ');
  return line.length > MAX_DETAIL ? `${line.slice(0, MAX_DETAIL)}...` : line;
}
