/**
 * The three pull-request clients against a fake ApiTransport: the exact calls they make (method,
 * URL, headers, JSON body), how they read the host's answers, and how failures become typed errors
 * that never carry the token.
 */
import type { ApiAnswer, ApiCall, ApiTransport } from '../../../src/pull-request/api-client.js';
import { pullRequestClientFactory } from '../../../src/pull-request/create-client.js';
import { PullRequestApiError } from '../../../src/pull-request/errors.js';
import { createGiteaClient } from '../../../src/pull-request/gitea.js';
import { createGitHubClient } from '../../../src/pull-request/github.js';
import { createGitLabClient } from '../../../src/pull-request/gitlab.js';
import type { RepositoryAddress } from '../../../src/pull-request/repository-address.js';
import type { PullRequestClient, PullRequestDraft } from '../../../src/pull-request/types.js';

const TOKEN = 'tok_S3cr3t-VALUE-0123456789';
const MERGE_SHA = '3f786850e387550fdab836ed7e6dc881de23001b';
const SQUASH_SHA = '89e6c98d92887913cadf06b2adb97f26cde4849b';
/** A merge commit of a repository in git's SHA-256 object format. */
const SHA256_MERGE = 'b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9';
/** The commit pushed onto the head branch: the one a pull request must carry to be reused. */
const HEAD_SHA = 'da39a3ee5e6b4b0d3255bfef95601890afd80709';
/** The head of an older pull request of the same branch name (an earlier rollback). */
const OLD_HEAD_SHA = '6dcd4ce23d88e2ee9568ba546c007c63d9131c1b';

const DRAFT: PullRequestDraft = {
  head: 'gitops-rollback/web-1',
  headCommit: HEAD_SHA,
  base: 'release/v2',
  title: 'Rollback: revert 3f786850e387 (INC-7)',
  body: 'Opened by gitops-rollback.\n\n**Reason:** p99 "latency" é',
};

/** A transport that records each call and answers from a script; an Error in the script is thrown. */
function fakeTransport(...script: (ApiAnswer | Error)[]): { calls: ApiCall[]; transport: ApiTransport } {
  const calls: ApiCall[] = [];
  const transport: ApiTransport = async (call) => {
    calls.push(structuredClone(call));
    const next = script.shift();
    if (next === undefined) throw new Error(`unexpected call ${call.method} ${call.url}`);
    if (next instanceof Error) throw next;
    return next;
  };
  return { calls, transport };
}

const json = (status: number, value: unknown): ApiAnswer => ({ status, body: JSON.stringify(value) });

/** The rejection of `promise`, which must be a PullRequestApiError. */
async function apiError(promise: Promise<unknown>): Promise<PullRequestApiError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PullRequestApiError);
  return error as PullRequestApiError;
}

// ---------------------------------------------------------------------------------------------
// GitHub
// ---------------------------------------------------------------------------------------------

const GITHUB: RepositoryAddress = { apiBase: 'https://api.github.com', path: 'acme/fleet' };
const GITHUB_HEADERS = {
  authorization: `Bearer ${TOKEN}`,
  accept: 'application/vnd.github+json',
  'x-github-api-version': '2022-11-28',
  'user-agent': 'gitops-rollback',
};
const githubPr = (fields: Record<string, unknown> = {}) => ({
  number: 42,
  html_url: 'https://github.com/acme/fleet/pull/42',
  state: 'open',
  merged: false,
  merged_at: null,
  merge_commit_sha: MERGE_SHA,
  head: { ref: 'gitops-rollback/web-1', sha: HEAD_SHA },
  base: { ref: 'release/v2' },
  ...fields,
});

