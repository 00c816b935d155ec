/**
 * Free loopback ports for the daemons of a test control plane.
 *
 * Erasable TypeScript only: Jest's global setup loads this file with Node's type stripping.
 */
import { createServer, type AddressInfo, type Server } from 'node:net';

/** Reserves `count` distinct free loopback ports (all held open at once so none repeats). */
export async function findFreePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', resolve);
      });
    }
    return servers.map((server) => (server.address() as AddressInfo).port);
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }
}
