/**
 * Typed errors of the revert engine. As in isomorphic-git, each class carries a literal `code`
 * equal to its name and structured `data`, so callers (the CLI, the controller) can sort them
 * without parsing messages. Messages never contain credentials.
 */
import { CodedError } from '../coded-error.js';
import { shortSha } from '../short-sha.js';

/** How a path failed to merge, in the words git uses for the same case. */
export type ConflictReason =
  | 'content'
  | 'modify/delete'
  | 'add/add'
  | 'binary'
  | 'symlink'
  | 'submodule'
  | 'file/directory'
  | 'mode'
  | 'rename/delete'
  | 'rename/rename'
  | 'rename/add'
  | 'rename'
  | 'directory-rename';

export interface Conflict {
  path: string;
  reason: ConflictReason;
}

export abstract class GitRollbackError extends CodedError {
  abstract override readonly code: string;
  abstract readonly data: Record<string, unknown>;
}

/**
 * A revision the request names is not a commit in the branch's history (unknown, on another
 * branch, not a commit), HEAD~N counts past the branch's first commit (`past-root`), or the walk
 * reached the end of a shallow repository's history before finding it (`shallow`).
 */
export class CommitNotFoundError extends GitRollbackError {
  readonly code = 'CommitNotFoundError' as const;
  constructor(readonly data: { revision: string; reason?: 'past-root' | 'shallow' }) {
    super(describeMissingCommit(data.revision, data.reason));
  }
}

function describeMissingCommit(revision: string, reason: CommitNotFoundError['data']['reason']): string {
  switch (reason) {
    case 'past-root':
      return `Revision ${revision} goes back past the first commit of the branch; count fewer commits (git log --first-parent --oneline lists them)`;
    case 'shallow':
      return `Commit ${revision} was not found in the history the repository has (it is shallow); fetch the whole history (git fetch --unshallow) or name a newer commit`;
    case undefined:
      return `Commit ${revision} was not found in the repository: name a commit of the branch's history (as git log --oneline <branch> lists them), and check the branch`;
  }
}

/** A merge commit was named without `mainline`, or a mainline parent the commit does not have. */
export class MergeWithoutMainlineError extends GitRollbackError {
  readonly code = 'MergeWithoutMainlineError' as const;
  constructor(readonly data: { commit: string; parents: number; mainline?: number }) {
    super(
      data.mainline === undefined
        ? `Commit ${data.commit} is a merge with ${data.parents} parents but no mainline was given (use mainline 1 to revert the merged branch)`
        : `Commit ${data.commit} has ${data.parents} parents; mainline ${data.mainline} does not exist`,
    );
  }
}