describe('GitHub client', () => {
  const client = (transport: ApiTransport, address = GITHUB) => createGitHubClient(address, TOKEN, transport);

  it('open() looks for an open pull request of the branches, then creates one with the exact call', async () => {
    const fake = fakeTransport(json(200, []), json(201, githubPr({ number: 7, html_url: 'https://github.com/acme/fleet/pull/7' })));
    const opened = await client(fake.transport).open(DRAFT);

    expect(opened).toStrictEqual({ number: 7, url: 'https://github.com/acme/fleet/pull/7', state: 'Open' });
    expect(fake.calls).toHaveLength(2);
    // Open ones only: a closed or merged pull request of a reused branch name is not this rollback's.
    expect(fake.calls[0]).toStrictEqual({
      method: 'GET',
      url: 'https://api.github.com/repos/acme/fleet/pulls?head=acme%3Agitops-rollback%2Fweb-1&base=release%2Fv2&state=open&per_page=20',
      headers: GITHUB_HEADERS,
    });
    expect(fake.calls[1].method).toBe('POST');
    expect(fake.calls[1].url).toBe('https://api.github.com/repos/acme/fleet/pulls');
    expect(fake.calls[1].headers).toStrictEqual({ ...GITHUB_HEADERS, 'content-type': 'application/json' });
    expect(JSON.parse(fake.calls[1].body!)).toStrictEqual({ head: 'gitops-rollback/web-1', base: 'release/v2', title: DRAFT.title, body: DRAFT.body });
  });

  it('open() returns the pull request the list already has, without creating one', async () => {
    const fake = fakeTransport(json(200, [githubPr({ number: 5, html_url: 'https://github.com/acme/fleet/pull/5' })]));
    expect(await client(fake.transport).open(DRAFT)).toStrictEqual({ number: 5, url: 'https://github.com/acme/fleet/pull/5', state: 'Open' });
    expect(fake.calls.map((c) => c.method)).toEqual(['GET']);
  });

  it('open() reads an adopted one in the list form (no merged field)', async () => {
    const listed = githubPr({ number: 5, html_url: 'https://github.com/acme/fleet/pull/5' });
    delete (listed as Record<string, unknown>).merged;
    const fake = fakeTransport(json(200, [listed]));
    expect(await client(fake.transport).open(DRAFT)).toStrictEqual({ number: 5, url: 'https://github.com/acme/fleet/pull/5', state: 'Open' });
  });

  it('open() adopts the pull request whose head is the pushed commit, wherever it is in the list', async () => {
    const other = githubPr({ number: 3, html_url: 'https://github.com/acme/fleet/pull/3', head: { ref: 'gitops-rollback/web-1', sha: OLD_HEAD_SHA } });
    const ours = githubPr({ number: 5, html_url: 'https://github.com/acme/fleet/pull/5' });
    const later = githubPr({ number: 6, html_url: 'https://github.com/acme/fleet/pull/6' });
    const fake = fakeTransport(json(200, [other, ours, later]));
    expect(await client(fake.transport).open(DRAFT)).toStrictEqual({ number: 5, url: 'https://github.com/acme/fleet/pull/5', state: 'Open' });
    expect(fake.calls.map((c) => c.method)).toEqual(['GET']);
  });

  // A branch name is reused by a later rollback: a pull request whose head is another commit (an
  // earlier rollback's, merged, closed or still open) must not stand in for the new one.
  it.each([
    ['a merged', { state: 'closed', merged: undefined, merged_at: '2026-11-20T10:00:00Z' }],
    ['a closed', { state: 'closed', merged: undefined, merged_at: null }],
    ['an open', { state: 'open' }],
  ])('open() does not adopt %s pull request of the branch whose head is another commit: it opens a new one', async (_state, fields) => {
    const older = githubPr({
      number: 3,
      html_url: 'https://github.com/acme/fleet/pull/3',
      head: { ref: 'gitops-rollback/web-1', sha: OLD_HEAD_SHA },
      ...fields,
    });
    const fake = fakeTransport(json(200, [older]), json(201, githubPr({ number: 8, html_url: 'https://github.com/acme/fleet/pull/8' })));
    expect(await client(fake.transport).open(DRAFT)).toStrictEqual({ number: 8, url: 'https://github.com/acme/fleet/pull/8', state: 'Open' });
    expect(fake.calls.map((c) => `${c.method} ${c.url.split('?')[0]}`)).toEqual([
      'GET https://api.github.com/repos/acme/fleet/pulls',
      'POST https://api.github.com/repos/acme/fleet/pulls',
    ]);
  });

  it.each([
    ['no head', { head: undefined }],
    ['a head without a sha', { head: { ref: 'gitops-rollback/web-1' } }],
    ['the sha at the top level, not under head', { head: undefined, sha: HEAD_SHA }],
    ['a head sha of another case', { head: { ref: 'gitops-rollback/web-1', sha: HEAD_SHA.toUpperCase() } }],
  ])('open() does not adopt a listed pull request with %s', async (_what, fields) => {
    const fake = fakeTransport(json(200, [githubPr({ number: 3, ...fields })]), json(201, githubPr({ number: 8 })));
    expect((await client(fake.transport).open(DRAFT)).number).toBe(8);
    expect(fake.calls.map((c) => c.method)).toEqual(['GET', 'POST']);
  });

  it('uses the GitHub Enterprise API base and encodes the repository path', async () => {
    const fake = fakeTransport(json(200, githubPr()));
    await client(fake.transport, { apiBase: 'https://ghe.example.com/api/v3', path: 'platform team/fleet' }).get(42);
    expect(fake.calls[0].url).toBe('https://ghe.example.com/api/v3/repos/platform%20team/fleet/pulls/42');
  });

  it('get() reads /pulls/{number} with the same headers and no body', async () => {
    const fake = fakeTransport(json(200, githubPr()));
    await client(fake.transport).get(42);
    expect(fake.calls).toStrictEqual([{ method: 'GET', url: 'https://api.github.com/repos/acme/fleet/pulls/42', headers: GITHUB_HEADERS }]);
  });

  it.each([
    ['merged: true', { state: 'closed', merged: true, merged_at: '2026-11-26T10:00:00Z' }, 'Merged', MERGE_SHA],
    ['merged_at set', { state: 'closed', merged: undefined, merged_at: '2026-11-26T10:00:00Z' }, 'Merged', MERGE_SHA],
    ['open (its test merge commit is not reported)', { state: 'open' }, 'Open', undefined],
    ['closed without merge', { state: 'closed', merged: false, merged_at: null }, 'Closed', undefined],
    ['merged with a short sha', { state: 'closed', merged: true, merge_commit_sha: '3f78685' }, 'Merged', undefined],
    ['merged with an upper-case sha', { state: 'closed', merged: true, merge_commit_sha: MERGE_SHA.toUpperCase() }, 'Merged', undefined],
    ['merged with a null sha', { state: 'closed', merged: true, merge_commit_sha: null }, 'Merged', undefined],
    ['merged with a SHA-256 merge commit', { state: 'closed', merged: true, merge_commit_sha: SHA256_MERGE }, 'Merged', SHA256_MERGE],
    ['merged with 41 hex digits', { state: 'closed', merged: true, merge_commit_sha: `${MERGE_SHA}a` }, 'Merged', undefined],
    ['merged with 63 hex digits', { state: 'closed', merged: true, merge_commit_sha: SHA256_MERGE.slice(1) }, 'Merged', undefined],
    ['merged with 65 hex digits', { state: 'closed', merged: true, merge_commit_sha: `${SHA256_MERGE}a` }, 'Merged', undefined],
  ])('get() maps %s', async (_name, fields, state, mergeCommit) => {
    const fake = fakeTransport(json(200, githubPr(fields)));
    const info = await client(fake.transport).get(42);
    expect(info.state).toBe(state);
    expect(info.mergeCommit).toBe(mergeCommit);
    expect('mergeCommit' in info).toBe(mergeCommit !== undefined);
  });
});

