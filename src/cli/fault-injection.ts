/**
 * TEST-ONLY fault injection: makes the operator crash at a chosen point so the integration tests
 * can prove crash safety deterministically instead of racing a SIGKILL against the work. Off
 * unless GITOPS_ROLLBACK_FAULT is set; no deployment sets it (config/ never does), and an unknown
 * value stops the operator at start rather than being ignored.
 *
 * Faults:
 *  - `exit-after-push`: the first engine run that pushes a revert ends the process (exit code
 *    {@link FAULT_EXIT_CODE}) right after the push and before the reconciler writes the status,
 *    the window crash recovery (the Rollback-Request trailer) exists for.
 */
import type { RunEngine } from '../controller/ports.js';

/** Environment variable naming the fault to inject (tests only). */
export const FAULT_ENV = 'GITOPS_ROLLBACK_FAULT';

/** The process's exit code when an injected fault ends it. */
export const FAULT_EXIT_CODE = 86;

export type Fault = 'exit-after-push';

const FAULTS: readonly Fault[] = ['exit-after-push'];

/** The fault `value` names, or undefined when unset; throws on a value that names no fault. */
export function parseFault(value: string | undefined): Fault | undefined {
  if (value === undefined || value === '') return undefined;
  if (!(FAULTS as readonly string[]).includes(value)) throw new Error(`${FAULT_ENV}=${value} names no fault (known: ${FAULTS.join(', ')})`);
  return value as Fault;
}

/**
 * Wraps the engine with the fault (if any). `exit` ends the process: the real one in the operator,
 * after saying on stderr why, so a test's failure output shows it.
 */
export function injectFault(fault: Fault | undefined, runEngine: RunEngine, exit: (code: number) => never = exitNow): RunEngine {
  if (fault !== 'exit-after-push') return runEngine;
  return async (request, hooks) => {
    const result = await runEngine(request, hooks);
    if (result.result === 'reverted') exit(FAULT_EXIT_CODE);
    return result;
  };
}

function exitNow(code: number): never {
  process.stderr.write(`${FAULT_ENV}=exit-after-push: exiting after the push, before the status write (test-only fault)\n`);
  process.exit(code);
}
