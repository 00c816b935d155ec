import { afterAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { IndexBytes } from '../../../src/git/pack-reader.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'index-bytes-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Three and a half 64 KiB blocks, so reads straddle block edges. */
const data = randomBytes(3.5 * 65536);
const file = path.join(dir, 'data.idx');
fs.writeFileSync(file, data);

function sign(n: number): number {
  return n === 0 ? 0 : n > 0 ? 1 : -1;
}

describe('IndexBytes', () => {
  const fd = fs.openSync(file, 'r');
  afterAll(() => fs.closeSync(fd));
  const sources = [
    ['a buffer', IndexBytes.of(data)],
    ['a file read in blocks', IndexBytes.ofFile(fs, fd, data.length)],
  ] as const;
  // Every position within 24 bytes of a block edge, and some elsewhere.
  const positions = [0, 1, 1000, 99_999, data.length - 24];
  for (const edge of [65536, 131072, 196608]) for (let d = -24; d <= 24; d++) positions.push(edge + d);

  it.each(sources)('reads from %s what the buffer holds, across block edges', (_name, bytes) => {
    expect(bytes.length).toBe(data.length);
    for (const p of positions) {
      expect(bytes.byte(p)).toBe(data[p]);
      expect(bytes.u32(p)).toBe(data.readUInt32BE(p));
      expect(bytes.slice(p, 20).equals(data.subarray(p, p + 20))).toBe(true);
      const id = data.subarray(p, p + 20);
      expect(bytes.compareId(p, id)).toBe(0);
      const other = randomBytes(20);
      expect(sign(bytes.compareId(p, other))).toBe(sign(Buffer.compare(id, other)));
    }
  });

  it('reads a block from the file only when it is first used', () => {
    const reads: number[] = [];
    const readSync = (fd: number, buffer: Buffer, offset: number, length: number, position: number): number => {
      reads.push(position);
      return fs.readSync(fd, buffer, offset, length, position);
    };
    const counting = { ...fs, readSync } as unknown as typeof fs;
    const bytes = IndexBytes.ofFile(counting, fd, data.length);
    bytes.u32(70_000);
    bytes.u32(70_004);
    expect(reads).toEqual([65536]);
    bytes.byte(3 * 65536 + 5);
    expect(reads).toEqual([65536, 196608]);
  });
});
