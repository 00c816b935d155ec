/**
 * The start-up integrity check of the cache directory on real repositories: each cache
 * repository is a shallow fetch by the git CLI laid out as the engine lays it out
 * (`<cacheDir>/<sha256>`, the pack kept, `refs/remotes/origin/main`, a `shallow` file), then
 * damaged the ways a crash or a full volume damages it. A broken one is removed; a sound one is
 * kept exactly as it was.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkCacheRepo, verifyCaches } from '../../../src/git/cache-integrity.js';
import { withRepositoryLock } from '../../../src/git/lock.js';
import { ObjectDatabase } from '../../../src/git/pack-reader.js';
import { commitFiles, git, initRepo, makeTempDir } from '../../helpers/git-cli.js';

let work: string;
let head: string;

beforeAll(() => {
  work = initRepo();
  for (let i = 0; i < 8; i++) commitFiles(work, `Deploy ${i}`, { 'apps/app.yaml': `replicas: ${i}\n`, [`apps/file-${i}.yaml`]: `n: ${i}\n` });
  head = git(work, 'rev-parse', 'HEAD');
});

afterEach(() => ObjectDatabase.closeAll());

/** A cache repository as the engine leaves it after a shallow fetch of main; returns its gitdir. */
function cacheRepo(cacheDir: string, name = `repo-${Math.random()}`): string {
  const gitdir = path.join(cacheDir, createHash('sha256').update(name).digest('hex'));
  git(cacheDir, 'init', '-q', '--bare', gitdir);
  // Kept as a pack (as isomorphic-git keeps every fetch), not exploded into loose objects.
  git(gitdir, '-c', 'fetch.unpackLimit=1', 'fetch', '-q', '--depth', '3', `file://${work}`, 'main:refs/remotes/origin/main');
  return gitdir;
}

function packFiles(gitdir: string, ext: 'pack' | 'idx'): string[] {
  const dir = path.join(gitdir, 'objects', 'pack');
  return fs
    .readdirSync(dir)
    .filter((name) => name.endsWith(`.${ext}`))
    .map((name) => path.join(dir, name));
}

const MISSING_OID = '0123456789abcdef0123456789abcdef01234567';

/** Each way to break a repository, and the problem the check names. */
const damages: [string, (gitdir: string) => void, RegExp][] = [
  ['a truncated pack', (g) => fs.truncateSync(packFiles(g, 'pack')[0], fs.statSync(packFiles(g, 'pack')[0]).size - 100), /checksum mismatch|truncated/],
  ['a pack cut to its header', (g) => fs.truncateSync(packFiles(g, 'pack')[0], 20), /truncated/],
  ['a deleted .idx', (g) => fs.rmSync(packFiles(g, 'idx')[0]), /has no index/],
  ['a deleted .pack', (g) => fs.rmSync(packFiles(g, 'pack')[0]), /has no pack/],
  ['a truncated .idx', (g) => fs.truncateSync(packFiles(g, 'idx')[0], 1100), /index: truncated pack index|not a version 2 pack index/],
  [
    'an .idx with a flipped byte',
    (g) => {
      const idx = packFiles(g, 'idx')[0];
      const bytes = fs.readFileSync(idx);
      bytes[8 + 256 * 4 + 3] ^= 0xff;
      fs.writeFileSync(idx, bytes);
    },
    /index checksum mismatch/,
  ],
  [
    'a ref pointing at a missing object',
    (g) => fs.writeFileSync(path.join(g, 'refs', 'remotes', 'origin', 'main'), `${MISSING_OID}\n`),
    /refs\/remotes\/origin\/main points at 0123456/,
  ],
  [
    'a packed ref pointing at a missing object',
    (g) => fs.writeFileSync(path.join(g, 'packed-refs'), `${MISSING_OID} refs/remotes/origin/old\n`),
    /packed-refs refs\/remotes\/origin\/old points at/,
  ],
  ['a ref holding garbage', (g) => fs.writeFileSync(path.join(g, 'refs', 'remotes', 'origin', 'main'), 'not an id\n'), /does not hold an object id/],
  ['a shallow boundary that is missing', (g) => fs.appendFileSync(path.join(g, 'shallow'), `${MISSING_OID}\n`), /shallow names 0123456/],
  ['a missing config', (g) => fs.rmSync(path.join(g, 'config')), /config is missing/],
];

