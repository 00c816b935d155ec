/**
 * GitLab's merge requests (REST API v4): GET /projects/{id}/merge_requests?source_branch=…
 * &target_branch=…&state=opened for one already open at our commit, POST /projects/{id}/merge_requests to open one,
 * GET /projects/{id}/merge_requests/{iid}. The project id is its URL-encoded full path.
 * Auth: `Authorization: Bearer <token>` (personal, project or group access tokens).
 */
import { ApiClient, type ApiTransport } from './api-client.js';
import { asObject, toPullRequestInfo } from './answer.js';
import type { RepositoryAddress } from './repository-address.js';
import type { PullRequestClient, PullRequestDraft, PullRequestInfo } from './types.js';

const STATES: Record<string, 'Open' | 'Merged' | 'Closed'> = { opened: 'Open', locked: 'Open', merged: 'Merged', closed: 'Closed' };

export function createGitLabClient(address: RepositoryAddress, token: string, transport: ApiTransport): PullRequestClient {
  const api = new ApiClient('gitlab', address.apiBase, { authorization: `Bearer ${token}`, accept: 'application/json' }, transport, token);
  const project = `/projects/${encodeURIComponent(address.path)}`;
  const read = (json: unknown, operation: string): PullRequestInfo => {
    const mr = asObject(json);
    // A fast-forward merge leaves no merge commit: the target is then at the merge request's head.
    const mergeCommit = mr.merge_commit_sha ?? mr.squash_commit_sha ?? mr.sha;
    const state = typeof mr.state === 'string' ? STATES[mr.state] : undefined;
    return toPullRequestInfo({ number: mr.iid, url: mr.web_url, state, mergeCommit }, { provider: 'gitlab', operation, url: api.baseUrl + project });
  };
  return {
    async open(draft: PullRequestDraft) {
      // Only open ones: a closed or merged merge request of a reused branch name is not this rollback's.
      const query = new URLSearchParams({ source_branch: draft.head, target_branch: draft.base, state: 'opened', per_page: '20' });
      const found = (await api.get('find merge request', `${project}/merge_requests?${query}`)).json;
      const ours = Array.isArray(found) ? found.find((mr) => asObject(mr).sha === draft.headCommit) : undefined;
      if (ours) return read(ours, 'find merge request');
      const created = await api.post('open merge request', `${project}/merge_requests`, {
        source_branch: draft.head,
        target_branch: draft.base,
        title: draft.title,
        description: draft.body,
      });
      return read(created.json, 'open merge request');
    },
    async get(number: number) {
      return read((await api.get('read merge request', `${project}/merge_requests/${number}`)).json, 'read merge request');
    },
  };
}
