/**
 * The one control plane shared by every test file of a Jest run. Jest's global setup starts it and
 * writes its {@link ConnectionInfo} to a JSON file whose path it puts in the environment; the test
 * files (in worker processes, which inherit that environment) read the file back.
 *
 * Erasable TypeScript only: Jest's global setup loads this file with Node's type stripping.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createControlPlaneClient, type ConnectionInfo, type ControlPlaneClient } from './control-plane-client.js';

/** Environment variable holding the path of the shared control plane's connection file. */
export const CONNECTION_FILE_ENV = 'GITOPS_ROLLBACK_ENVTEST';

/** Environment variable holding the directory of Flux's CRD manifests, provided by the global setup. */
export const FLUX_CRDS_ENV = 'GITOPS_ROLLBACK_FLUX_CRDS';

/**
 * The directory of Flux's CRD manifests (`<group>_<plural>.yaml`) that Jest's global setup
 * provided with provide-flux-crds.sh. Hooks only read it: generating them (controller-gen, Go
 * modules) takes minutes on a cold machine, far beyond a hook's budget.
 */
export function fluxCrdsDir(): string {
  const dir = process.env[FLUX_CRDS_ENV];
  if (!dir) {
    throw new Error(`${FLUX_CRDS_ENV} is not set: run the tests through jest.config.js, whose globalSetup (test/envtest/global-setup.ts) provides Flux's CRDs`);
  }
  return dir;
}

/** Writes `info` next to the control plane's data and returns the file's path. */
export async function writeConnectionFile(info: ConnectionInfo): Promise<string> {
  const path = join(info.rootDir, 'connection.json');
  await writeFile(path, JSON.stringify(info, null, 2) + '\n');
  return path;
}

/**
 * The handle on the control plane that Jest's global setup started for this run (admin
 * kubeconfig, kubectl, ServiceAccount tokens). It cannot stop or restart that control plane:
 * a test that needs to should start its own with startControlPlane().
 *
 * Throws when no global setup ran (for instance jest was started with another config).
 */
export function connectToControlPlane(): ControlPlaneClient {
  const path = process.env[CONNECTION_FILE_ENV];
  if (!path) {
    throw new Error(
      `${CONNECTION_FILE_ENV} is not set: run the tests through jest.config.js, whose globalSetup (test/envtest/global-setup.ts) starts the shared control plane`,
    );
  }
  const info = JSON.parse(readFileSync(path, 'utf8')) as ConnectionInfo;
  return createControlPlaneClient(info);
}
