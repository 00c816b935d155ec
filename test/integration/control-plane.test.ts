/**
 * The envtest harness (test/envtest) on a real etcd + kube-apiserver: the shared control plane
 * started by Jest's global setup answers as admin and enforces RBAC on ServiceAccount tokens; a
 * private control plane survives an etcd and kube-apiserver restart and stops without leftovers.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { ApiException, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { connectToControlPlane, KubectlError, startControlPlane, type ControlPlane, type ControlPlaneClient } from '../envtest/control-plane.js';
import { eventually } from '../helpers/eventually.js';
import { scaled } from '../helpers/time-budget.js';

const execFileAsync = promisify(execFile);

/** A CoreV1Api for the identity of a kubeconfig file. */
function createCoreApi(kubeconfigPath: string): CoreV1Api {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  return kc.makeApiClient(CoreV1Api);
}

/** The HTTP status an API call failed with, or 'ok'. */
async function getStatusOf(call: Promise<unknown>): Promise<number | 'ok'> {
  try {
    await call;
    return 'ok';
  } catch (err) {
    if (err instanceof ApiException) return err.code as number;
    throw err;
  }
}

/** Retries `call` until it succeeds: RBAC changes reach the authorizer through an informer. */
async function waitForSuccess(call: () => Promise<unknown>, timeoutMs = 10_000): Promise<void> {
  let last: number | 'ok' = 'ok';
  await eventually('the call to succeed', async () => (last = await getStatusOf(call())) === 'ok', {
    timeoutMs,
    intervalMs: 100,
    diagnostics: () => `last: HTTP ${last}`,
  });
}

/**
 * Starts a control plane in a child Node process, which prints its root directory when ready and
 * then idles; plain Node loads the harness (as in Jest's global setup).
 */
async function startControlPlaneInChild(): Promise<{ pid: number; rootDir: string }> {
  const globalSetup = new URL('../envtest/global-setup.ts', import.meta.url).href;
  const controlPlane = new URL('../envtest/control-plane.ts', import.meta.url).href;
  const script = [
    `const { registerTypeScriptResolution } = await import(${JSON.stringify(globalSetup)});`,
    'registerTypeScriptResolution();',
    `const { startControlPlane } = await import(${JSON.stringify(controlPlane)});`,
    'const plane = await startControlPlane();',
    'console.log(plane.info.rootDir);',
    'setInterval(() => {}, 60_000);',
  ].join('\n');
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const rootDir = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      if (out.includes('\n')) resolve(out.trim());
    });
    child.on('exit', (code) => reject(new Error(`child exited ${code} before its control plane was ready`)));
  });
  return { pid: child.pid as number, rootDir };
}

/** Command lines of running processes that mention `text`. */
async function findProcessesMentioning(text: string): Promise<string[]> {
  try {
    const { stdout } = await execFileAsync('pgrep', ['-af', text]);
    return stdout.split('\n').filter((line) => line.trim() !== '');
  } catch (err) {
    if ((err as { code?: number }).code === 1) return []; // pgrep: nothing matched
    throw err;
  }
}

