/**
 * Hostile commit text, on real repositories with the git CLI as the oracle: a reason (or a Flux
 * event message quoted in one) that holds marker lines must not make a later rollback believe a
 * commit is already reverted or that its request already ran; author fields must not forge
 * commit headers; the incident must stay one trailer.
 */
import { runRollback, type RollbackRequest } from '../../src/git/engine.js';
import { InvalidRequestError } from '../../src/git/errors.js';
import { commitFiles, commitMessage, cloneBare, git, initRepo, makeTempDir } from '../helpers/git-cli.js';

const AUTHOR = { name: 'A U Thor', email: 'author@example.com' };

function buildRepo(): { bare: string; good: string; bad: string; other: string } {
  const work = initRepo();
  const good = commitFiles(work, 'Deploy 1.0', { 'app/deploy.yaml': 'image: app:1.0\n', 'web/deploy.yaml': 'image: web:1.0\n' });
  const bad = commitFiles(work, 'Deploy app 2.0 (broken)', { 'app/deploy.yaml': 'image: app:2.0\n' });
  const other = commitFiles(work, 'Deploy web 2.0', { 'web/deploy.yaml': 'image: web:2.0\n' });
  return { bare: cloneBare(work), good, bad, other };
}

function run(bare: string, request: Partial<RollbackRequest> & Pick<RollbackRequest, 'action'>) {
  return runRollback({ repository: { url: bare, branch: 'main' }, author: AUTHOR, ...request }, { cacheDir: makeTempDir() });
}

const head = (bare: string) => git(bare, 'rev-parse', 'refs/heads/main');
/** The trailers git itself reads from a commit message (git interpret-trailers --parse). */
const gitTrailers = (bare: string, rev: string) => git(bare, 'log', '-1', '--format=%(trailers:only,unfold)', rev);

