/**
 * A Flux GitRepository (source.toolkit.fluxcd.io/v1) as we read it: the API object's parts
 * (source-controller/api/v1 gitrepository_types.go: GitRepositorySpec, GitRepositoryRef, the
 * artifact in GitRepositoryStatus), its default branch, and the view a rollback uses.
 */

/** spec.ref: what the GitRepository follows. */
export interface GitRepositoryRef {
  branch?: string;
  tag?: string;
  semver?: string;
  commit?: string;
  name?: string;
}

/** The branch source-controller checks out when `spec.ref` names none. */
export const DEFAULT_GIT_REPOSITORY_BRANCH = 'master';

/** The API object, as a GET returns it (the fields we read). */
export interface GitRepository {
  metadata?: { annotations?: Record<string, string> };
  spec: {
    url: string;
    ref?: GitRepositoryRef;
    secretRef?: { name: string };
  };
  status?: {
    /** What source-controller serves now; `revision` is e.g. `main@sha1:<sha>`. */
    artifact?: { revision?: string };
  };
}

/** The parts of a GitRepository a rollback uses. */
export interface GitRepositoryView {
  url: string;
  ref?: GitRepositoryRef;
  secretRef?: { name: string };
  /** metadata.annotations (the cross-namespace consent, ALLOWED_NAMESPACES_ANNOTATION). */
  annotations?: Record<string, string>;
}

/** The view of a GitRepository object a rollback uses. */
export function toGitRepositoryView(object: GitRepository): GitRepositoryView {
  return { ...object.spec, annotations: object.metadata?.annotations };
}
