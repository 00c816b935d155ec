/**
 * Three-way merge of line sequences, ported from git's xdiff/xmerge.c (xdl_merge and
 * xdl_do_merge at level XDL_MERGE_ZEALOUS, default conflict style): diff base against each
 * side (./diff.ts), pair the two edit scripts into merge regions, resolve the conflicts whose
 * sides made the same change, and fill the result. A merge with a conflict has no content:
 * the engine never writes conflict markers.
 */
import { diffLines } from './diff.js';
import { classifyLines, type ClassifiedLines, type LineClassifier } from './prepare.js';
import type { Change } from './types.js';

/**
 * How a merge region is resolved (xdmerge_t.mode: 0 conflict, 1 ours, 2 theirs, 4 both sides
 * made the same change, found by xdl_refine_conflicts).
 */
export type MergeMode = 'conflict' | 'ours' | 'theirs' | 'same-change';

/** `count` lines from `start` (0-based) of one file. */
export interface LineRange {
  start: number;
  count: number;
}

/** One region where the sides differ from base (xdmerge_t: i0/chg0, i1/chg1, i2/chg2). */
export interface MergeRegion {
  mode: MergeMode;
  base: LineRange;
  ours: LineRange;
  theirs: LineRange;
}

/** Outcome of {@link mergeLines}. */
export type LineMergeOutcome = { kind: 'merged'; content: Uint8Array } | { kind: 'conflict' };

/** Merges `ours` and `theirs`, both derived from `base`; for an add/add pass an empty `base`. */
export function mergeLines(base: Uint8Array, ours: Uint8Array, theirs: Uint8Array): LineMergeOutcome {
  const classifier: LineClassifier = new Map();
  const b = classifyLines(base, classifier);
  const o = classifyLines(ours, classifier);
  const t = classifyLines(theirs, classifier);
  const oursScript = diffLines(b.ids, o.ids);
  const theirsScript = diffLines(b.ids, t.ids);
  // xdl_merge: when one side has no changes the result is the other side, byte for byte.
  if (oursScript.length === 0) return { kind: 'merged', content: theirs };
  if (theirsScript.length === 0) return { kind: 'merged', content: ours };
  const regions = buildMergeRegions(oursScript, theirsScript, b, o, t);
  refineConflicts(regions, o.ids, t.ids);
  if (regions.some((r) => r.mode === 'conflict')) return { kind: 'conflict' };
  return { kind: 'merged', content: fillMergeBuffer(regions, o.lines, t.lines) };
}

function range(start: number, count: number): LineRange {
  return { start, count };
}

function rangeEnd(r: LineRange): number {
  return r.start + r.count;
}

/**
 * The first loop of xdl_do_merge: pairs up the two scripts (base -> ours, base -> theirs) into
 * merge regions. A hunk of one side that overlaps none of the other takes that side; overlapping
 * hunks that are not the same change conflict.
 */
