import { randomBytes } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { Inflater, inflateWithSync, type InflateResult } from '../../../src/git/inflater.js';

const body = Buffer.from('apiVersion: apps/v1\nkind: Deployment\n'.repeat(40));
const stream = deflateSync(body);
const next = Buffer.from('the next object');

/** Each case through the reused handle and through inflateSync: the same answers. */
describe.each([
  ['the reused zlib handle', (input: Buffer, size: number, out: Buffer) => inflater.inflate(input, size, out)],
  ['zlib.inflateSync', inflateWithSync],
])('%s', (_name, inflate: (input: Buffer, size: number, out: Buffer) => InflateResult) => {
  const out = Buffer.alloc(body.length + 100);

  test('inflates a stream followed by other bytes, and says how many it took', () => {
    const result = inflate(Buffer.concat([stream, next]), body.length, out);
    expect(result).toMatchObject({ kind: 'done', consumed: stream.length });
    expect((result as { body: Buffer }).body.equals(body)).toBe(true);
  });

  test('a cut stream is incomplete, and the next call still works', () => {
    for (const cut of [1, 10, stream.length - 4, stream.length - 1]) expect(inflate(stream.subarray(0, cut), body.length, out)).toEqual({ kind: 'incomplete' });
    expect(inflate(stream, body.length, out).kind).toBe('done');
  });

  test('more output than declared is too large; less comes back as it is', () => {
    expect(inflate(stream, body.length - 1, out)).toEqual({ kind: 'too-large' });
    expect((inflate(stream, body.length + 10, out) as { body: Buffer }).body.length).toBe(body.length);
  });

  test('bytes that are not zlib are corrupt, and the next call still works', () => {
    expect(inflate(randomBytes(64), 10, out)).toMatchObject({ kind: 'corrupt' });
    expect(inflate(stream, body.length, out).kind).toBe('done');
  });
});

const inflater = new Inflater();
afterAll(() => inflater.close());
