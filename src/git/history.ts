/**
 * Walks a branch's history newest-first (by committer date, as git's rev-list does), fetching
 * more history on demand when the cache is shallow. Used to resolve the revisions a request
 * names, to list a range, and to find earlier reverts (idempotency).
 */
import { CommitNotFoundError, InvalidRequestError } from './errors.js';
import { shortSha } from '../short-sha.js';
import type { CommitSummary } from './commit-summary.js';
import type { CommitData, ObjectStore } from './object-store.js';

/** Where more history comes from when a walk reaches the edge of a shallow cache. */
export interface HistorySource {
  /** The commits whose parents are missing locally (a shallow cache's boundary). */
  boundaries(): Promise<ReadonlySet<string>>;
  /** Fetches more history; false when the history is already complete. */
  deepen(): Promise<boolean>;
}

const NO_BOUNDARIES: ReadonlySet<string> = new Set();

/** A complete local repository: never shallow. */
export const completeHistory: HistorySource = {
  boundaries: async () => NO_BOUNDARIES,
  deepen: async () => false,
};

/** Max-heap of commits by committer time, so the walk visits newest first. */
class CommitQueue {
  private readonly items: CommitSummary[] = [];
  get size(): number {
    return this.items.length;
  }
  push(commit: CommitSummary): void {
    const items = this.items;
    items.push(commit);
    let i = items.length - 1;
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (!isNewer(items[i], items[up])) break;
      [items[i], items[up]] = [items[up], items[i]];
      i = up;
    }
  }
  pop(): CommitSummary | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length && last) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < items.length && isNewer(items[l], items[best])) best = l;
        if (r < items.length && isNewer(items[r], items[best])) best = r;
        if (best === i) break;
        [items[i], items[best]] = [items[best], items[i]];
        i = best;
      }
    }
    return top;
  }
  peekAll(): readonly CommitSummary[] {
    return this.items;
  }
}

function isNewer(a: CommitSummary, b: CommitSummary): boolean {
  return a.time > b.time;
}

export class History {
  constructor(
    private readonly store: ObjectStore,
    private readonly source: HistorySource,
  ) {}

  /**
   * Walks read summaries (./commit-summary.ts): parents, time and markers, not whole commits,
   * and synchronously: an await per commit was a tenth of a 10,000-commit walk.
   */
  private readSummary(oid: string): CommitSummary {
    return this.store.readCommitSummary(oid);
  }

  /** Parents of a commit, deepening a shallow cache until they are present. */
  async parentsOf(commit: Pick<CommitData, 'oid' | 'parents'>): Promise<string[]> {
    while ((await this.source.boundaries()).has(commit.oid)) {
      if (!(await this.source.deepen())) return [];
    }
    return commit.parents;
  }

  /**
   * parentsOf for a walk: `boundaries` is the walk's copy of the source's, renewed only when a
   * commit on it makes the walk deepen.
   */
  private async walkParents(commit: CommitSummary, walk: { boundaries: ReadonlySet<string> }): Promise<string[]> {
    if (!walk.boundaries.has(commit.oid)) return commit.parents;
    const parents = await this.parentsOf(commit);
    walk.boundaries = await this.source.boundaries();
    return parents;
  }

  /**
   * Finds each revision (a full or abbreviated sha) in the history of `head`. Returns the
   * commits and every commit visited on the way (all commits newer than the oldest target), as
   * summaries: read whole commits with the store when more is needed.
   * Throws CommitNotFoundError for a revision that is not in the branch's history.
   */
  async findCommits(head: string, revisions: string[]): Promise<{ found: Map<string, CommitSummary>; visited: CommitSummary[] }> {
    for (const revision of revisions) await this.checkUnambiguous(revision);
    const found = new Map<string, CommitSummary>();
    const pending = new Set(revisions);
    const visited: CommitSummary[] = [];
    const seen = new Set<string>([head]);
    const queue = new CommitQueue();
    queue.push(this.readSummary(head));
    const walk = { boundaries: await this.source.boundaries() };
    let shallow = false;
    while (pending.size && queue.size) {
      const commit = queue.pop()!;
      visited.push(commit);
      for (const rev of pending) {
        if (commit.oid.startsWith(rev)) {
          found.set(rev, commit);
          pending.delete(rev);
        }
      }
      const parents = await this.walkParents(commit, walk);
      if (parents.length < commit.parents.length) shallow = true;
      for (const parent of parents) {
        if (seen.has(parent)) continue;
        seen.add(parent);
        queue.push(this.readSummary(parent));
      }
    }
    const missing = [...pending][0];
    if (missing !== undefined) throw new CommitNotFoundError({ revision: missing, ...(shallow ? { reason: 'shallow' as const } : {}) });
    return { found, visited };
  }