function buildMergeRegions(x1: Change[], x2: Change[], base: ClassifiedLines, ours: ClassifiedLines, theirs: ClassifiedLines): MergeRegion[] {
  const n0 = base.ids.length;
  const n1 = ours.ids.length;
  const n2 = theirs.ids.length;
  const regions: MergeRegion[] = [];
  let p1 = 0;
  let p2 = 0;
  while (p1 < x1.length && p2 < x2.length) {
    const s1 = x1[p1];
    const s2 = x2[p2];
    if (s1.i1 + s1.chg1 < s2.i1) {
      appendRegion(regions, { mode: 'ours', base: range(s1.i1, s1.chg1), ours: range(s1.i2, s1.chg2), theirs: range(s2.i2 - s2.i1 + s1.i1, s1.chg1) });
      p1++;
      continue;
    }
    if (s2.i1 + s2.chg1 < s1.i1) {
      appendRegion(regions, { mode: 'theirs', base: range(s2.i1, s2.chg1), ours: range(s1.i2 - s1.i1 + s2.i1, s2.chg1), theirs: range(s2.i2, s2.chg2) });
      p2++;
      continue;
    }
    if (s1.i1 !== s2.i1 || s1.chg1 !== s2.chg1 || s1.chg2 !== s2.chg2 || !sameIds(ours.ids, s1.i2, theirs.ids, s2.i2, s1.chg2)) {
      appendRegion(regions, conflictRegion(s1, s2));
    }
    const end1 = s1.i1 + s1.chg1;
    const end2 = s2.i1 + s2.chg1;
    if (end1 >= end2) p2++;
    if (end2 >= end1) p1++;
  }
  for (; p1 < x1.length; p1++) {
    const s1 = x1[p1];
    appendRegion(regions, { mode: 'ours', base: range(s1.i1, s1.chg1), ours: range(s1.i2, s1.chg2), theirs: range(s1.i1 + n2 - n0, s1.chg1) });
  }
  for (; p2 < x2.length; p2++) {
    const s2 = x2[p2];
    appendRegion(regions, { mode: 'theirs', base: range(s2.i1, s2.chg1), ours: range(s2.i1 + n1 - n0, s2.chg1), theirs: range(s2.i2, s2.chg2) });
  }
  return regions;
}

/** Lines are equal iff their ids are (one classifier serves all three files). */
function sameIds(x: number[], ix: number, y: number[], iy: number, count: number): boolean {
  for (let k = 0; k < count; k++) if (x[ix + k] !== y[iy + k]) return false;
  return true;
}

/** The region two overlapping hunks cover, widened on each side to span both. */
function conflictRegion(s1: Change, s2: Change): MergeRegion {
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
  return { mode: 'conflict', base: range(i0, chg0), ours: range(i1, chg1), theirs: range(i2, chg2) };
}

/** xdl_append_merge: touching or overlapping regions fuse, and fusing different modes conflicts. */
function appendRegion(regions: MergeRegion[], next: MergeRegion): void {
  const last = regions[regions.length - 1];
  if (last && (next.ours.start <= rangeEnd(last.ours) || next.theirs.start <= rangeEnd(last.theirs))) {
    if (next.mode !== last.mode) last.mode = 'conflict';
    last.base.count = rangeEnd(next.base) - last.base.start;
    last.ours.count = rangeEnd(next.ours) - last.ours.start;
    last.theirs.count = rangeEnd(next.theirs) - last.theirs.start;
  } else {
    regions.push(next);
  }
}

/**
 * xdl_refine_conflicts, reduced to the decision: a conflict whose two sides hold the same
 * lines is resolved ('same-change'); any other conflict stays one (git would only split it).
 */
function refineConflicts(regions: MergeRegion[], ours: number[], theirs: number[]): void {
  for (const m of regions) {
    if (m.mode !== 'conflict' || m.ours.count === 0 || m.theirs.count === 0) continue;
    if (m.ours.count === m.theirs.count && sameIds(ours, m.ours.start, theirs, m.theirs.start, m.ours.count)) m.mode = 'same-change';
  }
}

/**
 * xdl_fill_merge_buffer for a merge without conflicts: ours, with each 'theirs' region swapped
 * in ('same-change' regions hold the same lines on both sides, so ours serves).
 */
function fillMergeBuffer(regions: MergeRegion[], ours: string[], theirs: string[]): Uint8Array {
  const out: string[] = [];
  let i = 0;
  for (const m of regions) {
    if (m.mode === 'ours') {
      pushRange(out, ours, i, rangeEnd(m.ours) - i);
    } else if (m.mode === 'theirs') {
      pushRange(out, theirs, m.theirs.start - m.ours.start + i, m.ours.start + m.theirs.count - i);
    } else {
      continue;
    }
    i = rangeEnd(m.ours);
  }
  pushRange(out, ours, i, ours.length - i);
  return new Uint8Array(Buffer.from(out.join(''), 'latin1'));
}

function pushRange(out: string[], lines: string[], start: number, count: number): void {
  for (let k = 0; k < count; k++) out.push(lines[start + k]);
}
