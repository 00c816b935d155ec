/**
 * Computes a rollback on top of a branch head, entirely in the object database: the revert
 * commits (or the restore commit) are written but no ref moves. The caller decides whether to
 * publish `newHead` (push, or advance a local ref) or only report it (dry run).
 */
import { checkIdentity, checkIncident } from './commit-fields.js';
import { CommitNotFoundError, InvalidRequestError, MergeWithoutMainlineError, RevertConflictError } from './errors.js';
import type { History } from './history.js';
import type { CommitSummary } from './commit-summary.js';
import { formatRestoreMessage, formatRevertMessage, formatSquashMessage, type MessageContext } from './message.js';
import type { CommitData, ObjectStore } from './object-store.js';
import { diffTreePaths, normalizePaths, readEntryAt, replaceEntryAt } from './tree-paths.js';
import { mergeTrees } from './tree-merge.js';
import { shortSha } from '../short-sha.js';
import type { CommitSigner } from './commit-signing.js';

export type RollbackAction =
  | { kind: 'revert'; commits?: string[]; range?: { from: string; to: string }; mainline?: number; paths?: string[]; squash?: boolean }
  | { kind: 'restore'; revision: string; paths: string[] };

export interface Signature {
  name: string;
  email: string;
}

export interface PlanInput {
  store: ObjectStore;
  history: History;
  head: string;
  action: RollbackAction;
  message: MessageContext;
  author: Signature;
  committer?: Signature;
  /** Signs every commit written (spec.signing, --signing-key). */
  signer?: CommitSigner;
  now?: Date;
}

export interface PlannedCommit {
  sha: string;
  tree: string;
  /** Commits this one reverts (empty for a restore). */
  reverts: string[];
  message: string;
}

export interface Plan {
  /** `rollback`: commits were created; otherwise nothing to do and `commits` is empty. */
  outcome: 'rollback' | 'already-reverted' | 'empty';
  head: string;
  newHead: string | null;
  commits: PlannedCommit[];
  /** Requested commits skipped because the branch already reverts them. */
  alreadyReverted: string[];
  /** Requested commits whose revert changes nothing on the current head. */
  empty: string[];
  /** A commit carrying this request's trailer, when the request already ran (crash recovery). */
  existingCommit?: string;
  changedPaths: string[];
}

const HEX_REVISION = /^[0-9a-f]{4,40}$/;
const HEAD_REVISION = /^HEAD(?:~(\d+)|(\^+))?$/;

/**
 * Computes the rollback's commits on top of `head`. Throws typed errors; writes no ref.
 * Identities and the incident are checked first (InvalidRequestError): they go into the commit
 * object as text, where a newline would forge a header or a trailer.
 */
export async function planRollback(input: PlanInput): Promise<Plan> {
  const { action } = input;
  checkIdentity('author', input.author);
  if (input.committer) checkIdentity('committer', input.committer);
  checkIncident(input.message.incident);
  if (action.kind === 'restore') return planRestore(input, action);
  return planRevert(input, action);
}

async function planRevert(input: PlanInput, action: Extract<RollbackAction, { kind: 'revert' }>): Promise<Plan> {
  const { history, head, store } = input;
  const paths = action.paths?.length ? normalizePaths(action.paths) : undefined;
  const targets = await resolveTargets(input, action);
  const { visited } = await history.findCommits(
    head,
    targets.map((c) => c.oid),
  );

  const existing = findRequestCommit(visited, input.message.requestId);
  if (existing) return finishedPlan(input, 'already-reverted', { existingCommit: existing });

  const isReverted = buildRevertIndex(visited, new Set(targets.map((c) => c.oid)));
  const alreadyReverted = targets.filter((c) => isReverted(c.oid)).map((c) => c.oid);
  const toRevert = targets.filter((c) => !isReverted(c.oid));
  if (!toRevert.length) return finishedPlan(input, 'already-reverted', { alreadyReverted });

  const headCommit = await store.readCommit(head);
  const empty: string[] = [];
  const applied: CommitData[] = [];
  const commits: PlannedCommit[] = [];
  let tip = headCommit;
  let tree = headCommit.tree;
  for (const commit of toRevert) {
    await checkParentsPresent(history, commit);
    const parent = await selectParent(commit, action.mainline);
    const theirs = await restrictToPaths(store, commit.tree, parent ? (await store.readCommit(parent)).tree : null, paths);
    const merged = await mergeTrees(store, commit.tree, tree, theirs ?? (await writeEmptyTree(store)));
    if (merged.conflicts.length) throw new RevertConflictError({ commit: commit.oid, conflicts: merged.conflicts });
    if (merged.tree === tree) {
      empty.push(commit.oid);
      continue;
    }
    tree = merged.tree;
    applied.push(commit);
    if (!action.squash) {
      const message = formatRevertMessage(commit, parent, input.message);
      tip = await writeCommit(input, tip.oid, tree, message);
      commits.push({ sha: tip.oid, tree, reverts: [commit.oid], message });
    }
  }
  if (!applied.length) return finishedPlan(input, 'empty', { alreadyReverted, empty });
  if (action.squash) {
    const message =
      applied.length === 1
        ? formatRevertMessage(applied[0], await selectParent(applied[0], action.mainline), input.message)
        : formatSquashMessage(applied, input.message);
    tip = await writeCommit(input, head, tree, message);
    commits.push({ sha: tip.oid, tree, reverts: applied.map((c) => c.oid), message });
  }
  return {
    outcome: 'rollback',
    head,
    newHead: tip.oid,
    commits,
    alreadyReverted,
    empty,
    changedPaths: await diffTreePaths(store, headCommit.tree, tree),
  };
}

