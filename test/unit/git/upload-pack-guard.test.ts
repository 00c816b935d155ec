import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RemoteError, TransferLimitExceededError } from '../../../src/git/errors.js';
import { UploadPackGuard } from '../../../src/git/upload-pack-guard.js';
import { commitFiles, initRepo, makeTempDir } from '../../helpers/git-cli.js';

function pkt(payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from((payload.length + 4).toString(16).padStart(4, '0')), payload]);
}

/** An upload-pack response: NAK, then the pack in side-band-64k packets (with progress between). */
function response(pack: Buffer): Buffer {
  const packets = [pkt(Buffer.from('NAK\n'))];
  for (let offset = 0; offset < pack.length; offset += 1000) {
    packets.push(pkt(Buffer.concat([Buffer.from([1]), pack.subarray(offset, offset + 1000)])));
    packets.push(pkt(Buffer.from('\u0002Counting objects\r')));
  }
  packets.push(Buffer.from('0000'));
  return Buffer.concat(packets);
}

/** Feeds `bytes` to a fresh guard in pieces of the given sizes (cycled). */
function feed(bytes: Buffer, sizes: number[], limits = { maxObjectBytes: 1 << 20, maxObjects: 10_000 }): void {
  const guard = new UploadPackGuard({ url: 'https://git.example.com/fleet.git', ...limits });
  let offset = 0;
  for (let i = 0; offset < bytes.length; i++) {
    const size = sizes[i % sizes.length];
    guard.check(bytes.subarray(offset, offset + size));
    offset += size;
  }
  guard.finish();
}

describe('UploadPackGuard on packs written by git', () => {
  let pack: Buffer;

  beforeAll(() => {
    // Similar versions of one file, so git writes ofs-deltas; plus an incompressible blob.
    const work = initRepo();
    const lines = Array.from({ length: 400 }, (_, i) => `line ${i}: ${'x'.repeat(i % 50)}`);
    for (let v = 0; v < 6; v++) {
      lines[v * 37] = `changed in version ${v}`;
      commitFiles(work, `Version ${v}`, { 'apps/config.yaml': lines.join('\n'), [`bin/blob-${v}`]: randomBytes(3000).toString('base64') });
    }
    pack = execFileSync('git', ['pack-objects', '--stdout', '--revs', '--delta-base-offset'], { cwd: work, input: 'HEAD\n' });
    const packPath = join(makeTempDir(), 'test.pack');
    writeFileSync(packPath, pack);
    execFileSync('git', ['index-pack', packPath]);
    const verify = execFileSync('git', ['verify-pack', '-v', packPath.replace(/\.pack$/, '.idx')]).toString();
    expect(verify).toMatch(/chain length = [1-9]/); // the pack really has deltas
  });

  test.each([
    ['one piece', [1 << 30]],
    ['single bytes', [1]],
    ['odd sizes', [7, 1, 300, 2, 4096, 13]],
  ])('a real pack with deltas passes in %s', (_name, sizes) => {
    expect(() => feed(response(pack), sizes)).not.toThrow();
  });

  test('the same pack with a lower object limit is refused, whatever the chunking', () => {
    for (const sizes of [[1 << 30], [1], [5, 999]]) {
      let error: unknown;
      try {
        feed(response(pack), sizes, { maxObjectBytes: 1000, maxObjects: 10_000 });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(TransferLimitExceededError);
      expect((error as TransferLimitExceededError).data).toMatchObject({ what: 'object', limit: 1000 });
    }
  });

  test('a pack cut short inside an object is reported as corrupt at the end', () => {
    const cut = pack.subarray(0, pack.length - 200);
    expect(() => feed(response(cut), [1 << 30])).toThrow(RemoteError);
  });

  test('a response that is not pkt-lines is refused', () => {
    expect(() => feed(Buffer.concat([Buffer.from('PACK'), pack]), [1 << 30])).toThrow(/not in pkt-line format/);
  });
});
