/**
 * Gitea's pull requests (API v1, https://docs.gitea.com/api): GET /repos/{owner}/{repo}/pulls
 * ?state=open for one already open (head branch, base branch and head commit all ours), POST
 * /repos/{owner}/{repo}/pulls to open one, GET /repos/{owner}/{repo}/pulls/{index}. Only open pull
 * requests are looked at: Gitea reports a merged one's head as the branch's current tip, so a
 * merged pull request of a reused branch name would look like ours. Auth: `Authorization: token <token>`.
 */
import { ApiClient, type ApiTransport } from './api-client.js';
import { asObject, toPullRequestInfo } from './answer.js';
import type { RepositoryAddress } from './repository-address.js';
import type { PullRequestClient, PullRequestDraft, PullRequestInfo } from './types.js';

/** A listed pull request from draft.head (this repository's branch) into draft.base, at draft.headCommit. */
function isFor(pr: Record<string, unknown>, draft: PullRequestDraft): boolean {
  const head = asObject(pr.head);
  return head.ref === draft.head && head.sha === draft.headCommit && asObject(pr.base).ref === draft.base;
}

export function createGiteaClient(address: RepositoryAddress, token: string, transport: ApiTransport): PullRequestClient {
  const api = new ApiClient('gitea', address.apiBase, { authorization: `token ${token}`, accept: 'application/json' }, transport, token);
  const repo = `/repos/${address.path.split('/').map(encodeURIComponent).join('/')}`;
  const read = (json: unknown, operation: string): PullRequestInfo => {
    const pr = asObject(json);
    const state = pr.merged === true ? 'Merged' : pr.state === 'open' ? 'Open' : pr.state === 'closed' ? 'Closed' : undefined;
    return toPullRequestInfo(
      { number: pr.number, url: pr.html_url, state, mergeCommit: pr.merge_commit_sha },
      { provider: 'gitea', operation, url: api.baseUrl + repo },
    );
  };
  return {
    async open(draft: PullRequestDraft) {
      const open = (await api.get('find pull request', `${repo}/pulls?${new URLSearchParams({ state: 'open', sort: 'recentupdate', limit: '50' })}`)).json;
      const ours = Array.isArray(open) ? open.find((pr) => isFor(asObject(pr), draft)) : undefined;
      if (ours) return read(ours, 'find pull request');
      const created = await api.post('open pull request', `${repo}/pulls`, { head: draft.head, base: draft.base, title: draft.title, body: draft.body });
      return read(created.json, 'open pull request');
    },
    async get(number: number) {
      return read((await api.get('read pull request', `${repo}/pulls/${number}`)).json, 'read pull request');
    },
  };
}
