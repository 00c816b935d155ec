/**
 * What a change to a kustomization does to the objects it builds: the objects that drop out of
 * its resource lists (Flux prunes them), come in, or reach the cluster changed, even when no
 * manifest file changed (removing `- namespace.yaml` from `resources:` deletes that Namespace).
 * Each changed kustomization file is resolved at both versions (kustomize-resources.ts). Pure.
 */
import { isDeepStrictEqual } from 'node:util';
import type { KustomizationDiff, ObjectChange, ObjectChangeType } from './object-change.js';
import { isKustomizationPath, KUSTOMIZE_LIMITS, resolveKustomization, type BuiltObject, type ReadFile, type ResolveBudget } from './kustomize-resources.js';

export type { KustomizationDiff } from './object-change.js';

/**
 * Diffs the build inputs of every changed kustomization file. A version that cannot be built is
 * reported unparsable, and its objects are not compared. A remote reference (a URL) is not
 * followed; one that appears at one version only is reported unparsable, since what it brings
 * in or takes away is unknown.
 */
export async function diffKustomizations(changedPaths: readonly string[], readBefore: ReadFile, readAfter: ReadFile): Promise<KustomizationDiff> {
  const budget: ResolveBudget = { files: KUSTOMIZE_LIMITS.files, bytes: KUSTOMIZE_LIMITS.bytes };
  const diff: KustomizationDiff = { objects: [], unparsable: [] };
  for (const path of [...changedPaths].filter(isKustomizationPath).sort()) {
    const before = await resolveKustomization(path, readBefore, 'before', budget);
    const after = await resolveKustomization(path, readAfter, 'after', budget);
    diff.unparsable.push(...before.problems, ...after.problems);
    for (const remote of before.remote.filter((r) => !after.remote.includes(r)))
      diff.unparsable.push({ file: path, version: 'before', error: `remote resource ${remote} is not followed` });
    for (const remote of after.remote.filter((r) => !before.remote.includes(r)))
      diff.unparsable.push({ file: path, version: 'after', error: `remote resource ${remote} is not followed` });
    // kustomize fails the whole build on such a problem, so Flux applies (and prunes) nothing:
    // the problem blocks on its own, the object lists are not compared.
    if (!before.problems.length && !after.problems.length) diff.objects.push(...compareBuilds(path, before.objects, after.objects));
  }
  return diff;
}

function compareBuilds(file: string, before: Map<string, BuiltObject>, after: Map<string, BuiltObject>): ObjectChange[] {
  const changes: ObjectChange[] = [];
  for (const [id, old] of before) {
    const next = after.get(id);
    if (!next) changes.push(describe(old, file, 'removed'));
    else if (!isDeepStrictEqual(old.shape, next.shape)) changes.push(describe(next, file, 'changed'));
  }
  for (const [id, next] of after) {
    if (!before.has(id)) changes.push(describe(next, file, 'added'));
  }
  return changes;
}

function describe({ object }: BuiltObject, file: string, change: ObjectChangeType): ObjectChange {
  const { apiVersion, kind, name, namespace } = object;
  return namespace ? { apiVersion, kind, name, namespace, file, change } : { apiVersion, kind, name, file, change };
}
