/**
 * Where each provider's REST API is and which repository it means, from the git URL Flux uses.
 */
import { PullRequestConfigError } from '../../../src/pull-request/errors.js';
import { resolveRepositoryAddress } from '../../../src/pull-request/repository-address.js';

describe('resolveRepositoryAddress: GitHub', () => {
  it.each([
    'https://github.com/acme/fleet.git',
    'https://github.com/acme/fleet',
    'https://github.com/acme/fleet/',
    'https://github.com/acme/fleet.git/',
    'https://GitHub.com/acme/fleet.git',
    'https://github.com:443/acme/fleet.git',
    'ssh://git@github.com/acme/fleet.git',
    'git@github.com:acme/fleet.git',
    'git@github.com:acme/fleet',
  ])('github.com (%s) → api.github.com', (url) => {
    expect(resolveRepositoryAddress('github', url)).toStrictEqual({ apiBase: 'https://api.github.com', path: 'acme/fleet' });
  });

  it('a GitHub Enterprise host → https://host/api/v3', () => {
    expect(resolveRepositoryAddress('github', 'https://ghe.example.com/acme/fleet.git')).toStrictEqual({
      apiBase: 'https://ghe.example.com/api/v3',
      path: 'acme/fleet',
    });
  });

  it('keeps a non-default port of an https host', () => {
    expect(resolveRepositoryAddress('github', 'https://ghe.example.com:8443/acme/fleet').apiBase).toBe('https://ghe.example.com:8443/api/v3');
  });

  it('never carries credentials of the git URL into the API base', () => {
    const address = resolveRepositoryAddress('github', 'https://x-access-token:s3cret@ghe.example.com/acme/fleet.git');
    expect(address).toStrictEqual({ apiBase: 'https://ghe.example.com/api/v3', path: 'acme/fleet' });
  });

  it('decodes percent-encoded segments', () => {
    expect(resolveRepositoryAddress('github', 'https://ghe.example.com/platform%20team/fleet.git').path).toBe('platform team/fleet');
  });
});

describe('resolveRepositoryAddress: GitLab', () => {
  it.each([
    ['https://gitlab.com/group/subgroup/project.git', 'https://gitlab.com/api/v4'],
    ['https://gitlab.com/group/subgroup/project/', 'https://gitlab.com/api/v4'],
    ['ssh://git@gitlab.example.com:2222/group/subgroup/project.git', 'https://gitlab.example.com/api/v4'],
    ['git@gitlab.example.com:group/subgroup/project.git', 'https://gitlab.example.com/api/v4'],
  ])('%s → the full path and %s', (url, apiBase) => {
    expect(resolveRepositoryAddress('gitlab', url)).toStrictEqual({ apiBase, path: 'group/subgroup/project' });
  });

  it('a project directly under a group', () => {
    expect(resolveRepositoryAddress('gitlab', 'https://gitlab.example.com/team/app.git')).toStrictEqual({
      apiBase: 'https://gitlab.example.com/api/v4',
      path: 'team/app',
    });
  });
});

describe('resolveRepositoryAddress: Gitea', () => {
  it('at the root of its host', () => {
    expect(resolveRepositoryAddress('gitea', 'https://gitea.example.com/ops/fleet.git')).toStrictEqual({
      apiBase: 'https://gitea.example.com/api/v1',
      path: 'ops/fleet',
    });
  });

  it.each([
    ['https://host.example/git/owner/repo.git', 'https://host.example/git/api/v1'],
    ['https://host.example/git/owner/repo/', 'https://host.example/git/api/v1'],
    ['https://host.example/tools/gitea/owner/repo.git', 'https://host.example/tools/gitea/api/v1'],
  ])('under a sub-path: %s → %s, path owner/repo', (url, apiBase) => {
    expect(resolveRepositoryAddress('gitea', url)).toStrictEqual({ apiBase, path: 'owner/repo' });
  });

  it('plain http on a loopback address with a port', () => {
    expect(resolveRepositoryAddress('gitea', 'http://127.0.0.1:3000/o/r.git')).toStrictEqual({ apiBase: 'http://127.0.0.1:3000/api/v1', path: 'o/r' });
  });

  it('an ssh:// URL with a port is reached over https on the default port', () => {
    expect(resolveRepositoryAddress('gitea', 'ssh://git@host.example:2222/o/r.git')).toStrictEqual({ apiBase: 'https://host.example/api/v1', path: 'o/r' });
  });

  it('an scp-like address', () => {
    expect(resolveRepositoryAddress('gitea', 'git@host.example:o/r.git')).toStrictEqual({ apiBase: 'https://host.example/api/v1', path: 'o/r' });
  });

  it('an IPv6 ssh host is bracketed in the https origin', () => {
    expect(resolveRepositoryAddress('gitea', 'ssh://git@[fd00::1]:2222/o/r.git')).toStrictEqual({ apiBase: 'https://[fd00::1]/api/v1', path: 'o/r' });
  });
});