// ---------------------------------------------------------------------------------------------
// GitLab
// ---------------------------------------------------------------------------------------------

const GITLAB: RepositoryAddress = { apiBase: 'https://gitlab.example.com/api/v4', path: 'group/subgroup/project' };
const GITLAB_HEADERS = { authorization: `Bearer ${TOKEN}`, accept: 'application/json' };
const PROJECT_URL = 'https://gitlab.example.com/api/v4/projects/group%2Fsubgroup%2Fproject';
const gitlabMr = (fields: Record<string, unknown> = {}) => ({
  id: 99001,
  iid: 12,
  web_url: 'https://gitlab.example.com/group/subgroup/project/-/merge_requests/12',
  state: 'opened',
  merge_commit_sha: null,
  squash_commit_sha: null,
  sha: HEAD_SHA,
  ...fields,
});

describe('GitLab client', () => {
  const client = (transport: ApiTransport) => createGitLabClient(GITLAB, TOKEN, transport);

  it('open() looks for an open merge request of the branches, then creates one with the exact call', async () => {
    const fake = fakeTransport(json(200, []), json(201, gitlabMr()));
    const opened = await client(fake.transport).open(DRAFT);

    // The number is the merge request's iid, not its global id.
    expect(opened).toStrictEqual({ number: 12, url: 'https://gitlab.example.com/group/subgroup/project/-/merge_requests/12', state: 'Open' });
    expect(fake.calls).toHaveLength(2);
    // Open ones only ("opened" in GitLab's words): a closed or merged one of a reused branch name is not this rollback's.
    expect(fake.calls[0]).toStrictEqual({
      method: 'GET',
      url: `${PROJECT_URL}/merge_requests?source_branch=gitops-rollback%2Fweb-1&target_branch=release%2Fv2&state=opened&per_page=20`,
      headers: GITLAB_HEADERS,
    });
    expect(fake.calls[1].method).toBe('POST');
    expect(fake.calls[1].url).toBe(`${PROJECT_URL}/merge_requests`);
    expect(fake.calls[1].headers).toStrictEqual({ ...GITLAB_HEADERS, 'content-type': 'application/json' });
    expect(JSON.parse(fake.calls[1].body!)).toStrictEqual({
      source_branch: 'gitops-rollback/web-1',
      target_branch: 'release/v2',
      title: DRAFT.title,
      description: DRAFT.body,
    });
  });

  it('open() returns the merge request the list already has, without creating one', async () => {
    const fake = fakeTransport(json(200, [gitlabMr({ iid: 3, web_url: 'https://gitlab.example.com/g/p/-/merge_requests/3' })]));
    expect(await client(fake.transport).open(DRAFT)).toStrictEqual({ number: 3, url: 'https://gitlab.example.com/g/p/-/merge_requests/3', state: 'Open' });
    expect(fake.calls.map((c) => c.method)).toEqual(['GET']);
  });

  it.each([
    ['a merged', { state: 'merged', merge_commit_sha: MERGE_SHA }],
    ['a closed', { state: 'closed' }],
    ['an opened', { state: 'opened' }],
  ])('open() does not adopt %s merge request of the branch whose head is another commit: it opens a new one', async (_state, fields) => {
    const older = gitlabMr({ iid: 3, web_url: 'https://gitlab.example.com/g/p/-/merge_requests/3', sha: OLD_HEAD_SHA, ...fields });
    const fake = fakeTransport(json(200, [older]), json(201, gitlabMr({ iid: 8, web_url: 'https://gitlab.example.com/g/p/-/merge_requests/8' })));
    expect(await client(fake.transport).open(DRAFT)).toStrictEqual({ number: 8, url: 'https://gitlab.example.com/g/p/-/merge_requests/8', state: 'Open' });
    expect(fake.calls.map((c) => `${c.method} ${c.url.split('?')[0]}`)).toEqual([`GET ${PROJECT_URL}/merge_requests`, `POST ${PROJECT_URL}/merge_requests`]);
  });

  it.each([
    ['opened', { state: 'opened' }, { state: 'Open' }],
    ['locked', { state: 'locked' }, { state: 'Open' }],
  ])(
    'open() adopts the %s merge request whose head is the pushed commit, wherever it is in the list, without creating one',
    async (_state, fields, expected) => {
      const other = gitlabMr({ iid: 3, web_url: 'https://gitlab.example.com/g/p/-/merge_requests/3', sha: OLD_HEAD_SHA });
      const ours = gitlabMr({ iid: 5, web_url: 'https://gitlab.example.com/g/p/-/merge_requests/5', ...fields });
      const later = gitlabMr({ iid: 6, web_url: 'https://gitlab.example.com/g/p/-/merge_requests/6' });
      const fake = fakeTransport(json(200, [other, ours, later]));
      expect(await client(fake.transport).open(DRAFT)).toStrictEqual({ number: 5, url: 'https://gitlab.example.com/g/p/-/merge_requests/5', ...expected });
      expect(fake.calls.map((c) => c.method)).toEqual(['GET']);
    },
  );

  it.each([
    ['no sha', { sha: undefined }],
    ['a null sha', { sha: null }],
    ['the sha under head, not at the top level', { sha: undefined, head: { sha: HEAD_SHA } }],
    ['only its merge commit equal to the pushed commit', { sha: OLD_HEAD_SHA, state: 'merged', merge_commit_sha: HEAD_SHA }],
  ])('open() does not adopt a listed merge request with %s', async (_what, fields) => {
    const fake = fakeTransport(json(200, [gitlabMr({ iid: 3, ...fields })]), json(201, gitlabMr({ iid: 8 })));
    expect((await client(fake.transport).open(DRAFT)).number).toBe(8);
    expect(fake.calls.map((c) => c.method)).toEqual(['GET', 'POST']);
  });

  it('get() reads /merge_requests/{iid} of the URL-encoded project path', async () => {
    const fake = fakeTransport(json(200, gitlabMr()));
    await client(fake.transport).get(12);
    expect(fake.calls).toStrictEqual([{ method: 'GET', url: `${PROJECT_URL}/merge_requests/12`, headers: GITLAB_HEADERS }]);
  });

  it.each([
    ['opened', { state: 'opened' }, 'Open', undefined],
    ['locked', { state: 'locked' }, 'Open', undefined],
    ['merged with a merge commit', { state: 'merged', merge_commit_sha: MERGE_SHA, squash_commit_sha: SQUASH_SHA }, 'Merged', MERGE_SHA],
    ['merged by squash, fast-forward', { state: 'merged', merge_commit_sha: null, squash_commit_sha: SQUASH_SHA }, 'Merged', SQUASH_SHA],
    ['merged by fast-forward (fields absent)', { state: 'merged', merge_commit_sha: undefined, squash_commit_sha: undefined }, 'Merged', HEAD_SHA],
    ['merged by fast-forward (fields null)', { state: 'merged' }, 'Merged', HEAD_SHA],
    ['merged with no sha at all', { state: 'merged', sha: null }, 'Merged', undefined],
    ['merged with a SHA-256 merge commit', { state: 'merged', merge_commit_sha: SHA256_MERGE }, 'Merged', SHA256_MERGE],
    ['merged by fast-forward in a SHA-256 repository', { state: 'merged', sha: SHA256_MERGE }, 'Merged', SHA256_MERGE],
    ['merged with 65 hex digits', { state: 'merged', merge_commit_sha: `${SHA256_MERGE}a`, sha: null }, 'Merged', undefined],
    ['closed', { state: 'closed', merge_commit_sha: MERGE_SHA }, 'Closed', undefined],
  ])('get() maps %s', async (_name, fields, state, mergeCommit) => {
    const fake = fakeTransport(json(200, gitlabMr(fields)));
    const info = await client(fake.transport).get(12);
    expect(info.state).toBe(state);
    expect(info.mergeCommit).toBe(mergeCommit);
    expect('mergeCommit' in info).toBe(mergeCommit !== undefined);
  });
});

