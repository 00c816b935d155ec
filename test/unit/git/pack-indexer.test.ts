/**
 * PackIndexer against git's index-pack as the oracle: packs written by git pack-objects (offset
 * deltas, REF_DELTAs, deep chains from gc --aggressive, a base too large for the cache) are fed
 * in every chunking, and the pack and .idx written must equal what `git index-pack` writes, byte
 * for byte. Malformed and oversized packs must end in a typed error with nothing left behind.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { RemoteError, TransferLimitExceededError } from '../../../src/git/errors.js';
import { PackIndexer, type PackIndexerOptions } from '../../../src/git/pack-indexer.js';
import { commitFiles, initRepo, makeTempDir } from '../../helpers/git-cli.js';

const MiB = 1024 * 1024;
const LIMITS = { maxObjectBytes: 32 * MiB, maxObjects: 100_000, maxInflatedBytes: 1024 * MiB };

/** A repository whose history makes git write deltas: versions of one file, plus random blobs. */
function deltaRepo(versions = 6): string {
  const work = initRepo();
  const lines = Array.from({ length: 400 }, (_, i) => `line ${i}: ${'x'.repeat(i % 50)}`);
  for (let v = 0; v < versions; v++) {
    lines[(v * 37) % lines.length] = `changed in version ${v}`;
    commitFiles(work, `Version ${v}`, { 'apps/config.yaml': lines.join('\n'), [`bin/blob-${v}`]: randomBytes(3000).toString('base64') });
  }
  return work;
}

function packOf(work: string, ...flags: string[]): Buffer {
  return execFileSync('git', ['pack-objects', '--stdout', '--revs', ...flags], { cwd: work, input: 'HEAD\n', maxBuffer: 256 * MiB });
}

/** What git index-pack writes for this pack: its name and .idx bytes. */
function gitIndex(pack: Buffer): { name: string; idx: Buffer } {
  const dir = makeTempDir('git-index-');
  const packPath = join(dir, 'p.pack');
  fs.writeFileSync(packPath, pack);
  execFileSync('git', ['index-pack', packPath]);
  return { name: `pack-${pack.subarray(pack.length - 20).toString('hex')}`, idx: fs.readFileSync(join(dir, 'p.idx')) };
}

async function index(pack: Buffer, sizes: number[], options: Partial<PackIndexerOptions> = {}): Promise<{ gitdir: string; name?: string; objects: number }> {
  const gitdir = makeTempDir('indexer-');
  const indexer = new PackIndexer({ fs, gitdir, url: 'https://git.example.com/fleet.git', ...LIMITS, ...options });
  let offset = 0;
  for (let i = 0; offset < pack.length; i++) {
    const size = sizes[i % sizes.length];
    await indexer.write(pack.subarray(offset, offset + size));
    offset += size;
  }
  return { gitdir, ...(await indexer.finish()) };
}

async function indexError(pack: Buffer, options: Partial<PackIndexerOptions> = {}, sizes = [4096]): Promise<{ error: unknown; leftovers: string[] }> {
  const gitdir = makeTempDir('indexer-');
  const indexer = new PackIndexer({ fs, gitdir, url: 'https://git.example.com/fleet.git', ...LIMITS, ...options });
  let error: unknown;
  try {
    for (let offset = 0; offset < pack.length; offset += sizes[0]) await indexer.write(pack.subarray(offset, offset + sizes[0]));
    await indexer.finish();
  } catch (e) {
    error = e;
  }
  return { error, leftovers: fs.readdirSync(join(gitdir, 'objects', 'pack')) };
}

function expectSameAsGit(result: { gitdir: string; name?: string }, pack: Buffer): void {
  const expected = gitIndex(pack);
  expect(result.name).toBe(expected.name);
  const base = join(result.gitdir, 'objects', 'pack', result.name!);
  expect(fs.readFileSync(`${base}.idx`).equals(expected.idx)).toBe(true);
  expect(fs.readFileSync(`${base}.pack`).equals(pack)).toBe(true);
  expect(fs.readdirSync(join(result.gitdir, 'objects', 'pack')).sort()).toEqual([`${result.name}.idx`, `${result.name}.pack`]);
}