async function planRestore(input: PlanInput, action: Extract<RollbackAction, { kind: 'restore' }>): Promise<Plan> {
  const { history, head, store } = input;
  if (!action.paths.length) throw new InvalidRequestError('A restore needs at least one path');
  const paths = normalizePaths(action.paths);
  const [revision] = await resolveRevisions(input, [action.revision]);
  const { found, visited } = await history.findCommits(head, [revision]);
  const existing = findRequestCommit(visited, input.message.requestId);
  if (existing) return finishedPlan(input, 'already-reverted', { existingCommit: existing });

  const good = await store.readCommit(found.get(revision)!.oid);
  const headCommit = await store.readCommit(head);
  let tree: string | null = headCommit.tree;
  for (const path of paths) {
    const wanted = await readEntryAt(store, good.tree, path);
    if (!wanted && !(await readEntryAt(store, headCommit.tree, path))) {
      throw new InvalidRequestError(`Path "${path}" exists neither at ${shortSha(good.oid)} nor at the branch head`, { path });
    }
    tree = await replaceEntryAt(store, tree, path, wanted);
  }
  const finalTree = tree ?? (await writeEmptyTree(store));
  if (finalTree === headCommit.tree) return finishedPlan(input, 'empty', { empty: [good.oid] });
  const message = formatRestoreMessage(good, paths, input.message);
  const commit = await writeCommit(input, head, finalTree, message);
  return {
    outcome: 'rollback',
    head,
    newHead: commit.oid,
    commits: [{ sha: commit.oid, tree: finalTree, reverts: [], message }],
    alreadyReverted: [],
    empty: [],
    changedPaths: await diffTreePaths(store, headCommit.tree, finalTree),
  };
}

/** The commits to revert, newest first (the order `git revert` applies them). */
async function resolveTargets(input: PlanInput, action: Extract<RollbackAction, { kind: 'revert' }>): Promise<CommitData[]> {
  const { history, head } = input;
  if (action.range && action.commits?.length) throw new InvalidRequestError('Give either commits or a range, not both');
  if (action.range) {
    const [from, to] = await resolveRevisions(input, [action.range.from, action.range.to]);
    // Abbreviated shas (as `git log --oneline` prints them) become full ones here, as for commits.
    const { found } = await history.findCommits(head, [from, to]);
    const commits = await history.listRange(found.get(from)!.oid, found.get(to)!.oid);
    if (!commits.length) throw new InvalidRequestError(`Range ${action.range.from}..${action.range.to} contains no commits`, { range: action.range });
    return commits;
  }
  if (!action.commits?.length) throw new InvalidRequestError('Name at least one commit to revert, or a range');
  const oids = await resolveRevisions(input, action.commits);
  const { found, visited } = await history.findCommits(head, oids);
  const unique = [...new Set(oids.map((oid) => found.get(oid)!.oid))];
  // Newest first, whatever order they were named in: the position in the walk from head.
  const position = new Map(visited.map((c, i) => [c.oid, i]));
  unique.sort((a, b) => position.get(a)! - position.get(b)!);
  return Promise.all(unique.map((oid) => input.store.readCommit(oid)));
}

