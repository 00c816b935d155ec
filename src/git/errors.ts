/**
 * Typed errors of the revert engine. As in isomorphic-git, each class carries a literal `code`
 * equal to its name and structured `data`, so callers (the CLI, the controller) can sort them
 * without parsing messages. Messages never contain credentials.
 */

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

export abstract class GitRollbackError extends Error {
  abstract readonly code: string;
  abstract readonly data: Record<string, unknown>;
}

/** A revision the request names does not exist (or is not a commit) in the repository. */
export class CommitNotFoundError extends GitRollbackError {
  readonly code = 'CommitNotFoundError' as const;
  constructor(readonly data: { revision: string }) {
    super(`Commit ${data.revision} was not found in the repository`);
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
  constructor(message: string, readonly data: Record<string, unknown> = {}) {
    super(message);
  }
}

/** The revert does not apply cleanly; nothing was written to the branch. */
export class RevertConflictError extends GitRollbackError {
  readonly code = 'RevertConflictError' as const;
  constructor(readonly data: { commit: string; conflicts: Conflict[] }) {
    super(
      `Reverting ${data.commit.slice(0, 12)} conflicts in ${data.conflicts.length} path(s): ` +
        data.conflicts.map((c) => `${c.path} (${c.reason})`).join(', '),
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
  constructor(readonly data: { operation: string; url: string; timeoutMs: number }) {
    super(`${data.operation} on ${data.url} timed out after ${data.timeoutMs} ms`);
  }
}

/** The remote could not be reached or answered something we do not understand. */
export class RemoteError extends GitRollbackError {
  readonly code = 'RemoteError' as const;
  constructor(readonly data: { url: string; detail: string }) {
    super(`Remote ${data.url} failed: ${data.detail}`);
  }
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
  override readonly name = 'TreeLimitExceededError';
  constructor(readonly data: { limit: 'tree-entries' | 'rename-candidates'; max: number; detail: string }) {
    super(
      data.limit === 'tree-entries'
        ? `The change visits more than ${data.max} tree entries (${data.detail}); revert it by hand`
        : `Rename detection would compare ${data.detail}, over the limit of ${data.max} x ${data.max} (git's diff.renameLimit); revert it by hand`,
    );
  }
}
