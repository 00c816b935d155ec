/**
 * Kubeconfig files for the test control plane. Written as JSON (a subset of YAML, which kubectl
 * and client-node both accept) with the credentials inline, so a file stands alone.
 */
import { writeFile } from 'node:fs/promises';

/** How the kubeconfig's single user authenticates. */
export type KubeconfigCredentials = { clientCertPem: string; clientKeyPem: string } | { token: string };

/** Writes a kubeconfig with one cluster, one user and one current context, readable only by us. */
export async function writeKubeconfig(
  path: string,
  options: { server: string; caPem: string; userName: string; credentials: KubeconfigCredentials; namespace?: string },
): Promise<void> {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'envtest', cluster: { server: options.server, 'certificate-authority-data': toBase64(options.caPem) } }],
    users: [{ name: options.userName, user: encodeCredentials(options.credentials) }],
    contexts: [{ name: 'envtest', context: { cluster: 'envtest', user: options.userName, namespace: options.namespace ?? 'default' } }],
    'current-context': 'envtest',
  };
  await writeFile(path, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
}

function encodeCredentials(credentials: KubeconfigCredentials): Record<string, string> {
  if ('token' in credentials) return { token: credentials.token };
  return {
    'client-certificate-data': toBase64(credentials.clientCertPem),
    'client-key-data': toBase64(credentials.clientKeyPem),
  };
}

function toBase64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}