/** The request itself is malformed: bad revision syntax, empty range, unsafe path... */
export class InvalidRequestError extends GitRollbackError {
  readonly code = 'InvalidRequestError' as const;
  constructor(
    message: string,
    readonly data: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** The revert does not apply cleanly; nothing was written to the branch. */
export class RevertConflictError extends GitRollbackError {
  readonly code = 'RevertConflictError' as const;
  constructor(readonly data: { commit: string; conflicts: Conflict[] }) {
    super(
      `Reverting ${shortSha(data.commit)} conflicts in ${data.conflicts.length} path(s): ` + data.conflicts.map((c) => `${c.path} (${c.reason})`).join(', '),
    );
  }
}

/** The remote refused the update (branch moved, hook declined, protected branch...). */
export class PushRejectedError extends GitRollbackError {
  readonly code = 'PushRejectedError' as const;
  constructor(readonly data: { ref: string; reason: string }) {
    super(`Push to ${data.ref} was rejected: ${data.reason}`);
  }
}

/** The remote refused our credentials (HTTP 401/403, or SSH: no key accepted, unusable key). */
export class AuthFailedError extends GitRollbackError {
  readonly code = 'AuthFailedError' as const;
  constructor(readonly data: { url: string; status?: number; detail?: string }) {
    super(`Authentication failed for ${data.url} (${data.status !== undefined ? `HTTP ${data.status}` : (data.detail ?? 'refused')})`);
  }
}

/** SSH: the server's host key is not in known_hosts, differs from it, or is revoked. */
export class HostKeyVerificationError extends GitRollbackError {
  readonly code = 'HostKeyVerificationError' as const;
  constructor(readonly data: { url: string; host: string; reason: 'no-known-hosts' | 'unknown-host' | 'mismatch' | 'revoked' | 'unsupported-key-type' }) {
    super(`Host key verification failed for ${data.url}: ${describeHostKeyProblem(data.host, data.reason)}`);
  }
}

function describeHostKeyProblem(host: string, reason: HostKeyVerificationError['data']['reason']): string {
  switch (reason) {
    case 'no-known-hosts':
      return 'no known_hosts were given, and no host key is accepted without them';
    case 'unknown-host':
      return `known_hosts has no key for ${host}`;
    case 'mismatch':
      return `the key ${host} presented does not match known_hosts (it may have changed, or someone may be intercepting the connection)`;
    case 'revoked':
      return `the key ${host} presented is marked @revoked in known_hosts`;
    case 'unsupported-key-type':
      return `known_hosts lists ${host} only with key types this client does not support`;
  }
}

/** The repository (or branch) does not exist at the given URL or path. */
export class RepositoryNotFoundError extends GitRollbackError {
  readonly code = 'RepositoryNotFoundError' as const;
  constructor(readonly data: { url: string; branch?: string; detail?: string }) {
    super(
      data.branch
        ? `Branch ${data.branch} was not found in ${data.url}${data.detail ? `: ${data.detail}` : ''}`
        : `Repository ${data.url} was not found${data.detail ? `: ${data.detail}` : ''}`,
    );
  }
}

/** A network operation did not finish in time. */
export class GitTimeoutError extends GitRollbackError {
  readonly code = 'GitTimeoutError' as const;
  /** `deadline`: the whole operation ran out of time; otherwise nothing arrived for `timeoutMs`. */
  constructor(readonly data: { operation: string; url: string; timeoutMs: number; deadline?: boolean }) {
    super(
      data.deadline
        ? `${data.operation} on ${data.url} did not finish within its deadline of ${data.timeoutMs} ms`
        : `${data.operation} on ${data.url} timed out after ${data.timeoutMs} ms`,
    );
  }
}

/** The remote could not be reached or answered something we do not understand. */
export class RemoteError extends GitRollbackError {
  readonly code = 'RemoteError' as const;
  constructor(readonly data: { url: string; detail: string }) {
    super(`Remote ${data.url} failed: ${data.detail}`);
  }
}

/**
 * The repository URL is refused before any connection: credentials in it (they belong in the
 * Secret), a query or fragment (they would let the URL pick the exact path requested), plain
 * http:// where it is not allowed, or a scheme the engine does not speak. `url` is the URL
 * without userinfo, query or fragment, so the message never repeats a credential.
 */
export class InvalidRepositoryUrlError extends GitRollbackError {
  readonly code = 'InvalidRepositoryUrlError' as const;
  constructor(readonly data: { url: string; reason: 'credentials' | 'query' | 'fragment' | 'insecure-http' | 'unsupported-scheme' | 'malformed' }) {
    super(`Repository URL ${data.url} is refused: ${describeUrlProblem(data.reason)}`);
  }
}

function describeUrlProblem(reason: InvalidRepositoryUrlError['data']['reason']): string {
  switch (reason) {
    case 'credentials':
      return 'it contains credentials (user:password@); put them in the Secret instead';
    case 'query':
      return 'it contains a query (?...), which git URLs do not use';
    case 'fragment':
      return 'it contains a fragment (#...), which git URLs do not use';
    case 'insecure-http':
      return 'plain http:// is not allowed here (use https://, or allow insecure HTTP explicitly)';
    case 'unsupported-scheme':
      return 'only https://, http:// and SSH addresses are supported';
    case 'malformed':
      return 'it is not a valid URL';
  }
}

/**
 * The repository's host is refused by the network policy: it is not on the allow list, or it
 * resolves to (or is) a loopback, private, link-local or otherwise internal address.
 */
export class GitHostNotAllowedError extends GitRollbackError {
  readonly code = 'GitHostNotAllowedError' as const;
  constructor(readonly data: { url: string; host: string; reason: 'not-in-allow-list' | 'private-address' }) {
    super(
      data.reason === 'not-in-allow-list'
        ? `Repository host ${data.host} is not in the allowed git hosts`
        : `Repository host ${data.host} resolves to an internal address, which is not allowed (loopback, private, link-local and metadata ranges are refused)`,
    );
  }
}

/** What a transfer limit bounds; see ./transfer-limits.ts. */
export type TransferLimitKind = 'advertisement' | 'pack' | 'object' | 'objects' | 'inflated' | 'report' | 'decoded-body';

/**
 * A git server sent more than a transfer limit allows (a ref advertisement, a pack, one object's
 * declared or inflated size, the number of objects...). Refused while reading, before the data
 * is kept: nothing was written to the cache's refs.
 */
export class TransferLimitExceededError extends GitRollbackError {
  readonly code = 'TransferLimitExceededError' as const;
  constructor(readonly data: { url: string; what: TransferLimitKind; limit: number }) {
    super(`${data.url} sent more than allowed: the ${describeLimit(data.what)} exceeds ${formatLimit(data.what, data.limit)}`);
  }
}

function describeLimit(what: TransferLimitKind): string {
  switch (what) {
    case 'advertisement':
      return 'ref advertisement';
    case 'pack':
      return 'pack';
    case 'object':
      return 'size of one object';
    case 'objects':
      return 'number of objects in the pack';
    case 'inflated':
      return "size the pack's objects inflate to together";
    case 'report':
      return 'push report';
    case 'decoded-body':
      return 'decompressed response';
  }
}

function formatLimit(what: TransferLimitKind, limit: number): string {
  if (what === 'objects') return `${limit} objects`;
  return limit >= 1024 * 1024 ? `${Math.round((limit / 1024 / 1024) * 10) / 10} MiB` : `${limit} bytes`;
}

/** Removes user:password@ from a URL so it can appear in messages and logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username || parsed.password) {
      parsed.username = '';
      parsed.password = '';
    }
    return parsed.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//');
  }
}

/**
 * The change is too large to compute safely, so nothing was computed or written: more tree
 * entries to visit than `max` (a tree that names one subtree many times, nested, lists 2^n paths
 * from n objects), or more rename candidates than git's rename limit allows.
 */
export class TreeLimitExceededError extends GitRollbackError {
  readonly code = 'TreeLimitExceededError' as const;
  constructor(readonly data: { limit: 'tree-entries' | 'rename-candidates'; max: number; detail: string }) {
    super(
      data.limit === 'tree-entries'
        ? `The change visits more than ${data.max} tree entries (${data.detail}); revert it by hand`
        : `Rename detection would compare ${data.detail}, over the limit of ${data.max} x ${data.max} (git's diff.renameLimit); revert it by hand`,
    );
  }
}

/** The signing key is not among the keys the repository's consumers trust (Flux spec.verify); nothing was written. */
export class SigningKeyNotTrustedError extends GitRollbackError {
  readonly code = 'SigningKeyNotTrustedError' as const;
  constructor(readonly data: { key: string; trustedKeys: number }) {
    super(
      `The signing key ${data.key} is not among the ${data.trustedKeys} trusted key(s) of the GitRepository's spec.verify Secret; Flux would refuse the revert`,
    );
  }
}

/** The signing key cannot sign (unparsable, encrypted without the right passphrase, unsupported); nothing was written. */
export class SigningKeyError extends GitRollbackError {
  readonly code = 'SigningKeyError' as const;
  constructor(readonly data: { reason: string }) {
    super(`Cannot sign the revert: ${data.reason}`);
  }
}

/**
 * The push branch (`spec.push.branch`, `--push-branch`) already exists on the remote and its head
 * is not a commit of this request: pushing would need a force (never done). Nothing was written.
 */
export class PushBranchExistsError extends GitRollbackError {
  readonly code = 'PushBranchExistsError' as const;
  constructor(readonly data: { branch: string; head: string }) {
    super(
      `Branch ${data.branch} already exists on the remote at ${shortSha(data.head)}, which is not a commit of this rollback; delete that branch or choose another push branch`,
    );
  }
}

/** What a file-system error code means, and what to do about it, for {@link StorageError}. */
const STORAGE_PROBLEMS: Record<string, { what: string; todo: string }> = {
  ENOSPC: { what: 'no space left on the device', todo: 'free space on its volume, or choose another directory' },
  EDQUOT: { what: 'the disk quota is exceeded', todo: 'free space on its volume, or choose another directory' },
  EROFS: { what: 'the file system is read-only', todo: 'choose a writable directory' },
  EACCES: { what: 'permission denied', todo: 'make it writable by this user, or choose another directory' },
  EPERM: { what: 'operation not permitted', todo: 'make it writable by this user, or choose another directory' },
  ENOTDIR: { what: 'a file is in the way where a directory is needed', todo: 'choose a directory, or remove the file' },
  EISDIR: { what: 'a directory is in the way where a file is needed', todo: 'remove it, or choose another directory' },
  EEXIST: { what: 'a file is in the way', todo: 'remove it, or choose another directory' },
  ENOENT: {
    what: 'a directory does not exist and could not be created (a missing parent, or a read-only file system)',
    todo: 'create it writable, or choose another directory',
  },
  ENAMETOOLONG: { what: 'a path is too long', todo: 'choose a shorter directory path' },
  ELOOP: { what: 'symbolic links loop', todo: 'fix the links, or choose another directory' },
  EMFILE: { what: 'too many open files', todo: 'raise the open-file limit (ulimit -n), then run again' },
  ENFILE: { what: 'too many open files on the system', todo: 'raise the open-file limit, then run again' },
  EIO: { what: 'an input/output error', todo: 'check the disk, then run again' },
  EFBIG: { what: 'a file is too large for the file system', todo: 'choose another directory' },
};

/** The file-system error codes {@link StorageError} stands for (Node's `code` of a failed fs call). */
export const STORAGE_ERRNOS: ReadonlySet<string> = new Set(Object.keys(STORAGE_PROBLEMS));

/**
 * A file-system operation failed on the cache directory (its locks, cache repositories, fetch
 * staging) or on a local repository: full, read-only, not writable, a file in the way. Nothing
 * was pushed; the branch is unchanged. `path` is local (never a URL or a credential).
 */
export class StorageError extends GitRollbackError {
  readonly code = 'StorageError' as const;
  constructor(readonly data: { location: 'cache' | 'repository'; errno: string; syscall?: string; path?: string }) {
    const problem = STORAGE_PROBLEMS[data.errno] ?? { what: 'the file system refused an operation', todo: 'check the directory, then run again' };
    const where = data.location === 'cache' ? 'The cache directory' : 'The repository';
    super(
      `${where}${data.path ? ` (${data.path})` : ''} cannot be used: ${problem.what} (${data.errno}${data.syscall ? ` on ${data.syscall}` : ''}); ${problem.todo}`,
    );
  }
}

/**
 * The repository's objects cannot be read: `damaged`, bytes that do not check out (a pack or a
 * loose object that fails its checksum, an object missing that a commit names); `malformed`, an
 * object the engine refuses to read (an unsafe file name such as `.git` or `..`, a commit or tag
 * it cannot parse, an object of the wrong type). A damaged cache repository is removed
 * (`removed`), so the next run fetches it again. Nothing was pushed.
 */
export class CorruptRepositoryError extends GitRollbackError {
  readonly code = 'CorruptRepositoryError' as const;
  constructor(readonly data: { repository: string; kind: 'damaged' | 'malformed'; detail: string; removed: boolean }) {
    super(
      data.kind === 'malformed'
        ? `The repository ${data.repository} holds an object the engine refuses to read (${data.detail}); revert by hand with git`
        : data.removed
          ? `The cache of ${data.repository} was damaged (${data.detail}); it was removed and is fetched again on the next run: run again`
          : `The repository ${data.repository} is damaged (${data.detail}); check it with git fsck, or use a fresh clone`,
    );
  }
}

/**
 * The last resort at the engine's boundary: an error nothing else recognized (a bug). Carries
 * the original error's name and message; the branch is unchanged.
 */
export class InternalError extends GitRollbackError {
  readonly code = 'InternalError' as const;
  constructor(readonly data: { name: string; detail: string }) {
    super(`Internal error (${data.name}: ${data.detail}); the branch is unchanged. This is a bug: please report it with the command that produced it`);
  }
}
