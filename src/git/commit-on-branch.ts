/**
 * One question asked of an engine result by the controller, Flux waiting and the metrics alike:
 * did this run leave a commit of its request on the branch? Type-only import of the engine, so
 * asking it loads no git code.
 */
import type { RollbackResult } from './engine.js';

/** True when the run left a commit of this request on the branch: pushed now, or found there already. */
export function isCommitOnBranch(result: RollbackResult): boolean {
  return result.result === 'reverted' || result.existingCommit !== undefined;
}
