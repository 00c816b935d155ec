/**
 * Refs against the git CLI: what we write `git rev-parse` reads, and we read what git writes,
 * loose, packed (`git pack-refs --all`) and through symrefs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cloneBare, commitFiles, git, initRepo } from '../../helpers/git-cli.js';
import { isValidRefName, listRefs, resolveRef, writeRef } from '../../../src/git/refs.js';

function setUp(): { bare: string; first: string; second: string } {
  const repo = initRepo();
  const first = commitFiles(repo, 'first', { 'a.txt': 'a\n' });
  const second = commitFiles(repo, 'second', { 'a.txt': 'b\n' });
  git(repo, 'branch', 'feature/x', first);
  return { bare: cloneBare(repo), first, second };
}

describe('refs', () => {
  test('loose refs git wrote resolve to what git rev-parse says', async () => {
    const { bare, first, second } = setUp();
    expect(await resolveRef(fs, bare, 'refs/heads/main')).toBe(second);
    expect(await resolveRef(fs, bare, 'refs/heads/feature/x')).toBe(first);
    expect(await resolveRef(fs, bare, 'HEAD')).toBe(git(bare, 'rev-parse', 'HEAD'));
  });

  test('packed refs (git pack-refs --all) resolve, and a loose ref wins over its packed line', async () => {
    const { bare, first, second } = setUp();
    git(bare, 'tag', '-a', '-m', 'annotated', 'v1', first);
    git(bare, 'pack-refs', '--all');
    expect(fs.existsSync(path.join(bare, 'refs/heads/main'))).toBe(false);
    expect(await resolveRef(fs, bare, 'refs/heads/main')).toBe(second);
    expect(await resolveRef(fs, bare, 'refs/heads/feature/x')).toBe(first);
    expect(await resolveRef(fs, bare, 'refs/tags/v1')).toBe(git(bare, 'rev-parse', 'refs/tags/v1'));
    await writeRef(fs, bare, 'refs/heads/main', first);
    expect(await resolveRef(fs, bare, 'refs/heads/main')).toBe(first);
    expect(git(bare, 'rev-parse', 'refs/heads/main')).toBe(first);
  });

  test('written refs are read by git rev-parse and leave no lock behind', async () => {
    const { bare, first } = setUp();
    await writeRef(fs, bare, 'refs/remotes/origin/release/1', first);
    expect(git(bare, 'rev-parse', 'refs/remotes/origin/release/1')).toBe(first);
    expect(fs.readFileSync(path.join(bare, 'refs/remotes/origin/release/1'), 'utf8')).toBe(`${first}\n`);
    expect(fs.readdirSync(path.join(bare, 'refs/remotes/origin/release'))).toEqual(['1']);
    git(bare, 'fsck', '--strict');
  });

  test('in a cache repository, a lock an interrupted write left behind is taken over', async () => {
    const { bare, first } = setUp();
    fs.writeFileSync(path.join(bare, 'refs/heads/main.lock'), 'garbage');
    await writeRef(fs, bare, 'refs/heads/main', first, { existingLock: 'take-over' });
    expect(git(bare, 'rev-parse', 'main')).toBe(first);
    expect(fs.existsSync(path.join(bare, 'refs/heads/main.lock'))).toBe(false);
  });

  test('elsewhere a lock is refused, as git refuses it, and left alone (a git process may hold it)', async () => {
    const { bare, first, second } = setUp();
    // What git itself says about the same lock: the oracle for refusing.
    fs.writeFileSync(path.join(bare, 'refs/heads/main.lock'), 'held');
    expect(() => git(bare, 'update-ref', 'refs/heads/main', first)).toThrow(/main\.lock.*File exists/s);
    await expect(writeRef(fs, bare, 'refs/heads/main', first)).rejects.toMatchObject({ code: 'PushRejectedError', data: { ref: 'refs/heads/main' } });
    expect(fs.readFileSync(path.join(bare, 'refs/heads/main.lock'), 'utf8')).toBe('held');
    expect(git(bare, 'rev-parse', 'main')).toBe(second);
  });

  test('expectedOld is checked under the lock: a ref that moved is not overwritten', async () => {
    const { bare, first, second } = setUp();
    await expect(writeRef(fs, bare, 'refs/heads/main', first, { expectedOld: first })).rejects.toMatchObject({
      code: 'PushRejectedError',
      data: { reason: 'stale: branch moved' },
    });
    expect(git(bare, 'rev-parse', 'main')).toBe(second);
    expect(fs.existsSync(path.join(bare, 'refs/heads/main.lock'))).toBe(false);
    await writeRef(fs, bare, 'refs/heads/main', first, { expectedOld: second });
    expect(git(bare, 'rev-parse', 'main')).toBe(first);
    await writeRef(fs, bare, 'refs/heads/new', first, { expectedOld: '0'.repeat(40) });
    expect(git(bare, 'rev-parse', 'new')).toBe(first);
  });

  test('symrefs are followed, at most five deep', async () => {
    const { bare, second } = setUp();
    git(bare, 'symbolic-ref', 'refs/heads/alias', 'refs/heads/main');
    expect(await resolveRef(fs, bare, 'refs/heads/alias')).toBe(second);
    for (let i = 0; i < 6; i++) fs.writeFileSync(path.join(bare, `refs/heads/s${i}`), `ref: refs/heads/${i === 5 ? 'main' : `s${i + 1}`}\n`);
    expect(await resolveRef(fs, bare, 'refs/heads/s1')).toBe(second);
    expect(await resolveRef(fs, bare, 'refs/heads/s0')).toBeUndefined();
    fs.writeFileSync(path.join(bare, 'refs/heads/loop'), 'ref: refs/heads/loop\n');
    expect(await resolveRef(fs, bare, 'refs/heads/loop')).toBeUndefined();
  });

  test.each([
    ['a missing ref', 'refs/heads/nope'],
    ['a name that climbs out of refs/', 'refs/heads/../../config'],
    ['a directory of refs', 'refs/heads/feature'],
    ['a name under a ref', 'refs/heads/main/sub'],
  ])('%s resolves to undefined', async (_what, ref) => {
    const { bare } = setUp();
    expect(await resolveRef(fs, bare, ref)).toBeUndefined();
  });

  test('a malformed ref file resolves to undefined', async () => {
    const { bare } = setUp();
    fs.writeFileSync(path.join(bare, 'refs/heads/bad'), 'not an id\n');
    expect(await resolveRef(fs, bare, 'refs/heads/bad')).toBeUndefined();
  });

  test('branches are listed loose and packed, as git branch lists them', async () => {
    const { bare, first } = setUp();
    git(bare, 'pack-refs', '--all');
    await writeRef(fs, bare, 'refs/heads/zeta/one', first);
    fs.writeFileSync(path.join(bare, 'refs/heads/stale.lock'), first);
    const listed = git(bare, 'for-each-ref', '--format=%(refname:short)', 'refs/heads').split('\n').sort();
    expect(await listRefs(fs, bare, 'refs/heads')).toEqual(listed);
    expect(listed).toEqual(['feature/x', 'main', 'zeta/one']);
  });

  test.each([
    ['refs/heads/main', true],
    ['refs/remotes/origin/feature/x-1', true],
    ['HEAD', false],
    ['main', false],
    ['refs/heads/../x', false],
    ['refs/heads/.hidden', false],
    ['refs/heads/x.lock', false],
    ['refs/heads/a b', false],
    ['refs/heads/a~1', false],
    ['refs/heads/a@{1}', false],
    ['refs/heads/a//b', false],
    ['refs/heads/a/', false],
    ['refs/heads/a.', false],
    ['refs/heads/a\\b', false],
  ])('%s is a valid ref name: %s (as git check-ref-format says)', (name, valid) => {
    expect(isValidRefName(name)).toBe(valid);
    if (name.startsWith('refs/')) {
      let gitSays = true;
      try {
        git(process.cwd(), 'check-ref-format', name);
      } catch {
        gitSays = false;
      }
      expect(gitSays).toBe(valid);
    }
  });

  test('a malformed name or object id is refused before anything is written', async () => {
    const { bare, first } = setUp();
    await expect(writeRef(fs, bare, 'refs/heads/../../config', first)).rejects.toMatchObject({ code: 'InvalidRequestError' });
    await expect(writeRef(fs, bare, 'config', first)).rejects.toMatchObject({ code: 'InvalidRequestError' });
    await expect(writeRef(fs, bare, 'refs/heads/main', 'abc')).rejects.toMatchObject({ code: 'InvalidRequestError' });
  });
});
