/**
 * Serves the operator's metrics: GET /metrics answers the exposition of its private registry;
 * anything else is 404. Bound to --metrics-bind-address by main.ts.
 */
import * as http from 'node:http';
import type { OperatorMetrics } from './operator-metrics.js';

/** Starts the /metrics server and resolves once it listens. */
export async function startMetricsServer(metrics: OperatorMetrics, address: { host?: string; port: number }): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
      return;
    }
    metrics.render().then(
      ({ contentType, body }) => res.writeHead(200, { 'Content-Type': contentType }).end(req.method === 'HEAD' ? undefined : body),
      () => res.writeHead(500, { 'Content-Type': 'text/plain' }).end('metrics collection failed'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
