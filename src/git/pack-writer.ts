/**
 * Builds a version 2 pack of whole objects, no deltas (gitformat-pack(5)), as isomorphic-git's
 * packObjects does: "PACK", version 2 and the object count (4 bytes each, big-endian); for each
 * object its type and inflated size (3-bit type, size in 4 then 7-bit groups, least significant
 * first, the high bit saying another byte follows) and its zlib-deflated body; then the SHA-1 of
 * everything before. What a push sends: `git index-pack` on the server checks every byte.
 */
import { createHash } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import type { GitObject, GitObjectType } from './pack-reader.js';

const TYPE_CODES: Record<GitObjectType, number> = { commit: 1, tree: 2, blob: 3, tag: 4 };

/** The pack holding `objects`, in that order. */
export function writePack(objects: readonly GitObject[]): Buffer {
  const hash = createHash('sha1');
  const chunks: Buffer[] = [];
  const push = (chunk: Buffer) => {
    hash.update(chunk);
    chunks.push(chunk);
  };
  const header = Buffer.alloc(12);
  header.write('PACK', 0, 'latin1');
  header.writeUInt32BE(2, 4);
  header.writeUInt32BE(objects.length, 8);
  push(header);
  for (const object of objects) {
    push(encodeObjectHeader(TYPE_CODES[object.type], object.body.length));
    push(deflateSync(object.body));
  }
  chunks.push(hash.digest());
  return Buffer.concat(chunks);
}

/** The type and size of one entry (git's Documentation/gitformat-pack.txt); also the pack indexer's for appended bases. */
export function encodeObjectHeader(type: number, size: number): Buffer {
  const bytes: number[] = [];
  let rest = Math.floor(size / 16);
  bytes.push((rest > 0 ? 0x80 : 0) | (type << 4) | (size & 0x0f));
  while (rest > 0) {
    const low = rest & 0x7f;
    rest = Math.floor(rest / 128);
    bytes.push((rest > 0 ? 0x80 : 0) | low);
  }
  return Buffer.from(bytes);
}