describe('commit text injection', () => {
  test('a reverts-line in the reason does not make the named commit count as reverted', async () => {
    const repo = buildRepo();
    const reason = `Web is slow.\n\nThis reverts commit ${repo.bad}.\n`;
    const first = await run(repo.bare, { action: { kind: 'revert', commits: [repo.other] }, reason, requestId: 'ns/web/1' });
    expect(first.result).toBe('reverted');
    // The reason is one paragraph of text, after the reverts-line git writes.
    expect(commitMessage(repo.bare, 'main')).toBe(
      `Revert "Deploy web 2.0"\n\nThis reverts commit ${repo.other}.\n\nWeb is slow. This reverts commit ${repo.bad}.\n\nRollback-Request: ns/web/1\n`,
    );

    const second = await run(repo.bare, { action: { kind: 'revert', commits: [repo.bad] }, requestId: 'ns/app/2' });
    expect(second.result).toBe('reverted');
    expect(git(repo.bare, 'show', 'main:app/deploy.yaml')).toBe('image: app:1.0');
  });

  test('a reverts-line in a later paragraph written by an older version is not trusted either', async () => {
    const repo = buildRepo();
    const work = initRepo();
    git(work, 'fetch', '-q', repo.bare, 'main');
    git(work, 'reset', '-q', '--hard', 'FETCH_HEAD');
    git(work, 'revert', '--no-edit', repo.other);
    // What the old code wrote for a multi-line reason: the line stood alone in the reason paragraph.
    git(
      work,
      'commit',
      '-q',
      '--amend',
      '-m',
      `Revert "Deploy web 2.0"\n\nThis reverts commit ${repo.other}.\n\nslow\nThis reverts commit ${repo.bad}.\n\nRollback-Request: ns/web/1`,
    );
    git(work, 'push', '-q', repo.bare, 'HEAD:main');

    const result = await run(repo.bare, { action: { kind: 'revert', commits: [repo.bad, repo.other] }, requestId: 'ns/app/2' });
    expect(result.alreadyReverted).toEqual([repo.other]);
    expect(result.commits.flatMap((c) => c.reverts)).toEqual([repo.bad]);
    expect(git(repo.bare, 'show', 'main:app/deploy.yaml')).toBe('image: app:1.0');
  });

  test('a Rollback-Request line in the reason does not pass for the trailer of another request', async () => {
    const repo = buildRepo();
    const victim = 'team-a/rollback-app/0f6c9a4e-uid';
    // A CLI run without a request id: the reason is the last paragraph.
    await run(repo.bare, { action: { kind: 'revert', commits: [repo.other] }, reason: `Rollback-Request: ${victim}` });
    expect(gitTrailers(repo.bare, 'main')).not.toMatch(/^Rollback-Request:/m);

    const result = await run(repo.bare, { action: { kind: 'revert', commits: [repo.bad] }, requestId: victim });
    expect(result.existingCommit).toBeUndefined();
    expect(result.result).toBe('reverted');
    expect(git(repo.bare, 'show', 'main:app/deploy.yaml')).toBe('image: app:1.0');
    // Our own trailer block is what git reads as trailers.
    expect(gitTrailers(repo.bare, 'main')).toBe(`Rollback-Request: ${victim}`);
  });

  test('the request trailer the operator wrote is still found after a crash (idempotency kept)', async () => {
    const repo = buildRepo();
    const request = { action: { kind: 'revert' as const, commits: [repo.bad] }, reason: 'Errors\nspiking', incident: 'INC-7', requestId: 'ns/app/3' };
    const first = await run(repo.bare, request);
    const again = await run(repo.bare, request);
    expect(again.existingCommit).toBe(first.head);
    expect(gitTrailers(repo.bare, 'main')).toBe('Incident: INC-7\nRollback-Request: ns/app/3');
  });

  test.each([
    ['a newline in the author name forges a committer header', { name: 'Eve\ncommitter Mallory <m@example.com> 0 +0000', email: 'eve@example.com' }],
    ['a ">" in the author email ends the ident early', { name: 'Eve', email: 'eve@example.com> 0 +0000\ngpgsig x' }],
    ['a NUL in the author name', { name: 'Eve\u0000', email: 'eve@example.com' }],
    ['a "<" in the author name', { name: 'Eve <boss@example.com>', email: 'eve@example.com' }],
    ['an empty author email', { name: 'Eve', email: '' }],
  ])('%s: InvalidRequestError, nothing pushed', async (_name, author) => {
    const repo = buildRepo();
    const before = head(repo.bare);
    const attempt = run(repo.bare, { action: { kind: 'revert', commits: [repo.bad] }, author });
    await expect(attempt).rejects.toBeInstanceOf(InvalidRequestError);
    await expect(attempt).rejects.toMatchObject({ code: 'InvalidRequestError', data: { field: expect.stringMatching(/^author\./) } });
    expect(head(repo.bare)).toBe(before);
  });

  test.each([
    ['a newline and a second trailer', 'INC-1\nRollback-Request: ns/victim/uid'],
    ['spaces', 'INC 1'],
    ['a leading dash', '-INC'],
  ])('an incident with %s is refused: InvalidRequestError, nothing pushed', async (_name, incident) => {
    const repo = buildRepo();
    const before = head(repo.bare);
    await expect(run(repo.bare, { action: { kind: 'revert', commits: [repo.bad] }, incident })).rejects.toMatchObject({
      code: 'InvalidRequestError',
      data: { field: 'incident' },
    });
    expect(head(repo.bare)).toBe(before);
  });

  test('a valid author is written as given, as git reads it', async () => {
    const repo = buildRepo();
    await run(repo.bare, { action: { kind: 'revert', commits: [repo.bad] }, author: { name: "Zoë O'Neil", email: 'zoe@example.com' } });
    expect(git(repo.bare, 'log', '-1', '--format=%an|%ae|%cn', 'main')).toBe("Zoë O'Neil|zoe@example.com|Zoë O'Neil");
  });
});
