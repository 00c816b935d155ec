/**
 * The rollback engine: resolve the repository, compute the rollback, publish it. Publishing is
 * a push of only the new objects (remote URL) or a compare-and-swap of the branch ref (local bare
 * repository); never a force. A push that loses a race is recomputed on the new head and
 * retried, a bounded number of times. Knows nothing of Kubernetes.
 */
import * as nodeFs from 'node:fs';
import * as path from 'node:path';
import { InvalidRequestError, PushBranchExistsError, PushRejectedError, RepositoryNotFoundError, redactUrl } from './errors.js';
import { isRepositoryDamage, toEngineError, type ErrorScope } from './engine-errors.js';
import { History, type HistorySource } from './history.js';
import { describePlannedChange, type InspectedChange } from './inspected-change.js';
import { withRepositoryLock } from './lock.js';
import { parseRequestId, type MessageContext } from './message.js';
import { ObjectStore, type Fs } from './object-store.js';
import { ObjectDatabase } from './pack-reader.js';
import { listRefs, resolveRef, writeRef, ZERO_OID } from './refs.js';
import { planRollback, type Plan, type PlannedCommit, type RollbackAction, type Signature } from './plan.js';
import { cleanCacheRepo, evictCaches } from './cache-dir.js';
import { cacheRepoPath, deepenHistory, fetchBranch, openCacheRepo, pushBranch, readRemoteBranchHead, type Credentials, type RemoteOptions } from './remote.js';
import { isSshUrl } from './ssh-url.js';
import { isBranchName } from './branch-name.js';
import type { TransferLimits } from './transfer-limits.js';
import { checkRepositoryUrl, LOCAL_NETWORK_POLICY, type NetworkPolicy } from './url-policy.js';
import { backoffDelay, sleep, type Backoff } from '../retry-timing.js';
import { loadCommitSigner, type CommitSigner, type SigningKeyInput } from './commit-signing.js';

export interface RepositoryTarget {
  /** A smart-HTTP(S) URL, an SSH address (ssh:// or scp-like), or a local path to a bare repository. */
  url: string;
  branch: string;
  credentials?: Credentials;
}

export interface RollbackRequest extends MessageContext {
  repository: RepositoryTarget;
  action: RollbackAction;
  author?: Signature;
  /** Sign every revert commit with this key (OpenPGP or SSH, told by its armor). */
  signing?: SigningKeyInput;
  /**
   * Write the revert onto this new branch, created from the target branch's head, instead of
   * onto the target branch (for a pull request). An existing branch is never overwritten.
   */
  pushBranch?: string;
  dryRun?: boolean;
}

export interface EngineOptions {
  cacheDir: string;
  fs?: Fs;
  /** Inactivity timeout per network call. */
  timeoutMs?: number;
  /**
   * Which repository URLs and addresses may be contacted. Default: LOCAL_NETWORK_POLICY (the
   * CLI's: http:// and internal addresses allowed); the operator passes a strict one.
   */
  policy?: NetworkPolicy;
  /** Byte, object and deadline limits of each network operation (DEFAULT_TRANSFER_LIMITS). */
  limits?: Partial<TransferLimits>;
  /**
   * Byte budget of the cache directory: after each run, cache repositories are evicted, least
   * recently used first, until they fit (./cache-dir.ts). Unset: never evicted.
   */
  cacheMaxBytes?: number;
  /** Attempts when the branch moves under us (push race). */
  maxAttempts?: number;
  onProgress?: RemoteOptions['onProgress'];
  /** Test seam for the backoff between attempts. */
  sleep?: (ms: number) => Promise<void>;
  /**
   * Called with the computed change after planning and before anything is published, on every
   * attempt and in a dry run too. Throwing aborts the run with that error; the branch is unchanged.
   */
  inspect?: (change: InspectedChange) => Promise<void>;
  /**
   * Called after `inspect` passed and right before the push, on every attempt (never in a dry
   * run): the last moment to prepare the world for the new head (the operator suspends image
   * automation here). Throwing aborts the run with that error; the branch is unchanged.
   */
  beforePublish?: () => Promise<void>;
  /**
   * Aborts the run at its next safe point (before a fetch, a plan or a push; never during a
   * push, which the server applies atomically): the run throws the signal's reason.
   */
  signal?: AbortSignal;
}

export type RollbackOutcome = 'reverted' | 'planned' | 'already-reverted' | 'empty';

