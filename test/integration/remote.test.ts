/**
 * remote.ts against a real git server (git http-backend), with the git CLI as the oracle.
 */
import * as fs from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  AuthFailedError,
  CorruptRepositoryError,
  GitTimeoutError,
  InvalidRepositoryUrlError,
  PushRejectedError,
  RepositoryNotFoundError,
} from '../../src/git/errors.js';
import { ObjectStore } from '../../src/git/object-store.js';
import { deepenHistory, fetchBranch, openCacheRepo, pushBranch } from '../../src/git/remote.js';
import {
  addCommits,
  createBareRepo,
  installRejectingHook,
  runGit,
  startGitHttpServer,
  startSilentServer,
  type GitHttpServer,
} from '../helpers/git-http-server.js';
import { scaled } from '../helpers/time-budget.js';

const USER = 'rollback-bot';
const PASSWORD = 's3cr3t-Pa55word';

let tmp: string;
let root: string;
let server: GitHttpServer;
let authServer: GitHttpServer;
let repoCount = 0;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'remote-test-'));
  root = join(tmp, 'repos');
  server = await startGitHttpServer({ root });
  authServer = await startGitHttpServer({ root, auth: { username: USER, password: PASSWORD } });
});

afterAll(async () => {
  await server?.stop();
  await authServer?.stop();
  await rm(tmp, { recursive: true, force: true });
});

/** A fresh server repository and an empty cache for it. */
async function setUp(commits: number): Promise<{ name: string; bare: string; url: string; gitdir: string }> {
  const name = `repo-${++repoCount}.git`;
  const bare = await createBareRepo(root, name, { commits });
  const url = server.urlFor(name);
  const gitdir = await openCacheRepo(fs, join(tmp, `cache-${repoCount}`), url);
  return { name, bare, url, gitdir };
}

const cacheGit = (gitdir: string, ...args: string[]) => runGit(['--git-dir', gitdir, ...args]);

async function countCommits(gitdir: string): Promise<number> {
  return Number(await cacheGit(gitdir, 'rev-list', '--count', 'refs/remotes/origin/main'));
}

async function listPacks(gitdir: string): Promise<string[]> {
  return (await readdir(join(gitdir, 'objects', 'pack'))).filter((f) => f.endsWith('.idx')).map((f) => join(gitdir, 'objects', 'pack', f));
}

/** OIDs in a pack index, read by the git CLI. */
async function packOids(idxPath: string): Promise<string[]> {
  const out = await runGit(['show-index'], undefined, fs.readFileSync(idxPath));
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(' ')[1])
    .sort();
}

/** Pkt-lines and pack of the receive-pack POST the server recorded last. */
function lastReceivePackRequest(srv: GitHttpServer): { command: string; pack: Buffer } | undefined {
  const req = [...srv.requests].reverse().find((r) => r.method === 'POST' && r.url.endsWith('/git-receive-pack'));
  if (!req) return undefined;
  const body = req.body;
  let offset = 0;
  let command = '';
  for (;;) {
    const length = parseInt(body.subarray(offset, offset + 4).toString(), 16);
    if (length === 0) {
      offset += 4;
      break;
    }
    if (!command) command = body.subarray(offset + 4, offset + length).toString();
    offset += length;
  }
  return { command, pack: body.subarray(offset) };
}

/** Writes a commit on top of `head` adding `file`, through ObjectStore; returns it and the store. */
async function commitOnTop(gitdir: string, head: string, file: string): Promise<{ newHead: string; store: ObjectStore }> {
  const store = new ObjectStore(fs, gitdir);
  const parent = await store.readCommit(head);
  const entries = await store.readTree(parent.tree);
  const blob = await store.writeBlob(new TextEncoder().encode(`reverted by test ${file}\n`));
  const tree = await store.writeTree([...entries, { mode: '100644', path: file, oid: blob, type: 'blob' }]);
  const who = { name: 'Rollback', email: 'rollback@example.com', timestamp: 1_700_000_000, timezoneOffset: 0 };
  const newHead = await store.writeCommit({ tree, parents: [head], message: `Revert something\n`, author: who, committer: who });
  return { newHead, store };
}