// ---------------------------------------------------------------------------------------------
// Gitea
// ---------------------------------------------------------------------------------------------

const GITEA: RepositoryAddress = { apiBase: 'https://git.example.com/git/api/v1', path: 'ops/fleet' };
const GITEA_HEADERS = { authorization: `token ${TOKEN}`, accept: 'application/json' };
const giteaPr = (fields: Record<string, unknown> = {}) => ({
  id: 5001,
  number: 9,
  html_url: 'https://git.example.com/git/ops/fleet/pulls/9',
  state: 'open',
  merged: false,
  merge_commit_sha: null,
  head: { ref: 'gitops-rollback/web-1', sha: HEAD_SHA },
  base: { ref: 'release/v2' },
  ...fields,
});
const GITEA_PULLS = 'https://git.example.com/git/api/v1/repos/ops/fleet/pulls';

describe('Gitea client', () => {
  const client = (transport: ApiTransport) => createGiteaClient(GITEA, TOKEN, transport);

  it('open() lists the open pull requests, then creates one with the exact call', async () => {
    const fake = fakeTransport(json(200, []), json(201, giteaPr()));
    const opened = await client(fake.transport).open(DRAFT);

    expect(opened).toStrictEqual({ number: 9, url: 'https://git.example.com/git/ops/fleet/pulls/9', state: 'Open' });
    expect(fake.calls).toHaveLength(2);
    // Open ones only: Gitea reports a merged pull request's head as the branch's current tip.
    expect(fake.calls[0]).toStrictEqual({
      method: 'GET',
      url: `${GITEA_PULLS}?state=open&sort=recentupdate&limit=50`,
      headers: GITEA_HEADERS,
    });
    expect(fake.calls[1].method).toBe('POST');
    expect(fake.calls[1].url).toBe(GITEA_PULLS);
    expect(fake.calls[1].headers).toStrictEqual({ ...GITEA_HEADERS, 'content-type': 'application/json' });
    expect(JSON.parse(fake.calls[1].body!)).toStrictEqual({ head: 'gitops-rollback/web-1', base: 'release/v2', title: DRAFT.title, body: DRAFT.body });
  });

  it('open() returns the listed pull request of the branches at the pushed commit, wherever it is in the list, without creating one', async () => {
    const others = [
      giteaPr({ number: 1, head: { ref: 'feature/x', sha: MERGE_SHA } }),
      giteaPr({ number: 2, head: { ref: 'gitops-rollback/web-1', sha: OLD_HEAD_SHA } }),
    ];
    const ours = giteaPr({ number: 4, html_url: 'https://git.example.com/git/ops/fleet/pulls/4' });
    const fake = fakeTransport(json(200, [...others, ours, giteaPr({ number: 6 })]));
    expect(await client(fake.transport).open(DRAFT)).toStrictEqual({ number: 4, url: 'https://git.example.com/git/ops/fleet/pulls/4', state: 'Open' });
    expect(fake.calls.map((c) => c.method)).toEqual(['GET']);
  });

  it.each([
    ['a merged', { state: 'closed', merged: true, merge_commit_sha: MERGE_SHA }],
    ['a closed', { state: 'closed', merged: false }],
    ['an open', { state: 'open' }],
  ])('open() does not adopt %s pull request of the branches whose head is another commit: it opens a new one', async (_state, fields) => {
    const older = giteaPr({
      number: 3,
      html_url: 'https://git.example.com/git/ops/fleet/pulls/3',
      head: { ref: 'gitops-rollback/web-1', sha: OLD_HEAD_SHA },
      ...fields,
    });
    const fake = fakeTransport(json(200, [older]), json(201, giteaPr({ number: 8, html_url: 'https://git.example.com/git/ops/fleet/pulls/8' })));
    expect(await client(fake.transport).open(DRAFT)).toStrictEqual({ number: 8, url: 'https://git.example.com/git/ops/fleet/pulls/8', state: 'Open' });
    expect(fake.calls.map((c) => `${c.method} ${c.url.split('?')[0]}`)).toEqual([`GET ${GITEA_PULLS}`, `POST ${GITEA_PULLS}`]);
  });

  it.each([
    ['another head branch', { head: { ref: 'gitops-rollback/web-2', sha: HEAD_SHA } }],
    ['a head branch that only starts like ours', { head: { ref: 'gitops-rollback/web-1-old', sha: HEAD_SHA } }],
    ['another base branch', { base: { ref: 'main' } }],
    ['no base', { base: undefined }],
    ['no head', { head: undefined }],
    ['a head without a sha', { head: { ref: 'gitops-rollback/web-1' } }],
    ['a head without a ref', { head: { sha: HEAD_SHA } }],
    ['the sha at the top level, not under head', { head: { ref: 'gitops-rollback/web-1' }, sha: HEAD_SHA }],
  ])('open() does not adopt a listed pull request with %s', async (_what, fields) => {
    const fake = fakeTransport(json(200, [giteaPr({ number: 3, ...fields })]), json(201, giteaPr({ number: 8 })));
    expect((await client(fake.transport).open(DRAFT)).number).toBe(8);
    expect(fake.calls.map((c) => c.method)).toEqual(['GET', 'POST']);
  });

  it('open() matches branch names with characters a path cannot carry, and sends them as they are', async () => {
    const draft = { ...DRAFT, head: 'rollback/fix #1?', base: 'main' };
    const fake = fakeTransport(json(200, [giteaPr({ number: 4, head: { ref: 'rollback/fix #1?', sha: HEAD_SHA }, base: { ref: 'main' } })]));
    expect((await client(fake.transport).open(draft)).number).toBe(4);
    // The list's query has no branch in it.
    expect(fake.calls[0].url).toBe(`${GITEA_PULLS}?state=open&sort=recentupdate&limit=50`);
    const creating = fakeTransport(json(200, []), json(201, giteaPr()));
    await client(creating.transport).open(draft);
    expect(JSON.parse(creating.calls[1].body!)).toMatchObject({ head: 'rollback/fix #1?', base: 'main' });
  });

  it.each([
    ['an object', json(200, giteaPr())],
    ['null', json(200, null)],
  ])('open() opens a new one when the list is %s, not a list', async (_what, reply) => {
    const fake = fakeTransport(reply, json(201, giteaPr({ number: 8 })));
    expect((await client(fake.transport).open(DRAFT)).number).toBe(8);
    expect(fake.calls.map((c) => c.method)).toEqual(['GET', 'POST']);
  });

  it.each([
    [404, { message: 'The target couldn’t be found.' }, false],
    [500, { message: 'database is locked' }, true],
  ])('open() does not create when the list answers HTTP %i', async (status, body, transient) => {
    const fake = fakeTransport(json(status, body));
    const error = await apiError(client(fake.transport).open(DRAFT));
    expect(error.data).toMatchObject({ provider: 'gitea', operation: 'find pull request', status, transient });
    expect(fake.calls).toHaveLength(1);
  });

  it('get() reads /pulls/{index}; a 404 there is an error', async () => {
    const fake = fakeTransport(json(200, giteaPr()), json(404, { message: 'not found' }));
    await client(fake.transport).get(9);
    expect(fake.calls[0]).toStrictEqual({ method: 'GET', url: 'https://git.example.com/git/api/v1/repos/ops/fleet/pulls/9', headers: GITEA_HEADERS });
    const error = await apiError(client(fake.transport).get(9));
    expect(error.data).toMatchObject({ status: 404, transient: false, operation: 'read pull request' });
  });

  it.each([
    ['merged', { state: 'closed', merged: true, merge_commit_sha: MERGE_SHA }, 'Merged', MERGE_SHA],
    ['open', { state: 'open', merge_commit_sha: MERGE_SHA }, 'Open', undefined],
    ['closed', { state: 'closed', merged: false, merge_commit_sha: MERGE_SHA }, 'Closed', undefined],
    ['merged with a non-hex sha', { state: 'closed', merged: true, merge_commit_sha: 'z'.repeat(40) }, 'Merged', undefined],
    ['merged with a SHA-256 merge commit', { state: 'closed', merged: true, merge_commit_sha: SHA256_MERGE }, 'Merged', SHA256_MERGE],
    ['merged with a non-hex SHA-256-long sha', { state: 'closed', merged: true, merge_commit_sha: 'z'.repeat(64) }, 'Merged', undefined],
  ])('get() maps %s', async (_name, fields, state, mergeCommit) => {
    const fake = fakeTransport(json(200, giteaPr(fields)));
    const info = await client(fake.transport).get(9);
    expect(info.state).toBe(state);
    expect(info.mergeCommit).toBe(mergeCommit);
    expect('mergeCommit' in info).toBe(mergeCommit !== undefined);
  });
});

