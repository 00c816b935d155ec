/**
 * Picks the Kustomizations a rollback waits for when `spec.reconcile.kustomizations` is not
 * given: those whose sourceRef is the rollback's GitRepository and whose `spec.path` contains
 * at least one changed path. (A Kustomization that pulls files from outside its path, through
 * `../` resources in a kustomization.yaml, is not seen this way; name it explicitly.)
 */
import type { ObjectKey } from './flux-port.js';
import type { KustomizationView } from './kustomization.js';
import { normalizeSourcePath } from './source-path.js';

/**
 * True when the repository path `changed` lies inside the Kustomization path `kustomizationPath`.
 * An empty `changed` stands for the whole repository (changes unknown) and is inside every path.
 */
export function isPathCovered(kustomizationPath: string | undefined, changed: string): boolean {
  const root = normalizeSourcePath(kustomizationPath);
  const file = normalizeSourcePath(changed);
  return root === '' || file === '' || file === root || file.startsWith(`${root}/`);
}

/** True when the Kustomization's sourceRef names the GitRepository `source`. */
export function isSourcedFrom(kustomization: KustomizationView, source: ObjectKey): boolean {
  const ref = kustomization.sourceRef;
  return ref.kind === 'GitRepository' && ref.name === source.name && (ref.namespace ?? kustomization.namespace) === source.namespace;
}

/**
 * The Kustomizations fed by `source` whose path covers a changed path, sorted by
 * namespace/name. No changed paths (nothing to apply) selects none.
 */
export function selectKustomizations(kustomizations: KustomizationView[], source: ObjectKey, changedPaths: string[]): KustomizationView[] {
  return kustomizations
    .filter((k) => isSourcedFrom(k, source) && changedPaths.some((path) => isPathCovered(k.path, path)))
    .sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
}
