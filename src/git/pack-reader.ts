/**
 * Reads git objects straight from a repository's object directory: packfiles through their v2
 * `.idx` (binary search over the raw index, no per-entry parsing) and loose objects. Only the
 * object asked for is inflated, with its delta chain (OFS_DELTA and REF_DELTA); recently
 * resolved objects are kept in a small LRU shared by the whole process.
 *
 * One `ObjectDatabase` per gitdir per process: pack indexes are opened once and reused by every
 * ObjectStore, so repeated rollbacks do not re-read them. Packs that appear later (a fetch) are
 * found by rescanning `objects/pack` when an object is missing.
 *
 * Reads are synchronous (positioned reads of the bytes of one object, page-cache hot): an
 * asynchronous read per object costs more in thread-pool round trips than the read itself.
 * Every object returned is checked against its id (SHA-1 of "<type> <size>\0<body>").
 */
import { hash } from 'node:crypto';
import type * as nodeFs from 'node:fs';
import { join, resolve } from 'node:path';
import { inflateSync } from 'node:zlib';
import { CodedError } from '../coded-error.js';
import { Inflater } from './inflater.js';

type Fs = typeof nodeFs;

export type GitObjectType = 'commit' | 'tree' | 'blob' | 'tag';

export interface GitObject {
  type: GitObjectType;
  body: Buffer;
}

export const EMPTY_TREE_OID = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';

const OID_PATTERN = /^[0-9a-f]{40}$/;
const TYPE_NAMES: Record<number, GitObjectType> = { 1: 'commit', 2: 'tree', 3: 'blob', 4: 'tag' };
const OFS_DELTA = 6;
const REF_DELTA = 7;
/**
 * The deepest delta chain read. git cannot write deeper ones: pack-objects clamps --depth (and
 * pack.depth) to 4095, since it stores the depth in 12 bits; its default is 50. A chain that
 * loops (a corrupt or hostile pack) ends here, after at most this many small inflations.
 */
export const MAX_DELTA_DEPTH = 4095;
/**
 * The largest object read, declared or produced (inflated size, delta target size). GitHub
 * refuses files over 100 MiB; GitOps repositories hold manifests. Checked before allocating,
 * so a header or a delta cannot make us allocate what it claims.
 */
export const MAX_OBJECT_BYTES = 100 << 20;
/**
 * Bytes one read may produce along its whole delta chain: a few bytes of delta can copy the
 * same 16 MiB of its base again and again, and a chain repeats that at every step.
 */
export const MAX_CHAIN_OUTPUT_BYTES = 1 << 30;
/** Bytes read at an object's offset first: the header plus most small objects. */
const FIRST_READ = 4096;
/** Bytes of a pack read at once and kept, for the small reads that follow (see Pack.read). */
const READ_WINDOW = 64 << 10;
/** One zlib handle for every object read in the process (reads are synchronous). */
const packInflater = new Inflater();

/** Thrown on a malformed repository file (index, pack or loose object). */
export class CorruptObjectError extends CodedError {
  readonly code = 'CorruptObjectError' as const;
}

// ---------------------------------------------------------------------------------------------
// LRU of resolved objects, shared by the process and bounded in bytes

const CACHE_BUDGET_BYTES = 32 << 20;
/** Larger objects are not cached: one would evict everything else. */
const CACHE_MAX_OBJECT_BYTES = 4 << 20;

class ObjectCache {
  private readonly entries = new Map<string, GitObject>();
  private bytes = 0;

  constructor(private readonly budget: number) {}

  get(key: string): GitObject | undefined {
    const hit = this.entries.get(key);
    if (hit) {
      // Most recently used goes last.
      this.entries.delete(key);
      this.entries.set(key, hit);
    }
    return hit;
  }

  set(key: string, object: GitObject): void {
    if (object.body.length > CACHE_MAX_OBJECT_BYTES || this.entries.has(key)) return;
    // zlib hands out small results as views of a 64 KiB buffer: keep only the bytes.
    this.entries.set(key, { type: object.type, body: compact(object.body) });
    this.bytes += object.body.length + 64;
    for (const [oldest, value] of this.entries) {
      if (this.bytes <= this.budget) break;
      this.entries.delete(oldest);
      this.bytes -= value.body.length + 64;
    }
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }
}

