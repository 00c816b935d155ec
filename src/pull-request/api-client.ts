/**
 * JSON over HTTP(S) to a git host's REST API, with what a hostile host must not get around (as
 * the git transport, ../git/transport.ts): the network policy's lookup and connected-socket check,
 * no redirects followed, a deadline per call, and a cap on the answer's bytes. The token travels
 * only in a header; errors carry the status and the host's short message, never the token.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { checkRepositoryUrl, createGuardedLookup, guardConnectedSocket, type NetworkPolicy } from '../git/url-policy.js';
import { PullRequestApiError } from './errors.js';
import { toOneLine } from '../one-line.js';

/** An API answer is a pull request or a short list of them: 1 MiB is far more than enough. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;
export const DEFAULT_API_TIMEOUT_MS = 30_000;

export interface ApiCall {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
}

export interface ApiAnswer {
  status: number;
  body: string;
}

/** Sends one call; the seam unit tests replace. */
export type ApiTransport = (call: ApiCall) => Promise<ApiAnswer>;

/** A call's answer that is not 2xx, handed to the caller to map (409 "exists" is not always an error). */
export interface ApiResult {
  status: number;
  json: unknown;
}

/** The node:http transport, contacting only what `policy` allows. */
export function createHttpApiTransport(options: { policy: NetworkPolicy; timeoutMs?: number }): ApiTransport {
  const timeoutMs = options.timeoutMs ?? DEFAULT_API_TIMEOUT_MS;
  return async (call) => {
    const { displayUrl } = checkRepositoryUrl(call.url.split('?')[0], options.policy);
    const url = new URL(call.url);
    const lookup = createGuardedLookup(options.policy, displayUrl);
    const client = url.protocol === 'https:' ? https : http;
    const headers: Record<string, string> = { ...call.headers };
    if (call.body !== undefined) headers['content-length'] = String(Buffer.byteLength(call.body));
    return new Promise<ApiAnswer>((resolve, reject) => {
      const request = client.request(url, { method: call.method, headers, agent: false, lookup, signal: AbortSignal.timeout(timeoutMs) });
      request.once('socket', (socket) => guardConnectedSocket(socket, options.policy, displayUrl, url.hostname.replace(/^\[|\]$/g, '')));
      request.once('error', (error: Error) =>
        reject(error.name === 'AbortError' || error.name === 'TimeoutError' ? new Error(`no answer within ${timeoutMs} ms`) : error),
      );
      request.once('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) {
            res.destroy();
            reject(new Error(`the answer is larger than ${MAX_RESPONSE_BYTES} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.once('error', reject);
        res.once('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      });
      request.end(call.body);
    });
  };
}

/**
 * One provider's calls: base URL, auth headers, and the mapping of failures to typed errors.
 * `token` is what the headers carry: removed from any text a host or proxy echoes back.
 */
export class ApiClient {
  constructor(
    private readonly provider: string,
    readonly baseUrl: string,
    private readonly headers: Record<string, string>,
    private readonly transport: ApiTransport,
    private readonly token: string,
  ) {}

  /** GET `path` (relative to the base URL); statuses in `accept` besides 2xx are returned, not thrown. */
  get(operation: string, path: string, accept: number[] = []): Promise<ApiResult> {
    return this.send(operation, { method: 'GET', url: this.baseUrl + path, headers: this.headers }, accept);
  }

  post(operation: string, path: string, body: object, accept: number[] = []): Promise<ApiResult> {
    const headers = { ...this.headers, 'content-type': 'application/json' };
    return this.send(operation, { method: 'POST', url: this.baseUrl + path, headers, body: JSON.stringify(body) }, accept);
  }

  private async send(operation: string, call: ApiCall, accept: number[]): Promise<ApiResult> {
    const shownUrl = call.url.split('?')[0];
    let answer: ApiAnswer;
    try {
      answer = await this.transport(call);
    } catch (error) {
      if ((error as { code?: string }).code === 'GitHostNotAllowedError' || (error as { code?: string }).code === 'InvalidRepositoryUrlError') throw error;
      throw new PullRequestApiError({
        provider: this.provider,
        operation,
        url: shownUrl,
        detail: toOneLine(this.redact(String((error as Error)?.message ?? error)), 300),
        transient: true,
      });
    }
    const ok = answer.status >= 200 && answer.status < 300;
    if (!ok && !accept.includes(answer.status)) {
      const transient = answer.status >= 500 || answer.status === 429 || answer.status === 408;
      throw new PullRequestApiError({
        provider: this.provider,
        operation,
        url: shownUrl,
        status: answer.status,
        detail: toOneLine(this.redact(hostMessage(answer.body)), 300),
        transient,
      });
    }
    return { status: answer.status, json: parseJson(answer.body) };
  }

  private redact(text: string): string {
    return this.token.length >= 4 ? text.split(this.token).join('[redacted]') : text;
  }
}

function parseJson(body: string): unknown {
  try {
    return body === '' ? null : JSON.parse(body);
  } catch {
    return null;
  }
}

/** The host's own message (GitHub, Gitea: `message`; GitLab: `message` or `error`). */
function hostMessage(body: string): string {
  const json = parseJson(body) as { message?: unknown; error?: unknown } | null;
  const message = json && typeof json === 'object' ? (json.message ?? json.error) : undefined;
  const text = typeof message === 'string' ? message : Array.isArray(message) ? message.join('; ') : message ? JSON.stringify(message) : 'no message';
  // Whole (the answer is at most 1 MiB): the token is redacted before the text is cut.
  return text;
}
