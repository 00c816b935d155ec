/**
 * Jest globalSetup: provides the binaries and Flux's CRD manifests, and starts the one control plane shared by the whole
 * test run; global-teardown.ts stops it. Test files reach it with connectToControlPlane().
 *
 * Jest loads global setup files outside its module system: with this package's ESM config the
 * file ends up in Node's own loader, which strips the types but does not map the './x.js'
 * specifiers of our sources to './x.ts' (Jest's moduleNameMapper applies to test files only).
 * So this file imports nothing of ours statically: it first registers a resolve hook doing that
 * mapping, then imports the harness dynamically.
 */
import { registerHooks, type ResolveFnOutput, type ResolveHookContext } from 'node:module';
import type { ControlPlane } from './control-plane.js';

/** Where global-teardown.ts finds the control plane (globals of global setup reach global teardown). */
export const SHARED_CONTROL_PLANE_KEY = '__gitopsRollbackSharedControlPlane';

/**
 * Provides everything expensive once (binaries, Flux's CRD manifests), starts the shared control
 * plane, and publishes the connection file and the CRD directory in the environment.
 */
export default async function startSharedControlPlane(): Promise<void> {
  registerTypeScriptResolution();
  const { provideBinaries, provideClusterBinaries, provideFluxCrds, provideGitea } = await import('./binaries.js');
  const { startControlPlane } = await import('./control-plane.js');
  const { CONNECTION_FILE_ENV, FLUX_CRDS_ENV, writeConnectionFile } = await import('./shared-control-plane.js');

  const began = Date.now();
  // The scripts announce a cold build (minutes) on stderr themselves. The cluster mode's binaries
  // too (test/e2e/real-flux.test.ts starts that cluster), and Gitea (the pull-request tests' git
  // host): built here once, never in a test's hook.
  const [binDir, fluxCrds] = await Promise.all([provideBinaries(), provideFluxCrds(), provideClusterBinaries(), provideGitea()]);
  process.env[FLUX_CRDS_ENV] = fluxCrds;
  const binariesMs = Date.now() - began;
  const plane = await startControlPlane({ binDir });
  process.env[CONNECTION_FILE_ENV] = await writeConnectionFile(plane.info);
  (globalThis as Record<string, unknown>)[SHARED_CONTROL_PLANE_KEY] = plane;
  process.stderr.write(
    `\nenvtest: control plane at ${plane.server} ready in ${Date.now() - began - binariesMs} ms (binaries and Flux CRDs ${binariesMs} ms); ${CONNECTION_FILE_ENV}=${process.env[CONNECTION_FILE_ENV]}\n`,
  );
}

/** Stops the control plane started by {@link startSharedControlPlane}, if any. */
export async function stopSharedControlPlane(): Promise<void> {
  const holder = globalThis as Record<string, unknown>;
  const plane = holder[SHARED_CONTROL_PLANE_KEY] as ControlPlane | undefined;
  delete holder[SHARED_CONTROL_PLANE_KEY];
  await plane?.stop();
}

let resolutionRegistered = false;

/**
 * Lets Node's loader resolve a relative './x.js' that does not exist to './x.ts', so plain Node
 * (24+, which strips types) can import the harness: Jest's global setup, or a child process.
 */
export function registerTypeScriptResolution(): void {
  if (resolutionRegistered) return;
  resolutionRegistered = true;
  registerHooks({
    resolve(specifier: string, context: ResolveHookContext, nextResolve): ResolveFnOutput {
      try {
        return nextResolve(specifier, context);
      } catch (err) {
        if (!/^\.\.?\/.*\.js$/.test(specifier)) throw err;
        return nextResolve(specifier.slice(0, -'.js'.length) + '.ts', context);
      }
    },
  });
}