const objectCache = new ObjectCache(CACHE_BUDGET_BYTES);

function compact(buf: Buffer): Buffer {
  if (buf.byteOffset === 0 && buf.buffer.byteLength === buf.length) return buf;
  const copy = Buffer.allocUnsafeSlow(buf.length);
  buf.copy(copy);
  return copy;
}

// ---------------------------------------------------------------------------------------------
// Pack index (v2)

let nextPackId = 1;

/** Bytes of an index read from its file at a time (see IndexBytes): 64 KiB. */
const INDEX_BLOCK_SHIFT = 16;
const INDEX_BLOCK = 1 << INDEX_BLOCK_SHIFT;

/**
 * The bytes of a pack index: a buffer, or the file read in 64 KiB blocks on first use. A
 * 100,000-commit repository's index is 30 MB; a revert near the head looks up a few hundred
 * objects, so reading the whole file at every start was most of such a run (and stayed in
 * memory for the life of the process). A block once read is kept: a long walk ends up holding
 * what the whole file held before, never more.
 */
export class IndexBytes {
  private readonly blocks: (Buffer | undefined)[] = [];

  private constructor(
    readonly length: number,
    private readonly load: (start: number, length: number) => Buffer,
  ) {
    // Block numbers are taken with a 32-bit shift; a v2 index that large would list 150
    // million objects.
    if (length >= 2 ** 32) throw new CorruptObjectError(`pack index of ${length} bytes is too large`);
  }

  static of(buffer: Buffer): IndexBytes {
    return new IndexBytes(buffer.length, (start, length) => buffer.subarray(start, start + length));
  }

  /** The file open as `fd` (kept open by the caller while this is used), `size` bytes long. */
  static ofFile(fs: Fs, fd: number, size: number): IndexBytes {
    return new IndexBytes(size, (start, length) => {
      const block = Buffer.allocUnsafeSlow(length);
      if (fs.readSync(fd, block, 0, length, start) !== length) throw new CorruptObjectError('pack index changed while read');
      return block;
    });
  }

  byte(position: number): number {
    const i = position >>> INDEX_BLOCK_SHIFT;
    const block = this.blocks[i] ?? this.readBlock(i);
    return block[position & (INDEX_BLOCK - 1)];
  }

  u32(position: number): number {
    const i = position >>> INDEX_BLOCK_SHIFT;
    const block = this.blocks[i] ?? this.readBlock(i);
    const at = position & (INDEX_BLOCK - 1);
    if (at + 4 <= block.length) return block.readUInt32BE(at);
    return this.byte(position) * 0x1000000 + ((this.byte(position + 1) << 16) | (this.byte(position + 2) << 8) | this.byte(position + 3));
  }

  /**
   * The 20-byte id at `position` against `oid`: > 0 when it sorts after. In JavaScript, not
   * Buffer.compare: ids differ within the first bytes, and a native call per step of a binary
   * search cost more than the comparison (a tenth of a long history walk).
   */
  compareId(position: number, oid: Buffer): number {
    const i = position >>> INDEX_BLOCK_SHIFT;
    const block = this.blocks[i] ?? this.readBlock(i);
    const at = position & (INDEX_BLOCK - 1);
    const inBlock = at + 20 <= block.length;
    for (let k = 0; k < 20; k++) {
      const d = (inBlock ? block[at + k] : this.byte(position + k)) - oid[k];
      if (d !== 0) return d;
    }
    return 0;
  }

  /** A copy of `length` bytes at `position`. */
  slice(position: number, length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i++) out[i] = this.byte(position + i);
    return out;
  }

  private readBlock(i: number): Buffer {
    const start = i * INDEX_BLOCK;
    if (start >= this.length) throw new CorruptObjectError('read past the end of a pack index');
    const block = this.load(start, Math.min(INDEX_BLOCK, this.length - start));
    this.blocks[i] = block;
    return block;
  }
}

