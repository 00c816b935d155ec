import type { GitRepositoryView } from '../../../src/flux/git-repository.js';
import { resolveGitRepositoryRef, type SourcePort } from '../../../src/controller/resolve-repository.js';

/** A cluster holding GitRepositories and Secrets of namespace `apps`. */
function cluster(repositories: Record<string, GitRepositoryView>, secrets: Record<string, Record<string, string>> = {}): SourcePort {
  return {
    getGitRepository: async (namespace, name) => (namespace === 'apps' ? (repositories[name] ?? null) : null),
    getSecretData: async (namespace, name) => (namespace === 'apps' ? (secrets[name] ?? null) : null),
  };
}

describe('resolveGitRepositoryRef', () => {
  test('a GitRepository on a branch resolves to its URL, branch and Secret credentials', async () => {
    const port = cluster(
      { fleet: { url: 'https://git.example/fleet.git', ref: { branch: 'prod' }, secretRef: { name: 'auth' } } },
      { auth: { bearerToken: 't0ken' } },
    );
    await expect(resolveGitRepositoryRef(port, { namespace: 'apps', name: 'fleet' })).resolves.toEqual({
      url: 'https://git.example/fleet.git',
      branch: 'prod',
      credentials: { bearerToken: 't0ken' },
    });
  });

  test('a GitRepository without a ref follows its default branch', async () => {
    const target = await resolveGitRepositoryRef(cluster({ fleet: { url: 'https://git.example/fleet.git' } }), { namespace: 'apps', name: 'fleet' });
    expect(target).toMatchObject({ branch: 'master', credentials: undefined });
  });

  test.each([
    { name: 'missing', reason: 'SourceNotFound', message: 'GitRepository apps/missing was not found' },
    {
      name: 'pinned',
      reason: 'UnsupportedSourceRef',
      message:
        'GitRepository apps/pinned follows tag v1.0.0, not a branch; a rollback commits to a branch: revert on the branch the tags came from (spec.repository with its url and branch) and cut a new tag from it',
    },
    { name: 'no-secret', reason: 'SecretNotFound', message: 'Secret apps/gone was not found' },
  ])('$name stalls with $reason', async ({ name, reason, message }) => {
    const port = cluster({
      pinned: { url: 'https://git.example/fleet.git', ref: { tag: 'v1.0.0' } },
      'no-secret': { url: 'https://git.example/fleet.git', secretRef: { name: 'gone' } },
    });
    await expect(resolveGitRepositoryRef(port, { namespace: 'apps', name })).rejects.toMatchObject({ reason, message });
  });
});
