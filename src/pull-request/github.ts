/**
 * GitHub's pull requests (REST API 2022-11-28): GET /repos/{owner}/{repo}/pulls?head=owner:branch
 * &base=…&state=open for one already open at our commit, POST /repos/{owner}/{repo}/pulls to open one, and
 * GET /repos/{owner}/{repo}/pulls/{number}. Auth: `Authorization: Bearer <token>`.
 */
import { ApiClient, type ApiTransport } from './api-client.js';
import { asObject, toPullRequestInfo } from './answer.js';
import type { RepositoryAddress } from './repository-address.js';
import type { PullRequestClient, PullRequestDraft, PullRequestInfo } from './types.js';

export function createGitHubClient(address: RepositoryAddress, token: string, transport: ApiTransport): PullRequestClient {
  const headers = {
    authorization: `Bearer ${token}`,
    accept: 'application/vnd.github+json',
    'x-github-api-version': '2022-11-28',
    'user-agent': 'gitops-rollback',
  };
  const api = new ApiClient('github', address.apiBase, headers, transport, token);
  const [owner] = address.path.split('/');
  const repo = `/repos/${address.path.split('/').map(encodeURIComponent).join('/')}`;
  const read = (json: unknown, operation: string): PullRequestInfo => {
    const pr = asObject(json);
    const state =
      pr.merged === true || typeof pr.merged_at === 'string' ? 'Merged' : pr.state === 'open' ? 'Open' : pr.state === 'closed' ? 'Closed' : undefined;
    return toPullRequestInfo(
      { number: pr.number, url: pr.html_url, state, mergeCommit: pr.merge_commit_sha },
      { provider: 'github', operation, url: api.baseUrl + repo },
    );
  };
  return {
    async open(draft: PullRequestDraft) {
      // Only open ones: a closed or merged pull request of a reused branch name is not this rollback's.
      const query = new URLSearchParams({ head: `${owner}:${draft.head}`, base: draft.base, state: 'open', per_page: '20' });
      const found = (await api.get('find pull request', `${repo}/pulls?${query}`)).json;
      const ours = Array.isArray(found) ? found.find((pr) => asObject(asObject(pr).head).sha === draft.headCommit) : undefined;
      if (ours) return read(ours, 'find pull request');
      const created = await api.post('open pull request', `${repo}/pulls`, { head: draft.head, base: draft.base, title: draft.title, body: draft.body });
      return read(created.json, 'open pull request');
    },
    async get(number: number) {
      return read((await api.get('read pull request', `${repo}/pulls/${number}`)).json, 'read pull request');
    },
  };
}
