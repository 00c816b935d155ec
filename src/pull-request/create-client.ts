/** The client of one provider for one repository. */
import type { PullRequestProvider } from '../api/v1alpha1/types.js';
import type { ApiTransport } from './api-client.js';
import { createGiteaClient } from './gitea.js';
import { createGitHubClient } from './github.js';
import { createGitLabClient } from './gitlab.js';
import { resolveRepositoryAddress } from './repository-address.js';
import type { PullRequestClient } from './types.js';

export interface PullRequestTarget {
  provider: PullRequestProvider;
  /** The git URL of the repository (Flux's GitRepository spec.url). */
  repositoryUrl: string;
  apiUrl?: string;
  token: string;
}

/** Builds the target's client; the caller passes the transport (the network policy lives there). */
export type PullRequestClientFactory = (target: PullRequestTarget) => PullRequestClient;

export function pullRequestClientFactory(transport: ApiTransport): PullRequestClientFactory {
  return ({ provider, repositoryUrl, apiUrl, token }) => {
    const address = resolveRepositoryAddress(provider, repositoryUrl, apiUrl);
    switch (provider) {
      case 'github':
        return createGitHubClient(address, token, transport);
      case 'gitlab':
        return createGitLabClient(address, token, transport);
      case 'gitea':
        return createGiteaClient(address, token, transport);
    }
  };
}