describe('PackIndexer writes what git index-pack writes', () => {
  let work: string;
  beforeAll(() => {
    work = deltaRepo();
  });

  test.each([
    ['one piece', [1 << 30]],
    ['single bytes', [1]],
    ['odd sizes', [7, 1, 300, 2, 4096, 13]],
  ])('offset deltas, in %s', async (_name, sizes) => {
    const pack = packOf(work, '--delta-base-offset');
    expectSameAsGit(await index(pack, sizes), pack);
  });

  test('REF_DELTAs (no --delta-base-offset), resolved after the stream', async () => {
    const pack = packOf(work);
    const verify = execFileSync('git', ['verify-pack', '-v', join(gitIndexDir(pack), 'p.idx')]).toString();
    expect(verify).toMatch(/chain length = [1-9]/); // the pack really has deltas
    expectSameAsGit(await index(pack, [999]), pack);
  });

  test('deep delta chains (gc --aggressive) of a longer history', async () => {
    const deep = deltaRepo(60);
    execFileSync('git', ['gc', '--aggressive', '--quiet'], { cwd: deep });
    const pack = packOf(deep, '--delta-base-offset', '--depth=250');
    expectSameAsGit(await index(pack, [65515]), pack);
  });

  test('a delta whose base is too large for the cache is resolved from the file', async () => {
    const big = initRepo();
    const content = randomBytes(7 * MiB).toString('base64'); // ~9.3 MiB, above the cache's per-object share
    commitFiles(big, 'big', { 'charts/big.txt': content });
    commitFiles(big, 'edit', { 'charts/big.txt': `${content.slice(0, 1000)}edited${content.slice(1006)}` });
    const pack = packOf(big, '--delta-base-offset');
    const verify = execFileSync('git', ['verify-pack', '-v', join(gitIndexDir(pack), 'p.idx')]).toString();
    expect(verify).toMatch(/chain length = 1/);
    expectSameAsGit(await index(pack, [65515]), pack);
  });

  test('an empty pack writes nothing', async () => {
    const header = Buffer.from('PACK\0\0\0\x02\0\0\0\0', 'latin1');
    const pack = Buffer.concat([header, createHash('sha1').update(header).digest()]);
    const result = await index(pack, [5]);
    expect(result.objects).toBe(0);
    expect(result.name).toBeUndefined();
    expect(fs.readdirSync(join(result.gitdir, 'objects', 'pack'))).toEqual([]);
  });
});

function gitIndexDir(pack: Buffer): string {
  const dir = makeTempDir('git-index-');
  fs.writeFileSync(join(dir, 'p.pack'), pack);
  execFileSync('git', ['index-pack', join(dir, 'p.pack')]);
  return dir;
}