// ---------------------------------------------------------------------------------------------
// The factory: the address from the git URL, the right client for the provider
// ---------------------------------------------------------------------------------------------

describe('pullRequestClientFactory', () => {
  it.each([
    ['github', 'git@github.com:acme/fleet.git', undefined, 'https://api.github.com/repos/acme/fleet/pulls/3', `Bearer ${TOKEN}`],
    [
      'gitlab',
      'https://gitlab.example.com/group/subgroup/project.git',
      undefined,
      'https://gitlab.example.com/api/v4/projects/group%2Fsubgroup%2Fproject/merge_requests/3',
      `Bearer ${TOKEN}`,
    ],
    ['gitea', 'https://git.example.com/git/my%20org/fleet.git', undefined, 'https://git.example.com/git/api/v1/repos/my%20org/fleet/pulls/3', `token ${TOKEN}`],
    [
      'github',
      'https://ghe.example.com/acme/fleet',
      'https://proxy.example.com/gh/',
      'https://proxy.example.com/gh/repos/acme/fleet/pulls/3',
      `Bearer ${TOKEN}`,
    ],
  ] as const)('%s for %s reads %s', async (provider, repositoryUrl, apiUrl, expected, authorization) => {
    const answer = { number: 3, iid: 3, html_url: 'https://x.example/3', web_url: 'https://x.example/3', state: provider === 'gitlab' ? 'opened' : 'open' };
    const fake = fakeTransport(json(200, answer));
    const info = await pullRequestClientFactory(fake.transport)({ provider, repositoryUrl, apiUrl, token: TOKEN }).get(3);
    expect(info).toStrictEqual({ number: 3, url: 'https://x.example/3', state: 'Open' });
    expect(fake.calls[0].url).toBe(expected);
    expect(fake.calls[0].headers.authorization).toBe(authorization);
  });
});

