/**
 * Receives a fetched pack and indexes it as it streams in, as git's index-pack does: the bytes go
 * to a temporary file in `objects/pack` as they arrive, each object is inflated once (its output
 * capped at the size its header declares, itself capped by `maxObjectBytes`) and hashed, and the
 * `.idx` (./pack-index-writer.ts) is written when the pack's checksum has been verified. Only then
 * are the pack and its index renamed into place, so a fetch that fails leaves nothing behind.
 *
 * Memory stays flat in the pack's size: per object a few numbers in typed arrays, plus a bounded
 * cache of recently inflated objects. A delta whose base is in that cache (the usual case: git
 * writes a delta's base before it) is resolved at once; the others are resolved at the end from
 * the file. Everything a server controls is bounded: the number of objects, one object's size,
 * and the bytes all objects and deltas inflate to together (so that tiny deltas copying large
 * bases cannot keep a core busy); long work yields to the event loop, so the operation's
 * deadline can stop it.
 */
import { createHash, hash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { crc32, deflateSync } from 'node:zlib';
import { RemoteError, TransferLimitExceededError } from './errors.js';
import type { Fs } from './object-store.js';
import { DuplicateObjectError, encodePackIndex } from './pack-index-writer.js';
import { Inflater } from './inflater.js';
import { ObjectRing } from './object-ring.js';
import { applyDelta, declaredDeltaSize, readDeltaTargetSize } from './pack-reader.js';
import { encodeObjectHeader } from './pack-writer.js';
import { ByteQueue } from './wire/byte-queue.js';

export interface PackIndexerOptions {
  fs: Fs;
  gitdir: string;
  /** Shown in errors (no credentials). */
  url: string;
  maxObjectBytes: number;
  maxObjects: number;
  /** Bytes all objects and delta results of the pack may inflate to together. */
  maxInflatedBytes: number;
  /** Stops long indexing work (the operation's deadline). */
  signal?: AbortSignal;
  /**
   * An object the repository already has: the base of a thin pack's delta (a fetch that sends
   * haves asks for a thin pack). The base is appended to the pack, as `git index-pack
   * --fix-thin` does, so that the pack on disk holds every base it needs. Without it, a delta
   * whose base is not in the pack is refused.
   */
  existingObject?: (oid: string) => { type: string; body: Buffer } | null;
  onProgress?: (event: { phase: string; loaded: number; total?: number }) => void;
}

export interface IndexedPack {
  objects: number;
  /** `pack-<checksum>`, or undefined for an empty pack (nothing written). */
  name?: string;
}

const TYPE_NAMES = ['', 'commit', 'tree', 'blob', 'tag'];
const OFS_DELTA = 6;
const REF_DELTA = 7;
/** Type-and-size header (at most 10 bytes for 64 bits) plus the longest base reference (20). */
const MAX_OBJECT_HEADER = 32;
/** Recently inflated objects kept to resolve the deltas that follow them. */
const CACHE_BYTES = 16 << 20;
/** Inflated bytes between two yields to the event loop. */
const YIELD_EVERY_BYTES = 32 << 20;
const PROGRESS_EVERY = 1000;
/** Bytes gathered before parsing what arrived. */
const PARSE_BATCH_BYTES = 256 << 10;

type State = 'pack-header' | 'object-header' | 'object-data' | 'trailer';

/** Entry fields, one slot per object in pack order. */
interface Entries {
  offsets: Float64Array;
  /** Where the zlib stream starts, and its length: to inflate the entry again from the file. */
  dataStarts: Float64Array;
  dataLengths: Float64Array;
  /** Inflated size the header declares (a delta: the size of its instructions). */
  sizes: Float64Array;
  /** 1-4 for whole objects, 6 and 7 for deltas. */
  kinds: Uint8Array;
  /** The object's type (1-4) once known, 0 before (a delta not yet resolved). */
  types: Uint8Array;
  /** OFS_DELTA: the entry of its base; -1 otherwise. */
  bases: Int32Array;
  crcs: Uint32Array;
  oids: Buffer;
}

export class PackIndexer {
  private readonly queue = new ByteQueue();
  private state: State = 'pack-header';
  /** Pack offset of the first byte in the queue. */
  private position = 0;
  private count = 0;
  private next = 0;
  private entries?: Entries;
  /** The current object's header, between its header and its data. */
  private header = { kind: 0, size: 0, crc: 0, base: -1, refBase: undefined as Buffer | undefined };
  /** Compressed bytes available at the last incomplete inflate attempt of this object. */
  private attempted = 0;
  private readonly refBases = new Map<number, Buffer>();
  /** Where the pack's objects end (its checksum follows), and how many bases were appended. */
  private dataEnd = 0;
  private appended = 0;
  private readonly deferred: number[] = [];
  private byOid?: Map<string, number>;

  private readonly tempPath: string;
  private fd: number | undefined;
  private readonly packHash = createHash('sha1');
  /** The last bytes received, not hashed yet: the pack's checksum when the stream ends. */
  private tail = Buffer.alloc(0);

  private ring?: ObjectRing;
  private readonly inflater = new Inflater();
  /** Where objects are inflated, and pack bytes read back from the file: reused buffers. */
  private inflateOutput = Buffer.alloc(0);
  private readBuffer = Buffer.alloc(0);
  /** Where deltas are applied: one buffer reused, the result then kept in the ring. */
  private scratch = Buffer.alloc(0);
  private inflated = 0;
  private sinceYield = 0;
  private failed = false;

  constructor(private readonly options: PackIndexerOptions) {
    const packDir = join(options.gitdir, 'objects', 'pack');
    options.fs.mkdirSync(packDir, { recursive: true });
    this.tempPath = join(packDir, `tmp_pack_${randomBytes(8).toString('hex')}`);
    // Read and write: appended bases and the rewritten checksum of a thin pack go through it.
    this.fd = options.fs.openSync(this.tempPath, 'wx+', 0o444);
  }

  /** The next bytes of the pack (side band 1). Throws RemoteError or TransferLimitExceededError. */
  async write(data: Buffer): Promise<void> {
    await this.guard(async () => {
      this.writeFile(data);
      this.queue.push(data);
      // Packets are often a few KiB: waiting for more means fewer objects cut at the end of
      // what arrived (each costs a failed inflate) and fewer passes.
      if (this.queue.length >= PARSE_BATCH_BYTES) await this.parse(false);
    });
  }

  /**
   * The pack ended: checks that it was complete and that its checksum matches, resolves the
   * remaining deltas, writes the index and moves both files into place.
   */
  async finish(): Promise<IndexedPack> {
    return this.guard(async () => {
      await this.parse(true);
      if (this.state !== 'trailer' || this.queue.length !== 20) throw this.corrupt('the pack ends before its last object and checksum');
      const checksum = this.packHash.digest();
      if (!checksum.equals(this.queue.head(20))) throw this.corrupt('the pack checksum does not match its content');
      if (this.count === 0) {
        this.closeFile();
        this.removeTemp();
        return { objects: 0 };
      }
      this.dataEnd = this.position;
      await this.resolveDeferred();
      const finalChecksum = this.appended > 0 ? this.rewriteCountAndChecksum() : checksum;
      this.options.fs.fsyncSync(this.fd!);
      return { objects: this.count, name: this.install(finalChecksum) };
    });
  }

  /** Removes what was written; for a caller that gives up (an error elsewhere). */
  abort(): void {
    this.failed = true;
    this.closeFile();
    this.removeTemp();
  }

  private async guard<T>(work: () => Promise<T>): Promise<T> {
    if (this.failed) throw new RemoteError({ url: this.options.url, detail: 'the pack was already refused' });
    try {
      return await work();
    } catch (error) {
      this.abort();
      throw error;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Streaming

  private writeFile(data: Buffer): void {
    for (let done = 0; done < data.length;) done += this.options.fs.writeSync(this.fd!, data, done, data.length - done);
    // Hash all but the last 20 bytes received: those are the checksum if the pack ends here.
    if (data.length < 20) {
      const joined = Buffer.concat([this.tail, data]);
      const hashed = Math.max(0, joined.length - 20);
      this.packHash.update(joined.subarray(0, hashed));
      this.tail = joined.subarray(hashed);
      return;
    }
    this.packHash.update(this.tail);
    this.packHash.update(data.subarray(0, data.length - 20));
    this.tail = Buffer.from(data.subarray(data.length - 20));
  }

  private async parse(ended: boolean): Promise<void> {
    for (;;) {
      if (this.state === 'pack-header') {
        if (this.queue.length < 12) return;
        this.readPackHeader();
      } else if (this.state === 'object-header') {
        if (!this.readObjectHeader(ended)) return;
      } else if (this.state === 'object-data') {
        if (!this.readObjectData(ended)) return;
        await this.maybeYield();
      } else {
        if (this.queue.length > 20) throw this.corrupt('the server sent data after the pack checksum');
        return;
      }
    }
  }

  private readPackHeader(): void {
    const header = this.queue.head(12);
    const version = header.readUInt32BE(4);
    if (header.toString('latin1', 0, 4) !== 'PACK' || (version !== 2 && version !== 3)) throw this.corrupt('the pack does not start with PACK');
    const count = header.readUInt32BE(8);
    if (count > this.options.maxObjects) throw new TransferLimitExceededError({ url: this.options.url, what: 'objects', limit: this.options.maxObjects });
    this.count = count;
    this.entries = {
      offsets: new Float64Array(count),
      dataStarts: new Float64Array(count),
      dataLengths: new Float64Array(count),
      sizes: new Float64Array(count),
      kinds: new Uint8Array(count),
      types: new Uint8Array(count),
      bases: new Int32Array(count).fill(-1),
      crcs: new Uint32Array(count),
      oids: Buffer.alloc(count * 20),
    };
    this.ring = new ObjectRing(count, CACHE_BYTES);
    this.consume(12);
    this.state = count > 0 ? 'object-header' : 'trailer';
  }

  private readObjectHeader(ended: boolean): boolean {
    const available = Math.min(this.queue.length, MAX_OBJECT_HEADER);
    if (available === 0) {
      if (ended) throw this.corrupt('the pack ends before its last object');
      return false;
    }
    const bytes = this.queue.head(available);
    let at = 0;
    let byte = bytes[at++];
    const kind = (byte >> 4) & 7;
    let size = byte & 15;
    let shift = 4;
    while (byte & 0x80) {
      if (at >= bytes.length) return this.needMore(available, ended);
      if (shift > 49) throw this.corrupt('an object size does not fit in 53 bits');
      byte = bytes[at++];
      size += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    }
    if (kind === 0 || kind === 5) throw this.corrupt(`unknown object type ${kind}`);
    if (size > this.options.maxObjectBytes) throw this.exceeded('object', this.options.maxObjectBytes);
    let base = -1;
    let refBase: Buffer | undefined;
    if (kind === OFS_DELTA) {
      if (at >= bytes.length) return this.needMore(available, ended);
      byte = bytes[at++];
      let distance = byte & 0x7f;
      while (byte & 0x80) {
        if (at >= bytes.length) return this.needMore(available, ended);
        byte = bytes[at++];
        distance = (distance + 1) * 128 + (byte & 0x7f);
      }
      // git writes a delta's base before it; the base must be an object we have seen.
      base = this.entryAt(this.position - distance);
      if (distance === 0 || base < 0) throw this.corrupt('a delta names a base offset where no object starts');
    } else if (kind === REF_DELTA) {
      if (bytes.length - at < 20) return this.needMore(available, ended);
      refBase = Buffer.from(bytes.subarray(at, at + 20));
      at += 20;
    }
    const entries = this.entries!;
    entries.offsets[this.next] = this.position;
    entries.kinds[this.next] = kind;
    entries.sizes[this.next] = size;
    entries.bases[this.next] = base;
    this.header = { kind, size, crc: crc32(bytes.subarray(0, at)), base, refBase };
    this.consume(at);
    entries.dataStarts[this.next] = this.position;
    this.attempted = 0;
    this.state = 'object-data';
    return true;
  }

  private needMore(available: number, ended: boolean): false {
    if (ended || available >= MAX_OBJECT_HEADER) throw this.corrupt('an object header is truncated or too long');
    return false;
  }

  /**
   * Inflates the current object from the bytes that arrived. An incomplete stream is retried
   * once twice as many bytes are there, so a large object is inflated a bounded number of
   * times, not once per chunk.
   */
  private readObjectData(ended: boolean): boolean {
    const available = this.queue.length;
    if (!ended && (available === 0 || available < this.attempted * 2)) return false;
    const { kind, size } = this.header;
    const result = this.inflater.inflate(this.queue.head(available), size, this.inflateBuffer(size));
    if (result.kind === 'incomplete') {
      if (ended) throw this.corrupt('the pack ends before its last object');
      this.attempted = available;
      return false;
    }
    if (result.kind === 'too-large') throw this.corrupt('an object inflates beyond the size its header declares');
    if (result.kind === 'corrupt') throw this.corrupt(`an object does not inflate (${result.reason})`);
    const body = result.body;
    if (body.length !== size) throw this.corrupt('an object inflates to a size other than its header declares');
    const compressed = result.consumed;
    const index = this.next;
    const entries = this.entries!;
    entries.crcs[index] = crc32(this.queue.head(compressed), this.header.crc);
    entries.dataLengths[index] = compressed;
    this.consume(compressed);
    this.countInflated(size);
    if (kind < OFS_DELTA) {
      this.resolved(index, kind, body);
    } else {
      this.checkDeltaResultSize(body);
      const base = this.header.base;
      const baseBody = base >= 0 && entries.types[base] !== 0 ? this.cached(base) : undefined;
      if (baseBody) {
        this.resolved(index, entries.types[base], this.applyDelta(body, baseBody));
      } else {
        if (this.header.refBase) this.refBases.set(index, this.header.refBase);
        this.deferred.push(index);
      }
    }
    this.next++;
    if (this.next % PROGRESS_EVERY === 0 || this.next === this.count)
      this.options.onProgress?.({ phase: 'Receiving objects', loaded: this.next, total: this.count });
    this.state = this.next < this.count ? 'object-header' : 'trailer';
    return true;
  }

  private consume(n: number): void {
    this.queue.consume(n);
    this.position += n;
  }

  /** The entry starting at `offset` among those seen, or -1. */
  private entryAt(offset: number): number {
    const offsets = this.entries!.offsets;
    let lo = 0;
    let hi = this.next;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (offsets[mid] === offset) return mid;
      if (offsets[mid] < offset) lo = mid + 1;
      else hi = mid;
    }
    return -1;
  }

  // -------------------------------------------------------------------------------------------
  // Objects and deltas

  /**
   * Records an object whose type and body are known: its id, and the body for later deltas.
   * Returns the body where it stays valid until the next call (the ring, or a copy when too
   * large for it): `body` itself may be the scratch buffer the next delta is written into.
   */
  private resolved(index: number, type: number, body: Buffer): Buffer {
    const entries = this.entries!;
    const record = this.ring!.store(index, TYPE_NAMES[type], body);
    if (record) {
      hash('sha1', record, 'buffer').copy(entries.oids, index * 20);
    } else {
      const digest = createHash('sha1').update(`${TYPE_NAMES[type]} ${body.length}\0`, 'latin1').update(body).digest();
      digest.copy(entries.oids, index * 20);
    }
    entries.types[index] = type;
    this.byOid?.set(entries.oids.toString('hex', index * 20, index * 20 + 20), index);
    if (record) return record.subarray(record.length - body.length);
    const reused = body.buffer === this.scratch.buffer || body.buffer === this.inflateOutput.buffer;
    return reused ? Buffer.from(body) : body;
  }

  private cached(index: number): Buffer | undefined {
    return this.ring!.body(index);
  }

  /** A delta starts with two sizes (base, result); the result is what resolving allocates. */
  private checkDeltaResultSize(delta: Buffer): void {
    let size: number;
    try {
      size = declaredDeltaSize(delta);
    } catch {
      throw this.corrupt('a delta header is truncated');
    }
    if (size > this.options.maxObjectBytes) throw this.exceeded('object', this.options.maxObjectBytes);
  }

  private applyDelta(delta: Buffer, base: Buffer): Buffer {
    this.checkDeltaResultSize(delta);
    let result: Buffer;
    try {
      const size = readDeltaTargetSize(delta);
      if (this.scratch.length < size) this.scratch = Buffer.allocUnsafeSlow(Math.max(size, 1 << 20));
      result = applyDelta(delta, base, this.scratch);
    } catch (error) {
      throw this.corrupt(`a delta does not apply to its base (${(error as Error).message})`);
    }
    this.countInflated(result.length);
    return result;
  }

  private countInflated(bytes: number): void {
    this.inflated += bytes;
    this.sinceYield += bytes;
    if (this.inflated > this.options.maxInflatedBytes) throw this.exceeded('inflated', this.options.maxInflatedBytes);
  }

  private async maybeYield(): Promise<void> {
    if (this.sinceYield < YIELD_EVERY_BYTES) return;
    this.sinceYield = 0;
    await nextTurn();
    if (this.options.signal?.aborted) throw this.options.signal.reason;
  }

  /**
   * Resolves the deltas whose base was not at hand while streaming, from the file. A REF_DELTA
   * names its base by id, which may itself be a delta resolved later in the same pass: passes
   * repeat while they make progress; what is left refers to an object the pack does not hold
   * (we never ask for thin packs).
   */
  private async resolveDeferred(): Promise<void> {
    // `this.entries` is read anew each time: appending a thin pack's bases grows it.
    const unresolved = (index: number) => this.entries!.types[index] === 0;
    let pending = this.deferred.filter(unresolved);
    if (this.refBases.size > 0) {
      this.byOid = new Map();
      const { oids, types } = this.entries!;
      for (let i = 0; i < this.count; i++) if (types[i] !== 0) this.byOid.set(oids.toString('hex', i * 20, i * 20 + 20), i);
    }
    const total = pending.length;
    let done = 0;
    while (pending.length > 0) {
      const postponed: number[] = [];
      for (const index of pending) {
        if (unresolved(index) && !this.materialize(index)) postponed.push(index);
        else if (++done % PROGRESS_EVERY === 0) this.options.onProgress?.({ phase: 'Resolving deltas', loaded: done, total });
        await this.maybeYield();
      }
      if (postponed.length === pending.length && !this.appendExistingBases(postponed)) {
        throw this.corrupt('a delta refers to a base the pack does not contain');
      }
      pending = postponed;
    }
    if (total > 0) this.options.onProgress?.({ phase: 'Resolving deltas', loaded: total, total });
  }

  /**
   * Appends to the pack the bases that `postponed` REF_DELTAs name and the repository has (a
   * thin pack). False when there are none to append, or one is missing.
   */
  private appendExistingBases(postponed: number[]): boolean {
    const missing = new Set<string>();
    for (const index of postponed) {
      const base = this.refBases.get(index)?.toString('hex');
      if (base !== undefined && !this.byOid!.has(base)) missing.add(base);
    }
    if (missing.size === 0 || !this.options.existingObject) return false;
    for (const oid of missing) {
      const object = this.options.existingObject(oid);
      const type = object ? TYPE_NAMES.indexOf(object.type) : -1;
      if (!object || type < 1) return false;
      this.appendObject(oid, type, object.body);
    }
    return true;
  }

  /** Writes one whole object after the pack's last, as a new entry. */
  private appendObject(oid: string, type: number, body: Buffer): void {
    this.countInflated(body.length);
    const header = encodeObjectHeader(type, body.length);
    // Level 1: a deepen appends the boundary's trees, and zlib's default level spent 60 ms of
    // a cold rollback on them; the cache's packs are read, never sent.
    const compressed = deflateSync(body, { level: 1 });
    const index = this.count;
    this.growEntries(index + 1);
    const entries = this.entries!;
    const offset = this.dataEnd;
    const bytes = Buffer.concat([header, compressed]);
    for (let done = 0; done < bytes.length;) done += this.options.fs.writeSync(this.fd!, bytes, done, bytes.length - done, offset + done);
    entries.offsets[index] = offset;
    entries.dataStarts[index] = offset + header.length;
    entries.dataLengths[index] = compressed.length;
    entries.sizes[index] = body.length;
    entries.kinds[index] = type;
    entries.types[index] = type;
    entries.bases[index] = -1;
    entries.crcs[index] = crc32(bytes);
    Buffer.from(oid, 'hex').copy(entries.oids, index * 20);
    this.byOid!.set(oid, index);
    this.count++;
    this.appended++;
    this.dataEnd += bytes.length;
  }

  /** Room for `size` entries (appended bases come after the declared count). */
  private growEntries(size: number): void {
    const old = this.entries!;
    if (old.kinds.length >= size) return;
    const capacity = Math.max(size, old.kinds.length + 64);
    const grown = <T extends Float64Array | Uint8Array | Int32Array | Uint32Array>(array: T, make: (n: number) => T): T => {
      const next = make(capacity);
      next.set(array);
      return next;
    };
    const oids = Buffer.alloc(capacity * 20);
    old.oids.copy(oids);
    this.entries = {
      offsets: grown(old.offsets, (n) => new Float64Array(n)),
      dataStarts: grown(old.dataStarts, (n) => new Float64Array(n)),
      dataLengths: grown(old.dataLengths, (n) => new Float64Array(n)),
      sizes: grown(old.sizes, (n) => new Float64Array(n)),
      kinds: grown(old.kinds, (n) => new Uint8Array(n)),
      types: grown(old.types, (n) => new Uint8Array(n)),
      bases: grown(old.bases, (n) => new Int32Array(n).fill(-1)),
      crcs: grown(old.crcs, (n) => new Uint32Array(n)),
      oids,
    };
  }

  /** After appending bases: the header's object count, then the checksum of the whole pack. */
  private rewriteCountAndChecksum(): Buffer {
    const { fs } = this.options;
    const count = Buffer.alloc(4);
    count.writeUInt32BE(this.count);
    fs.writeSync(this.fd!, count, 0, 4, 8);
    const packHash = createHash('sha1');
    const chunk = Buffer.allocUnsafe(1 << 20);
    for (let at = 0; at < this.dataEnd;) {
      const n = fs.readSync(this.fd!, chunk, 0, Math.min(chunk.length, this.dataEnd - at), at);
      if (n <= 0) throw this.corrupt('the pack file ended early while its checksum was rewritten');
      packHash.update(chunk.subarray(0, n));
      at += n;
    }
    const checksum = packHash.digest();
    fs.writeSync(this.fd!, checksum, 0, 20, this.dataEnd);
    fs.ftruncateSync(this.fd!, this.dataEnd + 20);
    return checksum;
  }

  /** Resolves an entry's delta chain down to a known body; false when a REF_DELTA base is unknown. */
  private materialize(index: number): boolean {
    const entries = this.entries!;
    const chain: number[] = [];
    let at = index;
    let body: Buffer | undefined;
    for (;;) {
      if (entries.types[at] !== 0) {
        // A base read again is copied: the deltas above it are inflated into the same buffer.
        body = this.cached(at) ?? (entries.kinds[at] < OFS_DELTA ? Buffer.from(this.reread(at)) : undefined);
        if (body) break;
      }
      chain.push(at);
      const base = entries.kinds[at] === OFS_DELTA ? entries.bases[at] : this.byOid!.get(this.refBases.get(at)!.toString('hex'));
      if (base === undefined) return false;
      if (chain.length > this.count) throw this.corrupt('a delta chain loops');
      at = base;
    }
    const type = entries.types[at];
    for (let i = chain.length - 1; i >= 0; i--) body = this.resolved(chain[i], type, this.applyDelta(this.reread(chain[i]), body));
    return true;
  }

  /** Inflates an entry again from the file, into the inflate buffer (sizes were checked when it streamed in). */
  private reread(index: number): Buffer {
    const entries = this.entries!;
    const length = entries.dataLengths[index];
    if (this.readBuffer.length < length) this.readBuffer = Buffer.allocUnsafeSlow(Math.max(length, 64 << 10));
    this.options.fs.readSync(this.readFd(), this.readBuffer, 0, length, entries.dataStarts[index]);
    const size = entries.sizes[index];
    const result = this.inflater.inflate(this.readBuffer.subarray(0, length), size, this.inflateBuffer(size));
    if (result.kind !== 'done' || result.body.length !== size) throw this.corrupt('an object changed on disk while the pack was indexed');
    this.countInflated(size);
    return result.body;
  }

  /** The buffer objects are inflated into, at least size + 1 bytes. */
  private inflateBuffer(size: number): Buffer {
    if (this.inflateOutput.length <= size) this.inflateOutput = Buffer.allocUnsafeSlow(Math.max(size + 1, 64 << 10));
    return this.inflateOutput;
  }

  private readFdValue: number | undefined;

  private readFd(): number {
    this.readFdValue ??= this.options.fs.openSync(this.tempPath, 'r');
    return this.readFdValue;
  }

  // -------------------------------------------------------------------------------------------
  // Files

  /** Writes the index and renames both files into place; returns the pack's name. */
  private install(checksum: Buffer): string {
    const { fs, gitdir } = this.options;
    const entries = this.entries!;
    let idx: Buffer;
    try {
      idx = encodePackIndex({ count: this.count, oids: entries.oids, offsets: entries.offsets, crcs: entries.crcs }, checksum);
    } catch (error) {
      if (error instanceof DuplicateObjectError) throw this.corrupt(error.message);
      throw error;
    }
    const name = `pack-${checksum.toString('hex')}`;
    const base = join(gitdir, 'objects', 'pack', name);
    const tempIdx = `${this.tempPath}.idx`;
    const fd = fs.openSync(tempIdx, 'wx', 0o444);
    try {
      for (let done = 0; done < idx.length;) done += fs.writeSync(fd, idx, done, idx.length - done);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    this.closeFile();
    // The pack first: readers look for packs through their index.
    fs.renameSync(this.tempPath, `${base}.pack`);
    fs.renameSync(tempIdx, `${base}.idx`);
    return name;
  }

  private closeFile(): void {
    this.inflater.close();
    for (const fd of [this.fd, this.readFdValue]) if (fd !== undefined) this.options.fs.closeSync(fd);
    this.fd = undefined;
    this.readFdValue = undefined;
  }

  private removeTemp(): void {
    for (const path of [this.tempPath, `${this.tempPath}.idx`]) this.options.fs.rmSync(path, { force: true });
  }

  private exceeded(what: 'object' | 'inflated', limit: number): TransferLimitExceededError {
    return new TransferLimitExceededError({ url: this.options.url, what, limit });
  }

  private corrupt(detail: string): RemoteError {
    return new RemoteError({ url: this.options.url, detail: `the pack is corrupt: ${detail}` });
  }
}
