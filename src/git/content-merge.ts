/**
 * Three-way merge of file contents that makes the same decisions as git's merge-ort
 * (`ll_merge` -> xdiff `xdl_merge` at level XDL_MERGE_ZEALOUS, default conflict style,
 * histogram diff). It is a port of the parts of xdiff that decide the result:
 * xhistogram.c (with the classic Myers diff of xdiffi.c as its fallback), xdl_change_compact
 * (without the indent heuristic, which merges do not use) and xdl_do_merge.
 *
 * Lines are byte sequences that include their '\n'; a last line without '\n' is a different
 * line from the same text with one. Conflicted merges return no content: the engine never
 * writes conflict markers.
 */

/** Bytes git inspects to decide a buffer is binary (`buffer_is_binary`). */
const FIRST_FEW_BYTES = 8000;

/** Outcome of {@link mergeContent}. */
export type ContentMergeResult =
  | { clean: true; content: Uint8Array }
  | { clean: false; reason: 'content' | 'binary' };

/** True when git would call the buffer binary: a NUL byte among its first 8000 bytes. */
export function isBinary(buf: Uint8Array): boolean {
  const end = Math.min(buf.length, FIRST_FEW_BYTES);
  for (let i = 0; i < end; i++) if (buf[i] === 0) return true;
  return false;
}

/**
 * Merges `ours` and `theirs`, both derived from `base`, as git's `ll_merge` does. For an
 * add/add (git's "two-way merge") pass an empty `base`. Binary inputs are never text-merged.
 */
export function mergeContent(base: Uint8Array, ours: Uint8Array, theirs: Uint8Array): ContentMergeResult {
  if (isBinary(base) || isBinary(ours) || isBinary(theirs)) return { clean: false, reason: 'binary' };
  const classifier = new Map<string, number>();
  const b = splitLines(base, classifier);
  const o = splitLines(ours, classifier);
  const t = splitLines(theirs, classifier);
  const script1 = diffLines(b.ids, o.ids);
  const script2 = diffLines(b.ids, t.ids);
  // xdl_merge: when one side has no changes the result is the other side, byte for byte.
  if (script1.length === 0) return { clean: true, content: theirs };
  if (script2.length === 0) return { clean: true, content: ours };
  const regions = buildMergeRegions(script1, script2, b.ids.length, o.ids, t.ids);
  refineConflicts(regions, o.ids, t.ids);
  if (regions.some((r) => r.mode === 0)) return { clean: false, reason: 'content' };
  return { clean: true, content: fillMergeBuffer(regions, o.lines, t.lines) };
}

interface Lines {
  lines: string[];
  ids: number[];
}

/** Splits a buffer into latin1 lines (each keeps its '\n') and gives equal lines equal ids. */
function splitLines(buf: Uint8Array, classifier: Map<string, number>): Lines {
  const text = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('latin1');
  const lines: string[] = [];
  let start = 0;
  while (start < text.length) {
    const nl = text.indexOf('\n', start);
    const end = nl < 0 ? text.length : nl + 1;
    lines.push(text.slice(start, end));
    start = end;
  }
  const ids = lines.map((line) => {
    let id = classifier.get(line);
    if (id === undefined) {
      id = classifier.size + 1;
      classifier.set(line, id);
    }
    return id;
  });
  return { lines, ids };
}

/** One hunk of an edit script: `chg1` lines at `i1` of file 1 became `chg2` lines at `i2` of file 2. */
export interface Change {
  i1: number;
  i2: number;
  chg1: number;
  chg2: number;
}

/**
 * Diffs two line-id sequences as `xdl_do_diff` with XDF_HISTOGRAM_DIFF followed by
 * `xdl_change_compact` both ways and `xdl_build_script`. Exported for tests.
 */