/**
 * A v2 pack index, read in place: 8-byte header, 256 fanout counts, the sorted ids, CRCs,
 * 32-bit offsets and the 64-bit offsets of entries past 2 GiB, then two checksums.
 */
export class PackIndex {
  readonly count: number;
  /** The pack's checksum, as recorded in the index (must equal the pack's trailer). */
  readonly packChecksum: Buffer;
  private readonly bytes: IndexBytes;
  private readonly oidsAt = 8 + 256 * 4;
  private readonly offsetsAt: number;
  private readonly largeOffsetsAt: number;

  constructor(
    idx: Buffer | IndexBytes,
    readonly path: string,
  ) {
    const bytes = (this.bytes = idx instanceof IndexBytes ? idx : IndexBytes.of(idx));
    if (bytes.length < 8 + 256 * 4 + 40 || bytes.u32(0) !== 0xff744f63) {
      throw new CorruptObjectError(`${path}: not a version 2 pack index`);
    }
    const version = bytes.u32(4);
    if (version !== 2) throw new CorruptObjectError(`${path}: unsupported pack index version ${version}`);
    this.count = bytes.u32(8 + 255 * 4);
    this.offsetsAt = this.oidsAt + this.count * 24;
    this.largeOffsetsAt = this.offsetsAt + this.count * 4;
    const extra = bytes.length - (this.largeOffsetsAt + 40);
    // A short or oddly sized file is one still being written, or a damaged one.
    if (extra < 0 || extra % 8 !== 0) throw new CorruptObjectError(`${path}: truncated pack index`);
    // As git's index check: the fanout never decreases, so every search stays inside the table.
    for (let b = 1, previous = bytes.u32(8); b < 256; b++) {
      const count = bytes.u32(8 + b * 4);
      if (count < previous) throw new CorruptObjectError(`${path}: pack index fanout is not monotonic`);
      previous = count;
    }
    this.packChecksum = bytes.slice(bytes.length - 40, 20);
  }

  /** Offset of the object in the pack, or -1 when this pack does not hold it. */
  find(oid: Buffer): number {
    const bytes = this.bytes;
    const first = oid[0];
    let lo = first === 0 ? 0 : bytes.u32(8 + (first - 1) * 4);
    let hi = bytes.u32(8 + first * 4);
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const cmp = this.compareAt(mid, oid);
      if (cmp === 0) return this.offsetOf(mid);
      if (cmp > 0) hi = mid;
      else lo = mid + 1;
    }
    return -1;
  }

  /** Up to `max` ids (hex) that start with `prefix` (lowercase hex, 1 to 40 characters). */
  findPrefix(prefix: string, max: number): string[] {
    const first = parseInt(prefix.slice(0, 2).padEnd(2, '0'), 16);
    const low = Buffer.from(prefix.padEnd(40, '0'), 'hex');
    let lo = first === 0 ? 0 : this.bytes.u32(8 + (first - 1) * 4);
    let hi = this.count;
    // The first entry not sorting before the prefix padded with zeros.
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.compareAt(mid, low) < 0) lo = mid + 1;
      else hi = mid;
    }
    const found: string[] = [];
    for (let i = lo; i < this.count && found.length < max; i++) {
      const oid = this.bytes.slice(this.oidsAt + i * 20, 20).toString('hex');
      if (!oid.startsWith(prefix)) break;
      found.push(oid);
    }
    return found;
  }

  /** The largest object offset recorded (32-bit table, then the 64-bit one); an integrity check's. */
  maxOffset(): number {
    let max = 0;
    for (let i = 0; i < this.count; i++) max = Math.max(max, this.offsetOf(i));
    return max;
  }

  private compareAt(position: number, oid: Buffer): number {
    return this.bytes.compareId(this.oidsAt + position * 20, oid);
  }

  private offsetOf(position: number): number {
    const small = this.bytes.u32(this.offsetsAt + position * 4);
    if (small < 0x80000000) return small;
    const at = this.largeOffsetsAt + (small - 0x80000000) * 8;
    // Past the table: the index lies; an offset no pack reaches fails the read (or the check).
    if (at + 8 > this.bytes.length - 40) return Number.MAX_SAFE_INTEGER;
    return this.bytes.u32(at) * 2 ** 32 + this.bytes.u32(at + 4);
  }
}

