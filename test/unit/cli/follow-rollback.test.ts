/**
 * `--wait`'s display: each phase printed once as the status reaches it, stamped with the time
 * since the start; a status line rewritten in place only on a terminal; the exit code from the end.
 * The clock and the sleep are the test's: the rollback advances one status per poll.
 */
import type { Condition, GitOpsRollback, GitOpsRollbackStatus } from '../../../src/api/v1alpha1/types.js';
import { followRollback } from '../../../src/cli/follow-rollback.js';

const c = (type: string, status: Condition['status'], reason: string, message = ''): Condition => ({ type, status, reason, message, lastTransitionTime: 't' });
const rollback = (status?: GitOpsRollbackStatus): GitOpsRollback => ({
  apiVersion: 'rollback.gitops.dev/v1alpha1',
  kind: 'GitOpsRollback',
  metadata: { name: 'rb', namespace: 'apps', generation: 1 },
  spec: {},
  status,
});

const progressing = [c('Reconciling', 'True', 'Progressing'), c('Ready', 'Unknown', 'Progressing', 'Rolling back')];
const pushed = [
  c('Reconciling', 'True', 'WaitingForApply'),
  c('Ready', 'Unknown', 'WaitingForApply', 'Waiting for Flux'),
  c('Reverted', 'True', 'Succeeded'),
  c('Pushed', 'True', 'Succeeded', 'abc is on main'),
  c('Applied', 'Unknown', 'WaitingForApply'),
];
const STEPS: (GitOpsRollback | null)[] = [
  rollback(),
  rollback({ conditions: progressing }),
  rollback({ conditions: pushed, revertedCommits: ['a', 'b'], headAfter: 'c'.repeat(40) }),
  rollback({
    conditions: [
      c('Ready', 'True', 'Succeeded', 'applied'),
      c('Reverted', 'True', 'Succeeded'),
      c('Pushed', 'True', 'Succeeded', 'abc is on main'),
      c('Applied', 'True', 'Succeeded', 'web applied it'),
    ],
    revertedCommits: ['a', 'b'],
    headAfter: 'c'.repeat(40),
  }),
];

async function follow(steps: (GitOpsRollback | null)[], isTTY: boolean, timeoutMs = 60_000) {
  let clock = 0;
  let index = 0;
  let out = '';
  const code = await followRollback(
    async () => steps[Math.min(index++, steps.length - 1)]!,
    { write: (t) => (out += t), isTTY },
    {
      timeoutMs,
      pollIntervalMs: 1000,
      now: () => clock,
      sleep: async (ms) => {
        clock += ms;
      },
    },
  );
  return { code, out };
}

describe('followRollback', () => {
  test('piped: one stamped line per phase, in order, then the end; exit 0 on Ready', async () => {
    const { code, out } = await follow(STEPS, false);
    expect(code).toBe(0);
    expect(out).toBe(
      [
        '[   1.0s] Started: resolving the repository and computing the revert',
        '[   2.0s] Reverted 2 commit(s) without conflict',
        '[   2.0s] Pushed: abc is on main',
        '[   2.0s] Flux asked to apply cccccccccccc',
        '[   3.0s] Applied: web applied it',
        '[   3.0s] Ready: applied',
        '[   3.0s] Done (Succeeded)',
        '',
      ].join('\n'),
    );
  });

  test('on a terminal: the same lines, and a status line rewritten in place between them', async () => {
    const { code, out } = await follow(STEPS, true);
    expect(code).toBe(0);
    expect(out).toContain('[   0.0s] waiting for the operator to pick it up\r\x1b[2K[   1.0s] Started');
    // eslint-disable-next-line no-control-regex -- the terminal's erase-line sequence is the point
    expect(out.replace(/\[\s*\d+\.\ds\] [^\n]*\r\x1b\[2K/g, '')).toBe((await follow(STEPS, false)).out);
  });

  test('Stalled: exit 1 with the reason and message', async () => {
    const stalled = rollback({ conditions: [c('Stalled', 'True', 'RevertConflict', 'apps/web/deploy.yaml: content'), c('Ready', 'False', 'RevertConflict')] });
    const { code, out } = await follow([stalled], false);
    expect(code).toBe(1);
    expect(out).toContain('Stalled (RevertConflict): apps/web/deploy.yaml: content');
  });

  test('not finished within the timeout: exit 2 saying where it stands; deleted: exit 2', async () => {
    const waiting = await follow([rollback({ conditions: progressing })], false, 5000);
    expect(waiting.code).toBe(2);
    expect(waiting.out.trim().split('\n').at(-1)).toBe('[   5.0s] Not finished within 5 s: Progressing: Rolling back');
    expect((await follow([null], false)).code).toBe(2);
  });

  test('a Ready=True of an older generation is not the end', async () => {
    const old = rollback({ conditions: [{ ...c('Ready', 'True', 'Succeeded', 'old'), observedGeneration: 0 }] });
    old.metadata.generation = 2;
    expect((await follow([old], false, 2000)).code).toBe(2);
  });
});
