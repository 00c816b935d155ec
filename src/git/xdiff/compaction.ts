/**
 * Change compaction, ported from git's xdiff/xdiffi.c (xdl_change_compact and its group_*
 * helpers) without XDF_INDENT_HEURISTIC, which merges do not use: slides each group of changed
 * lines up and down, merging with neighbours, and aligns it with a change in the other file
 * when it can.
 *
 * Groups use 0-based line numbers like xdiff; `changed` arrays are 1-based with sentinels at 0
 * and n+1 (line k lives at changed[k + 1], so changed[0] is xdiff's rchg[-1]).
 */

/** A run of changed lines [start, end); start === end is an empty group between lines. */
interface Group {
  start: number;
  end: number;
}

/** One file as compaction sees it: its line ids and changed-line marks. */
interface CompactedFile {
  ids: number[];
  changed: boolean[];
}

function isChanged(changed: boolean[], k: number): boolean {
  return changed[k + 1];
}

function setChanged(changed: boolean[], k: number, value: boolean): void {
  changed[k + 1] = value;
}

/** group_init: the first group of the file (possibly empty, before line 0). */
function firstGroup(changed: boolean[]): Group {
  const g: Group = { start: 0, end: 0 };
  while (isChanged(changed, g.end)) g.end++;
  return g;
}

/** group_next: moves to the next group; false at the end of a file of `len` lines. */
function nextGroup(changed: boolean[], g: Group, len: number): boolean {
  if (g.end === len) return false;
  g.start = g.end + 1;
  for (g.end = g.start; isChanged(changed, g.end); g.end++);
  return true;
}

/** group_previous: moves to the previous group; false at the start of the file. */
function previousGroup(changed: boolean[], g: Group): boolean {
  if (g.start === 0) return false;
  g.end = g.start - 1;
  for (g.start = g.end; isChanged(changed, g.start - 1); g.start--);
  return true;
}

/** group_slide_down: shifts the group one line down when the line after it equals its first. */
function slideDown(file: CompactedFile, g: Group): boolean {
  if (g.end < file.ids.length && file.ids[g.start] === file.ids[g.end]) {
    setChanged(file.changed, g.start++, false);
    setChanged(file.changed, g.end++, true);
    while (isChanged(file.changed, g.end)) g.end++;
    return true;
  }
  return false;
}

/** group_slide_up: shifts the group one line up when the line before it equals its last. */
function slideUp(file: CompactedFile, g: Group): boolean {
  if (g.start > 0 && file.ids[g.start - 1] === file.ids[g.end - 1]) {
    setChanged(file.changed, --g.start, true);
    setChanged(file.changed, --g.end, false);
    while (isChanged(file.changed, g.start - 1)) g.start--;
    return true;
  }
  return false;
}

/** `ids` and `changed` are this file's; `otherChanged` the other file's marks, kept in step. */
export function compactChanges(ids: number[], changed: boolean[], otherChanged: boolean[]): void {
  const file: CompactedFile = { ids, changed };
  const n = ids.length;
  const nOther = otherChanged.length - 2;
  const g = firstGroup(changed);
  const go = firstGroup(otherChanged);
  for (;;) {
    if (g.end !== g.start) {
      let groupSize: number;
      let earliestEnd: number;
      let endMatchingOther: number;
      do {
        groupSize = g.end - g.start;
        endMatchingOther = -1;
        while (slideUp(file, g)) previousGroup(otherChanged, go);
        earliestEnd = g.end;
        if (go.end > go.start) endMatchingOther = g.end;
        while (slideDown(file, g)) {
          nextGroup(otherChanged, go, nOther);
          if (go.end > go.start) endMatchingOther = g.end;
        }
      } while (groupSize !== g.end - g.start);
      // Align the group with a change in the other file when one was passed on the way.
      if (g.end !== earliestEnd && endMatchingOther !== -1) {
        while (go.end === go.start) {
          slideUp(file, g);
          previousGroup(otherChanged, go);
        }
      }
    }
    if (!nextGroup(changed, g, n)) break;
    nextGroup(otherChanged, go, nOther);
  }
}