// ---------------------------------------------------------------------------------------------
// Pack file

interface PackEntry {
  /** 1-4 for a whole object, 6 or 7 for a delta. */
  kind: number;
  /** The inflated data: the object's body, or the delta instructions. */
  data: Buffer;
  /** OFS_DELTA: offset of the base in this pack. */
  baseOffset?: number;
  /** REF_DELTA: id of the base. */
  baseOid?: string;
}

class Pack {
  readonly id = nextPackId++;
  private fd: number | null = null;

  constructor(
    private readonly fs: Fs,
    readonly name: string,
    readonly packPath: string,
    readonly index: PackIndex,
    /** The index file, read in blocks while the pack is in use (IndexBytes). */
    private indexFd: number | null,
  ) {}

  /** Closes the pack and its index for good (a closed Pack is dropped, never reopened). */
  close(): void {
    if (this.fd !== null) this.fs.closeSync(this.fd);
    if (this.indexFd !== null) this.fs.closeSync(this.indexFd);
    this.fd = null;
    this.indexFd = null;
    this.ahead = undefined;
    this.jump = undefined;
  }

  /**
   * Opens the pack and checks it against its index: the "PACK" header, and the trailer equal
   * to the checksum the index records (a torn or half-written index fails this).
   */
  open(): number {
    if (this.fd !== null) return this.fd;
    const fd = this.fs.openSync(this.packPath, 'r');
    try {
      const size = this.fs.fstatSync(fd).size;
      const header = Buffer.alloc(12);
      const trailer = Buffer.alloc(20);
      this.fs.readSync(fd, header, 0, 12, 0);
      this.fs.readSync(fd, trailer, 0, 20, size - 20);
      const version = header.readUInt32BE(4);
      if (header.toString('latin1', 0, 4) !== 'PACK' || (version !== 2 && version !== 3)) {
        throw new CorruptObjectError(`${this.packPath}: not a packfile`);
      }
      if (!trailer.equals(this.index.packChecksum)) {
        throw new CorruptObjectError(`${this.packPath}: the pack does not match its index (checksum mismatch)`);
      }
    } catch (error) {
      this.fs.closeSync(fd);
      throw error;
    }
    this.fd = fd;
    return fd;
  }

  /**
   * Bytes at `position`. Small reads are served from a window of the pack read ahead: git writes
   * commits next to each other (and trees near them), so a history walk reads one window per
   * few hundred commits instead of one system call per object. Only a read a little further on
   * than the last one fills the 64 KiB window; one that jumps (to a delta base, or in
   * fast-import's packs, as pushed, to the next commit among its trees and blobs) reads 4 KiB
   * into a second window and leaves the first alone: a 64 KiB read per commit there was most of
   * a 10,000-commit walk. Larger reads go to the file.
   */
  private read(position: number, length: number): Buffer {
    if (length > FIRST_READ) {
      const buf = Buffer.allocUnsafe(length);
      const n = this.fs.readSync(this.open(), buf, 0, length, position);
      return n === length ? buf : buf.subarray(0, n);
    }
    const sequential = position > this.lastStart && position < this.lastStart + READ_WINDOW;
    this.lastStart = position;
    for (const window of [this.ahead, this.jump]) {
      if (window && position >= window.start && position + length <= window.start + window.bytes.length) {
        return window.bytes.subarray(position - window.start, position - window.start + length);
      }
    }
    const size = sequential ? READ_WINDOW : FIRST_READ;
    const buf = Buffer.allocUnsafeSlow(size);
    const window = { start: position, bytes: buf.subarray(0, this.fs.readSync(this.open(), buf, 0, size, position)) };
    if (sequential) this.ahead = window;
    else this.jump = window;
    return window.bytes.subarray(0, Math.min(length, window.bytes.length));
  }

  private ahead: { start: number; bytes: Buffer } | undefined;
  private jump: { start: number; bytes: Buffer } | undefined;
  /** Where the last small read started: one a little further on is sequential. */
  private lastStart = -1;

