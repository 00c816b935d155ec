/**
 * The words every safety diff speaks: a Kubernetes object added, removed or changed (and the file
 * that declares it), and a file that could not be read as manifests. Both the manifest diff and
 * the kustomization diff produce them; the gate judges them.
 */

export type ObjectChangeType = 'added' | 'removed' | 'changed';

export interface ObjectChange {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  file: string;
  change: ObjectChangeType;
}

export interface UnparsableFile {
  file: string;
  /** Which version failed to parse. */
  version: 'before' | 'after';
  error: string;
}

/** What a change to kustomization files does to the objects they build (diff-kustomizations.ts). */
export interface KustomizationDiff {
  /** Object changes, attributed to the changed kustomization file that causes them. */
  objects: ObjectChange[];
  /** Files that could not be followed at either version. */
  unparsable: UnparsableFile[];
}
