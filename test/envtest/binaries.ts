/**
 * Finds (or builds) the test binaries by running the provide scripts beside this file:
 * provide-binaries.sh (kube-apiserver, etcd, kubectl), provide-cluster-binaries.sh (the cluster
 * mode's controller-manager, scheduler, kwok and Flux controllers) and provide-flux-crds.sh
 * (Flux's CRD manifests). Each prints its directory last.
 *
 * Erasable TypeScript only: Jest's global setup loads this file with Node's type stripping.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A provide-*.sh script next to this module (run from source: Jest, Node's type stripping), else
 * `<repo>/test/envtest/<script>`, the repository root being the first directory above
 * this module that holds a package.json (compiled into dist-tools/, where no script is copied).
 */
function locateScript(scriptName: string): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const besideModule = join(here, scriptName);
  if (existsSync(besideModule)) return besideModule;
  for (let dir = here; ; dir = dirname(dir)) {
    const candidate = join(dir, 'test', 'envtest', scriptName);
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return besideModule; // not found: the error names the expected path
  }
}

/**
 * Runs provide-binaries.sh and resolves with the directory holding the three binaries. Uses
 * KUBEBUILDER_ASSETS / TEST_ASSET_* or the version-keyed cache; on a cold machine it builds them
 * from the Go module proxy (several minutes), its progress going to our stderr. Rejects when the
 * script fails: tests never skip silently for want of a control plane.
 */
export function provideBinaries(): Promise<string> {
  return runProvideScript(
    'provide-binaries.sh',
    'Set KUBEBUILDER_ASSETS to a directory with kube-apiserver, etcd and kubectl, or install Go so it can build them.',
  );
}

/**
 * Runs provide-cluster-binaries.sh: the directory holding kube-controller-manager, kube-scheduler,
 * kwok (and its stages in kwok-stages/), source-controller and kustomize-controller. A cold build
 * takes 15-25 minutes on 2 quiet cores; progress goes to our stderr.
 */
export function provideClusterBinaries(): Promise<string> {
  return runProvideScript('provide-cluster-binaries.sh', 'Install Go so it can build them.');
}

/**
 * Runs provide-flux-crds.sh and resolves with the directory holding Flux's CRD manifests (from
 * the cache, or fetched through the Go module proxy with controller-gen built once: minutes on a
 * cold machine, which is why only Jest's global setup calls this, never a test hook).
 */
export function provideFluxCrds(): Promise<string> {
  return runProvideScript('provide-flux-crds.sh', "Install Go so it can fetch Flux's modules.");
}

/**
 * Runs provide-gitea.sh: the directory holding a Gitea binary (and its templates and locales in
 * static/), the git host of the pull-request tests. A cold build takes a few minutes (cgo SQLite).
 */
export function provideGitea(): Promise<string> {
  return runProvideScript('provide-gitea.sh', 'Install Go and a C compiler so it can build Gitea.');
}

/** Runs `scriptName` and resolves with the last line of its stdout (a directory). */
function runProvideScript(scriptName: string, hint: string): Promise<string> {
  const script = locateScript(scriptName);
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const dir = stdout.trimEnd().split('\n').pop() ?? '';
      if (code === 0 && dir !== '') resolve(dir);
      else reject(new Error(`${script} failed (exit ${code}); see its output above. ${hint}`));
    });
  });
}
