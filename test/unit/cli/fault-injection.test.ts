import type { RollbackOutcome, RollbackRequest, RollbackResult } from '../../../src/git/engine.js';
import { FAULT_EXIT_CODE, injectFault, parseFault } from '../../../src/cli/fault-injection.js';

const request = {
  repository: { url: 'https://git.example/fleet.git', branch: 'main' },
  action: { kind: 'revert', commits: ['a'.repeat(40)] },
} as RollbackRequest;

function engineReturning(result: RollbackOutcome): () => Promise<RollbackResult> {
  return async () => ({
    result,
    branch: 'main',
    previousHead: 'b'.repeat(40),
    head: null,
    commits: [],
    alreadyReverted: [],
    empty: [],
    changedPaths: [],
    signed: false,
    attempts: 1,
    durations: { fetch: 0, compute: 0, push: 0 },
  });
}

class Exited extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}
const exit = (code: number): never => {
  throw new Exited(code);
};

describe('test-only fault injection (GITOPS_ROLLBACK_FAULT)', () => {
  test('unset or empty: no fault, the engine is passed through unchanged', () => {
    const engine = engineReturning('reverted');
    expect(parseFault(undefined)).toBeUndefined();
    expect(parseFault('')).toBeUndefined();
    expect(injectFault(undefined, engine, exit)).toBe(engine);
  });

  test('an unknown fault stops the operator at start instead of being ignored', () => {
    expect(() => parseFault('exit-after-pushh')).toThrow(/GITOPS_ROLLBACK_FAULT=exit-after-pushh names no fault \(known: exit-after-push\)/);
  });

  test('exit-after-push ends the process right after a run that pushed, before the caller sees the result', async () => {
    const engine = injectFault(parseFault('exit-after-push'), engineReturning('reverted'), exit);
    await expect(engine(request)).rejects.toEqual(new Exited(FAULT_EXIT_CODE));
  });

  test.each<RollbackOutcome>(['planned', 'already-reverted', 'empty'])('exit-after-push lets a run that pushed nothing (%s) through', async (outcome) => {
    const engine = injectFault('exit-after-push', engineReturning(outcome), exit);
    await expect(engine(request)).resolves.toMatchObject({ result: outcome });
  });
});
