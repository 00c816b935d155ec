/** Permissions a rollback cannot give itself: the GitRepository's consent, the Namespace's grant. */
import { allowsNamespace, findUngrantedKinds } from '../../../src/controller/grants.js';

describe('grants', () => {
  test.each([
    [undefined, 'team-a', false],
    [{}, 'team-a', false],
    [{ 'rollback.gitops.dev/allowed-namespaces': 'team-b' }, 'team-a', false],
    [{ 'rollback.gitops.dev/allowed-namespaces': 'team-b, team-a' }, 'team-a', true],
    [{ 'rollback.gitops.dev/allowed-namespaces': '*' }, 'team-a', true],
    [{ 'rollback.gitops.dev/allowed-namespaces': 'team-a-staging' }, 'team-a', false],
  ])('GitRepository annotations %j allow namespace %s: %s', (annotations, namespace, allowed) => {
    expect(allowsNamespace(annotations, namespace)).toBe(allowed);
  });

  test.each([
    [undefined, ['Namespace'], ['Namespace']],
    [{ 'rollback.gitops.dev/safety-allow': 'customresourcedefinition' }, ['CustomResourceDefinition', 'Namespace'], ['Namespace']],
    [{ 'rollback.gitops.dev/safety-allow': '*' }, ['Namespace'], []],
    [{ 'rollback.gitops.dev/safety-allow': 'Namespace,PersistentVolumeClaim' }, ['Namespace'], []],
  ])('Namespace annotations %j, requested %j: not granted %j', (annotations, requested, missing) => {
    expect(findUngrantedKinds(annotations, requested)).toEqual(missing);
  });
});
