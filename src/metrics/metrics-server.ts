/**
 * Serves the operator's metrics: GET /metrics answers the exposition of its private registry;
 * anything else is 404. Bound to --metrics-bind-address by main.ts. With an access check
 * (--metrics-auth, on by default), a request needs a bearer token the check allows, as
 * controller-runtime's metrics filter does: no or unknown token 401, not allowed 403, and 503
 * when the check cannot decide (the API server is unreachable or busy).
 */
import * as http from 'node:http';
import type { OperatorMetrics } from './operator-metrics.js';

/** Decides on a request's bearer token (kube/token-review.ts); rejects when it cannot decide. */
export type MetricsAccessCheck = (bearerToken: string | undefined) => Promise<'allowed' | 'unauthenticated' | 'forbidden'>;

export interface MetricsServerOptions {
  /** When set, every /metrics request is checked; when absent, /metrics is open. */
  checkAccess?: MetricsAccessCheck;
}

/** Starts the /metrics server and resolves once it listens. */
export async function startMetricsServer(
  metrics: OperatorMetrics,
  address: { host?: string; port: number },
  options: MetricsServerOptions = {},
): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
      return;
    }
    const serve = () =>
      metrics.render().then(
        ({ contentType, body }) => res.writeHead(200, { 'Content-Type': contentType }).end(req.method === 'HEAD' ? undefined : body),
        () => res.writeHead(500, { 'Content-Type': 'text/plain' }).end('metrics collection failed'),
      );
    if (!options.checkAccess) return void serve();
    options.checkAccess(bearerTokenOf(req)).then(
      (decision) => {
        if (decision === 'allowed') return void serve();
        if (decision === 'unauthenticated') res.writeHead(401, { 'Content-Type': 'text/plain', 'WWW-Authenticate': 'Bearer' }).end('Unauthorized');
        else res.writeHead(403, { 'Content-Type': 'text/plain' }).end('Forbidden');
      },
      () => res.writeHead(503, { 'Content-Type': 'text/plain', 'Retry-After': '1' }).end('access review unavailable'),
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

/** The token of an `Authorization: Bearer <token>` header, if any. */
function bearerTokenOf(req: http.IncomingMessage): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return match?.[1];
}