  /** Reads and inflates the entry at `offset` (one object or one delta). */
  readEntry(offset: number): PackEntry {
    const chunk = this.read(offset, FIRST_READ);
    let c = chunk[0];
    const kind = (c >> 4) & 7;
    let size = c & 15;
    let shift = 4;
    let i = 1;
    while (c & 0x80) {
      if (i >= chunk.length || shift > 49) throw this.corrupt(offset, 'bad object header');
      c = chunk[i++];
      size += (c & 0x7f) * 2 ** shift;
      shift += 7;
    }
    if (size > MAX_OBJECT_BYTES) throw this.corrupt(offset, `object of ${size} bytes is over the ${MAX_OBJECT_BYTES}-byte limit`);
    const entry: PackEntry = { kind, data: Buffer.alloc(0) };
    if (kind === OFS_DELTA) {
      c = chunk[i++];
      let distance = c & 0x7f;
      while (c & 0x80) {
        if (i >= chunk.length || distance > offset) throw this.corrupt(offset, 'bad delta base offset');
        c = chunk[i++];
        distance = (distance + 1) * 128 + (c & 0x7f);
      }
      // The base comes before the delta (git writes bases first); 0 would be the delta itself.
      if (distance === 0) throw this.corrupt(offset, 'delta base offset 0 points at the delta itself');
      entry.baseOffset = offset - distance;
      if (entry.baseOffset < 12) throw this.corrupt(offset, 'delta base offset out of range');
    } else if (kind === REF_DELTA) {
      entry.baseOid = chunk.toString('hex', i, i + 20);
      i += 20;
    } else if (!TYPE_NAMES[kind]) {
      throw this.corrupt(offset, `unknown object type ${kind}`);
    }
    // zlib's worst case (stored blocks) is a few bytes per 16 KiB plus headers; read that much
    // at once, and more only if the stream turns out longer.
    let want = size + (size >>> 9) + 64;
    let data = chunk.subarray(i);
    if (data.length < want && chunk.length === FIRST_READ) {
      data = this.read(offset + i, want);
    }
    // Never more than declared (+1 to tell "longer" from "exact"): a few KiB of zlib can
    // otherwise inflate to gigabytes before the size check below.
    const output = Buffer.allocUnsafe(size + 1);
    for (;;) {
      const result = packInflater.inflate(data, size, output);
      if (result.kind === 'done') {
        entry.data = result.body;
        break;
      }
      if (result.kind === 'too-large') throw this.corrupt(offset, `inflates to more than the declared ${size} bytes`);
      if (result.kind === 'corrupt' || data.length < want) throw this.corrupt(offset, result.kind === 'corrupt' ? result.reason : 'truncated');
      want *= 2;
      data = this.read(offset + i, want);
    }
    if (entry.data.length !== size) throw this.corrupt(offset, `size mismatch: header says ${size}, inflated ${entry.data.length}`);
    return entry;
  }

