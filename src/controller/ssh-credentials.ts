/**
 * Reads SSH credentials from a Secret in Flux's format: `identity` (private key), `known_hosts`
 * (required: no host key is trusted without it) and optional `password` (the key's passphrase).
 * Messages name the missing keys, never their values.
 */
import { Reason } from '../api/v1alpha1/conditions.js';
import type { Credentials } from '../git/remote.js';
import { StallingError } from './classify-error.js';

/** The SSH credentials in `data`; a StallingError (Stalled=True, InvalidSpec) when a required key is missing. */
export function readSshCredentials(data: Record<string, string>, secretName: string): Credentials {
  const missing = ['identity', 'known_hosts'].filter((key) => !data[key]?.trim());
  if (missing.length > 0) {
    throw new StallingError(
      Reason.InvalidSpec,
      `Secret ${secretName} has no ${missing.join(' and ')}; an SSH repository needs identity (the private key) and known_hosts, and optionally password (the key's passphrase)`,
    );
  }
  return { identity: data.identity, knownHosts: data.known_hosts, password: data.password || undefined };
}
