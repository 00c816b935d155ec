/** A bare repository we create, against the git CLI: git sees a bare repository and fsck accepts it. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { commitFiles, git, initRepo, makeTempDir } from '../../helpers/git-cli.js';
import { initBareRepository } from '../../../src/git/init-bare.js';

describe('initBareRepository', () => {
  test('creates a repository git reads as bare and empty, that a push fills', async () => {
    const gitdir = path.join(makeTempDir(), 'cache', 'repo.git');
    await initBareRepository(fs, gitdir);
    expect(git(makeTempDir(), '--git-dir', gitdir, 'rev-parse', '--is-bare-repository')).toBe('true');
    expect(git(gitdir, 'config', '--get', 'core.repositoryformatversion')).toBe('0');
    git(makeTempDir(), '--git-dir', gitdir, 'fsck', '--strict');
    for (const dir of ['objects/pack', 'objects/info', 'refs/heads', 'refs/tags']) expect(fs.statSync(path.join(gitdir, dir)).isDirectory()).toBe(true);

    const repo = initRepo();
    const head = commitFiles(repo, 'first', { 'a.txt': 'a\n' });
    git(repo, 'push', '-q', gitdir, 'main:refs/heads/main');
    expect(git(gitdir, 'rev-parse', 'refs/heads/main')).toBe(head);
    git(gitdir, 'fsck', '--strict');
  });

  test('leaves a repository that has a config alone', async () => {
    const gitdir = path.join(makeTempDir(), 'repo.git');
    git(path.dirname(gitdir), 'init', '-q', '--bare', gitdir);
    git(gitdir, 'config', 'gitopsrollback.depth', '7');
    await initBareRepository(fs, gitdir);
    expect(git(gitdir, 'config', '--get', 'gitopsrollback.depth')).toBe('7');
  });
});