export interface RollbackResult {
  result: RollbackOutcome;
  branch: string;
  /** The branch head the rollback was computed on. */
  previousHead: string;
  /** The branch head after the rollback; null when nothing was written. */
  head: string | null;
  commits: PlannedCommit[];
  alreadyReverted: string[];
  empty: string[];
  /** A commit of this same request found on the branch (the request already ran). */
  existingCommit?: string;
  changedPaths: string[];
  /** Whether the commits written carry a signature (`signing` was given and commits were made). */
  signed: boolean;
  /** The branch the commits were pushed to when it is not `branch` (the request's `pushBranch`). */
  pushedBranch?: string;
  attempts: number;
  /** Milliseconds spent per phase, summed over attempts. */
  durations: { fetch: number; compute: number; push: number };
}

export const DEFAULT_AUTHOR: Signature = { name: 'gitops-rollback', email: 'gitops-rollback@localhost' };
const DEFAULT_MAX_ATTEMPTS = 5;

/** True when `repo` names a remote reached over smart HTTP(S) or SSH rather than a local path. */
export function isRemoteUrl(repo: string): boolean {
  return /^https?:\/\//i.test(repo) || isSshUrl(repo);
}

/** A repository the engine reads and publishes to, remote or local. */
export interface Repository {
  gitdir: string;
  history: HistorySource;
  /** Current branch head (fetching it for a remote). */
  readHead(): Promise<string>;
  /** The head of another branch as the remote has it now (nothing fetched); undefined when it does not exist. */
  readOtherBranchHead(branch: string): Promise<string | undefined>;
  /**
   * Moves `branch` (default: the target branch) from `oldHead` (ZERO_OID: create it) to
   * `newHead`; PushRejectedError if it moved meanwhile.
   */
  publish(oldHead: string, newHead: string, objects: Set<string>, branch?: string): Promise<void>;
}

/**
 * Runs one rollback request end to end. Throws the typed errors of ./errors.ts; on any error the
 * branch is unchanged. Writers to the same repository are serialized.
 */
export async function runRollback(request: RollbackRequest, options: EngineOptions): Promise<RollbackResult> {
  const fs = options.fs ?? nodeFs;
  const { branch } = request.repository;
  checkBranchName(branch);
  if (request.pushBranch !== undefined) {
    checkBranchName(request.pushBranch);
    if (request.pushBranch === branch) throw new InvalidRequestError(`The push branch must differ from the target branch "${branch}"`, { branch });
  }
  // A key that cannot sign fails the run before anything is fetched or written.
  const signer = request.signing ? await loadCommitSigner(request.signing) : undefined;
  return withLockedRepository(fs, request.repository, options, (repository) => rollbackWithRetries(fs, repository, request, options, signer));
}

function checkBranchName(branch: string): void {
  if (!isBranchName(branch)) {
    throw new InvalidRequestError(`Invalid branch name "${branch.slice(0, 255)}"`, { branch: branch.slice(0, 255) });
  }
}

/**
 * Runs `fn` on the opened repository while holding its lock: one lock per repository (a cache
 * repository and its `shallow` file are shared by every branch of a URL), taken before the cache
 * repository is opened and cleaned. Afterwards, evicts caches over `options.cacheMaxBytes`.
 */
export async function withLockedRepository<T>(
  fs: Fs,
  target: RepositoryTarget,
  options: EngineOptions,
  fn: (repository: Repository) => Promise<T>,
): Promise<T> {
  const lockDir = path.join(options.cacheDir, 'locks');
  const remote = isRemoteUrl(target.url);
  const key = remote ? cacheRepoPath(options.cacheDir, target.url) : path.resolve(target.url);
  const scope: ErrorScope = { repository: remote ? redactUrl(target.url) : target.url, cacheDir: options.cacheDir, cached: remote, signal: options.signal };
  try {
    return await withRepositoryLock(
      key,
      async () => {
        try {
          return await fn(await openRepository(fs, target, options));
        } catch (error) {
          // A damaged cache is dropped while we hold its lock: the next run fetches it clean.
          if (remote && isRepositoryDamage(error)) scope.removed = await removeCacheRepo(fs, key);
          throw error;
        }
      },
      { lockDir },
    );
  } catch (error) {
    throw toEngineError(error, scope);
  } finally {
    if (remote && options.cacheMaxBytes !== undefined) {
      // Housekeeping: a failure here must not hide the run's own result or error.
      await evictCaches({ fs, cacheDir: options.cacheDir, maxBytes: options.cacheMaxBytes, lockDir }).catch(() => {});
    }
  }
}

