// The Kubernetes client factory, and small helpers the rest of src/kube shares to talk to the
// API server and to describe its errors without leaking request details.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  ApiException,
  createConfiguration,
  HttpMethod,
  IsomorphicFetchHttpLibrary,
  KubeConfig,
  RequestContext,
  ServerConfiguration,
  type Configuration,
} from '@kubernetes/client-node';
import { CodedError } from '../coded-error.js';

/** Where a pod finds its ServiceAccount token. */
const IN_CLUSTER_TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** Thrown when no kubeconfig can be found anywhere. */
export class KubeConfigNotFoundError extends CodedError {
  readonly code = 'KubeConfigNotFoundError' as const;
}

/**
 * Loads the client configuration, in controller-runtime's order: the explicit file, else
 * `$KUBECONFIG` (first file, others merged), else the in-cluster ServiceAccount, else
 * `~/.kube/config`. Throws {@link KubeConfigNotFoundError} if none applies (never falls back to
 * an unauthenticated localhost:8080 as client-node's `loadFromDefault` does).
 */
export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) {
    kc.loadFromFile(path);
    return kc;
  }
  if (process.env.KUBECONFIG) {
    loadFromKubeconfigVariable(kc, process.env.KUBECONFIG);
    return kc;
  }
  if (isInCluster()) {
    kc.loadFromCluster();
    return kc;
  }
  const homeConfig = join(homedir(), '.kube', 'config');
  if (existsSync(homeConfig)) {
    kc.loadFromFile(homeConfig);
    return kc;
  }
  throw new KubeConfigNotFoundError('No kubeconfig: pass --kubeconfig, set KUBECONFIG, run in a pod, or create ~/.kube/config');
}

/** Loads a colon-separated KUBECONFIG list the way kubectl does: the first file wins. */
function loadFromKubeconfigVariable(kc: KubeConfig, value: string): void {
  const files = value.split(process.platform === 'win32' ? ';' : ':').filter(Boolean);
  kc.loadFromFile(files[0]);
  for (const file of files.slice(1)) {
    const other = new KubeConfig();
    other.loadFromFile(file);
    kc.mergeConfig(other, true);
  }
}

/** Whether this process runs in a pod with a mounted ServiceAccount token. */
function isInCluster(): boolean {
  return Boolean(process.env.KUBERNETES_SERVICE_HOST) && existsSync(IN_CLUSTER_TOKEN_PATH);
}

/**
 * The one timeout policy for API requests: every request made through {@link createApiClient} or
 * {@link getJson} ends after this long unless the caller chose a shorter bound (the lease uses
 * half its renew deadline). client-node sets none: a request hung on a dead connection would hold
 * a worker, a status write or an ImageUpdateAutomation suspension forever. Watches are not
 * requests in this sense: the informer bounds them by server timeout and inactivity.
 */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** Options of {@link createApiClient}. */
export interface ApiClientOptions {
  /** Aborts each request after this long; default {@link DEFAULT_REQUEST_TIMEOUT_MS}. */
  timeoutMs?: number;
}

/**
 * Creates a typed API client (e.g. `CoreV1Api`) like `kc.makeApiClient`, plus a per-request
 * timeout (see {@link DEFAULT_REQUEST_TIMEOUT_MS}). Every API class is made here, never with
 * `kc.makeApiClient`.
 */
export function createApiClient<T>(kc: KubeConfig, apiClass: new (configuration: Configuration) => T, options: ApiClientOptions = {}): T {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('The kubeconfig has no current cluster');
  const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const promiseMiddleware = [
    {
      pre: async (context: RequestContext) => (context.setSignal(AbortSignal.timeout(timeoutMs)), context),
      post: async <R>(response: R) => response,
    },
  ];
  const configuration = createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: kc },
    promiseMiddleware,
  });
  return new apiClass(configuration);
}

/** An HTTP error from the API server, with the decoded `Status` when there is one. */
export class KubeApiError extends CodedError {
  readonly code = 'KubeApiError' as const;
  constructor(
    readonly statusCode: number,
    readonly reason: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** The HTTP status of an API error (client-node's ApiException, a watch error, ours), if any. */
export function statusCodeOf(error: unknown): number | undefined {
  if (error instanceof KubeApiError) return error.statusCode;
  if (error instanceof ApiException) return error.code;
  // Watch errors carry `statusCode`; DOMException has a numeric `code` that is no HTTP status.
  const candidate = error as { statusCode?: unknown } | null;
  return typeof candidate?.statusCode === 'number' ? candidate.statusCode : undefined;
}

/**
 * A one-line description of an error for logs. ApiException's own message embeds response
 * headers and body; this keeps the status code and the API's message only.
 */
export function describeKubeError(error: unknown): string {
  if (error instanceof ApiException) {
    const body = error.body as { message?: unknown } | string | undefined;
    const message = typeof body === 'object' && typeof body?.message === 'string' ? body.message : 'request failed';
    return `HTTP ${error.code}: ${message}`;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

/** Options of {@link getJson}. */
export interface GetJsonOptions {
  /** Query parameters; undefined values are left out. */
  query?: Record<string, string | number | boolean | undefined>;
  /** Aborts the request (e.g. on stop). */
  signal?: AbortSignal;
  /** Aborts the request after this long; default {@link DEFAULT_REQUEST_TIMEOUT_MS}. */
  timeoutMs?: number;
}

/**
 * GETs an API path (e.g. `/api/v1/namespaces/x/configmaps`) as JSON with the kubeconfig's
 * credentials and TLS settings. Rejects with {@link KubeApiError} on a non-2xx status.
 * Used where a typed API class does not fit, such as listing any resource by its path.
 */
export async function getJson<T>(kc: KubeConfig, path: string, options: GetJsonOptions = {}): Promise<T> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('The kubeconfig has no current cluster');
  const url = new URL(cluster.server.replace(/\/+$/, '') + path);
  for (const [key, value] of Object.entries(options.query ?? {})) {
    if (value !== undefined) url.searchParams.set(key, String(value));
  }
  const context = new RequestContext(url.toString(), HttpMethod.GET);
  context.setHeaderParam('Accept', 'application/json');
  const timeout = AbortSignal.timeout(options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
  context.setSignal(options.signal ? AbortSignal.any([options.signal, timeout]) : timeout);
  await kc.applySecurityAuthentication(context);
  const response = await new IsomorphicFetchHttpLibrary().send(context).toPromise();
  const text = await response.body.text();
  if (response.httpStatusCode < 200 || response.httpStatusCode > 299) throw parseStatusError(response.httpStatusCode, text);
  return JSON.parse(text) as T;
}

/** Turns an error response body (a metav1.Status, usually) into a {@link KubeApiError}. */
function parseStatusError(statusCode: number, text: string): KubeApiError {
  try {
    const status = JSON.parse(text) as { reason?: string; message?: string };
    return new KubeApiError(statusCode, status.reason, `HTTP ${statusCode}: ${status.message ?? status.reason ?? 'request failed'}`);
  } catch {
    return new KubeApiError(statusCode, undefined, `HTTP ${statusCode}`);
  }
}
