/**
 * The key of spec.signing, from its Secret in the rollback's namespace, in the shape of
 * ImageUpdateAutomation's signing key Secret: `git.asc` (an armored OpenPGP secret key) or
 * `identity` (an OpenSSH private key), and `passphrase` when it is encrypted. Whether the key can
 * sign is the engine's check (in the worker, where the key derivation's CPU cannot hurt).
 */
import { Reason } from '../api/v1alpha1/conditions.js';
import type { GitOpsRollback } from '../api/v1alpha1/types.js';
import type { SigningKeyInput } from '../git/commit-signing.js';
import { StallingError } from './classify-error.js';
import type { ClusterPort } from './ports.js';
import type { SourceVerification } from './resolve-repository.js';

/**
 * The signing key, or undefined without spec.signing; StallingError when the Secret cannot provide
 * one, or when the GitRepository verifies signatures and there is no key (SigningRequired). With
 * a verifying GitRepository the key carries its trusted keys, checked by the engine before anything is fetched.
 */
export async function readSigningKey(
  cluster: Pick<ClusterPort, 'getSecretData'>,
  rollback: GitOpsRollback,
  verification?: SourceVerification,
): Promise<SigningKeyInput | undefined> {
  const name = rollback.spec.signing?.secretRef.name;
  if (!name) {
    if (!verification) return undefined;
    throw new StallingError(
      Reason.SigningRequired,
      `GitRepository ${verification.gitRepository} verifies the signature of every new head (spec.verify); an unsigned revert would never be deployed. Set spec.signing.secretRef to a key its spec.verify Secret trusts`,
    );
  }
  const namespace = rollback.metadata.namespace!;
  const data = await cluster.getSecretData(namespace, name);
  if (!data) throw new StallingError(Reason.SecretNotFound, `Signing key Secret ${namespace}/${name} was not found`);
  const key = data['git.asc'] || data.identity;
  if (!key) throw new StallingError(Reason.SigningKeyInvalid, `Secret ${namespace}/${name} has neither git.asc (an OpenPGP key) nor identity (an SSH key)`);
  return { key, passphrase: data.passphrase || undefined, ...(verification ? { trusted: verification.trusted } : {}) };
}