async function rollbackWithRetries(
  fs: Fs,
  repository: Repository,
  request: RollbackRequest,
  options: EngineOptions,
  signer: CommitSigner | undefined,
): Promise<RollbackResult> {
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const wait = options.sleep ?? sleep;
  const durations = { fetch: 0, compute: 0, push: 0 };
  for (let attempt = 1; ; attempt++) {
    options.signal?.throwIfAborted();
    let started = Date.now();
    const head = await repository.readHead();
    durations.fetch += Date.now() - started;

    started = Date.now();
    const store = new ObjectStore(fs, repository.gitdir);
    const plan = await planRollback({
      store,
      history: new History(store, repository.history),
      head,
      action: request.action,
      message: { reason: request.reason, incident: request.incident, requestId: request.requestId, requestedBy: request.requestedBy },
      author: request.author ?? DEFAULT_AUTHOR,
      signer,
    });
    durations.compute += Date.now() - started;
    const result = (outcome: RollbackOutcome, newHead: string | null): RollbackResult => toResult(request, plan, outcome, newHead, attempt, durations);

    if (plan.outcome !== 'rollback') return result(plan.outcome, null);
    const destination = request.pushBranch ? await checkPushBranch(repository, store, request.pushBranch, request.requestId) : undefined;
    if (destination?.existing) return { ...result('already-reverted', null), existingCommit: destination.existing, pushedBranch: request.pushBranch };
    if (options.inspect) await options.inspect(await describePlannedChange(store, plan));
    if (request.dryRun) return result('planned', null);
    options.signal?.throwIfAborted();
    if (options.beforePublish) await options.beforePublish();
    // The last safe point: once the push starts, it finishes (the server applies it atomically).
    options.signal?.throwIfAborted();

    started = Date.now();
    try {
      await repository.publish(destination ? ZERO_OID : head, plan.newHead!, store.written, request.pushBranch);
      durations.push += Date.now() - started;
      return result('reverted', plan.newHead);
    } catch (error) {
      durations.push += Date.now() - started;
      // A push branch that appeared meanwhile: this request's own (a concurrent run), or refused.
      if (destination && error instanceof PushRejectedError) {
        const after = await checkPushBranch(repository, store, request.pushBranch!, request.requestId);
        if (after.existing) return { ...result('already-reverted', null), existingCommit: after.existing, pushedBranch: request.pushBranch };
        throw error;
      }
      if (!(error instanceof PushRejectedError) || attempt >= maxAttempts) throw error;
      // Only a moved branch is worth recomputing; a hook or a protection rule says no again.
      const current = await repository.readHead();
      if (current === head) throw error;
      await wait(backoffDelay(PUSH_RETRY_BACKOFF, attempt));
    }
  }
}

/**
 * The push branch must not exist, unless this request already wrote it (a run that pushed and
 * then lost its record, e.g. the operator restarted): then its head is the request's commit,
 * carrying the request's trailer, and nothing is pushed again. Another head is never overwritten.
 */
async function checkPushBranch(repository: Repository, store: ObjectStore, pushBranch: string, requestId?: string): Promise<{ existing?: string }> {
  const head = await repository.readOtherBranchHead(pushBranch);
  if (head === undefined) return {};
  const message = requestId
    ? await store.readCommit(head).then(
        (c) => c.message,
        () => undefined,
      )
    : undefined;
  if (message !== undefined && parseRequestId(message) === requestId) return { existing: head };
  throw new PushBranchExistsError({ branch: pushBranch, head });
}

/** Between push attempts: ~100 ms, 200 ms, 400 ms... capped at 5 s, with jitter. */
const PUSH_RETRY_BACKOFF: Backoff = { baseMs: 100, maxMs: 5000, jitter: true };

function toResult(
  request: RollbackRequest,
  plan: Plan,
  outcome: RollbackOutcome,
  head: string | null,
  attempts: number,
  durations: RollbackResult['durations'],
): RollbackResult {
  return {
    result: outcome,
    branch: request.repository.branch,
    previousHead: plan.head,
    head,
    commits: plan.commits,
    alreadyReverted: plan.alreadyReverted,
    empty: plan.empty,
    existingCommit: plan.existingCommit,
    changedPaths: plan.changedPaths,
    signed: plan.commits.length > 0 && request.signing !== undefined,
    // A commit of this request on the target branch too: its pull request may have been merged since.
    ...(request.pushBranch && (outcome === 'reverted' || plan.existingCommit) ? { pushedBranch: request.pushBranch } : {}),
    attempts,
    durations: { ...durations },
  };
}

