/**
 * Reading GitOpsRollbacks from a test control plane and waiting for their status, with the
 * operator's logs in the failure when a wait times out.
 */
import type { Condition, GitOpsRollback } from '../../src/api/v1alpha1/types.js';
import type { ControlPlaneClient } from '../envtest/control-plane.js';
import { eventually } from './eventually.js';

type Kubectl = Pick<ControlPlaneClient, 'kubectl'>;

/** The condition of this type, if the rollback has one. */
export function conditionOf(rollback: GitOpsRollback, type: string): Condition | undefined {
  return rollback.status?.conditions?.find((c) => c.type === type);
}

/** Finished: Ready=True or Stalled=True. */
export function isFinished(rollback: GitOpsRollback): boolean {
  return conditionOf(rollback, 'Ready')?.status === 'True' || conditionOf(rollback, 'Stalled')?.status === 'True';
}

export async function getRollback(plane: Kubectl, namespace: string, name: string): Promise<GitOpsRollback> {
  return JSON.parse(await plane.kubectl(['get', 'gitopsrollback', name, '-n', namespace, '-o', 'json'])) as GitOpsRollback;
}

export interface WaitOptions {
  /** Deadline for an idle machine, scaled by TEST_TIME_SCALE (see eventually()); default 60 s. */
  timeoutMs?: number;
  /** What to add to a timeout's message, typically the operator's latest logs. */
  diagnostics?: () => string;
}

/**
 * Polls the rollback until `until` holds (by default: finished) and returns it. A read that fails
 * (the API server restarting) is tried again; the timeout's message has the last status or error.
 */
export async function waitForRollback(
  plane: Kubectl,
  namespace: string,
  name: string,
  until: (rollback: GitOpsRollback) => boolean = isFinished,
  options: WaitOptions = {},
): Promise<GitOpsRollback> {
  let last: string | undefined;
  return eventually(
    `rollback ${namespace}/${name}`,
    async () => {
      try {
        const rollback = await getRollback(plane, namespace, name);
        last = `status: ${JSON.stringify(rollback.status)}`;
        return until(rollback) ? rollback : undefined;
      } catch (error) {
        last = `read failed: ${String(error)}`;
        return undefined;
      }
    },
    { ...options, diagnostics: () => `${last}\n${options.diagnostics?.() ?? ''}` },
  );
}
