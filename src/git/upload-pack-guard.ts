/**
 * Watches an upload-pack response as it streams in and refuses a pack bomb before isomorphic-git
 * keeps or inflates it: isomorphic-git collects the whole pack, then inflates every object with
 * no output limit while indexing (a 1 GiB object fits in a 200 KiB pack), so the limits must be
 * checked here, on the wire. The bytes pass through unchanged.
 *
 * The response is pkt-lines (ACK/NAK/shallow lines, then side-band packets: 1 pack data,
 * 2 progress, 3 error), as isomorphic-git's GitSideBand.demux reads it. The pack inside is git's
 * format (Documentation/gitformat-pack.txt): "PACK", version, object count, then per object a
 * type-and-size header, a base reference for deltas, and a zlib stream. Each zlib stream is
 * inflated here with its output capped at the size the header declares (itself capped at
 * `maxObjectBytes`); a delta's result size, from the delta's own header, is capped the same way.
 * Like git's index-pack, the guard checks what the pack declares and what it really holds.
 */
import { inflateSync } from 'node:zlib';
import { RemoteError, TransferLimitExceededError } from './errors.js';

export interface UploadPackGuardOptions {
  /** Shown in errors (no credentials). */
  url: string;
  maxObjectBytes: number;
  maxObjects: number;
}

const OBJ_OFS_DELTA = 6;
const OBJ_REF_DELTA = 7;
/** Type-and-size header (at most 10 bytes for 64 bits) plus the longest base reference (20). */
const MAX_OBJECT_HEADER = 32;

type State = 'pack-header' | 'object-header' | 'object-data' | 'trailer';

export class UploadPackGuard {
  private readonly lines = new ByteQueue();
  private readonly pack = new ByteQueue();
  private state: State = 'pack-header';
  private remaining = 0;
  private declaredSize = 0;
  private isDelta = false;
  /** Compressed bytes available at the last incomplete inflate attempt of this object. */
  private attempted = 0;

  constructor(private readonly options: UploadPackGuardOptions) {}

  /** Checks the next chunk of the response; throws TransferLimitExceededError or RemoteError. */
  check(chunk: Uint8Array): void {
    this.lines.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    for (;;) {
      const packet = this.nextPacket();
      if (packet === undefined) break;
      // Side band 1 carries the pack; 2 and 3 are messages; text lines come before.
      if (packet.length > 0 && packet[0] === 1) {
        this.pack.push(packet.subarray(1));
        this.advance(false);
      }
    }
  }

  /** The response ended: a pack cut short inside an object is checked with what arrived. */
  finish(): void {
    if (this.state === 'object-data') this.advance(true);
  }

  /** The next pkt-line payload; an empty buffer for flush/delim; undefined when incomplete. */
  private nextPacket(): Buffer | undefined {
    if (this.lines.length < 4) return undefined;
    const hex = this.lines.head(4).toString('latin1');
    if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw this.corrupt('the response is not in pkt-line format');
    const length = parseInt(hex, 16);
    if (length < 4) {
      this.lines.consume(4);
      return Buffer.alloc(0);
    }
    if (this.lines.length < length) return undefined;
    const packet = Buffer.from(this.lines.head(length).subarray(4));
    this.lines.consume(length);
    return packet;
  }

  private advance(ended: boolean): void {
    for (;;) {
      if (this.state === 'pack-header') {
        if (this.pack.length < 12) return;
        const header = this.pack.head(12);
        if (header.toString('latin1', 0, 4) !== 'PACK') throw this.corrupt('the pack does not start with PACK');
        this.remaining = header.readUInt32BE(8);
        if (this.remaining > this.options.maxObjects) throw this.exceeded('objects', this.options.maxObjects);
        this.pack.consume(12);
        this.state = this.remaining > 0 ? 'object-header' : 'trailer';
      } else if (this.state === 'object-header') {
        if (!this.readObjectHeader(ended)) return;
      } else if (this.state === 'object-data') {
        if (!this.inflateObject(ended)) return;
      } else {
        // The trailing checksum and anything after it: nothing left to inflate.
        this.pack.consume(this.pack.length);
        return;
      }
    }
  }

