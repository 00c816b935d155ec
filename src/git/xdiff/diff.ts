/**
 * The diff pipeline of git's xdiff/xdiffi.c as merges run it: xdl_do_diff with
 * XDF_HISTOGRAM_DIFF (./histogram.ts), xdl_change_compact both ways (./compaction.ts) and
 * xdl_build_script, which turns the changed-line marks into an edit script.
 */
import { compactChanges } from './compaction.js';
import { runHistogramDiff } from './histogram.js';
import type { Change, DiffEnv } from './types.js';

/** Diffs two line-id sequences into an edit script, hunks in ascending order. */
export function diffLines(a: number[], b: number[]): Change[] {
  // changed arrays carry a false sentinel at index 0 and n+1 (xdiff's rchg[-1] and rchg[n]).
  const changed1 = new Array<boolean>(a.length + 2).fill(false);
  const changed2 = new Array<boolean>(b.length + 2).fill(false);
  const env: DiffEnv = { a, b, changed1, changed2 };
  runHistogramDiff(env, { line1: 1, count1: a.length, line2: 1, count2: b.length });
  compactChanges(a, changed1, changed2);
  compactChanges(b, changed2, changed1);
  return buildScript(changed1, changed2, a.length, b.length);
}

/** xdl_build_script: collects groups of changed lines into hunks, in ascending order. */
function buildScript(changed1: boolean[], changed2: boolean[], n1: number, n2: number): Change[] {
  const script: Change[] = [];
  // changedN[k] (1-based) is xdiff's rchg[k - 1].
  for (let i1 = n1, i2 = n2; i1 >= 0 || i2 >= 0; i1--, i2--) {
    if (changed1[i1] || changed2[i2]) {
      const l1 = i1;
      const l2 = i2;
      while (changed1[i1]) i1--;
      while (changed2[i2]) i2--;
      script.push({ i1, i2, chg1: l1 - i1, chg2: l2 - i2 });
    }
  }
  return script.reverse();
}
