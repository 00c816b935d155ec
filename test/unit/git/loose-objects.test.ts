/** Loose objects against the git CLI: git hashes them alike, prints them back, and fsck accepts them. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { git, gitEnv, makeTempDir } from '../../helpers/git-cli.js';
import { hashObject, writeLooseObject } from '../../../src/git/loose-objects.js';

function bareRepo(): string {
  const dir = path.join(makeTempDir(), 'repo.git');
  git(path.dirname(dir), 'init', '-q', '--bare', dir);
  return dir;
}

/** `git hash-object -t <type> --stdin` of these bytes. */
function gitHash(dir: string, type: string, body: Buffer): string {
  return execFileSync('git', ['hash-object', '-t', type, '--stdin'], { cwd: dir, env: gitEnv(), input: body, encoding: 'utf8' }).trim();
}

describe('loose objects', () => {
  test.each([
    ['an empty blob', Buffer.alloc(0)],
    ['a text blob', Buffer.from('hello\nworld\n')],
    ['a binary blob', Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 31) % 256))],
  ])('%s is written where git looks, with git’s id, and reads back with git cat-file', async (_what, body) => {
    const dir = bareRepo();
    const oid = await writeLooseObject(fs, dir, 'blob', body);
    expect(oid).toBe(gitHash(dir, 'blob', body));
    expect(hashObject('blob', body)).toBe(oid);
    expect(fs.existsSync(path.join(dir, 'objects', oid.slice(0, 2), oid.slice(2)))).toBe(true);
    expect(git(dir, 'cat-file', '-t', oid)).toBe('blob');
    expect(execFileSync('git', ['cat-file', 'blob', oid], { cwd: dir, maxBuffer: 1 << 24 }).equals(body)).toBe(true);
    git(dir, 'fsck', '--strict', '--no-dangling');
  });

  test('a tree and a commit written as loose objects pass git fsck --strict', async () => {
    const dir = bareRepo();
    const blob = await writeLooseObject(fs, dir, 'blob', Buffer.from('content\n'));
    const tree = await writeLooseObject(fs, dir, 'tree', Buffer.concat([Buffer.from('100644 file.txt\0'), Buffer.from(blob, 'hex')]));
    const commit = await writeLooseObject(
      fs,
      dir,
      'commit',
      Buffer.from(`tree ${tree}\nauthor A <a@example.com> 1700000000 +0000\ncommitter A <a@example.com> 1700000000 +0000\n\nmessage\n`),
    );
    expect(git(dir, 'cat-file', '-p', tree)).toBe(`100644 blob ${blob}\tfile.txt`);
    expect(git(dir, 'cat-file', '-p', commit)).toContain('\n\nmessage');
    git(dir, 'update-ref', 'refs/heads/main', commit);
    git(dir, 'fsck', '--strict', '--no-dangling');
  });

  test('an object already there is left alone, and no temporary file stays behind', async () => {
    const dir = bareRepo();
    const body = Buffer.from('same\n');
    const oid = await writeLooseObject(fs, dir, 'blob', body);
    const file = path.join(dir, 'objects', oid.slice(0, 2), oid.slice(2));
    const inode = fs.statSync(file).ino;
    expect(await writeLooseObject(fs, dir, 'blob', body)).toBe(oid);
    expect(fs.statSync(file).ino).toBe(inode);
    expect(fs.readdirSync(path.dirname(file))).toEqual([oid.slice(2)]);
  });
});