describe('checkCacheRepo', () => {
  test('a sound shallow cache repository passes', async () => {
    const gitdir = cacheRepo(makeTempDir());
    expect(fs.existsSync(path.join(gitdir, 'shallow'))).toBe(true);
    expect(git(gitdir, 'rev-parse', 'refs/remotes/origin/main')).toBe(head);
    await expect(checkCacheRepo(fs, gitdir)).resolves.toBeUndefined();
  });

  test('loose objects and a packed ref to a present object pass; a symbolic ref is not followed', async () => {
    const gitdir = cacheRepo(makeTempDir());
    git(gitdir, 'pack-refs', '--all');
    expect(fs.existsSync(path.join(gitdir, 'refs', 'remotes', 'origin', 'main'))).toBe(false);
    fs.mkdirSync(path.join(gitdir, 'refs', 'remotes', 'origin'), { recursive: true });
    fs.writeFileSync(path.join(gitdir, 'refs', 'remotes', 'origin', 'HEAD'), 'ref: refs/remotes/origin/main\n');
    const file = path.join(makeTempDir(), 'loose.yaml');
    fs.writeFileSync(file, 'loose: true\n');
    const blob = git(gitdir, 'hash-object', '-w', file);
    expect(fs.existsSync(path.join(gitdir, 'objects', blob.slice(0, 2), blob.slice(2)))).toBe(true);
    fs.writeFileSync(path.join(gitdir, 'refs', 'remotes', 'origin', 'loose'), `${blob}\n`);
    await expect(checkCacheRepo(fs, gitdir)).resolves.toBeUndefined();
  });

  test.each(damages)('%s is found', async (_name, damage, problem) => {
    const gitdir = cacheRepo(makeTempDir());
    damage(gitdir);
    expect(await checkCacheRepo(fs, gitdir)).toMatch(problem);
  });
});

describe('verifyCaches', () => {
  test('removes each broken repository, keeps the sound ones untouched, and ignores what is not a cache repository', async () => {
    const cacheDir = makeTempDir();
    const sound = cacheRepo(cacheDir, 'sound');
    const soundFiles = git(sound, 'count-objects', '-v');
    const broken = damages.map(([name, damage]) => {
      const gitdir = cacheRepo(cacheDir, name);
      damage(gitdir);
      return gitdir;
    });
    fs.mkdirSync(path.join(cacheDir, 'locks'));
    fs.mkdirSync(path.join(cacheDir, 'not-a-cache'));

    const outcome = await verifyCaches({ fs, cacheDir, lockDir: path.join(cacheDir, 'locks') });

    expect(outcome.sound).toBe(1);
    expect(outcome.skipped).toBe(0);
    expect(outcome.removed.map((r) => r.gitdir).sort()).toEqual([...broken].sort());
    for (const gitdir of broken) expect(fs.existsSync(gitdir)).toBe(false);
    expect(git(sound, 'count-objects', '-v')).toBe(soundFiles);
    expect(git(sound, 'fsck', '--connectivity-only', '--no-dangling')).toBe('');
    expect(fs.existsSync(path.join(cacheDir, 'not-a-cache'))).toBe(true);
  });

  test('a repository locked by a run in progress is skipped, not checked or removed', async () => {
    const cacheDir = makeTempDir();
    const lockDir = path.join(cacheDir, 'locks');
    const gitdir = cacheRepo(cacheDir, 'busy');
    fs.rmSync(packFiles(gitdir, 'idx')[0]);
    let outcome: Awaited<ReturnType<typeof verifyCaches>> | undefined;
    await withRepositoryLock(
      gitdir,
      async () => {
        outcome = await verifyCaches({ fs, cacheDir, lockDir });
      },
      { lockDir },
    );
    expect(outcome).toEqual({ sound: 0, removed: [], skipped: 1 });
    expect(fs.existsSync(gitdir)).toBe(true);
  });

  test('a missing cache directory is nothing to check', async () => {
    await expect(verifyCaches({ fs, cacheDir: path.join(makeTempDir(), 'absent'), lockDir: path.join(makeTempDir(), 'locks') })).resolves.toEqual({
      sound: 0,
      removed: [],
      skipped: 0,
    });
  });
});
