/**
 * Runs the built operator (dist/cli/main.js) as its own process, as it runs in a cluster: with a
 * kubeconfig for its ServiceAccount, a cache directory, and health probes on a free port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import * as path from 'node:path';
import { eventually } from './eventually.js';
import { makeTempDir } from './git-cli.js';

export const OPERATOR_ENTRY = path.resolve('dist/cli/main.js');
/**
 * The test git servers are plain HTTP (and SSH) on 127.0.0.1, which the operator refuses by
 * default; a test of that default passes --no-allow-private-git-hosts / --no-allow-insecure-http.
 */
const NETWORK_ARGS = ['--allow-private-git-hosts', '--allow-insecure-http'];

export interface OperatorProcess {
  child: ChildProcess;
  /** Everything the operator printed so far (JSON log lines). */
  logs(): string;
  healthUrl: string;
  /** Where the webhook receiver listens (a free loopback port unless args set another). */
  webhookUrl: string;
  /** Where the operator serves /metrics (a free loopback port unless args set another). */
  metricsUrl: string;
  /** Resolves with the exit code (null after a signal) once the process has exited. */
  exited: Promise<number | null>;
  /** SIGTERM, then wait for exit (graceful shutdown). */
  stop(): Promise<number | null>;
  /** SIGKILL: a crash. */
  kill(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface OperatorOptions {
  kubeconfigPath: string;
  args?: string[];
  cacheDir?: string;
  env?: Record<string, string>;
}

/**
 * Starts the operator and resolves once /readyz answers 200. A port found free can be taken by
 * another process before the operator binds it (other test files, other jobs on the runner):
 * then the operator exits with EADDRINUSE, and it is started again on new ports.
 */
export async function startOperator(options: OperatorOptions): Promise<OperatorProcess> {
  if (!fs.existsSync(OPERATOR_ENTRY)) throw new Error(`${OPERATOR_ENTRY} is missing: run npm run build first`);
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOperatorOnce(options);
    } catch (error) {
      if (attempt >= 3 || !(error instanceof PortTakenError)) throw error;
    }
  }
}

class PortTakenError extends Error {
  override readonly name = 'PortTakenError';
}

async function startOperatorOnce(options: OperatorOptions): Promise<OperatorProcess> {
  const port = await freePort();
  const healthUrl = `http://127.0.0.1:${port}`;
  const webhookPort = await freePort();
  const webhookUrl = `http://127.0.0.1:${webhookPort}`;
  const metricsPort = await freePort();
  const metricsUrl = `http://127.0.0.1:${metricsPort}`;
  const child = spawn(
    process.execPath,
    [
      OPERATOR_ENTRY,
      `--kubeconfig=${options.kubeconfigPath}`,
      `--health-probe-bind-address=127.0.0.1:${port}`,
      `--metrics-bind-address=127.0.0.1:${metricsPort}`,
      `--webhook-bind-address=127.0.0.1:${webhookPort}`,
      `--cache-dir=${options.cacheDir ?? makeTempDir()}`,
      ...NETWORK_ARGS,
      ...(options.args ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH, HOME: process.env.HOME, ...options.env } },
  );
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const operator: OperatorProcess = {
    child,
    logs: () => output,
    healthUrl,
    webhookUrl,
    metricsUrl,
    exited,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
  try {
    await eventually('the operator to answer /readyz', () => fetch(`${healthUrl}/readyz`).then((r) => r.ok), {
      // Node start-up and the informer's first list: seconds when idle, far more on a loaded runner.
      timeoutMs: 60_000,
      intervalMs: 100,
      abort: exited.then((code) => `the operator exited with ${code}`),
      diagnostics: () => output,
    });
  } catch (error) {
    await operator.kill();
    if (/EADDRINUSE/.test(output)) throw new PortTakenError(`a port was taken before the operator bound it: ${String(error)}`);
    throw error;
  }
  return operator;
}
