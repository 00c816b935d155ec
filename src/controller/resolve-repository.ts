/**
 * Turns a rollback's `sourceRef` or `repository` into what the engine needs: URL, branch and
 * credentials. Secrets are read only from the namespace the reference lives in, and a
 * `sourceRef` into another namespace is refused unless the operator allows it
 * (--allow-cross-namespace-refs) and the GitRepository consents (ALLOWED_NAMESPACES_ANNOTATION).
 */
import { Reason } from '../api/v1alpha1/conditions.js';
import { ALLOWED_NAMESPACES_ANNOTATION, type GitOpsRollback } from '../api/v1alpha1/types.js';
import { DEFAULT_GIT_REPOSITORY_BRANCH, VERIFY_SSH_KEY_SUFFIX, verifiesHead, type GitRepositoryView } from '../flux/git-repository.js';
import type { TrustedKeys } from '../git/commit-signing.js';
import type { RepositoryTarget } from '../git/engine.js';
import type { Credentials } from '../git/remote.js';
import { isSshUrl } from '../git/ssh-url.js';
import { StallingError } from './classify-error.js';
import { allowsNamespace } from './grants.js';
import type { ClusterPort } from './ports.js';
import { readSshCredentials } from './ssh-credentials.js';

/** Where a rollback pushes, and what the GitRepository's consumers require of the commits there. */
export interface ResolvedRepository {
  target: RepositoryTarget;
  /** Set when source-controller verifies the HEAD commit's signature (GitRepository spec.verify). */
  verification?: SourceVerification;
}

/** A GitRepository whose HEAD must be signed by one of `trusted`. */
export interface SourceVerification {
  gitRepository: string;
  trusted: TrustedKeys;
}

export async function resolveRepository(cluster: ClusterPort, rollback: GitOpsRollback, allowCrossNamespaceRefs: boolean): Promise<ResolvedRepository> {
  const namespace = rollback.metadata.namespace!;
  const { sourceRef, repository } = rollback.spec;
  if (repository) {
    const credentials = repository.secretRef ? await readCredentials(cluster, namespace, repository.secretRef.name, repository.url) : undefined;
    return { target: checkUrl({ url: repository.url, branch: repository.branch, credentials }) };
  }
  if (!sourceRef) throw new StallingError(Reason.InvalidSpec, 'Exactly one of spec.sourceRef and spec.repository is required');
  if (sourceRef.kind !== 'GitRepository')
    throw new StallingError(Reason.UnsupportedSourceRef, `sourceRef kind ${sourceRef.kind} is not supported; use GitRepository`);
  const sourceNamespace = sourceRef.namespace ?? namespace;
  if (sourceNamespace !== namespace && !allowCrossNamespaceRefs) {
    throw new StallingError(
      Reason.CrossNamespaceRefForbidden,
      `sourceRef to GitRepository ${sourceNamespace}/${sourceRef.name} crosses namespaces; the operator does not allow cross-namespace references`,
    );
  }
  const source = await readGitRepository(cluster, sourceNamespace, sourceRef.name);
  if (sourceNamespace !== namespace && !allowsNamespace(source.annotations, namespace)) {
    throw new StallingError(
      Reason.CrossNamespaceRefForbidden,
      `GitRepository ${sourceNamespace}/${sourceRef.name} does not allow GitOpsRollbacks from namespace ${namespace}; its owner can allow it with the annotation ${ALLOWED_NAMESPACES_ANNOTATION}: "${namespace}" (a comma-separated list, or "*")`,
    );
  }
  const target = await targetOf(cluster, sourceNamespace, sourceRef.name, source);
  return { target, verification: await readVerification(cluster, sourceNamespace, sourceRef.name, source) };
}

/**
 * The trusted keys of a GitRepository that verifies HEAD, read from its spec.verify Secret as
 * source-controller reads it: keys ending in `.sshpub` are SSH public keys, all others OpenPGP keyrings.
 */
