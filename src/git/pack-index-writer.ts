/**
 * Encodes a pack's `.idx` in version 2 (git's Documentation/gitformat-pack.txt): magic and
 * version, the 256-entry fan-out table, the sorted object ids, their CRC-32s, their offsets (31
 * bits, or an index into a table of 64-bit offsets for packs over 2 GiB), the pack's checksum and
 * the index's own. ./pack-reader.ts, isomorphic-git and git read it.
 */
import { createHash } from 'node:crypto';
import { CodedError } from '../coded-error.js';

export interface PackIndexEntries {
  count: number;
  /** 20 bytes per object, in the pack's order. */
  oids: Buffer;
  offsets: Float64Array;
  crcs: Uint32Array;
}

const MAGIC = Buffer.from([0xff, 0x74, 0x4f, 0x63]);
/** Entries are sorted on their first four bytes and their position packed into one double. */
const POSITION_BITS = 2 ** 20;

/**
 * The `.idx` bytes for these entries and the pack's trailing checksum. Throws when two entries
 * have the same id (git's index-pack refuses such a pack too).
 */
export function encodePackIndex(entries: PackIndexEntries, packChecksum: Buffer): Buffer {
  const { count, oids, offsets, crcs } = entries;
  const order = sortedOrder(entries);
  const large = offsets.filter((offset) => offset >= 0x80000000).length;
  const out = Buffer.alloc(8 + 256 * 4 + count * 28 + large * 8 + 40);
  MAGIC.copy(out, 0);
  out.writeUInt32BE(2, 4);
  const fanout = 8;
  const names = fanout + 256 * 4;
  const crcTable = names + count * 20;
  const offsetTable = crcTable + count * 4;
  const largeTable = offsetTable + count * 4;
  let nextLarge = 0;
  const counts = new Uint32Array(256);
  for (let i = 0; i < count; i++) {
    const entry = order[i];
    counts[oids[entry * 20]]++;
    oids.copy(out, names + i * 20, entry * 20, entry * 20 + 20);
    out.writeUInt32BE(crcs[entry], crcTable + i * 4);
    const offset = offsets[entry];
    if (offset < 0x80000000) {
      out.writeUInt32BE(offset, offsetTable + i * 4);
    } else {
      out.writeUInt32BE((0x80000000 | nextLarge) >>> 0, offsetTable + i * 4);
      out.writeBigUInt64BE(BigInt(offset), largeTable + nextLarge * 8);
      nextLarge++;
    }
  }
  let cumulative = 0;
  for (let byte = 0; byte < 256; byte++) out.writeUInt32BE((cumulative += counts[byte]), fanout + byte * 4);
  const end = largeTable + large * 8;
  packChecksum.copy(out, end);
  createHash('sha1')
    .update(out.subarray(0, end + 20))
    .digest()
    .copy(out, end + 20);
  return out;
}

/** Positions of the entries in id order; throws on a duplicate id. */
function sortedOrder({ count, oids }: PackIndexEntries): Uint32Array {
  if (count >= POSITION_BITS) throw new Error(`too many objects for one index: ${count}`);
  // A typed-array sort of (first four bytes, position) is native and allocation-free; the
  // rare runs that share their first four bytes are then ordered on the whole id.
  const keys = new Float64Array(count);
  for (let i = 0; i < count; i++) keys[i] = oids.readUInt32BE(i * 20) * POSITION_BITS + i;
  keys.sort();
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = keys[i] % POSITION_BITS;
  for (let start = 0; start < count;) {
    let end = start + 1;
    while (end < count && oids.readUInt32BE(order[end] * 20) === oids.readUInt32BE(order[start] * 20)) end++;
    if (end - start > 1) sortRun(order, start, end, oids);
    start = end;
  }
  return order;
}

function sortRun(order: Uint32Array, start: number, end: number, oids: Buffer): void {
  const id = (entry: number) => oids.subarray(entry * 20, entry * 20 + 20);
  const run = Array.from(order.subarray(start, end)).sort((a, b) => Buffer.compare(id(a), id(b)));
  for (let i = 1; i < run.length; i++) {
    if (Buffer.compare(id(run[i - 1]), id(run[i])) === 0) throw new DuplicateObjectError(id(run[i]).toString('hex'));
  }
  order.set(run, start);
}

/** Caught by the indexer, which reports the pack as corrupt. */
export class DuplicateObjectError extends CodedError {
  readonly code = 'DuplicateObjectError' as const;
  constructor(readonly oid: string) {
    super(`the pack holds object ${oid} twice`);
  }
}
