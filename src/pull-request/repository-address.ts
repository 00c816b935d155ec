/**
 * Where a provider's REST API is and which repository it means, from the git URL Flux uses
 * (https://host/owner/repo.git, ssh://git@host/owner/repo.git or git@host:owner/repo.git).
 * `apiUrl` overrides the base (GitHub Enterprise or GitLab under another path, a proxy).
 */
import type { PullRequestProvider } from '../api/v1alpha1/types.js';
import { isSshUrl, parseSshUrl } from '../git/ssh-url.js';
import { PullRequestConfigError } from './errors.js';

export interface RepositoryAddress {
  /** The REST API base, without a trailing slash. */
  apiBase: string;
  /** The repository's path on the host: `owner/repo` (GitLab: `group/subgroup/project`). */
  path: string;
}

export function resolveRepositoryAddress(provider: PullRequestProvider, gitUrl: string, apiUrl?: string): RepositoryAddress {
  const { origin, segments } = splitGitUrl(gitUrl);
  if (segments.length < 2) throw new PullRequestConfigError(`Cannot tell the owner and repository from ${origin}/${segments.join('/')}`);
  // Gitea may be served under a sub-path (ROOT_URL): the repository is the last two segments.
  // GitLab's full path has any depth: a sub-path shows only in apiUrl (https://host/gitlab/api/v4).
  // (An SSH path never carries the web sub-path.)
  const owned = provider === 'gitlab' ? (isSshUrl(gitUrl) ? segments : withoutPrefix(segments, apiUrl)) : segments.slice(-2);
  const prefix =
    provider === 'gitea'
      ? segments
          .slice(0, -2)
          .map((s) => `/${s}`)
          .join('')
      : '';
  return { apiBase: (apiUrl ?? defaultApiBase(provider, origin, prefix)).replace(/\/+$/, ''), path: owned.join('/') };
}

/** GitLab under a sub-path: the segments of apiUrl's path before /api/v4, removed from the front of the repository path. */
function withoutPrefix(segments: string[], apiUrl: string | undefined): string[] {
  if (!apiUrl) return segments;
  let prefix: string[];
  try {
    prefix = pathSegments(new URL(apiUrl).pathname.replace(/\/api\/v4\/*$/, ''));
  } catch {
    throw new PullRequestConfigError('spec.pullRequest.apiUrl does not parse');
  }
  const starts = prefix.length > 0 && prefix.length < segments.length - 1 && prefix.every((s, i) => segments[i] === s);
  return starts ? segments.slice(prefix.length) : segments;
}

function defaultApiBase(provider: PullRequestProvider, origin: string, prefix: string): string {
  switch (provider) {
    case 'github':
      return origin === 'https://github.com' ? 'https://api.github.com' : `${origin}/api/v3`;
    case 'gitlab':
      return `${origin}/api/v4`;
    case 'gitea':
      return `${origin}${prefix}/api/v1`;
  }
}

/** The web origin and the repository path's segments (without `.git`). SSH hosts are reached over https. */
function splitGitUrl(gitUrl: string): { origin: string; segments: string[] } {
  if (isSshUrl(gitUrl)) {
    let ssh: ReturnType<typeof parseSshUrl>;
    try {
      ssh = parseSshUrl(gitUrl);
    } catch {
      throw new PullRequestConfigError('The repository URL names no host or repository path');
    }
    return { origin: `https://${ssh.host.includes(':') ? `[${ssh.host}]` : ssh.host}`, segments: pathSegments(ssh.path) };
  }
  let parsed: URL;
  try {
    parsed = new URL(gitUrl);
  } catch {
    throw new PullRequestConfigError('The repository URL does not parse');
  }
  return { origin: `${parsed.protocol}//${parsed.host}`, segments: pathSegments(parsed.pathname) };
}

function pathSegments(path: string): string[] {
  return path
    .replace(/\.git\/?$/, '')
    .split('/')
    .filter((s) => s !== '')
    .map(decodeSegment);
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
