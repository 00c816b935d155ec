/** The push's pack against the git CLI: git index-pack and verify-pack accept it, object for object. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { cloneBare, commitFiles, git, gitEnv, initRepo, makeTempDir } from '../../helpers/git-cli.js';
import { ObjectDatabase, type GitObject } from '../../../src/git/pack-reader.js';
import { writePack } from '../../../src/git/pack-writer.js';

describe('pack writer', () => {
  test('a pack of every object of a repository is accepted by git index-pack and git verify-pack', () => {
    const repo = initRepo();
    commitFiles(repo, 'first', { 'a.txt': 'a\n', 'dir/big.bin': 'x'.repeat(200_000), empty: '' });
    commitFiles(repo, 'second', { 'a.txt': 'b\n', 'dir/sub/c.yaml': 'kind: ConfigMap\n' });
    git(repo, 'tag', '-a', '-m', 'annotated', 'v1');
    const bare = cloneBare(repo);
    const oids = git(bare, 'cat-file', '--batch-all-objects', '--batch-check=%(objectname)').split('\n');
    const db = ObjectDatabase.open(fs, bare);
    const objects = oids.map((oid) => db.read(oid) as GitObject);
    const pack = writePack(objects);

    const dir = makeTempDir();
    const packPath = path.join(dir, 'test.pack');
    fs.writeFileSync(packPath, pack);
    git(dir, 'index-pack', '--strict', packPath);
    const verified = execFileSync('git', ['verify-pack', '-v', path.join(dir, 'test.idx')], { env: gitEnv(), encoding: 'utf8' });
    const listed = verified
      .split('\n')
      .filter((line) => /^[0-9a-f]{40} /.test(line))
      .map((line) => line.slice(0, 40))
      .sort();
    expect(listed).toEqual([...oids].sort());
    // Whole objects only: no line names a delta base.
    expect(verified).toContain('non delta: ' + oids.length + ' objects');
  });

  test('an empty pack is a header and a checksum that git index-pack accepts', () => {
    const dir = makeTempDir();
    const packPath = path.join(dir, 'empty.pack');
    fs.writeFileSync(packPath, writePack([]));
    expect(fs.statSync(packPath).size).toBe(32);
    git(dir, 'index-pack', packPath);
  });
});
