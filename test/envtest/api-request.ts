/**
 * Minimal HTTPS calls to the test API server with the admin client certificate: readiness probes
 * and the TokenRequest API (waits for readiness go through test/helpers/eventually.ts). Plain node:https keeps the harness free of @kubernetes/client-node, so
 * it loads the same way in Jest's global setup and in test files.
 */
import { request } from 'node:https';

/** Where the API server is and how the admin authenticates to it. */
export interface AdminConnection {
  server: string;
  caPem: string;
  adminCertPem: string;
  adminKeyPem: string;
}

/** Status code and body of one API call. */
export interface ApiResponse {
  status: number;
  body: string;
}

/** Sends one request as the admin; `body` is sent as JSON. Network errors reject. */
export function requestAsAdmin(conn: AdminConnection, method: string, path: string, body?: unknown): Promise<ApiResponse> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, conn.server),
      {
        method,
        ca: conn.caPem,
        cert: conn.adminCertPem,
        key: conn.adminKeyPem,
        headers: payload === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) },
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}