async function readVerification(cluster: SourcePort, namespace: string, name: string, source: GitRepositoryView): Promise<SourceVerification | undefined> {
  if (!verifiesHead(source.verify)) return undefined;
  const gitRepository = `${namespace}/${name}`;
  const secretName = source.verify?.secretRef?.name;
  const data = secretName ? await cluster.getSecretData(namespace, secretName) : null;
  if (!data) {
    throw new StallingError(
      Reason.SecretNotFound,
      `GitRepository ${gitRepository} verifies signatures with Secret ${namespace}/${secretName ?? '(none)'}, which was not found`,
    );
  }
  const trusted: TrustedKeys = { openpgp: [], ssh: [] };
  for (const [key, value] of Object.entries(data)) (key.endsWith(VERIFY_SSH_KEY_SUFFIX) ? trusted.ssh : trusted.openpgp).push(value);
  return { gitRepository, trusted };
}

/**
 * What a Flux GitRepository resolves to, as for a rollback whose `sourceRef` names it: URL, branch
 * (never a pinned tag or commit) and credentials from its Secret. For a caller that has already
 * decided whether the reference may cross namespaces (a policy's trigger reading commits).
 */
export async function resolveGitRepositoryRef(cluster: SourcePort, ref: { namespace: string; name: string }): Promise<RepositoryTarget> {
  return targetOf(cluster, ref.namespace, ref.name, await readGitRepository(cluster, ref.namespace, ref.name));
}

/** What resolving a GitRepository reads from the cluster. */
export type SourcePort = Pick<ClusterPort, 'getGitRepository' | 'getSecretData'>;

async function readGitRepository(cluster: SourcePort, namespace: string, name: string): Promise<GitRepositoryView> {
  const source = await cluster.getGitRepository(namespace, name);
  if (!source) throw new StallingError(Reason.SourceNotFound, `GitRepository ${namespace}/${name} was not found`);
  return source;
}

async function targetOf(cluster: SourcePort, namespace: string, name: string, source: GitRepositoryView): Promise<RepositoryTarget> {
  const ref = source.ref ?? {};
  const pinned = ref.tag ?? ref.semver ?? ref.commit ?? ref.name;
  if (!ref.branch && pinned) {
    throw new StallingError(
      Reason.UnsupportedSourceRef,
      `GitRepository ${namespace}/${name} follows ${ref.tag ? 'tag' : ref.semver ? 'semver range' : ref.commit ? 'commit' : 'ref'} ${pinned}, not a branch; a rollback commits to a branch: revert on the branch the ${ref.commit ? 'commit' : 'tags'} came from (spec.repository with its url and branch) and ${ref.commit ? 'point the GitRepository at the new commit' : 'cut a new tag from it'}`,
    );
  }
  const credentials = source.secretRef ? await readCredentials(cluster, namespace, source.secretRef.name, source.url) : undefined;
  return checkUrl({ url: source.url, branch: ref.branch ?? DEFAULT_GIT_REPOSITORY_BRANCH, credentials });
}

/** Credentials from a Secret in Flux's format (bearerToken, or username/password; for SSH identity/known_hosts/password). */
async function readCredentials(cluster: SourcePort, namespace: string, name: string, url: string): Promise<Credentials> {
  const data = await cluster.getSecretData(namespace, name);
  if (!data) throw new StallingError(Reason.SecretNotFound, `Secret ${namespace}/${name} was not found`);
  if (isSshUrl(url)) return readSshCredentials(data, `${namespace}/${name}`);
  if (data.bearerToken) return { bearerToken: data.bearerToken };
  if (data.username || data.password) return { username: data.username, password: data.password };
  throw new StallingError(Reason.InvalidSpec, `Secret ${namespace}/${name} has none of the keys bearerToken, username, password`);
}

function checkUrl(target: RepositoryTarget): RepositoryTarget {
  if (isSshUrl(target.url)) {
    if (!target.credentials) throw new StallingError(Reason.InvalidSpec, 'An SSH repository URL needs a secretRef to a Secret with identity and known_hosts');
    return target;
  }
  if (!/^https?:\/\//i.test(target.url)) {
    throw new StallingError(Reason.InvalidSpec, 'Only HTTP(S) and SSH (ssh://) repository URLs are supported');
  }
  return target;
}
