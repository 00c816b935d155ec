/**
 * Recently resolved objects of a pack being indexed, for the deltas that follow them (git writes a
 * delta soon after its base): one fixed buffer used as a ring, first in first out. Each entry is
 * stored as git hashes it, `<type> <size>\0<body>`, so its id is one hash call over the stored
 * bytes. A fixed buffer keeps the memory exact: bodies kept as their own Buffers were mostly
 * slices pinning larger pool blocks, and garbage the collector let grow.
 */
export class ObjectRing {
  private readonly ring: Buffer;
  /** Bytes ever written (a position that only grows; modulo the ring's size, where to write). */
  private head = 0;
  /** Per pack entry: where its record starts (same measure as `head`), -1 when not stored. */
  private readonly starts: Float64Array;
  private readonly headerLengths: Uint8Array;
  private readonly bodyLengths: Float64Array;

  constructor(
    entries: number,
    private readonly size: number,
  ) {
    this.ring = Buffer.allocUnsafeSlow(size);
    this.starts = new Float64Array(entries).fill(-1);
    this.headerLengths = new Uint8Array(entries);
    this.bodyLengths = new Float64Array(entries);
  }

  /**
   * Stores entry `index` and returns its record (header and body) in the ring, or undefined when
   * the body is too large to keep (over a quarter of the ring). `body` must not be in the ring.
   */
  store(index: number, type: string, body: Buffer): Buffer | undefined {
    const header = `${type} ${body.length}\0`;
    const length = header.length + body.length;
    if (length > this.size / 4) return undefined;
    let at = this.head % this.size;
    // A record never wraps: skip the ring's end.
    if (at + length > this.size) {
      this.head += this.size - at;
      at = 0;
    }
    this.ring.write(header, at, 'latin1');
    body.copy(this.ring, at + header.length);
    this.starts[index] = this.head;
    this.headerLengths[index] = header.length;
    this.bodyLengths[index] = body.length;
    this.head += length;
    return this.ring.subarray(at, at + length);
  }

  /** The body of entry `index` if it is still in the ring (a later record did not overwrite it). */
  body(index: number): Buffer | undefined {
    const start = this.starts[index];
    // Entries past the ring's count (bases appended to a thin pack) are never stored.
    if (start === undefined || start < 0 || this.head - start > this.size) return undefined;
    const at = (start % this.size) + this.headerLengths[index];
    return this.ring.subarray(at, at + this.bodyLengths[index]);
  }
}
