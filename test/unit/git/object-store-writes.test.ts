/**
 * ObjectStore's writes: trees and commits must come out byte for byte as isomorphic-git wrote
 * them (the object ids of a revert do not change with the writer), and git must accept them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import git from 'isomorphic-git';
import type { TreeEntry } from 'isomorphic-git';
import { git as gitCli, makeTempDir } from '../../helpers/git-cli.js';
import { ObjectStore, type CommitData } from '../../../src/git/object-store.js';
import type { CommitSigner } from '../../../src/git/commit-signing.js';

function bareRepo(): string {
  const dir = path.join(makeTempDir(), 'repo.git');
  gitCli(path.dirname(dir), 'init', '-q', '--bare', dir);
  return dir;
}

const BLOB = 'e69de29bb2d1d6434b8b29ae775ad8c2e48c5391';
const SUBMODULE_COMMIT = 'a'.repeat(40);

describe('ObjectStore writes', () => {
  test('trees are the bytes isomorphic-git writes, in git order, and git fsck accepts them', async () => {
    const ours = new ObjectStore(fs, bareRepo());
    const theirs = bareRepo();
    await ours.writeBlob(new Uint8Array(0));
    const sub = await ours.writeTree([{ mode: '100644', path: 'x', oid: BLOB, type: 'blob' }]);
    const entries: TreeEntry[] = [
      { mode: '100644', path: 'a.txt', oid: BLOB, type: 'blob' },
      { mode: '040000', path: 'a', oid: sub, type: 'tree' },
      { mode: '100755', path: 'a-b', oid: BLOB, type: 'blob' },
      { mode: '120000', path: 'link', oid: BLOB, type: 'blob' },
      { mode: '040000', path: 'é-dir', oid: sub, type: 'tree' },
      { mode: '100644', path: '😀', oid: BLOB, type: 'blob' },
      { mode: '100644', path: '\uffff', oid: BLOB, type: 'blob' },
      { mode: '100644', path: 'Z', oid: BLOB, type: 'blob' },
    ];
    const oid = await ours.writeTree(entries);
    expect(oid).toBe(await git.writeTree({ fs, gitdir: theirs, tree: entries.map((e) => ({ ...e })) }));
    expect(ours.written.has(oid)).toBe(true);
    const commit = await ours.writeCommit({ tree: oid, parents: [], message: 'm\n', author: person(0), committer: person(0) });
    gitCli(ours.gitdir, 'update-ref', 'refs/heads/main', commit);
    gitCli(ours.gitdir, 'fsck', '--strict', '--no-dangling');
    const withSubmodule = await ours.writeTree([...entries, { mode: '160000', path: 'module', oid: SUBMODULE_COMMIT, type: 'commit' }]);
    expect(withSubmodule).toBe(
      await git.writeTree({ fs, gitdir: theirs, tree: [...entries, { mode: '160000', path: 'module', oid: SUBMODULE_COMMIT, type: 'commit' }] }),
    );
  });

  test('an empty tree is git’s empty tree', async () => {
    const ours = new ObjectStore(fs, bareRepo());
    expect(await ours.writeTree([])).toBe('4b825dc642cb6eb9a060e54bf8d69288fbee4904');
  });

  test.each([
    ['no parent, UTC', { parents: [], offset: 0, message: 'Initial\n' }],
    ['one parent, +0200', { parents: ['b'.repeat(40)], offset: -120, message: 'Revert "x"\n\nThis reverts commit abc.\n' }],
    ['a merge, -0800', { parents: ['b'.repeat(40), 'c'.repeat(40)], offset: 480, message: 'merge' }],
    ['-0000', { parents: [], offset: -0, message: 'negative zero\n' }],
    ['+0530 and a message needing normalizing', { parents: [], offset: -330, message: '\n\nCRLF\r\nlines\r\n\n\n\n' }],
  ])('a commit (%s) is the bytes isomorphic-git writes', async (_what, c) => {
    const ours = new ObjectStore(fs, bareRepo());
    const tree = await ours.writeTree([]);
    const commit: Omit<CommitData, 'oid'> = {
      tree,
      parents: c.parents,
      message: c.message,
      author: person(c.offset),
      committer: { ...person(c.offset), name: 'C O Mitter' },
    };
    const oid = await ours.writeCommit(commit);
    const theirs = await git.writeCommit({
      fs,
      gitdir: bareRepo(),
      commit: { tree, parent: c.parents, message: c.message, author: commit.author, committer: commit.committer },
    });
    expect(oid).toBe(theirs);
    expect(await ours.readCommit(oid)).toMatchObject({ oid, tree, parents: c.parents, author: commit.author, committer: commit.committer });
  });

  test('a signed commit carries the signature of the unsigned bytes in gpgsig, as isomorphic-git writes it', async () => {
    const ours = new ObjectStore(fs, bareRepo());
    const tree = await ours.writeTree([]);
    const commit = { tree, parents: [], message: 'signed\n', author: person(-60), committer: person(-60) };
    const payloads: string[] = [];
    const signer = {
      sign: async (payload: Uint8Array) => {
        payloads.push(Buffer.from(payload).toString('utf8'));
        return '-----BEGIN SSH SIGNATURE-----\nAAAA\nBBBB\n-----END SSH SIGNATURE-----\n';
      },
    } as unknown as CommitSigner;
    const oid = await ours.writeCommit(commit, signer);
    const theirsDir = bareRepo();
    const unsigned = await git.writeCommit({
      fs,
      gitdir: theirsDir,
      commit: { tree, parent: [], message: commit.message, author: commit.author, committer: commit.committer },
    });
    const { object: payload } = await git.readObject({ fs, gitdir: theirsDir, oid: unsigned, format: 'content' });
    expect(payloads).toEqual([Buffer.from(payload as Uint8Array).toString('utf8')]);
    const signed = await git.writeCommit({
      fs,
      gitdir: theirsDir,
      commit: {
        tree,
        parent: [],
        message: commit.message,
        author: commit.author,
        committer: commit.committer,
        gpgsig: '-----BEGIN SSH SIGNATURE-----\nAAAA\nBBBB\n-----END SSH SIGNATURE-----\n',
      },
    });
    expect(oid).toBe(signed);
    expect(gitCli(ours.gitdir, 'cat-file', '-p', oid)).toContain('gpgsig -----BEGIN SSH SIGNATURE-----\n AAAA\n BBBB\n -----END SSH SIGNATURE-----');
  });

  test('reading a missing object is NotFoundError naming it; a tree read as a blob is ObjectTypeError', async () => {
    const ours = new ObjectStore(fs, bareRepo());
    const tree = await ours.writeTree([]);
    const blob = await ours.writeBlob(Buffer.from('x'));
    await expect(ours.readBlob('f'.repeat(40))).rejects.toMatchObject({ code: 'NotFoundError', name: 'NotFoundError', data: { what: 'f'.repeat(40) } });
    await expect(ours.readTree(blob)).rejects.toMatchObject({ code: 'ObjectTypeError', data: { oid: blob, actual: 'blob', expected: 'tree' } });
    expect(tree).toBe('4b825dc642cb6eb9a060e54bf8d69288fbee4904');
  });
});

function person(timezoneOffset: number): CommitData['author'] {
  return { name: 'A U Thor', email: 'author@example.com', timestamp: 1_700_000_000, timezoneOffset };
}
