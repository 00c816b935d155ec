/**
 * A branch's deploy history: its commits newest first along first parents (`git log
 * --first-parent`), each with the components it changed and its rollback links — the commits it
 * reverts, the newer commit that reverted it, its `Incident:` and `Rollback-Request:` trailers.
 * What a person in an incident reads before asking for a revert, and what the CLI's `history`
 * prints; the cluster's form reads it for a Kustomization's source. Writes nothing but the cache.
 *
 * The fields mirror git's own: `subject` is `%s` (the first paragraph, lines joined by spaces),
 * `author` is `%an <%ae>`, `date` is `%cI` (strict ISO 8601 of the committer date, in the
 * committer's offset); `paths` are the directories of the files `git diff-tree -r <parent>
 * <commit>` lists against the first parent (the empty tree for a root commit), cut to two
 * segments; `--path` keeps the commits `git log --first-parent -- <path>` keeps. A merge is
 * compared with its first parent, as `git log --first-parent` shows it: what it brought to the
 * branch. Reverts are read where git writes them (./message.ts).
 *
 * Everything is bounded: at most 1000 commits listed, at most `limit + 1000` commits walked,
 * shallow caches deepened on demand through the engine's remote code (its transfer limits and
 * deadlines), tree entries visited by the diffs under the engine's budget (1,000,000), and every
 * text field cut to a fixed length.
 */
import type { TreeEntry } from 'isomorphic-git';
import * as nodeFs from 'node:fs';
import { isBranchName } from './branch-name.js';
import { withLockedRepository, type EngineOptions, type RepositoryTarget } from './engine.js';
import { InvalidRequestError, TreeLimitExceededError } from './errors.js';
import { History, type HistorySource } from './history.js';
import { parseRequestId, parseRevertedCommits, INCIDENT_TRAILER } from './message.js';
import { NotFoundError } from './object-errors.js';
import { MAX_TREE_ENTRIES_VISITED, ObjectStore, type Fs } from './object-store.js';
import { normalizePaths } from './tree-paths.js';

/** Commits listed when the caller names no limit. */
export const DEFAULT_HISTORY_LIMIT = 20;
/** The most commits one history lists. */
export const MAX_HISTORY_LIMIT = 1000;
/**
 * Commits walked beyond `limit` when looking for commits that touch the paths: the walk reads at
 * most `limit + HISTORY_WALK_SLACK` commits from the head, listed or not.
 */
export const HISTORY_WALK_SLACK = 1000;
/** The most paths a history may be limited to. */
export const MAX_HISTORY_PATHS = 100;
/** Components listed per commit (the first ones in sorted order). */
export const MAX_COMPONENTS = 20;
/** Segments a changed file's directory is cut to: `apps/web/base/deploy.yaml` -> `apps/web`. */
export const COMPONENT_DEPTH = 2;
/** Reverted commits read from one message (a squashed revert lists one line per commit). */
export const MAX_REVERTS_PER_COMMIT = 1000;
/** Bound of the reverted-commit index the walk keeps to answer `revertedBy`. */
const MAX_REVERT_INDEX = 100_000;
/** Lengths text fields are cut to (with `...`): a message, a name or a file name may be huge. */
const MAX_SUBJECT_LENGTH = 1000;
const MAX_AUTHOR_LENGTH = 512;
const MAX_TRAILER_LENGTH = 512;
const MAX_COMPONENT_LENGTH = 1024;
const MAX_PATH_LENGTH = 4096;