// ---------------------------------------------------------------------------------------------
// Failures, the same for every provider
// ---------------------------------------------------------------------------------------------

interface ProviderCase {
  name: 'github' | 'gitlab' | 'gitea';
  make: (transport: ApiTransport) => PullRequestClient;
  /** A valid answer with `fields` replaced; `number`/`url` name the generic fields. */
  answer: (fields: { number?: unknown; url?: unknown; state?: unknown }) => Record<string, unknown>;
  getUrl: string;
  operation: string;
}

const PROVIDERS: ProviderCase[] = [
  {
    name: 'github',
    make: (t) => createGitHubClient(GITHUB, TOKEN, t),
    answer: (f) =>
      githubPr({ ...('number' in f ? { number: f.number } : {}), ...('url' in f ? { html_url: f.url } : {}), ...('state' in f ? { state: f.state } : {}) }),
    getUrl: 'https://api.github.com/repos/acme/fleet/pulls/42',
    operation: 'read pull request',
  },
  {
    name: 'gitlab',
    make: (t) => createGitLabClient(GITLAB, TOKEN, t),
    answer: (f) =>
      gitlabMr({ ...('number' in f ? { iid: f.number } : {}), ...('url' in f ? { web_url: f.url } : {}), ...('state' in f ? { state: f.state } : {}) }),
    getUrl: `${PROJECT_URL}/merge_requests/42`,
    operation: 'read merge request',
  },
  {
    name: 'gitea',
    make: (t) => createGiteaClient(GITEA, TOKEN, t),
    answer: (f) =>
      giteaPr({ ...('number' in f ? { number: f.number } : {}), ...('url' in f ? { html_url: f.url } : {}), ...('state' in f ? { state: f.state } : {}) }),
    getUrl: 'https://git.example.com/git/api/v1/repos/ops/fleet/pulls/42',
    operation: 'read pull request',
  },
];

