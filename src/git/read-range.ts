/**
 * Reads the commits of a range (git's `from..to`) on a branch, newest first, with their
 * messages: what an automated trigger inspects before asking for a revert (the loop guard).
 * Writes nothing but the cache; shares the engine's cache repositories and lock.
 */
import * as nodeFs from 'node:fs';
import { withLockedRepository, type EngineOptions, type RepositoryTarget } from './engine.js';
import { History } from './history.js';
import { ObjectStore } from './object-store.js';

export interface RangeCommit {
  oid: string;
  message: string;
}

/**
 * The commits reachable from `to` but not from `from`, newest first. Both must be in the
 * branch's history (fetched, deepening a shallow cache as needed); CommitNotFoundError otherwise.
 */
export async function readCommitRange(target: RepositoryTarget, from: string, to: string, options: EngineOptions): Promise<RangeCommit[]> {
  const fs = options.fs ?? nodeFs;
  return withLockedRepository(fs, target, options, async (repository) => {
    const head = await repository.readHead();
    const history = new History(new ObjectStore(fs, repository.gitdir), repository.history);
    const { found } = await history.findCommits(head, [from, to]);
    const commits = await history.listRange(found.get(from)!.oid, found.get(to)!.oid);
    return commits.map((commit) => ({ oid: commit.oid, message: commit.message }));
  });
}
