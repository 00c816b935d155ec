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

/** The signing key, or undefined without spec.signing; StallingError when the Secret cannot provide one. */
export async function readSigningKey(cluster: Pick<ClusterPort, 'getSecretData'>, rollback: GitOpsRollback): Promise<SigningKeyInput | undefined> {
  const name = rollback.spec.signing?.secretRef.name;
  if (!name) return undefined;
  const namespace = rollback.metadata.namespace!;
  const data = await cluster.getSecretData(namespace, name);
  if (!data) throw new StallingError(Reason.SecretNotFound, `Signing key Secret ${namespace}/${name} was not found`);
  const key = data['git.asc'] || data.identity;
  if (!key) throw new StallingError(Reason.SigningKeyInvalid, `Secret ${namespace}/${name} has neither git.asc (an OpenPGP key) nor identity (an SSH key)`);
  return { key, passphrase: data.passphrase || undefined };
}