/** One commit of the history, as the CLI prints it in JSON. */
export interface DeployHistoryCommit {
  sha: string;
  /** git's `%s`: the message's first paragraph, its lines joined by spaces (cut at 1000 characters). */
  subject: string;
  /** `Name <email>` of the author. */
  author: string;
  /** The committer date, strict ISO 8601 in the committer's offset (git's `%cI`): `2025-01-02T10:04:05+01:00`. */
  date: string;
  /**
   * The changed components: the directory of each file changed against the first parent, cut to
   * its first two segments (`apps/web/deploy.yaml` -> `apps/web`, `apps/kustomization.yaml` ->
   * `apps`, `README.md` -> `.`); deduplicated, sorted, at most {@link MAX_COMPONENTS}.
   */
  paths: string[];
  /** The commits this one reverts (its `This reverts commit <sha>.` lines; several for a squashed revert). */
  reverts: string[];
  /** The nearest newer first-parent commit that reverts this one, else null. */
  revertedBy: string | null;
  /** The value of the `Incident:` trailer, else null. */
  incident: string | null;
  /** The value of the `Rollback-Request:` trailer (the request that wrote this revert), else null. */
  rollbackRequest: string | null;
}

/**
 * Why the walk ended: `limit` commits listed; `end`, the root commit was reached; `walk-bound`,
 * `limit + 1000` commits were read; `tree-budget`, the diffs visited the engine's 1,000,000 tree
 * entries; `missing-history`, a parent could not be had (a shallow local repository, or a server
 * that would not deepen). Only `limit` and `end` mean that no older commit was left out.
 */
export type HistoryWalkEnd = 'limit' | 'end' | 'walk-bound' | 'tree-budget' | 'missing-history';

export interface DeployHistory {
  branch: string;
  /** The branch head the history starts at. */
  head: string;
  /** Newest first, along first parents. */
  commits: DeployHistoryCommit[];
  /** First-parent commits read from the head, listed or not. */
  walked: number;
  ended: HistoryWalkEnd;
}

export interface DeployHistoryOptions extends Pick<
  EngineOptions,
  'cacheDir' | 'fs' | 'timeoutMs' | 'policy' | 'limits' | 'cacheMaxBytes' | 'onProgress' | 'signal'
> {
  /** The repository and branch to read; a remote is fetched into its cache under `cacheDir`. */
  repository: RepositoryTarget;
  /** Only commits changing something at or under one of these paths (relative, no `..`). */
  paths?: string[];
  /** Commits to list, 1 to {@link MAX_HISTORY_LIMIT}; default {@link DEFAULT_HISTORY_LIMIT}. */
  limit?: number;
}

/**
 * Reads the history of `options.repository.branch`, newest first along first parents: at most
 * `limit` commits, only those touching one of `paths` when given. Takes the repository's lock
 * (shared with the engine) and fetches the branch like a rollback does, deepening a shallow cache
 * as the walk needs. Throws InvalidRequestError for a bad branch name, limit or path, and the
 * engine's typed errors (RepositoryNotFoundError, AuthFailedError, GitTimeoutError,
 * TransferLimitExceededError, ...) for the repository.
 */
export async function readDeployHistory(options: DeployHistoryOptions): Promise<DeployHistory> {
  const { branch } = options.repository;
  if (!isBranchName(branch)) throw new InvalidRequestError(`Invalid branch name "${branch.slice(0, 255)}"`, { branch: branch.slice(0, 255) });
  const limit = checkLimit(options.limit ?? DEFAULT_HISTORY_LIMIT);
  const paths = checkPaths(options.paths ?? []);
  const fs = options.fs ?? nodeFs;
  return withLockedRepository(fs, options.repository, options, async (repository) => {
    options.signal?.throwIfAborted();
    const head = await repository.readHead();
    const walk = await walkFirstParents({ fs, gitdir: repository.gitdir, source: repository.history, head, limit, paths, signal: options.signal });
    return { branch, head, ...walk };
  });
}

function checkLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_HISTORY_LIMIT) {
    throw new InvalidRequestError(`The history limit must be a whole number from 1 to ${MAX_HISTORY_LIMIT}, got ${String(limit).slice(0, 20)}`, {
      limit: String(limit).slice(0, 20),
    });
  }
  return limit;
}

