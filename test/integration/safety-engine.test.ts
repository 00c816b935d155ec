/**
 * The engine's inspect hook with the safety gate, on local bare repositories: a revert that
 * deletes a CRD is blocked before the ref moves, a dry run is inspected too, and an allowed kind
 * goes through.
 */
import { runRollback, type RollbackRequest } from '../../src/git/engine.js';
import type { InspectedChange } from '../../src/git/inspected-change.js';
import { createSafetyGate, SafetyCheckFailedError } from '../../src/safety/safety-gate.js';
import { cloneBare, commitFiles, git, initRepo, makeTempDir } from '../helpers/git-cli.js';

const CRD = 'apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\nspec:\n  group: example.com\n';
const DEPLOY = (image: string) =>
  `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: ${image}\n`;

function buildRepo(): { bare: string; addCrd: string; bump: string } {
  const work = initRepo();
  commitFiles(work, 'Initial', { 'apps/web.yaml': DEPLOY('web:2'), 'apps/api.yaml': DEPLOY('api:1') });
  const addCrd = commitFiles(work, 'Add widgets CRD and bump api', { 'crds/widgets.yaml': CRD, 'apps/api.yaml': DEPLOY('api:2') });
  const bump = commitFiles(work, 'Bump web', { 'apps/web.yaml': DEPLOY('web:3') });
  return { bare: cloneBare(work), addCrd, bump };
}

const request = (bare: string, commit: string, dryRun = false): RollbackRequest => ({
  repository: { url: bare, branch: 'main' },
  action: { kind: 'revert', commits: [commit] },
  dryRun,
});

describe('engine inspect hook with the safety gate', () => {
  test('reverting a commit that added a CRD is blocked and the branch is unchanged', async () => {
    const { bare, addCrd } = buildRepo();
    const before = git(bare, 'rev-parse', 'main');
    const gate = createSafetyGate();
    await expect(runRollback(request(bare, addCrd), { cacheDir: makeTempDir(), inspect: gate.inspect })).rejects.toBeInstanceOf(SafetyCheckFailedError);
    expect(git(bare, 'rev-parse', 'main')).toBe(before);
    expect(gate.verdict).toMatchObject({
      verdict: 'Blocked',
      blocked: [{ kind: 'CustomResourceDefinition', name: 'widgets.example.com', file: 'crds/widgets.yaml', change: 'removed' }],
      summary: [
        { kind: 'CustomResourceDefinition', added: 0, removed: 1, changed: 0 },
        { kind: 'Deployment', added: 0, removed: 0, changed: 1 },
      ],
    });
  });

  test('a dry run is inspected too and blocked the same way', async () => {
    const { bare, addCrd } = buildRepo();
    const gate = createSafetyGate();
    await expect(runRollback(request(bare, addCrd, true), { cacheDir: makeTempDir(), inspect: gate.inspect })).rejects.toBeInstanceOf(SafetyCheckFailedError);
    expect(gate.verdict?.changedPaths).toEqual(['apps/api.yaml', 'crds/widgets.yaml']);
  });

  test('the same revert goes through when CustomResourceDefinition is allowed', async () => {
    const { bare, addCrd } = buildRepo();
    const gate = createSafetyGate({ allow: ['CustomResourceDefinition'] });
    const result = await runRollback(request(bare, addCrd), { cacheDir: makeTempDir(), inspect: gate.inspect });
    expect(result.result).toBe('reverted');
    expect(git(bare, 'rev-parse', 'main')).toBe(result.head);
    expect(gate.verdict).toMatchObject({ verdict: 'Passed', allowed: [{ kind: 'CustomResourceDefinition', change: 'removed' }] });
  });

  test('a Deployment change passes and the hook sees both trees and readers', async () => {
    const { bare, bump } = buildRepo();
    const seen: InspectedChange[] = [];
    const gate = createSafetyGate();
    const result = await runRollback(request(bare, bump), {
      cacheDir: makeTempDir(),
      inspect: async (change) => {
        seen.push(change);
        await gate.inspect(change);
      },
    });
    expect(result.result).toBe('reverted');
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ head: result.previousHead, newHead: result.head, changedPaths: ['apps/web.yaml'] });
    expect(new TextDecoder().decode((await seen[0].readBefore('apps/web.yaml'))!)).toContain('web:3');
    expect(new TextDecoder().decode((await seen[0].readAfter('apps/web.yaml'))!)).toContain('web:2');
    expect(await seen[0].readAfter('no/such.yaml')).toBeNull();
    expect(gate.verdict).toMatchObject({ verdict: 'Passed', summary: [{ kind: 'Deployment', added: 0, removed: 0, changed: 1 }] });
  });

  test("removing a Namespace from a kustomization's resources is blocked though no Namespace file changed", async () => {
    const ns = 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: billing\n';
    const kustomization = (resources: string[]) =>
      `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n${resources.map((r) => `  - ${r}\n`).join('')}`;
    const work = initRepo();
    commitFiles(work, 'Initial', {
      'infra/kustomization.yaml': kustomization(['apps']),
      'infra/namespace.yaml': ns,
      'infra/apps/kustomization.yaml': kustomization(['web.yaml']),
      'infra/apps/web.yaml': DEPLOY('web:1'),
    });
    const include = commitFiles(work, 'Deploy the billing namespace', { 'infra/kustomization.yaml': kustomization(['namespace.yaml', 'apps']) });
    const bare = cloneBare(work);
    const before = git(bare, 'rev-parse', 'main');
    const gate = createSafetyGate();
    await expect(runRollback(request(bare, include), { cacheDir: makeTempDir(), inspect: gate.inspect })).rejects.toBeInstanceOf(SafetyCheckFailedError);
    expect(git(bare, 'rev-parse', 'main')).toBe(before);
    expect(gate.verdict).toMatchObject({
      verdict: 'Blocked',
      changedPaths: ['infra/kustomization.yaml'],
      blocked: [{ kind: 'Namespace', name: 'billing', file: 'infra/kustomization.yaml', change: 'removed' }],
    });
  });

  test('a revert that leaves a changed manifest unparsable is blocked unless Unparsable is allowed', async () => {
    const work = initRepo();
    commitFiles(work, 'Initial', { 'apps/web.yaml': 'kind: [broken\n' });
    const fix = commitFiles(work, 'Fix web', { 'apps/web.yaml': DEPLOY('web:1') });
    const bare = cloneBare(work);
    const blocked = createSafetyGate();
    await expect(runRollback(request(bare, fix), { cacheDir: makeTempDir(), inspect: blocked.inspect })).rejects.toBeInstanceOf(SafetyCheckFailedError);
    expect(blocked.verdict).toMatchObject({ verdict: 'Blocked', unparsable: [{ file: 'apps/web.yaml', version: 'after' }] });
    const allowed = createSafetyGate({ allow: ['Unparsable'] });
    const result = await runRollback(request(bare, fix), { cacheDir: makeTempDir(), inspect: allowed.inspect });
    expect(result.result).toBe('reverted');
    expect(allowed.verdict?.verdict).toBe('Passed');
  });
});
