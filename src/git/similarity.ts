/**
 * Git's rename similarity score: a port of diffcore-delta.c (`hash_chars`,
 * `diffcore_count_changes`) and diffcore-rename.c (`estimate_similarity`). Scores range over
 * 0..MAX_SCORE; git's default rename threshold (50%) is MAX_SCORE / 2.
 */
import { isBinary } from './content-merge.js';

/** Git's 100% similarity. */
export const MAX_SCORE = 60000;
/** Git's default `-M` threshold, 50%. */
export const DEFAULT_RENAME_SCORE = 30000;

/** A prime between 2^16 and 2^17 (diffcore-delta.c). */
const HASHBASE = 107927;

/**
 * Cuts a buffer into spans ending at '\n' or after 64 bytes and counts bytes per span hash,
 * as `hash_chars` does. A trailing span without '\n' shorter than 64 bytes is not counted
 * (git does not count it either). In text, the CR of a CRLF pair is skipped.
 */
export function hashSpans(buf: Uint8Array): Map<number, number> {
  const counts = new Map<number, number>();
  const isText = !isBinary(buf);
  let n = 0;
  let accum1 = 0;
  let accum2 = 0;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (isText && c === 13 && i + 1 < buf.length && buf[i + 1] === 10) continue;
    const old1 = accum1;
    accum1 = ((accum1 << 7) ^ (accum2 >>> 25)) >>> 0;
    accum2 = ((accum2 << 7) ^ (old1 >>> 25)) >>> 0;
    accum1 = (accum1 + c) >>> 0;
    if (++n < 64 && c !== 10) continue;
    const hashval = ((accum1 + Math.imul(accum2, 0x61)) >>> 0) % HASHBASE;
    counts.set(hashval, (counts.get(hashval) ?? 0) + n);
    n = 0;
    accum1 = accum2 = 0;
  }
  return counts;
}

/** `diffcore_count_changes`: bytes of `src` found in `dst`, and bytes `dst` added. */
export function countChanges(src: Map<number, number>, dst: Map<number, number>): { srcCopied: number; literalAdded: number } {
  let srcCopied = 0;
  let literalAdded = 0;
  for (const [hash, srcCnt] of src) {
    const dstCnt = dst.get(hash) ?? 0;
    if (srcCnt < dstCnt) {
      literalAdded += dstCnt - srcCnt;
      srcCopied += srcCnt;
    } else {
      srcCopied += dstCnt;
    }
  }
  for (const [hash, dstCnt] of dst) if (!src.has(hash)) literalAdded += dstCnt;
  return { srcCopied, literalAdded };
}

/**
 * `estimate_similarity` for two regular files: 0 when their sizes alone rule out reaching
 * `minimumScore`, else `srcCopied * MAX_SCORE / max(size)`. Callers must pass regular files
 * only (git scores symlinks and submodules 0: they rename only on exact matches).
 */
export function estimateSimilarity(src: Uint8Array, dst: Uint8Array, minimumScore: number, cache?: SpanCache): number {
  const maxSize = Math.max(src.length, dst.length);
  const baseSize = Math.min(src.length, dst.length);
  const deltaSize = maxSize - baseSize;
  if (maxSize * (MAX_SCORE - minimumScore) < deltaSize * MAX_SCORE) return 0;
  if (dst.length === 0) return 0;
  const srcSpans = cache ? cache.spans(src) : hashSpans(src);
  const dstSpans = cache ? cache.spans(dst) : hashSpans(dst);
  const { srcCopied } = countChanges(srcSpans, dstSpans);
  return Math.floor((srcCopied * MAX_SCORE) / maxSize);
}

/** Remembers span counts per buffer, as git keeps `cnt_data` on each filespec. */
export class SpanCache {
  private readonly map = new WeakMap<Uint8Array, Map<number, number>>();

  spans(buf: Uint8Array): Map<number, number> {
    let spans = this.map.get(buf);
    if (!spans) {
      spans = hashSpans(buf);
      this.map.set(buf, spans);
    }
    return spans;
  }
}
