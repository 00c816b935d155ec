/** Label values stay bounded and credential-free. */
import { toComponent, toComponents, toRepositoryLabel, toResultLabel, toTargetKind } from '../../../src/metrics/labels.js';

describe('toRepositoryLabel', () => {
  test.each([
    ['https://user:s3cret@git.example.com/org/fleet.git', 'git.example.com/org/fleet'],
    ['https://git.example.com:8443/org/fleet/', 'git.example.com:8443/org/fleet'],
    ['http://127.0.0.1:4321/fleet-1.git', '127.0.0.1:4321/fleet-1'],
    ['ssh://git@github.com/org/fleet.git', 'github.com/org/fleet'],
    ['git@github.com:org/fleet.git', 'github.com/org/fleet'],
    [undefined, 'unknown'],
  ])('%s becomes %s, without credentials', (url, label) => {
    expect(toRepositoryLabel(url)).toBe(label);
    expect(toRepositoryLabel(url)).not.toContain('s3cret');
  });
});

describe('toComponent', () => {
  test.each([
    ['apps/frontend/deploy.yaml', 'apps/frontend'],
    ['apps/frontend/overlays/prod/patch.yaml', 'apps/frontend'],
    ['infra/ns.yaml', 'infra'],
    ['kustomization.yaml', '.'],
  ])('%s is component %s', (path, component) => expect(toComponent(path)).toBe(component));

  test('a rollback counts each component once', () => {
    expect(toComponents(['apps/a/x.yaml', 'apps/a/y.yaml', 'apps/b/z.yaml'])).toEqual(['apps/a', 'apps/b']);
  });
});

describe('toTargetKind', () => {
  test.each([
    [{ revert: { commits: ['a'] } }, 'commit'],
    [{ revert: { commits: ['a', 'b'] } }, 'commits'],
    [{ revert: { range: { from: 'a', to: 'b' } } }, 'range'],
    [{ revert: { commits: ['a'], mainline: 1 } }, 'merge'],
    [{ restore: { revision: 'a', paths: ['apps'] } }, 'restore'],
  ])('%j is %s', (spec, kind) => expect(toTargetKind(spec)).toBe(kind));
});

describe('toResultLabel', () => {
  test.each([
    ['Succeeded', true, 'succeeded'],
    ['AlreadyReverted', true, 'already_reverted'],
    ['NothingToRevert', true, 'already_reverted'],
    ['DryRunSucceeded', true, 'dry_run'],
    ['RevertConflict', false, 'conflict'],
    ['SafetyCheckFailed', false, 'blocked'],
    ['CommitNotFound', false, 'failed'],
    ['AuthenticationFailed', false, 'failed'],
  ])('reason %s (ready=%s) is result %s', (reason, ready, result) => expect(toResultLabel(reason, ready)).toBe(result));
});