export function diffLines(a: number[], b: number[]): Change[] {
  // changed arrays carry a false sentinel at index 0 and n+1 (xdiff's rchg[-1] and rchg[n]).
  const changed1 = new Array<boolean>(a.length + 2).fill(false);
  const changed2 = new Array<boolean>(b.length + 2).fill(false);
  const env: DiffEnv = { a, b, changed1, changed2 };
  runHistogramDiff(env, 1, a.length, 1, b.length);
  compactChanges(a, changed1, changed2);
  compactChanges(b, changed2, changed1);
  return buildScript(changed1, changed2, a.length, b.length);
}

interface DiffEnv {
  a: number[];
  b: number[];
  /** changedN[line] for 1-based lines; index 0 and n+1 are sentinels. */
  changed1: boolean[];
  changed2: boolean[];
}

interface Region {
  begin1: number;
  end1: number;
  begin2: number;
  end2: number;
}

/** xhistogram.c histogram_diff over 1-based line ranges, with its tail recursion unrolled. */
function runHistogramDiff(env: DiffEnv, line1: number, count1: number, line2: number, count2: number): void {
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
    const lcs: Region = { begin1: 0, end1: 0, begin2: 0, end2: 0 };
    const found = findLcs(env, lcs, line1, count1, line2, count2);
    if (found === 'fallback') {
      runClassicDiff(env, line1, count1, line2, count2);
      return;
    }
    if (lcs.begin1 === 0 && lcs.begin2 === 0) {
      markChanged(env.changed1, line1, count1);
      markChanged(env.changed2, line2, count2);
      return;
    }
    runHistogramDiff(env, line1, lcs.begin1 - line1, line2, lcs.begin2 - line2);
    const end1 = line1 + count1 - 1;
    const end2 = line2 + count2 - 1;
    count1 = end1 - lcs.end1;
    line1 = lcs.end1 + 1;
    count2 = end2 - lcs.end2;
    line2 = lcs.end2 + 1;
  }
}

function markChanged(changed: boolean[], line: number, count: number): void {
  for (let i = 0; i < count; i++) changed[line + i] = true;
}

const MAX_CHAIN_LENGTH = 64;

interface HistRecord {
  ptr: number;
  cnt: number;
}

/**
 * xhistogram.c find_lcs + scanA + try_lcs. Records are keyed by line id (git keys a hash
 * table by it; only the record of the same line can ever match, so chain order is moot).
 */