function checkPaths(paths: string[]): string[][] {
  if (paths.length > MAX_HISTORY_PATHS) throw new InvalidRequestError(`At most ${MAX_HISTORY_PATHS} paths, got ${paths.length}`, { count: paths.length });
  const long = paths.find((p) => p.length > MAX_PATH_LENGTH);
  if (long !== undefined) throw new InvalidRequestError(`A path is longer than ${MAX_PATH_LENGTH} characters`, { path: long.slice(0, 255) });
  return normalizePaths(paths).map((p) => p.split('/'));
}

// ---------------------------------------------------------------------------------------------
// The walk

interface WalkInput {
  fs: Fs;
  gitdir: string;
  source: HistorySource;
  head: string;
  limit: number;
  /** Normalized paths, split into segments; empty: every commit. */
  paths: string[][];
  signal?: AbortSignal;
}

/**
 * Follows first parents from `head`. Each commit is read through its own ObjectStore (the pack
 * reader below is shared and cached per process), so nothing read for one commit stays in memory
 * after it: only what the result keeps and the reverted-commit index. The stores share one budget
 * of tree entries visited.
 */
async function walkFirstParents(input: WalkInput): Promise<Omit<DeployHistory, 'branch' | 'head'>> {
  const maxWalk = input.limit + HISTORY_WALK_SLACK;
  /** Reverted sha -> the nearest newer commit reverting it (the walk goes from newer to older). */
  const revertedBy = new Map<string, string>();
  const commits: DeployHistoryCommit[] = [];
  let budget = MAX_TREE_ENTRIES_VISITED;
  let oid: string | undefined = input.head;
  let walked = 0;
  for (;;) {
    if (commits.length >= input.limit) return { commits, walked, ended: 'limit' };
    if (oid === undefined) return { commits, walked, ended: 'end' };
    if (walked >= maxWalk) return { commits, walked, ended: 'walk-bound' };
    input.signal?.throwIfAborted();
    const store = new ObjectStore(input.fs, input.gitdir, budget);
    const commit = await store.readCommit(oid);
    walked++;
    const parents = await new History(store, input.source).parentsOf(commit);
    const parentTree = parents.length ? await readTreeOf(store, parents[0]) : null;
    if (parentTree === undefined || (commit.parents.length > 0 && parents.length === 0)) return { commits, walked, ended: 'missing-history' };

    const trees = new CountingTrees(store);
    let paths: string[] | undefined;
    try {
      if (!input.paths.length || (await touchesAny(trees, parentTree, commit.tree, input.paths))) {
        paths = await changedComponents(trees, parentTree, commit.tree);
      }
    } catch (error) {
      if (error instanceof TreeLimitExceededError) return { commits, walked, ended: 'tree-budget' };
      throw error;
    }
    budget -= trees.visited;

    const message = defuseWhitespaceRuns(commit.message);
    const reverts = parseRevertedCommits(message).slice(0, MAX_REVERTS_PER_COMMIT);
    if (paths) {
      commits.push({
        sha: commit.oid,
        subject: cut(subjectOf(commit.message), MAX_SUBJECT_LENGTH),
        author: cut(`${commit.author.name} <${commit.author.email}>`, MAX_AUTHOR_LENGTH),
        date: isoDate(commit.committer.timestamp, commit.committer.timezoneOffset),
        paths,
        reverts,
        revertedBy: revertedBy.get(commit.oid) ?? null,
        incident: nullable(parseTrailer(message, INCIDENT_TRAILER)),
        rollbackRequest: nullable(parseRequestId(message)),
      });
    }
    // Older commits are reached later: a later `set` is a nearer revert.
    for (const sha of reverts) if (revertedBy.size < MAX_REVERT_INDEX || revertedBy.has(sha)) revertedBy.set(sha, commit.oid);
    oid = parents[0];
  }
}

