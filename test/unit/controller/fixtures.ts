/** What the reconciler tests share: commit ids and a RollbackResult as the engine returns it. */
import type { RollbackResult } from '../../../src/git/engine.js';

export const SHA = 'a'.repeat(40);
export const HEAD = 'b'.repeat(40);
export const NEW = 'c'.repeat(40);

/** One reverted commit, SHA, pushed as NEW on top of HEAD; `overrides` replace whole fields. */
export function makeResult(overrides: Partial<RollbackResult> = {}): RollbackResult {
  return {
    result: 'reverted',
    branch: 'main',
    previousHead: HEAD,
    head: NEW,
    commits: [{ sha: NEW, tree: 't', reverts: [SHA], message: 'Revert "x"' }],
    alreadyReverted: [],
    empty: [],
    changedPaths: ['apps/frontend/deploy.yaml'],
    signed: false,
    attempts: 1,
    durations: { fetch: 100, compute: 50, push: 200 },
    ...overrides,
  };
}