function findLcs(env: DiffEnv, lcs: Region, line1: number, count1: number, line2: number, count2: number): 'found' | 'fallback' {
  const { a, b } = env;
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
  for (let bPtr = line2; bPtr <= end2; ) {
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

const XDL_MAX_COST_MIN = 256;
const XDL_HEUR_MIN_COST = 256;
const XDL_LINE_MAX = Number.MAX_SAFE_INTEGER;
const XDL_SNAKE_CNT = 20;
const XDL_K_HEUR = 4;

interface ClassicEnv {
  a: number[];
  b: number[];
  changed1: boolean[];
  changed2: boolean[];
  kvdf: Map<number, number>;
  kvdb: Map<number, number>;
  mxcost: number;
}

/**
 * xdl_fall_back_diff: classic Myers diff (xdl_recs_cmp/xdl_split with git's heuristics) on
 * the sub-range. Git also runs xdl_cleanup_records there, which this port does not; it only
 * matters when every common line of a region occurs more than 64 times.
 */
function runClassicDiff(env: DiffEnv, line1: number, count1: number, line2: number, count2: number): void {
  const a = env.a.slice(line1 - 1, line1 - 1 + count1);
  const b = env.b.slice(line2 - 1, line2 - 1 + count2);
  const changed1 = new Array<boolean>(count1).fill(false);
  const changed2 = new Array<boolean>(count2).fill(false);
  const mxcost = Math.max(bogoSqrt(count1 + count2 + 3), XDL_MAX_COST_MIN);
  const cenv: ClassicEnv = { a, b, changed1, changed2, kvdf: new Map(), kvdb: new Map(), mxcost };
  compareRecords(cenv, 0, count1, 0, count2, false);
  changed1.forEach((c, i) => { if (c) env.changed1[line1 + i] = true; });
  changed2.forEach((c, i) => { if (c) env.changed2[line2 + i] = true; });
}

function bogoSqrt(n: number): number {
  let i = 1;
  for (; n > 0; n >>= 2) i <<= 1;
  return i;
}

/** xdl_recs_cmp: divide and conquer over the box (off1, off2)-(lim1, lim2). */
function compareRecords(env: ClassicEnv, off1: number, lim1: number, off2: number, lim2: number, needMin: boolean): void {
  const { a, b } = env;
  while (off1 < lim1 && off2 < lim2 && a[off1] === b[off2]) { off1++; off2++; }
  while (off1 < lim1 && off2 < lim2 && a[lim1 - 1] === b[lim2 - 1]) { lim1--; lim2--; }
  if (off1 === lim1) {
    for (; off2 < lim2; off2++) env.changed2[off2] = true;
  } else if (off2 === lim2) {
    for (; off1 < lim1; off1++) env.changed1[off1] = true;
  } else {
    const spl = splitBox(env, off1, lim1, off2, lim2, needMin);
    compareRecords(env, off1, spl.i1, off2, spl.i2, spl.minLo);
    compareRecords(env, spl.i1, lim1, spl.i2, lim2, spl.minHi);
  }
}

interface Split {
  i1: number;
  i2: number;
  minLo: boolean;
  minHi: boolean;
}

/** xdl_split: finds the middle snake, cutting the search short with git's heuristics. */
function splitBox(env: ClassicEnv, off1: number, lim1: number, off2: number, lim2: number, needMin: boolean): Split {
  const { a, b, kvdf, kvdb } = env;
  const kf = (d: number): number => kvdf.get(d) ?? 0;
  const kb = (d: number): number => kvdb.get(d) ?? 0;
  const dmin = off1 - lim2;
  const dmax = lim1 - off2;
  const fmid = off1 - off2;
  const bmid = lim1 - lim2;
  const odd = ((fmid - bmid) & 1) !== 0;
  let fmin = fmid, fmax = fmid, bmin = bmid, bmax = bmid;
  kvdf.set(fmid, off1);
  kvdb.set(bmid, lim1);
  for (let ec = 1; ; ec++) {
    let gotSnake = false;
    if (fmin > dmin) kvdf.set(--fmin - 1, -1); else ++fmin;
    if (fmax < dmax) kvdf.set(++fmax + 1, -1); else --fmax;
    for (let d = fmax; d >= fmin; d -= 2) {
      let i1 = kf(d - 1) >= kf(d + 1) ? kf(d - 1) + 1 : kf(d + 1);
      const prev1 = i1;
      let i2 = i1 - d;
      for (; i1 < lim1 && i2 < lim2 && a[i1] === b[i2]; i1++, i2++);
      if (i1 - prev1 > XDL_SNAKE_CNT) gotSnake = true;
      kvdf.set(d, i1);
      if (odd && bmin <= d && d <= bmax && kb(d) <= i1) return { i1, i2, minLo: true, minHi: true };
    }
    if (bmin > dmin) kvdb.set(--bmin - 1, XDL_LINE_MAX); else ++bmin;
    if (bmax < dmax) kvdb.set(++bmax + 1, XDL_LINE_MAX); else --bmax;
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
      const fwd = sampleForwardSnake(env, { off1, lim1, off2, lim2, fmin, fmax, fmid }, ec);
      if (fwd) return fwd;
      const bwd = sampleBackwardSnake(env, { off1, lim1, off2, lim2, bmin, bmax, bmid }, ec);
      if (bwd) return bwd;
    }
    if (ec >= env.mxcost) return pickFurthestReach(env, { off1, lim1, off2, lim2, fmin, fmax, bmin, bmax });
  }
}

function sampleForwardSnake(
  env: ClassicEnv,
  box: { off1: number; lim1: number; off2: number; lim2: number; fmin: number; fmax: number; fmid: number },
  ec: number,
): Split | undefined {
  const { a, b, kvdf } = env;
  let best = 0;
  let spl: Split | undefined;
  for (let d = box.fmax; d >= box.fmin; d -= 2) {
    const dd = d > box.fmid ? d - box.fmid : box.fmid - d;
    const i1 = kvdf.get(d) ?? 0;
    const i2 = i1 - d;
    const v = i1 - box.off1 + (i2 - box.off2) - dd;
    if (v > XDL_K_HEUR * ec && v > best && box.off1 + XDL_SNAKE_CNT <= i1 && i1 < box.lim1 &&
        box.off2 + XDL_SNAKE_CNT <= i2 && i2 < box.lim2) {
      for (let k = 1; a[i1 - k] === b[i2 - k]; k++) {
        if (k === XDL_SNAKE_CNT) {
          best = v;
          spl = { i1, i2, minLo: true, minHi: false };
          break;
        }
      }
    }
  }
  return spl;
}

function sampleBackwardSnake(
  env: ClassicEnv,
  box: { off1: number; lim1: number; off2: number; lim2: number; bmin: number; bmax: number; bmid: number },
  ec: number,
): Split | undefined {
  const { a, b, kvdb } = env;
  let best = 0;
  let spl: Split | undefined;
  for (let d = box.bmax; d >= box.bmin; d -= 2) {
    const dd = d > box.bmid ? d - box.bmid : box.bmid - d;
    const i1 = kvdb.get(d) ?? 0;
    const i2 = i1 - d;
    const v = box.lim1 - i1 + (box.lim2 - i2) - dd;
    if (v > XDL_K_HEUR * ec && v > best && box.off1 < i1 && i1 <= box.lim1 - XDL_SNAKE_CNT &&
        box.off2 < i2 && i2 <= box.lim2 - XDL_SNAKE_CNT) {
      for (let k = 0; a[i1 + k] === b[i2 + k]; k++) {
        if (k === XDL_SNAKE_CNT - 1) {
          best = v;
          spl = { i1, i2, minLo: false, minHi: true };
          break;
        }
      }
    }
  }
  return spl;
}

function pickFurthestReach(
  env: ClassicEnv,
  box: { off1: number; lim1: number; off2: number; lim2: number; fmin: number; fmax: number; bmin: number; bmax: number },
): Split {
  let fbest = -1, fbest1 = -1;
  for (let d = box.fmax; d >= box.fmin; d -= 2) {
    let i1 = Math.min(env.kvdf.get(d) ?? 0, box.lim1);
    let i2 = i1 - d;
    if (box.lim2 < i2) { i1 = box.lim2 + d; i2 = box.lim2; }
    if (fbest < i1 + i2) { fbest = i1 + i2; fbest1 = i1; }
  }
  let bbest = XDL_LINE_MAX, bbest1 = XDL_LINE_MAX;
  for (let d = box.bmax; d >= box.bmin; d -= 2) {
    let i1 = Math.max(box.off1, env.kvdb.get(d) ?? 0);
    let i2 = i1 - d;
    if (i2 < box.off2) { i1 = box.off2 + d; i2 = box.off2; }
    if (i1 + i2 < bbest) { bbest = i1 + i2; bbest1 = i1; }
  }
  if (box.lim1 + box.lim2 - bbest < fbest - (box.off1 + box.off2)) {
    return { i1: fbest1, i2: fbest - fbest1, minLo: true, minHi: false };
  }
  return { i1: bbest1, i2: bbest - bbest1, minLo: false, minHi: true };
}

/**
 * xdl_change_compact without XDF_INDENT_HEURISTIC: slides each group of changed lines up
 * and down, merging with neighbours, and aligns it with a change in the other file when it
 * can. `ids` and `changed` are this file's (1-based, sentinels at 0 and n+1).
 */
function compactChanges(ids: number[], changed: boolean[], otherChanged: boolean[]): void {
  const n = ids.length;
  const nOther = otherChanged.length - 2;
  // Work in 0-based group coordinates like xdiff: line k lives at changed[k + 1].
  const isChanged = (arr: boolean[], k: number): boolean => arr[k + 1];
  const setChanged = (arr: boolean[], k: number, v: boolean): void => { arr[k + 1] = v; };
  const same = (x: number, y: number): boolean => ids[x] === ids[y];
  const g = { start: 0, end: 0 };
  const go = { start: 0, end: 0 };
  const initGroup = (arr: boolean[], grp: { start: number; end: number }): void => {
    grp.start = grp.end = 0;
    while (isChanged(arr, grp.end)) grp.end++;
  };
  const nextGroup = (arr: boolean[], grp: { start: number; end: number }, len: number): boolean => {
    if (grp.end === len) return false;
    grp.start = grp.end + 1;
    for (grp.end = grp.start; isChanged(arr, grp.end); grp.end++);
    return true;
  };
  const previousGroup = (arr: boolean[], grp: { start: number; end: number }): boolean => {
    if (grp.start === 0) return false;
    grp.end = grp.start - 1;
    for (grp.start = grp.end; isChanged(arr, grp.start - 1); grp.start--);
    return true;
  };
  const slideDown = (): boolean => {
    if (g.end < n && same(g.start, g.end)) {
      setChanged(changed, g.start++, false);
      setChanged(changed, g.end++, true);
      while (isChanged(changed, g.end)) g.end++;
      return true;
    }
    return false;
  };
  const slideUp = (): boolean => {
    if (g.start > 0 && same(g.start - 1, g.end - 1)) {
      setChanged(changed, --g.start, true);
      setChanged(changed, --g.end, false);
      while (isChanged(changed, g.start - 1)) g.start--;
      return true;
    }
    return false;
  };
  initGroup(changed, g);
  initGroup(otherChanged, go);
  for (;;) {
    if (g.end !== g.start) {
      let groupSize: number;
      let earliestEnd: number;
      let endMatchingOther: number;
      do {
        groupSize = g.end - g.start;
        endMatchingOther = -1;
        while (slideUp()) previousGroup(otherChanged, go);
        earliestEnd = g.end;
        if (go.end > go.start) endMatchingOther = g.end;
        while (slideDown()) {
          nextGroup(otherChanged, go, nOther);
          if (go.end > go.start) endMatchingOther = g.end;
        }
      } while (groupSize !== g.end - g.start);
      if (g.end !== earliestEnd && endMatchingOther !== -1) {
        while (go.end === go.start) {
          slideUp();
          previousGroup(otherChanged, go);
        }
      }
    }
    if (!nextGroup(changed, g, n)) break;
    nextGroup(otherChanged, go, nOther);
  }
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

interface MergeRegion {
  /** 0 = conflict, 1 = take ours, 2 = take theirs, 4 = both sides made the same change. */
  mode: number;
  i0: number;
  chg0: number;
  i1: number;
  chg1: number;
  i2: number;
  chg2: number;
}

/** The first loop of xdl_do_merge: pairs up the two scripts into merge regions. */
function buildMergeRegions(x1: Change[], x2: Change[], n0: number, ours: number[], theirs: number[]): MergeRegion[] {
  const n1 = ours.length;
  const n2 = theirs.length;
  const regions: MergeRegion[] = [];
  let p1 = 0;
  let p2 = 0;
  while (p1 < x1.length && p2 < x2.length) {
    const s1 = x1[p1];
    const s2 = x2[p2];
    if (s1.i1 + s1.chg1 < s2.i1) {
      appendRegion(regions, 1, s1.i1, s1.chg1, s1.i2, s1.chg2, s2.i2 - s2.i1 + s1.i1, s1.chg1);
      p1++;
      continue;
    }
    if (s2.i1 + s2.chg1 < s1.i1) {
      appendRegion(regions, 2, s2.i1, s2.chg1, s1.i2 - s1.i1 + s2.i1, s2.chg1, s2.i2, s2.chg2);
      p2++;
      continue;
    }
    if (s1.i1 !== s2.i1 || s1.chg1 !== s2.chg1 || s1.chg2 !== s2.chg2 || !sameIds(ours, s1.i2, theirs, s2.i2, s1.chg2)) {
      appendConflict(regions, s1, s2);
    }
    const end1 = s1.i1 + s1.chg1;
    const end2 = s2.i1 + s2.chg1;
    if (end1 >= end2) p2++;
    if (end2 >= end1) p1++;
  }
  for (; p1 < x1.length; p1++) {
    const s1 = x1[p1];
    appendRegion(regions, 1, s1.i1, s1.chg1, s1.i2, s1.chg2, s1.i1 + n2 - n0, s1.chg1);
  }
  for (; p2 < x2.length; p2++) {
    const s2 = x2[p2];
    appendRegion(regions, 2, s2.i1, s2.chg1, s2.i1 + n1 - n0, s2.chg1, s2.i2, s2.chg2);
  }
  return regions;
}

/** Lines are equal iff their ids are (one classifier serves all three files). */
function sameIds(x: number[], ix: number, y: number[], iy: number, count: number): boolean {
  for (let k = 0; k < count; k++) if (x[ix + k] !== y[iy + k]) return false;
  return true;
}

function appendConflict(regions: MergeRegion[], s1: Change, s2: Change): void {
  const off = s1.i1 - s2.i1;
  const ffo = off + s1.chg1 - s2.chg1;
  let i0 = s1.i1;
  let i1 = s1.i2;
  let i2 = s2.i2;
  if (off > 0) {
    i0 -= off;
    i1 -= off;
  } else {
    i2 += off;
  }
  let chg0 = s1.i1 + s1.chg1 - i0;
  let chg1 = s1.i2 + s1.chg2 - i1;
  let chg2 = s2.i2 + s2.chg2 - i2;
  if (ffo < 0) {
    chg0 -= ffo;
    chg1 -= ffo;
  } else {
    chg2 += ffo;
  }
  appendRegion(regions, 0, i0, chg0, i1, chg1, i2, chg2);
}

/** xdl_append_merge: touching or overlapping regions fuse, and fusing different modes conflicts. */
function appendRegion(regions: MergeRegion[], mode: number, i0: number, chg0: number, i1: number, chg1: number, i2: number, chg2: number): void {
  const m = regions[regions.length - 1];
  if (m && (i1 <= m.i1 + m.chg1 || i2 <= m.i2 + m.chg2)) {
    if (mode !== m.mode) m.mode = 0;
    m.chg0 = i0 + chg0 - m.i0;
    m.chg1 = i1 + chg1 - m.i1;
    m.chg2 = i2 + chg2 - m.i2;
  } else {
    regions.push({ mode, i0, chg0, i1, chg1, i2, chg2 });
  }
}

/**
 * xdl_refine_conflicts, reduced to the decision: a conflict whose two sides hold the same
 * lines is resolved (mode 4); any other conflict stays one (git would only split it).
 */
function refineConflicts(regions: MergeRegion[], ours: number[], theirs: number[]): void {
  for (const m of regions) {
    if (m.mode !== 0 || m.chg1 === 0 || m.chg2 === 0) continue;
    if (m.chg1 === m.chg2 && sameIds(ours, m.i1, theirs, m.i2, m.chg1)) m.mode = 4;
  }
}

/** xdl_fill_merge_buffer for a merge without conflicts. */
function fillMergeBuffer(regions: MergeRegion[], ours: string[], theirs: string[]): Uint8Array {
  const out: string[] = [];
  let i = 0;
  for (const m of regions) {
    if (m.mode === 1) {
      pushRange(out, ours, i, m.i1 + m.chg1 - i);
    } else if (m.mode === 2) {
      pushRange(out, theirs, m.i2 - m.i1 + i, m.i1 + m.chg2 - i);
    } else {
      continue;
    }
    i = m.i1 + m.chg1;
  }
  pushRange(out, ours, i, ours.length - i);
  return new Uint8Array(Buffer.from(out.join(''), 'latin1'));
}

function pushRange(out: string[], lines: string[], start: number, count: number): void {
  for (let k = 0; k < count; k++) out.push(lines[start + k]);
}