describe('the shared control plane from the global setup', () => {
  let plane: ControlPlaneClient;
  const namespace = `envtest-${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    plane = connectToControlPlane();
    await plane.kubectl(['create', 'namespace', namespace]);
  });

  afterAll(async () => {
    await plane?.kubectl(['delete', 'namespace', namespace, '--wait=false']);
  });

  test('kubectl with the admin kubeconfig lists the system namespaces', async () => {
    const names = (await plane.kubectl(['get', 'namespaces', '-o', 'name'])).split('\n');
    expect(names).toEqual(expect.arrayContaining(['namespace/default', 'namespace/kube-system']));
  });

  test('client-node with the admin kubeconfig lists namespaces over https', async () => {
    expect(plane.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const list = await createCoreApi(plane.kubeconfigPath).listNamespace();
    expect(list.items.map((ns) => ns.metadata?.name)).toContain('default');
  });

  test('a ServiceAccount token is forbidden to list secrets until a RoleBinding grants it', async () => {
    await plane.kubectl(['create', 'serviceaccount', 'reader', '-n', namespace]);
    const identity = await plane.createServiceAccountKubeconfig(namespace, 'reader');
    expect(identity.username).toBe(`system:serviceaccount:${namespace}:reader`);
    const asReader = createCoreApi(identity.kubeconfigPath);

    expect(await getStatusOf(asReader.listNamespacedSecret({ namespace }))).toBe(403);

    await plane.kubectl(['create', 'role', 'secret-reader', '-n', namespace, '--verb=get,list', '--resource=secrets']);
    await plane.kubectl(['create', 'rolebinding', 'secret-reader', '-n', namespace, '--role=secret-reader', `--serviceaccount=${namespace}:reader`]);
    await waitForSuccess(() => asReader.listNamespacedSecret({ namespace }));
    // The grant is exactly the Role: other namespaces stay forbidden.
    expect(await getStatusOf(asReader.listNamespacedSecret({ namespace: 'default' }))).toBe(403);
  });

  test('kubectl run with a ServiceAccount kubeconfig reports forbidden as a KubectlError', async () => {
    await plane.kubectl(['create', 'serviceaccount', 'nobody', '-n', namespace]);
    const identity = await plane.createServiceAccountKubeconfig(namespace, 'nobody', { expirationSeconds: 600 });
    const run = plane.kubectl(['get', 'configmaps', '-n', namespace], { kubeconfigPath: identity.kubeconfigPath });
    await expect(run).rejects.toBeInstanceOf(KubectlError);
    await expect(run).rejects.toThrow(/forbidden/);
  });

  test('kubectl apply from stdin creates a ConfigMap', async () => {
    const manifest = JSON.stringify({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'applied', namespace },
      data: { greeting: 'hello' },
    });
    expect(await plane.kubectl(['apply', '-f', '-'], { input: manifest })).toMatch(/configmap\/applied (created|configured)/);
    expect(await plane.kubectl(['get', 'configmap', 'applied', '-n', namespace, '-o', 'jsonpath={.data.greeting}'])).toBe('hello');
  });
});

describe('a private control plane', () => {
  let plane: ControlPlane;

  beforeAll(async () => {
    plane = await startControlPlane();
  }, scaled(120_000));

  afterAll(async () => {
    await plane?.stop();
  });

  test(
    'answers again, with its data, after etcd and kube-apiserver restart',
    async () => {
      await plane.kubectl(['create', 'configmap', 'survivor', '--from-literal=key=value']);
      await plane.stopApiServer();
      await plane.stopEtcd();
      await expect(plane.kubectl(['get', 'namespaces'], { timeoutMs: 10_000 })).rejects.toThrow(KubectlError);

      await plane.startEtcd();
      await plane.startApiServer();
      expect(await plane.kubectl(['get', 'configmap', 'survivor', '-o', 'jsonpath={.data.key}'])).toBe('value');
    },
    scaled(120_000),
  );

  test('stop() leaves no etcd or kube-apiserver process and no temporary files', async () => {
    const { rootDir } = plane.info;
    expect(await findProcessesMentioning(rootDir)).toHaveLength(2);
    await plane.stop();
    expect(await findProcessesMentioning(rootDir)).toEqual([]);
    expect(existsSync(rootDir)).toBe(false);
    await plane.stop(); // idempotent
  });
});

describe('a control plane whose owner dies', () => {
  test(
    'its etcd and kube-apiserver die with a SIGKILLed owner process',
    async () => {
      const { pid, rootDir } = await startControlPlaneInChild();
      expect(await findProcessesMentioning(rootDir)).toHaveLength(2);
      process.kill(pid, 'SIGKILL');
      await eventually("the owner's etcd and kube-apiserver to die", async () => (await findProcessesMentioning(rootDir)).length === 0, {
        timeoutMs: 10_000,
        intervalMs: 100,
      });
      // The next control plane started anywhere removes the abandoned directory.
      const next = await startControlPlane();
      await next.stop();
      expect(existsSync(rootDir)).toBe(false);
    },
    scaled(120_000),
  );
});
