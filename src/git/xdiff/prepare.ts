/**
 * Splitting a file into records and classifying them (git's xdiff/xprepare.c,
 * xdl_prepare_ctx/xdl_classify_record): equal lines get equal ids, so the diff and merge
 * compare numbers. One classifier serves all the files of a merge.
 *
 * Lines are byte sequences that include their '\n' (held as latin1 strings, one char per
 * byte); a last line without '\n' is a different line from the same text with one.
 */

export interface ClassifiedLines {
  lines: string[];
  ids: number[];
}

/** Line text to id; ids start at 1. */
export type LineClassifier = Map<string, number>;

/** Splits a buffer into latin1 lines (each keeps its '\n') and gives equal lines equal ids. */
export function classifyLines(buf: Uint8Array, classifier: LineClassifier): ClassifiedLines {
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