describe('resolveRepositoryAddress: apiUrl', () => {
  it.each([
    ['github', 'https://github.example.com/api/v3/', 'https://github.example.com/api/v3'],
    ['gitlab', 'https://proxy.example.com/gitlab/api/v4///', 'https://proxy.example.com/gitlab/api/v4'],
    ['gitea', 'http://gitea.internal:3000/api/v1', 'http://gitea.internal:3000/api/v1'],
  ] as const)('%s: %s overrides the base, without trailing slashes', (provider, apiUrl, apiBase) => {
    const address = resolveRepositoryAddress(provider, 'https://git.example.com/team/app.git', apiUrl);
    expect(address).toStrictEqual({ apiBase, path: 'team/app' });
  });

  it('does not change which repository is meant', () => {
    expect(resolveRepositoryAddress('gitlab', 'git@gitlab.example.com:a/b/c.git', 'https://api.example.com').path).toBe('a/b/c');
  });
});

// GitLab under a relative URL root (https://host/gitlab): its clone URLs carry the root, its
// project paths do not. Only apiUrl tells where the root ends.
describe('resolveRepositoryAddress: GitLab under a sub-path, from apiUrl', () => {
  it.each([
    ['https://host.example/gitlab/group/proj.git', 'https://host.example/gitlab/api/v4', 'group/proj'],
    ['https://host.example/gitlab/group/sub/proj.git', 'https://host.example/gitlab/api/v4/', 'group/sub/proj'],
    ['https://host.example/tools/gitlab/group/proj.git', 'https://host.example/tools/gitlab/api/v4', 'group/proj'],
    ['https://host.example/my%20gitlab/group/proj', 'https://host.example/my%20gitlab/api/v4', 'group/proj'],
  ])('%s with apiUrl %s → path %s', (url, apiUrl, path) => {
    expect(resolveRepositoryAddress('gitlab', url, apiUrl)).toStrictEqual({ apiBase: apiUrl.replace(/\/+$/, ''), path });
  });

  it.each([
    ['the root is not at the front of the path', 'https://host.example/team/gitlab/app.git', 'https://host.example/gitlab/api/v4', 'team/gitlab/app'],
    ['only part of the root is', 'https://host.example/tools/other/group/app.git', 'https://host.example/tools/gitlab/api/v4', 'tools/other/group/app'],
    ['removing it would leave no group', 'https://host.example/group/proj.git', 'https://host.example/group/api/v4', 'group/proj'],
    ['apiUrl has no path before /api/v4', 'https://host.example/gitlab/group/proj.git', 'https://host.example/api/v4', 'gitlab/group/proj'],
  ])('keeps the whole path when %s', (_why, url, apiUrl, path) => {
    expect(resolveRepositoryAddress('gitlab', url, apiUrl).path).toBe(path);
  });

  it('keeps the whole path without apiUrl', () => {
    expect(resolveRepositoryAddress('gitlab', 'https://host.example/gitlab/group/proj.git')).toStrictEqual({
      apiBase: 'https://host.example/api/v4',
      path: 'gitlab/group/proj',
    });
  });

  it.each([
    ['github', 'https://ghe.example.com/acme/api/v3', 'https://ghe.example.com/acme/fleet.git', 'acme/fleet'],
    ['gitea', 'https://host.example/git/api/v1', 'https://host.example/git/owner/repo.git', 'owner/repo'],
  ] as const)('%s: the path is not shortened by apiUrl', (provider, apiUrl, url, path) => {
    expect(resolveRepositoryAddress(provider, url, apiUrl).path).toBe(path);
  });

  it('an apiUrl that does not parse → PullRequestConfigError', () => {
    expect(() => resolveRepositoryAddress('gitlab', 'https://host.example/gitlab/group/proj.git', 'not a url')).toThrow(
      new PullRequestConfigError('spec.pullRequest.apiUrl does not parse'),
    );
  });
});

describe('resolveRepositoryAddress: refused', () => {
  it.each([
    ['github', 'https://github.com/fleet.git'],
    ['gitlab', 'https://gitlab.example.com/project'],
    ['gitea', 'git@host.example:repo.git'],
    ['gitea', 'https://host.example/'],
  ] as const)('%s: %s names no owner → PullRequestConfigError', (provider, url) => {
    let caught: unknown;
    try {
      resolveRepositoryAddress(provider, url);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(PullRequestConfigError);
    expect((caught as PullRequestConfigError).code).toBe('PullRequestConfigError');
    expect((caught as Error).message).toMatch(/^Cannot tell the owner and repository from /);
  });

  it('names what it could not read, without credentials', () => {
    expect(() => resolveRepositoryAddress('github', 'https://user:pw@ghe.example.com/fleet.git')).toThrow(
      new PullRequestConfigError('Cannot tell the owner and repository from https://ghe.example.com/fleet'),
    );
  });

  it('a URL that does not parse → PullRequestConfigError', () => {
    expect(() => resolveRepositoryAddress('github', 'not a url')).toThrow(PullRequestConfigError);
    expect(() => resolveRepositoryAddress('github', 'not a url')).toThrow('The repository URL does not parse');
  });

  it.each([
    ['no host', 'ssh://git@/acme/fleet.git'],
    ['no path', 'ssh://git@host.example'],
    ['only a slash as path', 'ssh://git@host.example/'],
    ['a port out of range', 'ssh://git@host.example:99999/acme/fleet.git'],
    ['no host, and a password', 'ssh://git:hunter2@/acme/fleet.git'],
  ] as const)('a malformed ssh:// URL (%s) → PullRequestConfigError, naming no credential', (_what, url) => {
    let caught: unknown;
    try {
      resolveRepositoryAddress('gitea', url);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(PullRequestConfigError);
    expect((caught as Error).message).toBe('The repository URL names no host or repository path');
    expect((caught as Error).message).not.toContain('hunter2');
  });
});