/** Opens a repository; for a remote, its cache repository. Callers hold the repository's lock ({@link withLockedRepository}). */
export async function openRepository(fs: Fs, target: RepositoryTarget, options: EngineOptions): Promise<Repository> {
  return isRemoteUrl(target.url) ? openRemoteRepository(fs, target, options) : openLocalRepository(fs, target.url, target.branch);
}

async function openRemoteRepository(fs: Fs, target: RepositoryTarget, options: EngineOptions): Promise<Repository> {
  const remote: RemoteOptions = {
    url: target.url,
    branch: target.branch,
    credentials: target.credentials,
    timeoutMs: options.timeoutMs,
    policy: options.policy,
    limits: options.limits,
    onProgress: options.onProgress,
  };
  // Refused URLs get no cache directory either.
  checkRepositoryUrl(target.url, options.policy ?? LOCAL_NETWORK_POLICY);
  const gitdir = await openCacheRepo(fs, options.cacheDir, target.url);
  await cleanCacheRepo(fs, gitdir);
  let shallow: Set<string> | null = null;
  return {
    gitdir,
    history: {
      boundaries: async () => (shallow ??= await readShallowFile(fs, gitdir)),
      deepen: async () => {
        shallow = null;
        return deepenHistory(fs, gitdir, remote);
      },
    },
    // A fetch changes the repository only once its pack is complete and indexed, then the
    // shallow file, then the ref (./remote.ts), so a failed one leaves it as it was.
    readHead: () => {
      shallow = null;
      return fetchBranch(fs, gitdir, remote);
    },
    readOtherBranchHead: (branch) => readRemoteBranchHead({ ...remote, branch }),
    publish: (oldHead, newHead, objects, branch = target.branch) => pushBranch(fs, gitdir, { ...remote, branch, oldHead, newHead, objects }),
  };
}

async function removeCacheRepo(fs: Fs, gitdir: string): Promise<boolean> {
  ObjectDatabase.forget(gitdir);
  return fs.promises.rm(gitdir, { recursive: true, force: true }).then(
    () => true,
    () => false,
  );
}

async function readShallowFile(fs: Fs, gitdir: string): Promise<Set<string>> {
  try {
    const text = await fs.promises.readFile(path.join(gitdir, 'shallow'), 'utf8');
    return new Set(text.split('\n').filter(Boolean));
  } catch {
    return new Set();
  }
}

async function openLocalRepository(fs: Fs, repoPath: string, branch: string): Promise<Repository> {
  const gitdir = path.resolve(repoPath);
  const isBare = fs.existsSync(path.join(gitdir, 'objects')) && fs.existsSync(path.join(gitdir, 'HEAD'));
  if (!isBare) {
    const detail = fs.existsSync(path.join(gitdir, '.git'))
      ? 'it has a work tree; give a bare repository (git clone --bare) or a URL'
      : 'not a bare git repository';
    throw new RepositoryNotFoundError({ url: repoPath, detail });
  }
  const readBranch = (name: string): Promise<string | undefined> => resolveRef(fs, gitdir, `refs/heads/${name}`).catch(() => undefined);
  const readHead = async (): Promise<string> => {
    const head = await readBranch(branch);
    if (head === undefined) throw new RepositoryNotFoundError({ url: repoPath, branch });
    return head;
  };
  // A shallow clone (git clone --depth) ends at its `shallow` commits: their parents are not there.
  let shallow: Set<string> | undefined;
  return {
    gitdir,
    history: {
      boundaries: async () => (shallow ??= await readShallowFile(fs, gitdir)),
      deepen: async () => false,
    },
    readHead,
    readOtherBranchHead: readBranch,
    publish: async (oldHead, newHead, _objects, target = branch) => {
      const ref = `refs/heads/${target}`;
      // As a git server refuses it: a new branch may not nest under an existing one, nor an existing one under it.
      const clash =
        oldHead === ZERO_OID ? (await listRefs(fs, gitdir, 'refs/heads')).find((b) => b.startsWith(`${target}/`) || target.startsWith(`${b}/`)) : undefined;
      if (clash) throw new PushRejectedError({ ref, reason: `the name conflicts with the existing branch ${clash}` });
      // Compare-and-swap under git's own ref lock: never move a branch someone (a git process
      // too) moved meanwhile.
      await writeRef(fs, gitdir, ref, newHead, { expectedOld: oldHead });
    },
  };
}