  /**
   * An abbreviated sha must name one commit, as git requires ("short object ID is ambiguous"):
   * the walk alone would take the newest match and revert a commit nobody named.
   */
  private async checkUnambiguous(revision: string): Promise<void> {
    if (revision.length >= 40) return;
    const matches = await this.store.findCommitsByPrefix(revision);
    if (matches.length < 2) return;
    throw new InvalidRequestError(
      `Revision ${revision} is ambiguous: it names ${matches.length === 8 ? 'at least 8' : matches.length} commits (${matches.map(shortSha).join(', ')}); give more characters of the sha`,
      { revision, candidates: matches },
    );
  }

  /** Follows first parents `steps` times (for HEAD~N). */
  async firstParentAncestor(head: string, steps: number, revision: string): Promise<string> {
    let oid = head;
    for (let i = 0; i < steps; i++) {
      const commit = this.readSummary(oid);
      const parents = await this.parentsOf(commit);
      if (!parents.length) throw new CommitNotFoundError({ revision, reason: commit.parents.length ? 'shallow' : 'past-root' });
      oid = parents[0];
    }
    return oid;
  }

  /**
   * Commits reachable from `to` but not from `from` (git's `from..to`), newest first: a walk
   * by date that paints `from`'s ancestry uninteresting, stopping once only uninteresting
   * commits remain in the queue (git's limit_list). Commits with the same date (scripts, bots,
   * rebases) may be walked before the uninteresting commit that reaches them: the paint then
   * spreads down through what was walked (git's mark_parents_uninteresting), the walk goes on
   * while uninteresting commits as new as the oldest listed one remain, and the list keeps only
   * what stayed interesting (else `HEAD..HEAD~1` listed HEAD~1 and its ancestors).
   */
  async listRange(from: string, to: string): Promise<CommitData[]> {
    const uninteresting = new Set<string>([from]);
    const seen = new Set<string>([from, to]);
    const walkedParents = new Map<string, string[]>();
    const queue = new CommitQueue();
    queue.push(this.readSummary(to));
    queue.push(this.readSummary(from));
    const walk = { boundaries: await this.source.boundaries() };
    const result: CommitSummary[] = [];
    let oldestListed = Infinity;
    const paint = (oid: string): void => {
      const stack = [oid];
      for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
        if (uninteresting.has(next)) continue;
        uninteresting.add(next);
        stack.push(...(walkedParents.get(next) ?? []));
      }
    };
    const goOn = (): boolean => queue.peekAll().some((c) => !uninteresting.has(c.oid)) || (queue.size > 0 && queue.peekAll()[0].time >= oldestListed);
    while (goOn()) {
      const commit = queue.pop()!;
      const isUninteresting = uninteresting.has(commit.oid);
      if (!isUninteresting) {
        result.push(commit);
        oldestListed = Math.min(oldestListed, commit.time);
      }
      const parents = await this.walkParents(commit, walk);
      walkedParents.set(commit.oid, parents);
      for (const parent of parents) {
        if (isUninteresting) paint(parent);
        if (seen.has(parent)) continue;
        seen.add(parent);
        queue.push(this.readSummary(parent));
      }
    }
    const listed = result.filter((c) => !uninteresting.has(c.oid));
    return Promise.all(listed.map((c) => this.store.readCommit(c.oid)));
  }
}
