/**
 * The classic Myers diff with git's cost heuristics, ported from git's xdiff/xdiffi.c
 * (xdl_fall_back_diff, xdl_recs_cmp, xdl_split): the histogram diff's fallback (./histogram.ts).
 * Git also runs xdl_cleanup_records there, which this port does not; it only matters when every
 * common line of a region occurs more than 64 times.
 */
import type { DiffEnv, LineRanges } from './types.js';

const XDL_MAX_COST_MIN = 256;
const XDL_HEUR_MIN_COST = 256;
const XDL_LINE_MAX = Number.MAX_SAFE_INTEGER;
const XDL_SNAKE_CNT = 20;
const XDL_K_HEUR = 4;

/** The sub-range being compared, 0-based: lines [off1, lim1) of file 1 and [off2, lim2) of file 2. */
interface Box {
  off1: number;
  lim1: number;
  off2: number;
  lim2: number;
}

/** Where xdl_split cuts a box, and whether each half must be diffed minimally. */
interface Split {
  i1: number;
  i2: number;
  minLo: boolean;
  minHi: boolean;
}

/** The search state of xdl_split: furthest reaching paths forward (kvdf) and backward (kvdb) per diagonal. */
interface ClassicEnv {
  a: number[];
  b: number[];
  changed1: boolean[];
  changed2: boolean[];
  kvdf: Map<number, number>;
  kvdb: Map<number, number>;
  mxcost: number;
}

/** One direction of xdl_split's search: its furthest reach per diagonal, the diagonals searched, the starting one. */
interface SearchFront {
  direction: 'forward' | 'backward';
  kv: Map<number, number>;
  min: number;
  max: number;
  mid: number;
}

/** xdl_fall_back_diff: classic Myers diff on a 1-based sub-range of the files. */
export function runClassicDiff(env: DiffEnv, ranges: LineRanges): void {
  const { line1, count1, line2, count2 } = ranges;
  const a = env.a.slice(line1 - 1, line1 - 1 + count1);
  const b = env.b.slice(line2 - 1, line2 - 1 + count2);
  const changed1 = new Array<boolean>(count1).fill(false);
  const changed2 = new Array<boolean>(count2).fill(false);
  const mxcost = Math.max(bogoSqrt(count1 + count2 + 3), XDL_MAX_COST_MIN);
  const cenv: ClassicEnv = { a, b, changed1, changed2, kvdf: new Map(), kvdb: new Map(), mxcost };
  compareRecords(cenv, { off1: 0, lim1: count1, off2: 0, lim2: count2 }, false);
  changed1.forEach((c, i) => {
    if (c) env.changed1[line1 + i] = true;
  });
  changed2.forEach((c, i) => {
    if (c) env.changed2[line2 + i] = true;
  });
}

function bogoSqrt(n: number): number {
  let i = 1;
  for (; n > 0; n >>= 2) i <<= 1;
  return i;
}

/** xdl_recs_cmp: divide and conquer over the box. */
function compareRecords(env: ClassicEnv, box: Box, needMin: boolean): void {
  const { a, b } = env;
  let { off1, lim1, off2, lim2 } = box;
  while (off1 < lim1 && off2 < lim2 && a[off1] === b[off2]) {
    off1++;
    off2++;
  }
  while (off1 < lim1 && off2 < lim2 && a[lim1 - 1] === b[lim2 - 1]) {
    lim1--;
    lim2--;
  }
  if (off1 === lim1) {
    for (; off2 < lim2; off2++) env.changed2[off2] = true;
  } else if (off2 === lim2) {
    for (; off1 < lim1; off1++) env.changed1[off1] = true;
  } else {
    const spl = splitBox(env, { off1, lim1, off2, lim2 }, needMin);
    compareRecords(env, { off1, lim1: spl.i1, off2, lim2: spl.i2 }, spl.minLo);
    compareRecords(env, { off1: spl.i1, lim1, off2: spl.i2, lim2 }, spl.minHi);
  }
}

