/**
 * Every API client has a request timeout (src/kube/client.ts's policy): against an API server
 * that accepts connections and never answers, reads and writes fail instead of hanging forever.
 */
import { KubeConfig } from '@kubernetes/client-node';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { getJson } from '../../../src/kube/client.js';
import { FluxResources } from '../../../src/kube/flux-resources.js';
import { ClusterResources } from '../../../src/kube/resources.js';

const TIMEOUT_MS = 1000;

describe('API requests against a server that never answers', () => {
  let server: http.Server;
  let kubeConfig: KubeConfig;
  let received = 0;

  beforeAll(async () => {
    server = http.createServer(() => received++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: 'hung', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
      users: [{ name: 'u', token: 'not-a-real-token' }],
      contexts: [{ name: 'c', cluster: 'hung', user: 'u' }],
      currentContext: 'c',
    });
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  test.each([
    ['ClusterResources.getRollback', () => new ClusterResources(kubeConfig, TIMEOUT_MS).getRollback('ns', 'r')],
    ['ClusterResources.getSecretData', () => new ClusterResources(kubeConfig, TIMEOUT_MS).getSecretData('ns', 's')],
    ['FluxResources.getKustomization', () => new FluxResources(kubeConfig, TIMEOUT_MS).getKustomization({ namespace: 'ns', name: 'k' })],
    [
      'FluxResources.suspendImageUpdateAutomation',
      () => new FluxResources(kubeConfig, TIMEOUT_MS).suspendImageUpdateAutomation({ namespace: 'ns', name: 'iua' }),
    ],
    ['getJson', () => getJson(kubeConfig, '/api/v1/namespaces', { timeoutMs: TIMEOUT_MS })],
  ])('%s fails with a timeout instead of hanging', async (_name, call) => {
    await expect(call()).rejects.toThrow(/abort|timeout|timed out/i);
    // The server was reached: it was the answer that never came.
    expect(received).toBeGreaterThan(0);
  });
});