/** Validates revision syntax and turns HEAD~N into a sha; hex stays (possibly abbreviated). */
async function resolveRevisions(input: PlanInput, revisions: string[]): Promise<string[]> {
  const result: string[] = [];
  for (const raw of revisions) {
    const revision = raw.trim();
    if (HEX_REVISION.test(revision.toLowerCase())) {
      result.push(revision.toLowerCase());
      continue;
    }
    const match = HEAD_REVISION.exec(revision);
    if (!match) throw new InvalidRequestError(`Invalid revision "${raw}": expected a commit sha (4 to 40 hex characters) or HEAD~N`, { revision: raw });
    const steps = match[1] !== undefined ? Number(match[1]) : (match[2]?.length ?? 0);
    result.push(await input.history.firstParentAncestor(input.head, steps, revision));
  }
  return result;
}

/**
 * A shallow history may end at the commit itself: its parents (fetched on demand for a cache)
 * are not there, and without them there is nothing to revert to.
 */
async function checkParentsPresent(history: History, commit: CommitData): Promise<void> {
  if ((await history.parentsOf(commit)).length < commit.parents.length) throw new CommitNotFoundError({ revision: `${commit.oid}^`, reason: 'shallow' });
}

/** The parent a revert goes back to: the only parent, or the mainline parent of a merge. */
async function selectParent(commit: CommitData, mainline?: number): Promise<string | null> {
  const parents = commit.parents;
  if (parents.length > 1) {
    if (mainline === undefined) throw new MergeWithoutMainlineError({ commit: commit.oid, parents: parents.length });
    if (mainline < 1 || mainline > parents.length) throw new MergeWithoutMainlineError({ commit: commit.oid, parents: parents.length, mainline });
    return parents[mainline - 1];
  }
  // Like git since 2.19: -m 1 is accepted for a non-merge; any other mainline is an error.
  if (mainline !== undefined && mainline !== 1) throw new MergeWithoutMainlineError({ commit: commit.oid, parents: parents.length, mainline });
  return parents[0] ?? null;
}

/**
 * For a partial revert: the parent tree limited to `paths`, i.e. the reverted commit's tree
 * with only those paths taken from the parent. Without paths the parent tree itself.
 */
async function restrictToPaths(store: ObjectStore, commitTree: string, parentTree: string | null, paths?: string[]): Promise<string | null> {
  if (!paths) return parentTree;
  let tree: string | null = commitTree;
  for (const path of paths) {
    const entry = parentTree ? await readEntryAt(store, parentTree, path) : null;
    tree = await replaceEntryAt(store, tree, path, entry);
  }
  return tree;
}

/**
 * A predicate "is this target already reverted on the branch": some later commit reverts it, and
 * that revert is neither reverted itself nor among the commits this request reverts (reverting a
 * revert R together with the commit R reverted must revert both, as git does).
 */
function buildRevertIndex(history: CommitSummary[], requested: Set<string>): (oid: string) => boolean {
  const revertersOf = new Map<string, string[]>();
  for (const commit of history) {
    for (const target of commit.reverts) {
      revertersOf.set(target, [...(revertersOf.get(target) ?? []), commit.oid]);
    }
  }
  const memo = new Map<string, boolean>();
  const isRevertedInHistory = (oid: string): boolean => {
    const known = memo.get(oid);
    if (known !== undefined) return known;
    memo.set(oid, false);
    const value = (revertersOf.get(oid) ?? []).some((reverter) => !isRevertedInHistory(reverter));
    memo.set(oid, value);
    return value;
  };
  return (oid) => (revertersOf.get(oid) ?? []).some((reverter) => !requested.has(reverter) && !isRevertedInHistory(reverter));
}

function findRequestCommit(history: CommitSummary[], requestId?: string): string | undefined {
  if (!requestId) return undefined;
  return history.find((c) => c.requestId === requestId)?.oid;
}

function finishedPlan(input: PlanInput, outcome: 'already-reverted' | 'empty', extra: Partial<Plan>): Plan {
  return { outcome, head: input.head, newHead: null, commits: [], alreadyReverted: [], empty: [], changedPaths: [], ...extra };
}

async function writeCommit(input: PlanInput, parent: string, tree: string, message: string): Promise<CommitData> {
  const timestamp = Math.floor((input.now ?? new Date()).getTime() / 1000);
  const author = { ...input.author, timestamp, timezoneOffset: 0 };
  const committer = { ...(input.committer ?? input.author), timestamp, timezoneOffset: 0 };
  const oid = await input.store.writeCommit({ tree, parents: [parent], message, author, committer }, input.signer);
  return { oid, tree, parents: [parent], message, author, committer };
}

async function writeEmptyTree(store: ObjectStore): Promise<string> {
  return store.writeTree([]);
}
