/**
 * `--wait`: follows a GitOpsRollback live, as an on-call engineer wants to see it — each phase
 * (resolve, revert, push, pull request, Flux apply, healthy) once, as it happens, with the time
 * since the command started. On a terminal the last line shows where it stands now and is
 * rewritten in place; piped, only the phase lines are printed. Ends with the rollback: 0 on
 * Ready=True, 1 on Stalled=True (with the reason), 2 when it did not finish within the timeout.
 */
import type { Condition, GitOpsRollback } from '../api/v1alpha1/types.js';
import { shortSha } from '../short-sha.js';

export interface FollowIo {
  write(text: string): void;
  /** A terminal: the status line is rewritten in place. */
  isTTY: boolean;
}

export interface FollowOptions {
  timeoutMs: number;
  pollIntervalMs: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** One phase the rollback reached, keyed so it is printed once. */
export interface Phase {
  key: string;
  text: string;
}

const condition = (rollback: GitOpsRollback, type: string): Condition | undefined => rollback.status?.conditions?.find((c) => c.type === type);

/** The phases `rollback`'s status shows as reached, in the order they happen. */
export function phasesReached(rollback: GitOpsRollback): Phase[] {
  const status = rollback.status ?? {};
  const phases: Phase[] = [];
  const is = (type: string, value: Condition['status']) => condition(rollback, type)?.status === value;
  if (status.conditions?.length) phases.push({ key: 'resolve', text: 'Started: resolving the repository and computing the revert' });
  if (is('Reverted', 'True')) {
    const count = status.revertedCommitsCount ?? status.revertedCommits?.length ?? 0;
    phases.push({ key: 'revert', text: `Reverted ${count} commit(s) without conflict` });
  }
  if (is('Pushed', 'True')) phases.push({ key: 'push', text: `Pushed: ${condition(rollback, 'Pushed')!.message}` });
  if (status.pullRequest) phases.push({ key: 'pull-request', text: `Pull request #${status.pullRequest.number} opened: ${status.pullRequest.url}` });
  if (is('Merged', 'True')) phases.push({ key: 'merged', text: condition(rollback, 'Merged')!.message });
  if (condition(rollback, 'Applied')) phases.push({ key: 'apply', text: `Flux asked to apply ${shortSha(status.headAfter)}` });
  if (is('Applied', 'True')) phases.push({ key: 'applied', text: `Applied: ${condition(rollback, 'Applied')!.message}` });
  if (is('Ready', 'True')) phases.push({ key: 'ready', text: `Ready: ${condition(rollback, 'Ready')!.message}` });
  return phases;
}

/** The end, once the rollback reached one: Ready=True (0) or Stalled=True (1). */
export function endOf(rollback: GitOpsRollback): { code: 0 | 1; line: string } | undefined {
  const generation = rollback.metadata.generation ?? 0;
  const current = (c: Condition | undefined) => c !== undefined && (c.observedGeneration ?? generation) >= generation;
  const stalled = condition(rollback, 'Stalled');
  if (stalled?.status === 'True' && current(stalled)) return { code: 1, line: `Stalled (${stalled.reason}): ${stalled.message}` };
  const ready = condition(rollback, 'Ready');
  if (ready?.status === 'True' && current(ready) && ready.reason !== 'Progressing') return { code: 0, line: `Done (${ready.reason})` };
  return undefined;
}

/** Where it stands now, for the terminal's status line. */
function standing(rollback: GitOpsRollback | null): string {
  const ready = rollback && condition(rollback, 'Ready');
  return ready ? `${ready.reason}: ${ready.message}` : 'waiting for the operator to pick it up';
}

/** Polls the rollback until it ends or the timeout passes; prints as described above. */
export async function followRollback(read: () => Promise<GitOpsRollback | null>, io: FollowIo, options: FollowOptions): Promise<number> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const started = now();
  const printed = new Set<string>();
  const stamp = () => `[${((now() - started) / 1000).toFixed(1).padStart(6)}s]`;
  let statusLine = false;
  const clearStatus = () => {
    if (statusLine) io.write('\r\x1b[2K');
    statusLine = false;
  };
  for (;;) {
    const rollback = await read();
    if (!rollback) {
      clearStatus();
      io.write(`${stamp()} The GitOpsRollback is gone (deleted)\n`);
      return 2;
    }
    for (const phase of phasesReached(rollback)) {
      if (printed.has(phase.key)) continue;
      printed.add(phase.key);
      clearStatus();
      io.write(`${stamp()} ${phase.text}\n`);
    }
    const end = endOf(rollback);
    if (end) {
      clearStatus();
      io.write(`${stamp()} ${end.line}\n`);
      return end.code;
    }
    if (now() - started >= options.timeoutMs) {
      clearStatus();
      io.write(`${stamp()} Not finished within ${Math.round(options.timeoutMs / 1000)} s: ${standing(rollback)}\n`);
      return 2;
    }
    if (io.isTTY) {
      clearStatus();
      io.write(`${stamp()} ${standing(rollback).slice(0, 100)}`);
      statusLine = true;
    }
    await sleep(options.pollIntervalMs);
  }
}
