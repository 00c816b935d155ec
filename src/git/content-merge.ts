/**
 * Three-way merge of file contents that makes the same decisions as git's merge-ort
 * (`ll_merge` -> xdiff `xdl_merge` at level XDL_MERGE_ZEALOUS, default conflict style,
 * histogram diff). The public entry of the xdiff port in ./xdiff/: prepare.ts (xprepare.c),
 * histogram.ts (xhistogram.c), myers.ts and compaction.ts and diff.ts (xdiffi.c), merge.ts
 * (xmerge.c). Binary inputs are refused first, as `ll_merge` does.
 *
 * Lines are byte sequences that include their '\n'; a last line without '\n' is a different
 * line from the same text with one. Conflicted merges return no content: the engine never
 * writes conflict markers.
 */
import { mergeLines } from './xdiff/merge.js';

export { diffLines } from './xdiff/diff.js';
export type { Change } from './xdiff/types.js';

/** Bytes git inspects to decide a buffer is binary (`buffer_is_binary`). */
const FIRST_FEW_BYTES = 8000;

/** Outcome of {@link mergeContent}. */
export type ContentMergeResult = { clean: true; content: Uint8Array } | { clean: false; reason: 'content' | 'binary' };

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
  const outcome = mergeLines(base, ours, theirs);
  if (outcome.kind === 'conflict') return { clean: false, reason: 'content' };
  return { clean: true, content: outcome.content };
}