async function serverHead(bare: string): Promise<string> {
  return runGit(['--git-dir', bare, 'rev-parse', 'refs/heads/main']);
}

describe('git http server helper', () => {
  it('serves the git CLI, including gzip-compressed request bodies', async () => {
    const { name, bare } = await setUp(40);
    // 40 tags on distinct commits: the clone's want list exceeds 1 KiB, so git gzips it.
    const oids = (await runGit(['--git-dir', bare, 'rev-list', 'main'])).split('\n');
    for (const [i, oid] of oids.entries()) await runGit(['--git-dir', bare, 'tag', `t${i}`, oid]);
    const clone = join(tmp, 'cli-clone');
    await runGit(['clone', '--quiet', '--bare', server.urlFor(name), clone]);
    expect(await runGit(['--git-dir', clone, 'rev-parse', 'main'])).toBe(await serverHead(bare));
    expect(server.requests.some((r) => r.headers['content-encoding'] === 'gzip')).toBe(true);
  });
});

describe('openCacheRepo', () => {
  it('maps a URL with or without credentials to the same bare repository', async () => {
    const cacheDir = join(tmp, 'cache-open');
    const a = await openCacheRepo(fs, cacheDir, 'https://example.com/org/repo.git');
    const b = await openCacheRepo(fs, cacheDir, 'https://user:pw@example.com/org/repo.git');
    expect(b).toBe(a);
    expect(await runGit(['--git-dir', a, 'rev-parse', '--is-bare-repository'])).toBe('true');
    expect(fs.readFileSync(join(a, 'config'), 'utf8')).not.toContain('pw');
  });
});

