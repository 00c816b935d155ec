/**
 * Turns what a network operation threw or answered into one of our typed errors (./errors.ts),
 * with no secret in it: an HTTP status, isomorphic-git's own error codes, or anything else as a
 * RemoteError whose detail is scrubbed of credentials.
 */
import { AuthFailedError, GitRollbackError, RemoteError, RepositoryNotFoundError, STORAGE_ERRNOS, StorageError } from './errors.js';

/** What the mapping needs to know of the operation. */
export interface FailedCall {
  remote: { url: string; branch: string; secrets: string[] };
  /** Why the operation was cut short (timeout, deadline, limit): wins over what follows from it. */
  abortedWith?: GitRollbackError;
}

/**
 * 401/403 and 404 are what a git server answers for bad credentials and a missing repository;
 * every other status gets one generic message, so pointing the operator at a URL that is not a
 * git server tells nothing about what answered there.
 */
export function httpStatusError(status: number, url: string): GitRollbackError {
  if (status === 401 || status === 403) return new AuthFailedError({ url, status });
  if (status === 404) return new RepositoryNotFoundError({ url });
  return notGitServer(url);
}

export function notGitServer(url: string): RemoteError {
  return new RemoteError({ url, detail: 'the server did not answer as a git smart HTTP server' });
}

/** Turns anything thrown during a network operation into one of our typed errors. */
export function toTypedError(err: unknown, call: FailedCall): GitRollbackError {
  const { url, branch } = call.remote;
  if (call.abortedWith) return call.abortedWith;
  if (err instanceof GitRollbackError) return err;
  const e = err as { code?: string; message?: string; syscall?: string; path?: string; data?: { statusCode?: number } };
  if (e.code === 'HttpError' && e.data?.statusCode) return httpStatusError(e.data.statusCode, url);
  // isomorphic-git's NotFoundError during fetch means the remote does not advertise the ref.
  if (e.code === 'NotFoundError') return new RepositoryNotFoundError({ url, branch });
  if (e.code === 'SmartHttpError') return notGitServer(url);
  // The local disk, not the remote: a full or read-only cache while the fetch writes it.
  if (e.code && STORAGE_ERRNOS.has(e.code) && e.syscall && FS_SYSCALLS.has(e.syscall)) {
    return new StorageError({ location: 'cache', errno: e.code, syscall: e.syscall, ...(e.path ? { path: e.path } : {}) });
  }
  const detail = e.code && !e.message?.includes(e.code) ? `${e.code}: ${e.message ?? ''}` : (e.message ?? String(err));
  return new RemoteError({ url, detail: scrubSecrets(detail, call.remote.secrets) });
}

/** File-system calls: a socket fails in connect, or with codes of its own (ECONNRESET, EPIPE), so these codes here are the disk's. */
const FS_SYSCALLS = new Set('open write mkdir rename unlink rmdir rm stat lstat fstat scandir utime futime fsync close copyfile link symlink'.split(' '));

/** Defense in depth: no message we build should contain a secret, but make sure. */
function scrubSecrets(text: string, secrets: string[]): string {
  let result = text;
  for (const secret of secrets) result = result.split(secret).join('***');
  return result.replace(/\/\/[^/@\s]*:[^/@\s]*@/g, '//');
}