describe.each(PROVIDERS)('$name failures', ({ name, make, answer, getUrl, operation }) => {
  it.each([401, 403, 404, 422])('HTTP %i is a PullRequestApiError that is not worth retrying', async (status) => {
    const fake = fakeTransport(json(status, { message: `refused with ${status}` }));
    const error = await apiError(make(fake.transport).get(42));
    expect(error.code).toBe('PullRequestApiError');
    expect(error.data).toStrictEqual({ provider: name, operation, url: getUrl, status, detail: `refused with ${status}`, transient: false });
    expect(error.message).toBe(`${name} API: ${operation} at ${getUrl} failed: HTTP ${status}: refused with ${status}`);
  });

  it.each([500, 502, 503, 429, 408])('HTTP %i is a PullRequestApiError worth retrying', async (status) => {
    const fake = fakeTransport({ status, body: '<html><body>Bad Gateway</body></html>' });
    const error = await apiError(make(fake.transport).get(42));
    expect(error.data).toMatchObject({ status, transient: true, detail: 'no message' });
  });

  it('a transport failure is a PullRequestApiError worth retrying, with no status', async () => {
    const fake = fakeTransport(new Error('connect ECONNREFUSED 203.0.113.9:443'));
    const error = await apiError(make(fake.transport).get(42));
    expect(error.data).toStrictEqual({ provider: name, operation, url: getUrl, detail: 'connect ECONNREFUSED 203.0.113.9:443', transient: true });
    expect(error.message).toBe(`${name} API: ${operation} at ${getUrl} failed: connect ECONNREFUSED 203.0.113.9:443`);
  });

  it('open() wraps a transport failure of its first call and makes no other', async () => {
    const fake = fakeTransport(new Error('socket hang up'));
    const error = await apiError(make(fake.transport).open(DRAFT));
    expect(error.data.transient).toBe(true);
    expect(error.data.operation).toMatch(/^find (pull|merge) request$/);
    // The URL in the message has no query.
    expect(error.data.url).not.toContain('?');
    expect(fake.calls).toHaveLength(1);
  });

  it('a refused creation is an error of the "open" operation', async () => {
    const fake = fakeTransport(json(200, []), json(422, { message: 'Validation Failed' }));
    const error = await apiError(make(fake.transport).open(DRAFT));
    expect(error.data).toMatchObject({
      operation: expect.stringMatching(/^open (pull|merge) request$/),
      status: 422,
      transient: false,
      detail: 'Validation Failed',
    });
  });

  it.each([
    ['no number', { number: undefined }, 'no pull request number'],
    ['number 0', { number: 0 }, 'no pull request number'],
    ['number -3', { number: -3 }, 'no pull request number'],
    ['number 1.5', { number: 1.5 }, 'no pull request number'],
    ['number as text', { number: '42' }, 'no pull request number'],
    ['an unsafe number', { number: 2 ** 53 }, 'no pull request number'],
    ['a javascript: URL', { url: 'javascript:alert(document.cookie)' }, 'no http(s) URL'],
    ['an ftp URL', { url: 'ftp://example.com/pr/1' }, 'no http(s) URL'],
    ['no URL', { url: undefined }, 'no http(s) URL'],
    ['a URL over 2048 characters', { url: `https://example.com/${'a'.repeat(2048)}` }, 'no http(s) URL'],
    ['an unknown state', { state: 'draft' }, 'an unknown state'],
    ['no state', { state: undefined }, 'an unknown state'],
  ])('an answer with %s is an "unexpected answer"', async (_what, fields, detail) => {
    const fake = fakeTransport(json(200, answer(fields)));
    const error = await apiError(make(fake.transport).get(42));
    expect(error.data).toMatchObject({ provider: name, operation, transient: false, detail: `unexpected answer: ${detail}` });
    expect(error.data.status).toBeUndefined();
    expect(error.message).toContain(`unexpected answer: ${detail}`);
  });

  it.each([
    ['a body that is not JSON', { status: 200, body: '<html>login</html>' }],
    ['an empty body', { status: 200, body: '' }],
    ['a list where one object was expected', json(200, [answer({})])],
    ['null', json(200, null)],
  ])('%s is an "unexpected answer"', async (_what, reply) => {
    const fake = fakeTransport(reply);
    const error = await apiError(make(fake.transport).get(42));
    expect(error.data.detail).toBe('unexpected answer: no pull request number');
    expect(error.data.transient).toBe(false);
  });

  it('a malformed answer to the lookup in open() is an "unexpected answer" and creates nothing', async () => {
    const fake = fakeTransport(json(200, [answer({ url: 'javascript:x' })]));
    const error = await apiError(make(fake.transport).open(DRAFT));
    expect(error.data.detail).toBe('unexpected answer: no http(s) URL');
    expect(fake.calls).toHaveLength(1);
  });

  it('the page URL is kept on one line', async () => {
    const fake = fakeTransport(json(200, answer({ url: 'https://example.com/pr/42\r\nX-Injected: 1' })));
    expect((await make(fake.transport).get(42)).url).toBe('https://example.com/pr/42 X-Injected: 1');
  });

  it('the token is in no error, whatever failed', async () => {
    const failures: (ApiAnswer | Error)[] = [
      json(401, { message: 'Bad credentials' }),
      json(403, { message: 'Resource not accessible by personal access token' }),
      json(404, {}),
      json(500, { message: 'internal' }),
      { status: 502, body: 'Bad Gateway' },
      new Error('getaddrinfo ENOTFOUND api.example.com'),
      json(200, answer({ number: 0 })),
      json(200, answer({ state: 'weird' })),
      // The host, or a proxy in front of it, quotes the credential it refused.
      json(401, { message: `Bad credentials: Bearer ${TOKEN}` }),
      json(403, { message: [`token ${TOKEN}`, `again ${TOKEN}`] }),
      json(400, { message: { authorization: [TOKEN] } }),
      json(401, { error: `invalid_token ${TOKEN}` }),
      new Error(`proxy refused Authorization: token ${TOKEN}`),
    ];
    for (const failure of failures) {
      const error = await apiError(make(fakeTransport(failure).transport).get(42));
      expect(error.message).not.toContain(TOKEN);
      expect(JSON.stringify(error.data)).not.toContain(TOKEN);
      expect(String(error.stack)).not.toContain(TOKEN);
    }
  });

  it("puts [redacted] where the host's message or a transport error had the token", async () => {
    const fake = fakeTransport(json(401, { message: `Bad credentials: ${TOKEN}` }), new Error(`proxy refused ${TOKEN}`));
    const client = make(fake.transport);
    const refused = await apiError(client.get(42));
    expect(refused.data.detail).toBe('Bad credentials: [redacted]');
    expect(refused.message).toBe(`${name} API: ${operation} at ${getUrl} failed: HTTP 401: Bad credentials: [redacted]`);
    const thrown = await apiError(client.get(42));
    expect(thrown.data).toMatchObject({ detail: 'proxy refused [redacted]', transient: true });
  });

  it('redacts the token in the "find" call of open() too', async () => {
    const fake = fakeTransport(json(403, { message: `scope missing for ${TOKEN}` }));
    const error = await apiError(make(fake.transport).open(DRAFT));
    expect(error.data).toMatchObject({ operation: expect.stringMatching(/^find (pull|merge) request$/), detail: 'scope missing for [redacted]' });
  });
});