/** The tree of a commit; undefined when the commit is missing (the edge of a shallow local repository). */
async function readTreeOf(store: ObjectStore, oid: string): Promise<string | undefined> {
  try {
    return (await store.readCommit(oid)).tree;
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}

/** Tree reads of one commit, counted toward the walk's budget (ObjectStore.walkTree throws past it). */
class CountingTrees {
  visited = 0;
  constructor(private readonly store: ObjectStore) {}
  async entries(tree: string | null): Promise<TreeEntry[]> {
    if (tree === null) return [];
    const entries = await this.store.walkTree(tree);
    this.visited += entries.length;
    return entries;
  }
}

// ---------------------------------------------------------------------------------------------
// Trees: a pathspec match and the changed components (pure reads, descending only where ids differ)

/** True when something at or under one of `paths` differs between the trees (git's pathspec, TREESAME). */
async function touchesAny(trees: CountingTrees, a: string | null, b: string | null, paths: string[][]): Promise<boolean> {
  for (const segments of paths) if (await touches(trees, a, b, segments)) return true;
  return false;
}

async function touches(trees: CountingTrees, a: string | null, b: string | null, segments: string[]): Promise<boolean> {
  if (a === b) return false;
  const [name, ...rest] = segments;
  const left = (await trees.entries(a)).find((e) => e.path === name);
  const right = (await trees.entries(b)).find((e) => e.path === name);
  if (!left && !right) return false;
  if (left && right && left.oid === right.oid && left.mode === right.mode) return false;
  if (!rest.length) return true;
  return touches(trees, treeOid(left), treeOid(right), rest);
}

/**
 * The components changed between two trees: `.` for a changed file at the root, `<dir>` for one
 * in a top-level directory, `<dir>/<sub>` for anything deeper. A subtree two levels down whose id
 * differs counts as changed without being read (git never writes empty trees, so some file
 * under it differs).
 */
async function changedComponents(trees: CountingTrees, a: string | null, b: string | null): Promise<string[]> {
  const found = new Set<string>();
  const visit = async (left: string | null, right: string | null, prefix: string[]): Promise<void> => {
    if (left === right) return;
    const leftEntries = await trees.entries(left);
    const rightEntries = await trees.entries(right);
    const rightByName = new Map(rightEntries.map((e) => [e.path, e]));
    const names = new Set([...leftEntries.map((e) => e.path), ...rightByName.keys()]);
    const leftByName = new Map(leftEntries.map((e) => [e.path, e]));
    for (const name of names) {
      const l = leftByName.get(name);
      const r = rightByName.get(name);
      if (l && r && l.oid === r.oid && l.mode === r.mode) continue;
      if ((l && l.type !== 'tree') || (r && r.type !== 'tree')) found.add(prefix.length ? prefix.join('/') : '.');
      if (treeOid(l) || treeOid(r)) {
        const path = [...prefix, name];
        if (path.length >= COMPONENT_DEPTH) found.add(path.join('/'));
        else await visit(treeOid(l), treeOid(r), path);
      }
    }
  };
  await visit(a, b, []);
  return [...found]
    .sort()
    .slice(0, MAX_COMPONENTS)
    .map((c) => cut(c, MAX_COMPONENT_LENGTH));
}

function treeOid(entry: TreeEntry | undefined): string | null {
  return entry?.type === 'tree' ? entry.oid : null;
}

// ---------------------------------------------------------------------------------------------
// Message fields, as git formats them

/** Where the subject is looked for: git's subject is the first paragraph, and no subject is this long. */
const SUBJECT_SCAN_CHARS = 64 * 1024;

/**
 * git's `%s` (pretty.c format_subject): leading blank lines skipped, then the lines of the first
 * paragraph, each without its trailing whitespace, joined by one space.
 */
export function subjectOf(message: string): string {
  const lines = message.slice(0, SUBJECT_SCAN_CHARS).split('\n');
  let i = 0;
  while (i < lines.length && isBlank(lines[i])) i++;
  const subject: string[] = [];
  for (; i < lines.length && !isBlank(lines[i]); i++) subject.push(trimEnd(lines[i]));
  return subject.join(' ');
}

/** git's is_blank_line: only whitespace (space, tab, LF, CR, VT, FF). */
function isBlank(line: string): boolean {
  return trimEnd(line) === '';
}

function trimEnd(line: string): string {
  let end = line.length;
  while (end > 0 && ' \t\n\r\v\f'.includes(line[end - 1])) end--;
  return line.slice(0, end);
}

/** git's `%cI`: `YYYY-MM-DDTHH:MM:SS+HH:MM` in the offset recorded with the date. */
export function isoDate(timestamp: number, timezoneOffset: number): string {
  // isomorphic-git's offset counts minutes west of UTC (-120 for +0200).
  const offset = timezoneOffset === 0 ? 0 : -timezoneOffset;
  const local = new Date((timestamp + offset * 60) * 1000);
  if (Number.isNaN(local.getTime())) return new Date(0).toISOString().replace(/\.000Z$/, '+00:00');
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${local.toISOString().slice(0, 19)}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** A git trailer line, `Key: value` (as ./message.ts reads them), or a continuation line. */
const TRAILER_LINE = /^([A-Za-z0-9][A-Za-z0-9-]*): (.*)$/;
const CONTINUATION_LINE = /^[ \t]+\S/;
/** The trailer block is looked for in the message's end only. */
const TRAILER_SCAN_CHARS = 64 * 1024;

/**
 * The value of trailer `key` (its first occurrence, key matched case-insensitively as git does)
 * in the trailer block that ends the message: a last paragraph, other than the subject, of
 * `Key: value` lines (continuation lines folded in). Undefined when there is none.
 */
export function parseTrailer(message: string, key: string): string | undefined {
  const lines = message.slice(-TRAILER_SCAN_CHARS).split('\n');
  let end = lines.length;
  while (end > 0 && isBlank(lines[end - 1])) end--;
  let start = end;
  while (start > 0 && !isBlank(lines[start - 1])) start--;
  // The subject paragraph (nothing but blank lines before it) carries no trailers.
  if (start === end || lines.slice(0, start).every(isBlank)) return undefined;
  const block = lines.slice(start, end);
  if (!TRAILER_LINE.test(block[0]) || !block.every((line) => TRAILER_LINE.test(line) || CONTINUATION_LINE.test(line))) return undefined;
  const wanted = key.toLowerCase();
  for (let i = 0; i < block.length; i++) {
    const match = TRAILER_LINE.exec(block[i]);
    if (!match || match[1].toLowerCase() !== wanted) continue;
    let value = match[2];
    for (let j = i + 1; j < block.length && CONTINUATION_LINE.test(block[j]); j++) value += ` ${block[j].trim()}`;
    return value.trim();
  }
  return undefined;
}

/**
 * ./message.ts trims a message with `/\s+$/`, whose cost is the square of every whitespace run
 * that does not end the message: a commit of 1 MB of spaces and then a letter would hold the walk
 * for hours. Runs longer than 64 characters are shortened before the message is parsed, keeping
 * what the parsers read: a line break, a blank line between paragraphs, indentation.
 */
function defuseWhitespaceRuns(message: string): string {
  return message.replace(/\s{65,}/g, (run) => {
    const first = run.indexOf('\n');
    if (first < 0) return ' ';
    const last = run.lastIndexOf('\n');
    return `${first > 0 ? ' ' : ''}${first === last ? '\n' : '\n\n'}${last < run.length - 1 ? ' ' : ''}`;
  });
}

function nullable(value: string | undefined): string | null {
  return value === undefined || value === '' ? null : cut(value, MAX_TRAILER_LENGTH);
}

/** `text` cut to `max` characters, ending with `...` when cut (never on half a surrogate pair). */
function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max - 3).replace(/[\ud800-\udbff]$/, '')}...`;
}
