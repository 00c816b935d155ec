/**
 * Keys for the CLI. SSH credentials from the environment: GIT_SSH_KEY_FILE (private key, required),
 * GIT_SSH_KNOWN_HOSTS_FILE (default ~/.ssh/known_hosts; host keys are always verified) and
 * GIT_SSH_KEY_PASSPHRASE (for an encrypted key). The signing key from --signing-key, its
 * passphrase from GIT_SIGNING_KEY_PASSPHRASE. Errors name the files, never their contents.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { SigningKeyInput } from '../git/commit-signing.js';
import type { Credentials } from '../git/remote.js';
import { UsageError } from './usage-error.js';

/** Reads the key and known_hosts files the environment names; UsageError when one cannot be read. */
export function readSshCredentials(env: NodeJS.ProcessEnv): Credentials {
  const keyFile = env.GIT_SSH_KEY_FILE;
  if (!keyFile) throw new UsageError('An SSH --repo needs GIT_SSH_KEY_FILE (the private key file)');
  const knownHostsFile = env.GIT_SSH_KNOWN_HOSTS_FILE ?? join(env.HOME ?? homedir(), '.ssh', 'known_hosts');
  if (!env.GIT_SSH_KNOWN_HOSTS_FILE && !existsSync(knownHostsFile)) {
    throw new UsageError(`An SSH --repo needs known_hosts: set GIT_SSH_KNOWN_HOSTS_FILE (${knownHostsFile} does not exist)`);
  }
  return {
    identity: readText(keyFile, 'GIT_SSH_KEY_FILE'),
    knownHosts: readText(knownHostsFile, 'GIT_SSH_KNOWN_HOSTS_FILE'),
    password: env.GIT_SSH_KEY_PASSPHRASE || undefined,
  };
}

/** The --signing-key file and GIT_SIGNING_KEY_PASSPHRASE; UsageError when the file cannot be read. */
export function readSigningKey(file: string, env: NodeJS.ProcessEnv): SigningKeyInput {
  return { key: readText(file, '--signing-key'), passphrase: env.GIT_SIGNING_KEY_PASSPHRASE || undefined };
}

function readText(file: string, variable: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`Cannot read ${variable} ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}
