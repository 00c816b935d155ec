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

/** spec.verify: source-controller checks the signature of the HEAD commit and/or the tag. */
export interface GitRepositoryVerification {
  /** `HEAD`, `Tag`, `TagAndHEAD` (`head` is the legacy spelling of `HEAD`). */
  mode?: string;
  /** A Secret of trusted public keys: keys ending in `.sshpub` hold SSH keys (authorized_keys lines), every other key an OpenPGP keyring. */
  secretRef?: { name: string };
}

/** Whether source-controller verifies the commit a branch points to (VerifyHEAD in its API). */
export function verifiesHead(verify: GitRepositoryVerification | undefined): boolean {
  const mode = verify?.mode ?? '';
  return mode === 'HEAD' || mode === 'head' || mode === 'TagAndHEAD';
}

/** The Secret data key suffix source-controller reads SSH public keys from; all others are OpenPGP keyrings. */
export const VERIFY_SSH_KEY_SUFFIX = '.sshpub';

/** The condition source-controller sets after checking signatures. */
export const SOURCE_VERIFIED_CONDITION = 'SourceVerified';

/** The branch source-controller checks out when `spec.ref` names none. */
export const DEFAULT_GIT_REPOSITORY_BRANCH = 'master';

/** The API object, as a GET returns it (the fields we read). */
export interface GitRepository {
  metadata?: { annotations?: Record<string, string> };
  spec: {
    url: string;
    ref?: GitRepositoryRef;
    secretRef?: { name: string };
    verify?: GitRepositoryVerification;
  };
  status?: {
    /** What source-controller serves now; `revision` is e.g. `main@sha1:<sha>`. */
    artifact?: { revision?: string };
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}

/** The parts of a GitRepository a rollback uses. */
export interface GitRepositoryView {
  url: string;
  ref?: GitRepositoryRef;
  secretRef?: { name: string };
  verify?: GitRepositoryVerification;
  /** metadata.annotations (the cross-namespace consent, ALLOWED_NAMESPACES_ANNOTATION). */
  annotations?: Record<string, string>;
}

/** The view of a GitRepository object a rollback uses. */
export function toGitRepositoryView(object: GitRepository): GitRepositoryView {
  return { ...object.spec, annotations: object.metadata?.annotations };
}
