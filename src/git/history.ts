/**
 * Walks a branch's history newest-first (by committer date, as git's rev-list does), fetching
 * more history on demand when the cache is shallow. Used to resolve the revisions a request
 * names, to list a range, and to find earlier reverts (idempotency).
 */
import { CommitNotFoundError, InvalidRequestError } from './errors.js';
import { shortSha } from '../short-sha.js';
import type { CommitData, ObjectStore } from './object-store.js';

/** Where more history comes from when a walk reaches the edge of a shallow cache. */
export interface HistorySource {
  /** True when the commit's parents are missing locally (a shallow boundary). */
  isBoundary(oid: string): Promise<boolean>;
  /** Fetches more history; false when the history is already complete. */
  deepen(): Promise<boolean>;
}

/** A complete local repository: never shallow. */
export const completeHistory: HistorySource = {
  isBoundary: async () => false,
  deepen: async () => false,
};

/** Max-heap of commits by committer time, so the walk visits newest first. */
class CommitQueue {
  private readonly items: CommitData[] = [];
  get size(): number {
    return this.items.length;
  }
  push(commit: CommitData): void {
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
  pop(): CommitData | undefined {
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
  peekAll(): readonly CommitData[] {
    return this.items;
  }
}

function isNewer(a: CommitData, b: CommitData): boolean {
  return a.committer.timestamp > b.committer.timestamp;
}

export class History {
  constructor(
    private readonly store: ObjectStore,
    private readonly source: HistorySource,
  ) {}

  readCommit(oid: string): Promise<CommitData> {
    return this.store.readCommit(oid);
  }

  /** Parents of a commit, deepening a shallow cache until they are present. */
  async parentsOf(commit: CommitData): Promise<string[]> {
    while (await this.source.isBoundary(commit.oid)) {
      if (!(await this.source.deepen())) return [];
    }
    return commit.parents;
  }

  /**
   * Finds each revision (a full or abbreviated sha) in the history of `head`. Returns the
   * commits and every commit visited on the way (all commits newer than the oldest target).
   * Throws CommitNotFoundError for a revision that is not in the branch's history.
   */
  async findCommits(head: string, revisions: string[]): Promise<{ found: Map<string, CommitData>; visited: CommitData[] }> {
    for (const revision of revisions) await this.checkUnambiguous(revision);
    const found = new Map<string, CommitData>();
    const pending = new Set(revisions);
    const visited: CommitData[] = [];
    const seen = new Set<string>([head]);
    const queue = new CommitQueue();
    queue.push(await this.readCommit(head));
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
      const parents = await this.parentsOf(commit);
      if (parents.length < commit.parents.length) shallow = true;
      for (const parent of parents) {
        if (seen.has(parent)) continue;
        seen.add(parent);
        queue.push(await this.readCommit(parent));
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
      const commit = await this.readCommit(oid);
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
    queue.push(await this.readCommit(to));
    queue.push(await this.readCommit(from));
    const result: CommitData[] = [];
    let oldestListed = Infinity;
    const paint = (oid: string): void => {
      const stack = [oid];
      for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
        if (uninteresting.has(next)) continue;
        uninteresting.add(next);
        stack.push(...(walkedParents.get(next) ?? []));
      }
    };
    const goOn = (): boolean =>
      queue.peekAll().some((c) => !uninteresting.has(c.oid)) || (queue.size > 0 && queue.peekAll()[0].committer.timestamp >= oldestListed);
    while (goOn()) {
      const commit = queue.pop()!;
      const isUninteresting = uninteresting.has(commit.oid);
      if (!isUninteresting) {
        result.push(commit);
        oldestListed = Math.min(oldestListed, commit.committer.timestamp);
      }
      const parents = await this.parentsOf(commit);
      walkedParents.set(commit.oid, parents);
      for (const parent of parents) {
        if (isUninteresting) paint(parent);
        if (seen.has(parent)) continue;
        seen.add(parent);
        queue.push(await this.readCommit(parent));
      }
    }
    return result.filter((c) => !uninteresting.has(c.oid));
  }
}
