/**
 * The shapes the xdiff ports share (git's xdiff/xtypes.h and xdiffi.h): lines as ids, the
 * changed-line marks of a diff in progress, and the hunks of an edit script.
 */

/** One hunk of an edit script (xdchange_t): `chg1` lines at `i1` of file 1 became `chg2` lines at `i2` of file 2. */
export interface Change {
  i1: number;
  i2: number;
  chg1: number;
  chg2: number;
}

/** The two files of a diff in progress (xdfenv_t): their line ids and which lines changed. */
export interface DiffEnv {
  a: number[];
  b: number[];
  /** changedN[line] for 1-based lines; index 0 and n+1 are sentinels (xdiff's rchg[-1] and rchg[n]). */
  changed1: boolean[];
  changed2: boolean[];
}

/** A sub-range of both files to diff: 1-based first lines and line counts. */
export interface LineRanges {
  line1: number;
  count1: number;
  line2: number;
  count2: number;
}