describe('fetchBranch', () => {
  it('first fetch is shallow (depth 50) and returns the remote head', async () => {
    const { bare, url, gitdir } = await setUp(60);
    const head = await fetchBranch(fs, gitdir, { url, branch: 'main' });
    expect(head).toBe(await serverHead(bare));
    expect(await cacheGit(gitdir, 'rev-parse', 'refs/remotes/origin/main')).toBe(head);
    expect(await cacheGit(gitdir, 'rev-parse', '--is-shallow-repository')).toBe('true');
    expect(await countCommits(gitdir)).toBe(50);
  });

  it('second fetch after a new server commit receives only the new objects', async () => {
    const { bare, url, gitdir } = await setUp(10);
    const oldHead = await fetchBranch(fs, gitdir, { url, branch: 'main', depth: 3 });
    const packsBefore = await listPacks(gitdir);
    const newHead = await addCommits(bare, 1, { prefix: 'incr' });

    const head = await fetchBranch(fs, gitdir, { url, branch: 'main' });

    expect(head).toBe(newHead);
    const newPacks = (await listPacks(gitdir)).filter((p) => !packsBefore.includes(p));
    expect(newPacks).toHaveLength(1);
    const expected = (await runGit(['--git-dir', bare, 'rev-list', '--objects', `${oldHead}..${newHead}`]))
      .split('\n')
      .map((line) => line.split(' ')[0])
      .sort();
    // The new objects; and, when the server sent a thin pack (deltas against what the cache
    // has), the bases the indexer appended, as git index-pack --fix-thin does: each of them
    // one the cache already had.
    const received = await packOids(newPacks[0]);
    expect(received).toEqual(expect.arrayContaining(expected));
    const had = new Set((await runGit(['--git-dir', bare, 'rev-list', '--objects', oldHead])).split('\n').map((line) => line.split(' ')[0]));
    expect(received.filter((oid) => !expected.includes(oid)).every((oid) => had.has(oid))).toBe(true);
    expect(await countCommits(gitdir)).toBe(4);
  });

  it('a fetch with nothing new returns the same head', async () => {
    const { url, gitdir } = await setUp(3);
    const first = await fetchBranch(fs, gitdir, { url, branch: 'main' });
    expect(await fetchBranch(fs, gitdir, { url, branch: 'main' })).toBe(first);
  });

  it('unknown repository makes RepositoryNotFoundError', async () => {
    const gitdir = await openCacheRepo(fs, join(tmp, 'cache-missing'), server.urlFor('nope.git'));
    await expect(fetchBranch(fs, gitdir, { url: server.urlFor('nope.git'), branch: 'main' })).rejects.toBeInstanceOf(RepositoryNotFoundError);
  });

  it('unknown branch makes RepositoryNotFoundError naming the branch', async () => {
    const { url, gitdir } = await setUp(1);
    const err = await fetchBranch(fs, gitdir, { url, branch: 'does-not-exist' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RepositoryNotFoundError);
    expect((err as RepositoryNotFoundError).data.branch).toBe('does-not-exist');
  });

  it('a server that never answers makes GitTimeoutError', async () => {
    const silent = await startSilentServer();
    try {
      const url = `${silent.baseUrl}/repo.git`;
      const gitdir = await openCacheRepo(fs, join(tmp, 'cache-silent'), url);
      const started = Date.now();
      const err = await fetchBranch(fs, gitdir, { url, branch: 'main', timeoutMs: 300 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GitTimeoutError);
      expect(Date.now() - started).toBeLessThan(scaled(5_000));
      const pushErr = await pushBranch(fs, gitdir, {
        url,
        branch: 'main',
        timeoutMs: 300,
        oldHead: 'a'.repeat(40),
        newHead: 'b'.repeat(40),
        objects: [],
      }).catch((e: unknown) => e);
      expect(pushErr).toBeInstanceOf(GitTimeoutError);
    } finally {
      await silent.stop();
    }
  });
});

describe('timeouts', () => {
  it('a response whose body stalls makes GitTimeoutError', async () => {
    // Answers with headers and the first pkt-line, then goes quiet.
    const stalling = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/x-git-upload-pack-advertisement' });
      res.write('001e# service=git-upload-pack\n');
    });
    await new Promise<void>((resolve) => stalling.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(stalling.address() as AddressInfo).port}/repo.git`;
      const gitdir = await openCacheRepo(fs, join(tmp, 'cache-stalling'), url);
      const err = await fetchBranch(fs, gitdir, { url, branch: 'main', timeoutMs: 300 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GitTimeoutError);
    } finally {
      stalling.closeAllConnections();
      await new Promise((resolve) => stalling.close(resolve));
    }
  });
});

describe('authentication', () => {
  it('wrong password makes AuthFailedError whose message does not contain the password', async () => {
    const { name, gitdir } = await setUp(2);
    const wrong = 'wr0ng-Pa55word-xyz';
    const err = await fetchBranch(fs, gitdir, { url: authServer.urlFor(name), branch: 'main', credentials: { username: USER, password: wrong } }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AuthFailedError);
    expect((err as AuthFailedError).data.status).toBe(401);
    expect(String((err as Error).message)).not.toContain(wrong);
    expect(JSON.stringify((err as AuthFailedError).data)).not.toContain(wrong);
    expect(String((err as Error).stack)).not.toContain(wrong);
  });

  it('missing credentials make AuthFailedError', async () => {
    const { name, gitdir } = await setUp(1);
    await expect(fetchBranch(fs, gitdir, { url: authServer.urlFor(name), branch: 'main' })).rejects.toBeInstanceOf(AuthFailedError);
  });

  it('credentials in the URL are refused before any request, and the error does not repeat them', async () => {
    const { name, gitdir } = await setUp(1);
    const before = authServer.requests.length;
    const embedded = authServer.urlFor(name).replace('http://', `http://${USER}:${PASSWORD}@`);
    const err = await fetchBranch(fs, gitdir, { url: embedded, branch: 'main', credentials: { username: USER, password: PASSWORD } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidRepositoryUrlError);
    expect((err as InvalidRepositoryUrlError).data.reason).toBe('credentials');
    expect(JSON.stringify([(err as Error).message, (err as InvalidRepositoryUrlError).data, (err as Error).stack])).not.toContain(PASSWORD);
    expect(authServer.requests.length).toBe(before);
  });

  it('fetches and pushes with credentials given as options', async () => {
    const { name, bare, gitdir } = await setUp(3);
    const head = await fetchBranch(fs, gitdir, { url: authServer.urlFor(name), branch: 'main', credentials: { username: USER, password: PASSWORD } });
    expect(head).toBe(await serverHead(bare));
    const { newHead, store } = await commitOnTop(gitdir, head, 'auth.txt');
    await pushBranch(fs, gitdir, {
      url: authServer.urlFor(name),
      branch: 'main',
      credentials: { username: USER, password: PASSWORD },
      oldHead: head,
      newHead,
      objects: store.written,
    });
    expect(await serverHead(bare)).toBe(newHead);
  });
});

describe('deepenHistory', () => {
  it('deepens until the history is complete, then returns false', async () => {
    const { url, gitdir } = await setUp(20);
    await fetchBranch(fs, gitdir, { url, branch: 'main', depth: 3 });
    const counts = [await countCommits(gitdir)];
    while (await deepenHistory(fs, gitdir, { url, branch: 'main' })) {
      counts.push(await countCommits(gitdir));
      expect(counts.length).toBeLessThan(10);
    }
    expect(counts).toEqual([3, 6, 12, 20]);
    expect(await cacheGit(gitdir, 'rev-parse', '--is-shallow-repository')).toBe('false');
    expect(await deepenHistory(fs, gitdir, { url, branch: 'main' })).toBe(false);
  });

  it('leaves a cache git itself finds whole: fsck --strict after a shallow fetch, an incremental fetch and each deepen', async () => {
    const { bare, url, gitdir } = await setUp(12);
    await fetchBranch(fs, gitdir, { url, branch: 'main', depth: 2 });
    const fsck = async () => expect(await cacheGit(gitdir, 'fsck', '--strict', '--no-dangling')).toBe('');
    await fsck();
    await addCommits(bare, 3, { prefix: 'more' });
    await fetchBranch(fs, gitdir, { url, branch: 'main' });
    await fsck();
    while (await deepenHistory(fs, gitdir, { url, branch: 'main' })) await fsck();
    expect(await countCommits(gitdir)).toBe(15);
    // Every pack the fetches wrote has the index git's index-pack writes for it.
    for (const idx of await listPacks(gitdir)) {
      const verify = await runGit(['verify-pack', '-v', idx]);
      expect(verify).toMatch(/: ok$/);
    }
  });

  it('a complete cache stays complete on later fetches', async () => {
    const { bare, url, gitdir } = await setUp(4);
    await fetchBranch(fs, gitdir, { url, branch: 'main', depth: 2 });
    while (await deepenHistory(fs, gitdir, { url, branch: 'main' }));
    const newHead = await addCommits(bare, 2, { prefix: 'after-deepen' });
    expect(await fetchBranch(fs, gitdir, { url, branch: 'main' })).toBe(newHead);
    expect(await cacheGit(gitdir, 'rev-parse', '--is-shallow-repository')).toBe('false');
    expect(await countCommits(gitdir)).toBe(6);
  });
});

describe('pushBranch', () => {
  it('lands a commit built with ObjectStore, sending only the new objects', async () => {
    const { bare, url, gitdir } = await setUp(5);
    const oldHead = await fetchBranch(fs, gitdir, { url, branch: 'main' });
    const { newHead, store } = await commitOnTop(gitdir, oldHead, 'revert.txt');

    await pushBranch(fs, gitdir, { url, branch: 'main', oldHead, newHead, objects: store.written });

    expect(await serverHead(bare)).toBe(newHead);
    expect(await runGit(['--git-dir', bare, 'log', '-1', '--format=%s', 'main'])).toBe('Revert something');
    expect(await runGit(['--git-dir', bare, 'show', 'main:revert.txt'])).toBe('reverted by test revert.txt');
    await runGit(['--git-dir', bare, 'fsck', '--no-dangling']);
    expect(await cacheGit(gitdir, 'rev-parse', 'refs/remotes/origin/main')).toBe(newHead);

    const sent = lastReceivePackRequest(server)!;
    expect(sent.command.split('\0')[0]).toBe(`${oldHead} ${newHead} refs/heads/main`);
    const packPath = join(tmp, 'sent.pack');
    await writeFile(packPath, sent.pack);
    await runGit(['index-pack', packPath]);
    expect(await packOids(packPath.replace(/\.pack$/, '.idx'))).toEqual([...store.written].sort());
    expect(store.written.size).toBe(3);
  });

  it('stale push (server branch moved) makes PushRejectedError and sends no pack', async () => {
    const { bare, url, gitdir } = await setUp(3);
    const oldHead = await fetchBranch(fs, gitdir, { url, branch: 'main' });
    const { newHead, store } = await commitOnTop(gitdir, oldHead, 'stale.txt');
    const moved = await addCommits(bare, 1, { prefix: 'concurrent' });
    const postsBefore = server.requests.filter((r) => r.method === 'POST').length;

    const err = await pushBranch(fs, gitdir, { url, branch: 'main', oldHead, newHead, objects: store.written }).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(PushRejectedError);
    expect((err as PushRejectedError).data).toEqual({ ref: 'refs/heads/main', reason: 'stale: branch moved' });
    expect(await serverHead(bare)).toBe(moved);
    expect(server.requests.filter((r) => r.method === 'POST').length).toBe(postsBefore);
  });

  it('pre-receive hook rejection makes PushRejectedError with the hook reason', async () => {
    const { bare, url, gitdir } = await setUp(3);
    await installRejectingHook(bare, 'main is frozen during incident INC-42');
    const oldHead = await fetchBranch(fs, gitdir, { url, branch: 'main' });
    const { newHead, store } = await commitOnTop(gitdir, oldHead, 'hook.txt');

    const err = await pushBranch(fs, gitdir, { url, branch: 'main', oldHead, newHead, objects: store.written }).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(PushRejectedError);
    const { ref, reason } = (err as PushRejectedError).data;
    expect(ref).toBe('refs/heads/main');
    expect(reason).toContain('pre-receive hook declined');
    expect(reason).toContain('main is frozen during incident INC-42');
    expect(await serverHead(bare)).toBe(oldHead);
  });

  it('a pack missing an object the commit needs is refused and the branch is unchanged', async () => {
    const { bare, url, gitdir } = await setUp(2);
    const oldHead = await fetchBranch(fs, gitdir, { url, branch: 'main' });
    const { newHead, store } = await commitOnTop(gitdir, oldHead, 'incomplete.txt');
    const [blob, ...rest] = store.written;
    expect(blob).toBeDefined();

    const err = await pushBranch(fs, gitdir, { url, branch: 'main', oldHead, newHead, objects: rest }).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(PushRejectedError);
    expect((err as PushRejectedError).data.reason).toMatch(/missing necessary objects|unpack failed/);
    expect(await serverHead(bare)).toBe(oldHead);
  });

  it('an object to push that is not in the cache is CorruptRepositoryError (not the remote missing), nothing sent', async () => {
    const { bare, url, gitdir } = await setUp(2);
    const oldHead = await fetchBranch(fs, gitdir, { url, branch: 'main' });
    const { newHead, store } = await commitOnTop(gitdir, oldHead, 'gone.txt');
    const err = await pushBranch(fs, gitdir, { url, branch: 'main', oldHead, newHead, objects: [...store.written, 'f'.repeat(40)] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptRepositoryError);
    expect((err as Error).message).toMatch(/an object to push is missing/);
    expect(await serverHead(bare)).toBe(oldHead);
  });

  it('push to an unknown repository makes RepositoryNotFoundError', async () => {
    const { gitdir } = await setUp(1);
    const err = await pushBranch(fs, gitdir, {
      url: server.urlFor('missing.git'),
      branch: 'main',
      oldHead: 'a'.repeat(40),
      newHead: 'b'.repeat(40),
      objects: [],
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RepositoryNotFoundError);
  });

  it('wrong password on push makes AuthFailedError without the password', async () => {
    const { name, gitdir } = await setUp(1);
    const err = await pushBranch(fs, gitdir, {
      url: authServer.urlFor(name),
      branch: 'main',
      credentials: { username: USER, password: 'nope-Pa55' },
      oldHead: 'a'.repeat(40),
      newHead: 'b'.repeat(40),
      objects: [],
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthFailedError);
    expect((err as Error).message).not.toContain('nope-Pa55');
  });
});