/** xdl_split: finds the middle snake, cutting the search short with git's heuristics. */
function splitBox(env: ClassicEnv, box: Box, needMin: boolean): Split {
  const { a, b, kvdf, kvdb } = env;
  const { off1, lim1, off2, lim2 } = box;
  const kf = (d: number): number => kvdf.get(d) ?? 0;
  const kb = (d: number): number => kvdb.get(d) ?? 0;
  const dmin = off1 - lim2;
  const dmax = lim1 - off2;
  const fmid = off1 - off2;
  const bmid = lim1 - lim2;
  const odd = ((fmid - bmid) & 1) !== 0;
  let fmin = fmid,
    fmax = fmid,
    bmin = bmid,
    bmax = bmid;
  kvdf.set(fmid, off1);
  kvdb.set(bmid, lim1);
  for (let ec = 1; ; ec++) {
    let gotSnake = false;
    if (fmin > dmin) kvdf.set(--fmin - 1, -1);
    else ++fmin;
    if (fmax < dmax) kvdf.set(++fmax + 1, -1);
    else --fmax;
    for (let d = fmax; d >= fmin; d -= 2) {
      let i1 = kf(d - 1) >= kf(d + 1) ? kf(d - 1) + 1 : kf(d + 1);
      const prev1 = i1;
      let i2 = i1 - d;
      for (; i1 < lim1 && i2 < lim2 && a[i1] === b[i2]; i1++, i2++);
      if (i1 - prev1 > XDL_SNAKE_CNT) gotSnake = true;
      kvdf.set(d, i1);
      if (odd && bmin <= d && d <= bmax && kb(d) <= i1) return { i1, i2, minLo: true, minHi: true };
    }
    if (bmin > dmin) kvdb.set(--bmin - 1, XDL_LINE_MAX);
    else ++bmin;
    if (bmax < dmax) kvdb.set(++bmax + 1, XDL_LINE_MAX);
    else --bmax;
    for (let d = bmax; d >= bmin; d -= 2) {
      let i1 = kb(d - 1) < kb(d + 1) ? kb(d - 1) : kb(d + 1) - 1;
      const prev1 = i1;
      let i2 = i1 - d;
      for (; i1 > off1 && i2 > off2 && a[i1 - 1] === b[i2 - 1]; i1--, i2--);
      if (prev1 - i1 > XDL_SNAKE_CNT) gotSnake = true;
      kvdb.set(d, i1);
      if (!odd && fmin <= d && d <= fmax && i1 <= kf(d)) return { i1, i2, minLo: true, minHi: true };
    }
    if (needMin) continue;
    if (gotSnake && ec > XDL_HEUR_MIN_COST) {
      const fwd = sampleSnake(env, box, { direction: 'forward', kv: kvdf, min: fmin, max: fmax, mid: fmid }, ec);
      if (fwd) return fwd;
      const bwd = sampleSnake(env, box, { direction: 'backward', kv: kvdb, min: bmin, max: bmax, mid: bmid }, ec);
      if (bwd) return bwd;
    }
    if (ec >= env.mxcost) return pickFurthestReach(env, { ...box, fmin, fmax, bmin, bmax });
  }
}

/**
 * xdl_split's "good snake" heuristic, for one direction of the search: among the diagonals that
 * got far (more than XDL_K_HEUR * cost beyond their start), the furthest one that ends (forward)
 * or starts (backward) a run of XDL_SNAKE_CNT common lines.
 */
function sampleSnake(env: ClassicEnv, box: Box, front: SearchFront, ec: number): Split | undefined {
  const forward = front.direction === 'forward';
  let best = 0;
  let spl: Split | undefined;
  for (let d = front.max; d >= front.min; d -= 2) {
    const dd = d > front.mid ? d - front.mid : front.mid - d;
    const i1 = front.kv.get(d) ?? 0;
    const i2 = i1 - d;
    const v = (forward ? i1 - box.off1 + (i2 - box.off2) : box.lim1 - i1 + (box.lim2 - i2)) - dd;
    const inBox = forward
      ? box.off1 + XDL_SNAKE_CNT <= i1 && i1 < box.lim1 && box.off2 + XDL_SNAKE_CNT <= i2 && i2 < box.lim2
      : box.off1 < i1 && i1 <= box.lim1 - XDL_SNAKE_CNT && box.off2 < i2 && i2 <= box.lim2 - XDL_SNAKE_CNT;
    if (v <= XDL_K_HEUR * ec || v <= best || !inBox) continue;
    const common = forward ? isCommonRun(env.a, env.b, i1 - XDL_SNAKE_CNT, i2 - XDL_SNAKE_CNT) : isCommonRun(env.a, env.b, i1, i2);
    if (common) {
      best = v;
      spl = { i1, i2, minLo: forward, minHi: !forward };
    }
  }
  return spl;
}

/** True when the XDL_SNAKE_CNT lines from `i1` of file 1 and from `i2` of file 2 are equal. */
function isCommonRun(a: number[], b: number[], i1: number, i2: number): boolean {
  for (let k = 0; k < XDL_SNAKE_CNT; k++) if (a[i1 + k] !== b[i2 + k]) return false;
  return true;
}

/** xdl_split past its cost limit: cut where the forward or backward search got furthest. */
function pickFurthestReach(env: ClassicEnv, box: Box & { fmin: number; fmax: number; bmin: number; bmax: number }): Split {
  let fbest = -1,
    fbest1 = -1;
  for (let d = box.fmax; d >= box.fmin; d -= 2) {
    let i1 = Math.min(env.kvdf.get(d) ?? 0, box.lim1);
    let i2 = i1 - d;
    if (box.lim2 < i2) {
      i1 = box.lim2 + d;
      i2 = box.lim2;
    }
    if (fbest < i1 + i2) {
      fbest = i1 + i2;
      fbest1 = i1;
    }
  }
  let bbest = XDL_LINE_MAX,
    bbest1 = XDL_LINE_MAX;
  for (let d = box.bmax; d >= box.bmin; d -= 2) {
    let i1 = Math.max(box.off1, env.kvdb.get(d) ?? 0);
    let i2 = i1 - d;
    if (i2 < box.off2) {
      i1 = box.off2 + d;
      i2 = box.off2;
    }
    if (i1 + i2 < bbest) {
      bbest = i1 + i2;
      bbest1 = i1;
    }
  }
  if (box.lim1 + box.lim2 - bbest < fbest - (box.off1 + box.off2)) {
    return { i1: fbest1, i2: fbest - fbest1, minLo: true, minHi: false };
  }
  return { i1: bbest1, i2: bbest - bbest1, minLo: false, minHi: true };
}
