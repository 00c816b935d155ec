/**
 * Fills the cache before anyone needs it: fetches a branch into its cache repository exactly as
 * a rollback's first step does (./engine.ts withLockedRepository, then the repository's
 * readHead), so the same network policy, credentials, transfer limits, deadline, repository lock,
 * staged writes and cache eviction apply. The first rollback of the branch then sends a "have"
 * and receives only what changed since.
 */
import * as nodeFs from 'node:fs';
import { InvalidRequestError } from './errors.js';
import { isRemoteUrl, withLockedRepository, type EngineOptions, type RepositoryTarget } from './engine.js';
import { isBranchName } from './branch-name.js';

/**
 * Fetches `target.branch` into the cache and returns its head. Throws the typed errors of a
 * rollback's fetch (./remote.ts fetchBranch); on any error the cache repository is unchanged.
 * Only remote repositories have a cache: a local path is refused (InvalidRequestError).
 */
export async function warmCache(target: RepositoryTarget, options: EngineOptions): Promise<string> {
  if (!isRemoteUrl(target.url)) throw new InvalidRequestError('Only a remote repository has a cache to warm');
  if (!isBranchName(target.branch))
    throw new InvalidRequestError(`Invalid branch name "${target.branch.slice(0, 255)}"`, { branch: target.branch.slice(0, 255) });
  const fs = options.fs ?? nodeFs;
  return withLockedRepository(fs, target, options, (repository) => repository.readHead());
}