describe('PackIndexer refuses, and leaves nothing behind', () => {
  let pack: Buffer;
  beforeAll(() => {
    pack = packOf(deltaRepo(), '--delta-base-offset');
  });

  test.each([[[1 << 30]], [[1]], [[5, 999]]])('an object over maxObjectBytes, chunked as %j', async (sizes) => {
    const { error, leftovers } = await indexError(pack, { maxObjectBytes: 1000 }, sizes);
    expect(error).toBeInstanceOf(TransferLimitExceededError);
    expect((error as TransferLimitExceededError).data).toMatchObject({ what: 'object', limit: 1000 });
    expect(leftovers).toEqual([]);
  });

  test('more objects than maxObjects, at the header', async () => {
    const { error, leftovers } = await indexError(pack, { maxObjects: 3 });
    expect((error as TransferLimitExceededError).data).toMatchObject({ what: 'objects', limit: 3 });
    expect(leftovers).toEqual([]);
  });

  test('more inflated bytes than maxInflatedBytes', async () => {
    const { error } = await indexError(pack, { maxInflatedBytes: 20_000 });
    expect((error as TransferLimitExceededError).data).toMatchObject({ what: 'inflated', limit: 20_000 });
  });

  test.each([
    ['cut short inside an object', (p: Buffer) => p.subarray(0, p.length - 200), /ends before its last object/],
    ['without its checksum', (p: Buffer) => p.subarray(0, p.length - 20), /ends before|checksum/],
    ['with a wrong checksum', (p: Buffer) => Buffer.concat([p.subarray(0, p.length - 1), Buffer.from([p[p.length - 1] ^ 1])]), /checksum does not match/],
    ['with data after the checksum', (p: Buffer) => Buffer.concat([p, Buffer.from('junk')]), /after the pack checksum/],
    ['not starting with PACK', (p: Buffer) => Buffer.concat([Buffer.from('KCAP'), p.subarray(4)]), /does not start with PACK/],
  ])('a pack %s', async (_name, mangle, message) => {
    const { error, leftovers } = await indexError(mangle(pack));
    expect(error).toBeInstanceOf(RemoteError);
    expect((error as Error).message).toMatch(message);
    expect(leftovers).toEqual([]);
  });

  test('a REF_DELTA whose base is not in the pack (a thin pack we did not ask for)', async () => {
    const work = deltaRepo();
    const thin = execFileSync('git', ['pack-objects', '--stdout', '--revs', '--thin'], { cwd: work, input: 'HEAD\n^HEAD~1\n' });
    const verify = gitThinHasExternalBase(thin);
    expect(verify).toBe(true);
    const { error, leftovers } = await indexError(thin);
    expect((error as Error).message).toMatch(/refers to a base the pack does not contain/);
    expect(leftovers).toEqual([]);
  });

  test('a thin pack whose bases the repository has is completed as git index-pack --fix-thin does', async () => {
    const work = deltaRepo();
    const thin = execFileSync('git', ['pack-objects', '--stdout', '--revs', '--thin'], { cwd: work, input: 'HEAD\n^HEAD~1\n' });
    expect(gitThinHasExternalBase(thin)).toBe(true);
    const existing = (oid: string) => {
      const type = execFileSync('git', ['cat-file', '-t', oid], { cwd: work }).toString().trim();
      return { type, body: execFileSync('git', ['cat-file', type, oid], { cwd: work }) };
    };
    const result = await index(thin, [999], { existingObject: existing });
    const packPath = join(result.gitdir, 'objects', 'pack', `${result.name}.pack`);
    // git reads the completed pack on its own: every object, and every delta's base, in it.
    const verify = execFileSync('git', ['verify-pack', '-v', packPath.replace(/\.pack$/, '.idx')]).toString();
    expect(verify).toMatch(/: ok\n?$/);
    const ours = verify
      .split('\n')
      .filter((line) => /^[0-9a-f]{40} /.test(line))
      .map((line) => line.slice(0, 40))
      .sort();
    // The same objects as git's own completion of the same thin pack.
    const dir = makeTempDir('git-fix-thin-');
    execFileSync('git', ['init', '-q', '--bare', dir]);
    execFileSync('git', ['branch', '-f', 'base', 'HEAD~1'], { cwd: work });
    execFileSync('git', ['--git-dir', dir, 'fetch', '-q', work, 'refs/heads/base:refs/heads/base']);
    execFileSync('git', ['--git-dir', dir, 'index-pack', '--stdin', '--fix-thin'], { input: thin });
    const theirsIdx = fs.readdirSync(join(dir, 'objects', 'pack')).filter((f) => f.endsWith('.idx'));
    const theirs = theirsIdx
      .map((f) => execFileSync('git', ['show-index'], { input: fs.readFileSync(join(dir, 'objects', 'pack', f)) }).toString())
      .find((listing) => listing.split('\n').filter(Boolean).length === ours.length);
    expect(theirs).toBeDefined();
    expect(
      theirs!
        .split('\n')
        .filter(Boolean)
        .map((line) => line.split(' ')[1])
        .sort(),
    ).toEqual(ours);
    expect(result.objects).toBe(ours.length);
  });

  test('a thin pack whose base the repository does not have either is refused', async () => {
    const work = deltaRepo();
    const thin = execFileSync('git', ['pack-objects', '--stdout', '--revs', '--thin'], { cwd: work, input: 'HEAD\n^HEAD~1\n' });
    const { error, leftovers } = await indexError(thin, { existingObject: () => null });
    expect((error as Error).message).toMatch(/refers to a base the pack does not contain/);
    expect(leftovers).toEqual([]);
  });

  test('a delta whose header is cut short', async () => {
    // A blob, then an OFS_DELTA on it (distance = the blob's entry length) whose data is one byte
    // with the continuation bit set: the size varints end before they begin.
    const { deflateSync } = await import('node:zlib');
    const blob = Buffer.from('kind: Pod\n');
    const first = Buffer.concat([Buffer.from([0x30 | blob.length]), deflateSync(blob)]);
    const delta = Buffer.concat([Buffer.from([0x60 | 1, first.length]), deflateSync(Buffer.from([0x80]))]);
    const body = Buffer.concat([Buffer.from('PACK\0\0\0\x02\0\0\0\x02', 'latin1'), first, delta]);
    const { error, leftovers } = await indexError(Buffer.concat([body, createHash('sha1').update(body).digest()]));
    expect(error).toBeInstanceOf(RemoteError);
    expect((error as Error).message).toMatch(/a delta header is truncated/);
    expect(leftovers).toEqual([]);
  });

  test('an object twice', async () => {
    // Two copies of one blob, written as whole objects: a valid pack stream git refuses to index.
    const blob = Buffer.from('kind: Pod\n');
    const entry = Buffer.concat([Buffer.from([0x30 | blob.length]), (await import('node:zlib')).deflateSync(blob)]);
    const header = Buffer.from('PACK\0\0\0\x02\0\0\0\x02', 'latin1');
    const body = Buffer.concat([header, entry, entry]);
    const { error, leftovers } = await indexError(Buffer.concat([body, createHash('sha1').update(body).digest()]));
    expect((error as Error).message).toMatch(/holds object [0-9a-f]{40} twice/);
    expect(leftovers).toEqual([]);
  });
});

/** git index-pack refuses a thin pack without --fix-thin: the pack really needs an outside base. */
function gitThinHasExternalBase(pack: Buffer): boolean {
  const dir = makeTempDir('git-thin-');
  fs.writeFileSync(join(dir, 'p.pack'), pack);
  try {
    execFileSync('git', ['index-pack', join(dir, 'p.pack')], { stdio: 'pipe' });
    return false;
  } catch {
    return true;
  }
}
