/**
 * Bytes received and not yet consumed, as a list of chunks: a streaming reader (pkt-lines, a
 * pack's objects) asks for the first n bytes and merges only the chunks that span them, so the
 * bytes of a response are copied a bounded number of times, not once per read.
 */
export class ByteQueue {
  private chunks: Buffer[] = [];
  length = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** The first `n` bytes (n <= length) as one buffer, merging leading chunks if needed. */
  head(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    if (this.chunks[0].length < n) {
      let count = 0;
      let merged = 0;
      while (merged < n) merged += this.chunks[count++].length;
      this.chunks.splice(0, count, Buffer.concat(this.chunks.slice(0, count), merged));
    }
    return this.chunks[0].subarray(0, n);
  }

  consume(n: number): void {
    this.length -= n;
    while (n > 0) {
      const first = this.chunks[0];
      if (first.length <= n) {
        this.chunks.shift();
        n -= first.length;
      } else {
        this.chunks[0] = first.subarray(n);
        n = 0;
      }
    }
  }
}
