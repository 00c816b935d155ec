/**
 * Histogram diff, ported from git's xdiff/xhistogram.c (histogram_diff, find_lcs, scanA,
 * try_lcs): find the longest common run of lines that occur least often in file 1, recurse on
 * both sides of it, and fall back to the classic Myers diff (./myers.ts) when every common line
 * occurs more than MAX_CHAIN_LENGTH times.
 */
import { runClassicDiff } from './myers.js';
import type { DiffEnv, LineRanges } from './types.js';

const MAX_CHAIN_LENGTH = 64;

/** The longest common run found so far: 1-based, inclusive, in both files; begin 0 = none. */
interface CommonRun {
  begin1: number;
  end1: number;
  begin2: number;
  end2: number;
}

/** A line of file 1 in the histogram: its latest occurrence (`ptr`) and how often it occurs. */
interface HistRecord {
  ptr: number;
  cnt: number;
}

/** histogram_diff over 1-based line ranges, with its tail recursion unrolled. */
export function runHistogramDiff(env: DiffEnv, ranges: LineRanges): void {
  let { line1, count1, line2, count2 } = ranges;
  for (;;) {
    if (count1 <= 0 && count2 <= 0) return;
    if (count1 === 0) {
      markChanged(env.changed2, line2, count2);
      return;
    }
    if (count2 === 0) {
      markChanged(env.changed1, line1, count1);
      return;
    }
    const lcs: CommonRun = { begin1: 0, end1: 0, begin2: 0, end2: 0 };
    const found = findLcs(env, lcs, { line1, count1, line2, count2 });
    if (found === 'fallback') {
      runClassicDiff(env, { line1, count1, line2, count2 });
      return;
    }
    if (lcs.begin1 === 0 && lcs.begin2 === 0) {
      markChanged(env.changed1, line1, count1);
      markChanged(env.changed2, line2, count2);
      return;
    }
    runHistogramDiff(env, { line1, count1: lcs.begin1 - line1, line2, count2: lcs.begin2 - line2 });
    const end1 = line1 + count1 - 1;
    const end2 = line2 + count2 - 1;
    count1 = end1 - lcs.end1;
    line1 = lcs.end1 + 1;
    count2 = end2 - lcs.end2;
    line2 = lcs.end2 + 1;
  }
}

/**
 * find_lcs + scanA + try_lcs. Records are keyed by line id (git keys a hash table by it; only
 * the record of the same line can ever match, so chain order is moot).
 */
function findLcs(env: DiffEnv, lcs: CommonRun, ranges: LineRanges): 'found' | 'fallback' {
  const { a, b } = env;
  const { line1, count1, line2, count2 } = ranges;
  const end1 = line1 + count1 - 1;
  const end2 = line2 + count2 - 1;
  const records = new Map<number, HistRecord>();
  const lineMap: HistRecord[] = new Array<HistRecord>(count1);
  const nextPtrs = new Array<number>(count1).fill(0);
  for (let ptr = end1; ptr >= line1; ptr--) {
    const id = a[ptr - 1];
    let rec = records.get(id);
    if (rec) {
      nextPtrs[ptr - line1] = rec.ptr;
      rec.ptr = ptr;
      rec.cnt += 1;
    } else {
      rec = { ptr, cnt: 1 };
      records.set(id, rec);
    }
    lineMap[ptr - line1] = rec;
  }
  const state = { cnt: MAX_CHAIN_LENGTH + 1, hasCommon: false };
  const cntAt = (ptr: number): number => lineMap[ptr - line1].cnt;
  const nextOf = (ptr: number): number => nextPtrs[ptr - line1];
  for (let bPtr = line2; bPtr <= end2;) {
    let bNext = bPtr + 1;
    const rec = records.get(b[bPtr - 1]);
    if (rec && rec.cnt > state.cnt) {
      state.hasCommon = true;
    } else if (rec) {
      state.hasCommon = true;
      let as = rec.ptr;
      for (;;) {
        let np = nextOf(as);
        let bs = bPtr;
        let ae = as;
        let be = bs;
        let rc = rec.cnt;
        while (line1 < as && line2 < bs && a[as - 2] === b[bs - 2]) {
          as--;
          bs--;
          if (1 < rc) rc = Math.min(rc, cntAt(as));
        }
        while (ae < end1 && be < end2 && a[ae] === b[be]) {
          ae++;
          be++;
          if (1 < rc) rc = Math.min(rc, cntAt(ae));
        }
        if (bNext <= be) bNext = be + 1;
        if (lcs.end1 - lcs.begin1 < ae - as || rc < state.cnt) {
          lcs.begin1 = as;
          lcs.begin2 = bs;
          lcs.end1 = ae;
          lcs.end2 = be;
          state.cnt = rc;
        }
        if (np === 0) break;
        while (np !== 0 && np <= ae) np = nextOf(np);
        if (np === 0) break;
        as = np;
      }
    }
    bPtr = bNext;
  }
  return state.hasCommon && MAX_CHAIN_LENGTH < state.cnt ? 'fallback' : 'found';
}

function markChanged(changed: boolean[], line: number, count: number): void {
  for (let i = 0; i < count; i++) changed[line + i] = true;
}