describe("the host's message in errors", () => {
  const get = async (reply: ApiAnswer | Error) => apiError(createGitLabClient(GITLAB, TOKEN, fakeTransport(reply).transport).get(1));

  it("is GitLab's `error` when there is no `message`", async () => {
    expect((await get(json(401, { error: 'invalid_token', error_description: 'Token was revoked.' }))).data.detail).toBe('invalid_token');
  });

  it('joins a list of messages', async () => {
    const error = await get(json(409, { message: ['Another open merge request already exists for this source branch: !3', 'Title is too long'] }));
    expect(error.data.detail).toBe('Another open merge request already exists for this source branch: !3; Title is too long');
  });

  it('shows an object message as JSON', async () => {
    expect((await get(json(400, { message: { target_branch: ['is invalid'] } }))).data.detail).toBe('{"target_branch":["is invalid"]}');
  });

  it('is cut at 300 characters, ending in "..."', async () => {
    const error = await get(json(500, { message: 'x'.repeat(5000) }));
    expect(error.data.detail).toBe(`${'x'.repeat(297)}...`);
    expect(error.message.length).toBeLessThan(500);
  });

  it('is kept whole at exactly 300 characters', async () => {
    expect((await get(json(500, { message: 'y'.repeat(300) }))).data.detail).toBe('y'.repeat(300));
  });

  it('loses its control characters', async () => {
    const error = await get(json(403, { message: '\x1b[31mforbidden\x1b[0m\r\nSet-Cookie: a=b\x00\x7f end\t' }));
    // Each run of control characters becomes a space; the ends are trimmed.
    expect(error.data.detail.split(/ +/)).toStrictEqual(['[31mforbidden', '[0m', 'Set-Cookie:', 'a=b', 'end']);
    expect(error.data.detail).toBe(error.data.detail.trim());
    // eslint-disable-next-line no-control-regex -- matching control characters is the point
    expect(error.message).not.toMatch(/[\x00-\x1f\x7f]/);
  });

  it('is "no message" for an empty body', async () => {
    expect((await get({ status: 500, body: '' })).data.detail).toBe('no message');
  });

  // The host (or a proxy in front of it) may quote the credential it refused. errors.ts promises
  // the message never carries the token; the text goes into conditions and Events.
  it('never repeats the token, even when the host echoes it', async () => {
    const echoed = await get(json(401, { message: `Token ${TOKEN} is revoked` }));
    expect(echoed.message).not.toContain(TOKEN);
    expect(echoed.data.detail).toBe('Token [redacted] is revoked');
    expect(echoed.message).toContain('HTTP 401: Token [redacted] is revoked');
    const thrown = await get(new Error(`proxy refused Authorization: Bearer ${TOKEN}`));
    expect(thrown.message).not.toContain(TOKEN);
    expect(thrown.data.detail).toBe('proxy refused Authorization: Bearer [redacted]');
  });

  it('redacts every occurrence of the token, and leaves the rest of the message as it was', async () => {
    const error = await get(json(401, { message: [`${TOKEN} revoked`, `ask for a new ${TOKEN}${TOKEN}.`] }));
    expect(error.data.detail).toBe('[redacted] revoked; ask for a new [redacted][redacted].');
  });

  it('redacts the token inside a message shown as JSON', async () => {
    expect((await get(json(400, { message: { token: [TOKEN] } }))).data.detail).toBe('{"token":["[redacted]"]}');
  });

  it('leaves no part of the token where the message is cut at 300 characters', async () => {
    // Wherever the cut falls inside the echoed token, none of the token's first 8 characters may remain.
    for (let before = 300 - TOKEN.length; before < 300; before += 1) {
      const error = await get(json(401, { message: `${'x'.repeat(before)}${TOKEN} is revoked` }));
      expect(error.data.detail).not.toContain(TOKEN.slice(0, 8));
      expect(error.message).not.toContain(TOKEN.slice(0, 8));
    }
  });
});