  private corrupt(offset: number, detail: string): CorruptObjectError {
    return new CorruptObjectError(`${this.packPath} at offset ${offset}: ${detail}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Delta

function readVarint(delta: Buffer, state: { pos: number }): number {
  let result = 0;
  let shift = 0;
  let c: number;
  do {
    if (state.pos >= delta.length || shift > 49) throw new CorruptObjectError('delta header truncated or too long');
    c = delta[state.pos++];
    result += (c & 0x7f) * 2 ** shift;
    shift += 7;
  } while (c & 0x80);
  return result;
}

/** The size a delta says it produces (its second header number), not checked further. */
export function declaredDeltaSize(delta: Buffer): number {
  const state = { pos: 0 };
  readVarint(delta, state);
  return readVarint(delta, state);
}

/**
 * The size of the object `delta` produces, checked before anything is allocated: at most
 * MAX_OBJECT_BYTES, and no more than its instructions can write (at most 4 MiB per byte: a
 * copy of 16 MiB takes 4 bytes, one of 64 KiB takes 1, an insert writes a byte per byte), so a
 * lying header is refused at once.
 */
export function readDeltaTargetSize(delta: Buffer): number {
  const state = { pos: 0 };
  readVarint(delta, state);
  const targetSize = readVarint(delta, state);
  if (targetSize > MAX_OBJECT_BYTES) throw new CorruptObjectError(`delta target of ${targetSize} bytes is over the ${MAX_OBJECT_BYTES}-byte limit`);
  if (targetSize > (delta.length - state.pos) * 0x400000)
    throw new CorruptObjectError(`delta target size ${targetSize} is more than its instructions can write`);
  return targetSize;
}

/**
 * Applies a git delta (copy/insert instructions) to `base`. The result is written at the start
 * of `into` when given (a caller's reused buffer; it must not overlap `base`), else into new
 * memory of its own.
 */
export function applyDelta(delta: Buffer, base: Buffer, into?: Buffer): Buffer {
  const state = { pos: 0 };
  const baseSize = readVarint(delta, state);
  if (baseSize !== base.length) throw new CorruptObjectError(`delta base size mismatch: expected ${baseSize}, got ${base.length}`);
  const targetSize = readDeltaTargetSize(delta);
  readVarint(delta, state);
  // Its own memory (not a slice of Node's shared pool), since it may be cached.
  const out = into && into.length >= targetSize ? into.subarray(0, targetSize) : Buffer.allocUnsafeSlow(targetSize);
  let written = 0;
  let pos = state.pos;
  while (pos < delta.length) {
    const cmd = delta[pos++];
    if (cmd & 0x80) {
      let copyOffset = 0;
      let copySize = 0;
      if (cmd & 0x01) copyOffset = delta[pos++];
      if (cmd & 0x02) copyOffset |= delta[pos++] << 8;
      if (cmd & 0x04) copyOffset |= delta[pos++] << 16;
      if (cmd & 0x08) copyOffset += delta[pos++] * 2 ** 24;
      if (cmd & 0x10) copySize = delta[pos++];
      if (cmd & 0x20) copySize |= delta[pos++] << 8;
      if (cmd & 0x40) copySize |= delta[pos++] << 16;
      if (pos > delta.length) throw new CorruptObjectError('delta copy instruction truncated');
      if (copySize === 0) copySize = 0x10000;
      if (copyOffset + copySize > base.length || written + copySize > targetSize) throw new CorruptObjectError('delta copy out of range');
      base.copy(out, written, copyOffset, copyOffset + copySize);
      written += copySize;
    } else if (cmd !== 0) {
      if (pos + cmd > delta.length || written + cmd > targetSize) throw new CorruptObjectError('delta insert out of range');
      delta.copy(out, written, pos, pos + cmd);
      written += cmd;
      pos += cmd;
    } else {
      throw new CorruptObjectError('delta opcode 0 is reserved');
    }
  }
  if (written !== targetSize) throw new CorruptObjectError(`delta result size mismatch: expected ${targetSize}, got ${written}`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Object database

const databases = new Map<Fs, Map<string, ObjectDatabase>>();

/** The objects of one repository: its packs and its loose objects. */
export class ObjectDatabase {
  /** Packs by file name (pack-<sha>.idx). */
  private readonly packs = new Map<string, Pack>();
  private scanned = false;

  private constructor(
    private readonly fs: Fs,
    readonly gitdir: string,
  ) {}

  /** The process-wide database of `gitdir`: its pack indexes are opened once and reused. */
  static open(fs: Fs, gitdir: string): ObjectDatabase {
    const key = resolve(gitdir);
    let byDir = databases.get(fs);
    if (!byDir) databases.set(fs, (byDir = new Map()));
    let db = byDir.get(key);
    if (!db) byDir.set(key, (db = new ObjectDatabase(fs, key)));
    return db;
  }

  /** Closes every database's pack files (tests; a long-running process never needs to). */
  static closeAll(): void {
    for (const byDir of databases.values()) for (const db of byDir.values()) db.close();
    databases.clear();
    objectCache.clear();
  }

  /** Closes and forgets the database of `gitdir` (it was deleted: its open packs hold disk space). */
  static forget(gitdir: string): void {
    const key = resolve(gitdir);
    for (const byDir of databases.values()) {
      byDir.get(key)?.close();
      byDir.delete(key);
    }
  }

  close(): void {
    for (const pack of this.packs.values()) pack.close();
    this.packs.clear();
    this.scanned = false;
  }

  /**
   * The object, or null when the repository does not have it. Checks the object's id.
   * `keep: false` leaves a whole object out of the process's object cache (a delta's result and
   * its bases still go in): a history walk reads each commit once, and copying 10,000 of them
   * into the cache only made garbage.
   */
  read(oid: string, { keep = true }: { keep?: boolean } = {}): GitObject | null {
    if (!OID_PATTERN.test(oid)) return null;
    if (oid === EMPTY_TREE_OID) return { type: 'tree', body: Buffer.alloc(0) };
    const object = this.readUnverified(oid, 0, keep);
    if (object) verifyOid(oid, object);
    return object;
  }

  /** True when the object is in a pack or loose (nothing is inflated). */
  has(oid: string): boolean {
    if (!OID_PATTERN.test(oid)) return false;
    if (oid === EMPTY_TREE_OID) return true;
    const raw = Buffer.from(oid, 'hex');
    if (this.findPacked(raw)) return true;
    if (this.fs.existsSync(this.loosePath(oid))) return true;
    return this.rescan() && this.findPacked(raw) !== null;
  }

  private readUnverified(oid: string, depth: number, keep = true): GitObject | null {
    const raw = Buffer.from(oid, 'hex');
    let found = this.findPacked(raw);
    if (found) return this.readPacked(found.pack, found.offset, depth, keep);
    const loose = this.readLoose(oid);
    if (loose) return loose;
    // A fetch may have added a pack since we last looked.
    if (!this.rescan()) return null;
    found = this.findPacked(raw);
    return found ? this.readPacked(found.pack, found.offset, depth, keep) : null;
  }

  /**
   * Up to `max` ids of objects (packed or loose) that start with `prefix` (lowercase hex, at
   * least 2 characters): to tell an abbreviated id that names one object from an ambiguous one.
   */
  findPrefix(prefix: string, max: number): string[] {
    if (!/^[0-9a-f]{2,40}$/.test(prefix)) return [];
    this.rescan();
    const found = new Set<string>();
    for (const pack of this.packs.values()) for (const oid of pack.index.findPrefix(prefix, max)) found.add(oid);
    try {
      const dir = prefix.slice(0, 2);
      for (const name of this.fs.readdirSync(join(this.gitdir, 'objects', dir))) {
        if (/^[0-9a-f]{38}$/.test(name) && (dir + name).startsWith(prefix)) found.add(dir + name);
      }
    } catch {
      // No loose objects with that first byte.
    }
    return [...found].slice(0, max);
  }

  private findPacked(raw: Buffer): { pack: Pack; offset: number } | null {
    if (!this.scanned) this.rescan();
    for (const pack of this.packs.values()) {
      const offset = pack.index.find(raw);
      if (offset >= 0) return { pack, offset };
    }
    return null;
  }

  /**
   * Syncs the open packs with objects/pack: opens new indexes, drops packs that are gone.
   * Returns true when a pack was added.
   */
  private rescan(): boolean {
    this.scanned = true;
    const dir = join(this.gitdir, 'objects', 'pack');
    let names: string[];
    try {
      names = this.fs.readdirSync(dir).filter((name) => name.endsWith('.idx'));
    } catch {
      names = [];
    }
    const present = new Set(names);
    for (const [name, pack] of this.packs) {
      if (!present.has(name)) {
        pack.close();
        this.packs.delete(name);
      }
    }
    let added = false;
    for (const name of names) {
      if (this.packs.has(name)) continue;
      const idxPath = join(dir, name);
      const packPath = join(dir, `${name.slice(0, -'.idx'.length)}.pack`);
      let pack: Pack;
      let indexFd: number | null = null;
      try {
        indexFd = this.fs.openSync(idxPath, 'r');
        const index = new PackIndex(IndexBytes.ofFile(this.fs, indexFd, this.fs.fstatSync(indexFd).size), idxPath);
        pack = new Pack(this.fs, name, packPath, index, indexFd);
      } catch (error) {
        if (indexFd !== null) this.fs.closeSync(indexFd);
        // An index being written right now looks truncated: skip it until the next scan.
        if (error instanceof CorruptObjectError || (error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw error;
      }
      try {
        pack.open();
      } catch (error) {
        pack.close();
        // A pack and index that do not match yet (one still being written): next scan.
        if (error instanceof CorruptObjectError || (error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw error;
      }
      this.packs.set(name, pack);
      added = true;
    }
    return added;
  }

  private readPacked(pack: Pack, offset: number, depth: number, keep: boolean): GitObject {
    // Walk down the delta chain to a whole object (or a cached one), then apply the deltas
    // back up, caching each step: neighbouring objects often share their bases.
    const deltas: { offset: number; data: Buffer }[] = [];
    let base: GitObject | undefined;
    let at = offset;
    for (;;) {
      const key = `${pack.id}:${at}`;
      base = objectCache.get(key);
      if (base) break;
      if (deltas.length + depth > MAX_DELTA_DEPTH) throw new CorruptObjectError(`${pack.packPath}: delta chain too deep at offset ${offset}`);
      const entry = pack.readEntry(at);
      if (entry.kind === OFS_DELTA) {
        deltas.push({ offset: at, data: entry.data });
        at = entry.baseOffset!;
      } else if (entry.kind === REF_DELTA) {
        deltas.push({ offset: at, data: entry.data });
        const external = this.readUnverified(entry.baseOid!, depth + deltas.length);
        if (!external) throw new CorruptObjectError(`${pack.packPath} at offset ${at}: delta base ${entry.baseOid} not found`);
        base = external;
        break;
      } else {
        base = { type: TYPE_NAMES[entry.kind], body: entry.data };
        if (keep || deltas.length) objectCache.set(key, base);
        break;
      }
    }
    // Refuse before applying anything when the chain would produce too much in total.
    let produced = base.body.length;
    for (const delta of deltas) {
      produced += readDeltaTargetSize(delta.data);
      if (produced > MAX_CHAIN_OUTPUT_BYTES)
        throw new CorruptObjectError(`${pack.packPath}: the delta chain at offset ${offset} produces more than ${MAX_CHAIN_OUTPUT_BYTES} bytes`);
    }
    for (let k = deltas.length - 1; k >= 0; k--) {
      base = { type: base.type, body: applyDelta(deltas[k].data, base.body) };
      // Kept whatever `keep` says: in git's packs an older commit is a delta on the newer one a
      // walk has just read, and a delta's result is its own memory (no copy to cache it).
      objectCache.set(`${pack.id}:${deltas[k].offset}`, base);
    }
    return base;
  }

  private loosePath(oid: string): string {
    return join(this.gitdir, 'objects', oid.slice(0, 2), oid.slice(2));
  }

  private readLoose(oid: string): GitObject | null {
    let file: Buffer;
    try {
      file = this.fs.readFileSync(this.loosePath(oid));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    let raw: Buffer;
    try {
      // Header ("<type> <size>\0", at most 32 bytes) plus the largest object we read.
      raw = inflateSync(file, { maxOutputLength: MAX_OBJECT_BYTES + 32 });
    } catch (error) {
      throw new CorruptObjectError(`loose object ${oid}: ${(error as Error).message}`);
    }
    const space = raw.indexOf(0x20);
    const nul = raw.indexOf(0);
    const type = raw.toString('latin1', 0, space) as GitObjectType;
    const size = Number(raw.toString('latin1', space + 1, nul));
    if (space < 0 || nul < space || !Object.values(TYPE_NAMES).includes(type) || size !== raw.length - nul - 1) {
      throw new CorruptObjectError(`loose object ${oid}: bad header`);
    }
    return { type, body: raw.subarray(nul + 1) };
  }
}

function verifyOid(oid: string, object: GitObject): void {
  // One-shot hashing of one buffer costs less than a Hash object per object read.
  const actual = hash('sha1', Buffer.concat([Buffer.from(`${object.type} ${object.body.length}\0`, 'latin1'), object.body]));
  if (actual !== oid) throw new CorruptObjectError(`object ${oid} is corrupt: its content hashes to ${actual}`);
}
