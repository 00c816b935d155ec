/**
 * Change compaction, ported from git's xdiff/xdiffi.c (xdl_change_compact and its group_*
 * helpers) without XDF_INDENT_HEURISTIC, which merges do not use: slides each group of changed
 * lines up and down, merging with neighbours, and aligns it with a change in the other file
 * when it can.
 */

/** A run of changed lines [start, end), 0-based; start === end is an empty group between lines. */
interface Group {
  start: number;
  end: number;
}

/** `ids` and `changed` are this file's (1-based, sentinels at 0 and n+1). */
export function compactChanges(ids: number[], changed: boolean[], otherChanged: boolean[]): void {
  const n = ids.length;
  const nOther = otherChanged.length - 2;
  // Work in 0-based group coordinates like xdiff: line k lives at changed[k + 1].
  const isChanged = (arr: boolean[], k: number): boolean => arr[k + 1];
  const setChanged = (arr: boolean[], k: number, v: boolean): void => { arr[k + 1] = v; };
  const same = (x: number, y: number): boolean => ids[x] === ids[y];
  const g: Group = { start: 0, end: 0 };
  const go: Group = { start: 0, end: 0 };
  const initGroup = (arr: boolean[], grp: Group): void => {
    grp.start = grp.end = 0;
    while (isChanged(arr, grp.end)) grp.end++;
  };
  const nextGroup = (arr: boolean[], grp: Group, len: number): boolean => {
    if (grp.end === len) return false;
    grp.start = grp.end + 1;
    for (grp.end = grp.start; isChanged(arr, grp.end); grp.end++);
    return true;
  };
  const previousGroup = (arr: boolean[], grp: Group): boolean => {
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
