/**
 * The kubelet's probes, as controller-runtime's health probe server serves them: /healthz answers
 * 200 while the process runs; /readyz 200 once the manager says it is ready (caches synced), 503
 * before that and while shutting down.
 */
import * as http from 'node:http';

/** Starts the probe server and resolves once it listens. */
export function startHealthProbeServer(address: { host?: string; port: number }, isReady: () => boolean): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const ok = req.url === '/healthz' || (req.url === '/readyz' && isReady());
    res.writeHead(ok ? 200 : req.url === '/readyz' ? 503 : 404, { 'Content-Type': 'text/plain' });
    res.end(ok ? 'ok' : 'not ready');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => resolve(server));
  });
}