  private readObjectHeader(ended: boolean): boolean {
    const available = Math.min(this.pack.length, MAX_OBJECT_HEADER);
    const bytes = this.pack.head(available);
    let offset = 0;
    const next = (): number | undefined => (offset < bytes.length ? bytes[offset++] : undefined);
    let byte = next();
    if (byte === undefined) return false;
    const type = (byte >> 4) & 7;
    let size = byte & 15;
    let shift = 4;
    while (byte & 0x80) {
      byte = next();
      if (byte === undefined) return this.needMore(available, ended);
      if (shift > 49) throw this.corrupt('an object size does not fit in 53 bits');
      size += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    }
    if (type === 0 || type === 5) throw this.corrupt(`unknown object type ${type}`);
    if (size > this.options.maxObjectBytes) throw this.exceeded('object', this.options.maxObjectBytes);
    if (type === OBJ_OFS_DELTA) {
      do {
        byte = next();
        if (byte === undefined) return this.needMore(available, ended);
      } while (byte & 0x80);
    } else if (type === OBJ_REF_DELTA) {
      if (bytes.length - offset < 20) return this.needMore(available, ended);
      offset += 20;
    }
    this.pack.consume(offset);
    this.declaredSize = size;
    this.isDelta = type === OBJ_OFS_DELTA || type === OBJ_REF_DELTA;
    this.attempted = 0;
    this.state = 'object-data';
    return true;
  }

  private needMore(available: number, ended: boolean): false {
    if (ended || available >= MAX_OBJECT_HEADER) throw this.corrupt('an object header is truncated or too long');
    return false;
  }

  /**
   * Inflates the current object from the bytes that arrived, its output capped at its declared
   * size. An incomplete stream is retried once twice as many bytes are there (so a large
   * object is inflated a bounded number of times, not once per chunk).
   */
  private inflateObject(ended: boolean): boolean {
    const available = this.pack.length;
    if (!ended && (available === 0 || available < this.attempted * 2)) return false;
    let result: { buffer: Buffer; engine: { bytesWritten: number } };
    try {
      result = inflateSync(this.pack.head(available), { info: true, maxOutputLength: Math.max(1, this.declaredSize + 1) }) as unknown as typeof result;
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'ERR_BUFFER_TOO_LARGE') throw this.corrupt('an object inflates beyond the size its header declares');
      if (code === 'Z_BUF_ERROR' && !ended) {
        this.attempted = available;
        return false;
      }
      throw this.corrupt(`an object does not inflate (${code ?? 'zlib error'})`);
    }
    if (result.buffer.length !== this.declaredSize) throw this.corrupt('an object inflates to a size other than its header declares');
    if (this.isDelta) this.checkDeltaResult(result.buffer);
    this.pack.consume(result.engine.bytesWritten);
    this.remaining--;
    this.state = this.remaining > 0 ? 'object-header' : 'trailer';
    return true;
  }

  /** A delta starts with two sizes (base, result); the result is what indexing allocates. */
  private checkDeltaResult(delta: Buffer): void {
    let offset = 0;
    const readSize = (): number => {
      let value = 0;
      let shift = 0;
      for (;;) {
        if (offset >= delta.length || shift > 49) throw this.corrupt('a delta header is truncated');
        const byte = delta[offset++];
        value += (byte & 0x7f) * 2 ** shift;
        shift += 7;
        if (!(byte & 0x80)) return value;
      }
    };
    readSize();
    if (readSize() > this.options.maxObjectBytes) throw this.exceeded('object', this.options.maxObjectBytes);
  }

  private exceeded(what: 'object' | 'objects', limit: number): TransferLimitExceededError {
    return new TransferLimitExceededError({ url: this.options.url, what, limit });
  }

  private corrupt(detail: string): RemoteError {
    return new RemoteError({ url: this.options.url, detail: `the pack is corrupt: ${detail}` });
  }
}

/** Chunks received and not yet consumed; merges only what a read needs. */
class ByteQueue {
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
