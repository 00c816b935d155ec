/**
 * The seam between the remote protocol code and the wire: a transport answers smart-HTTP
 * requests (isomorphic-git's HttpClient shape), over HTTP(S) itself or emulated over SSH.
 * One transport serves one operation (a fetch, a deepen, a push) and is closed after it.
 *
 * The HTTP(S) transport is node:http with what a hostile server must not get around: every
 * connection goes through the network policy's lookup (./url-policy.ts), redirects are not
 * followed (git's `http.followRedirects=false`: the tenant's URL is the only one contacted),
 * one connection per request (no pooled sockets), and a gzip/deflate response is inflated in
 * small steps so that the caller's byte limit bounds the inflated bytes too.
 */
import type { GitHttpRequest, GitHttpResponse } from 'isomorphic-git';
import { once } from 'node:events';
import type * as http from 'node:http';
import type * as https from 'node:https';
import { createRequire } from 'node:module';
import { createGunzip, createInflate } from 'node:zlib';
import { RemoteError } from './errors.js';
import { createGuardedLookup, guardConnectedSocket, type NetworkPolicy } from './url-policy.js';
import { collectBody } from './wire/collect-body.js';

export interface GitTransport {
  /** Answers one smart-HTTP request; honours `req.signal` by aborting. */
  request(req: GitHttpRequest): Promise<GitHttpResponse>;
  /** Releases the connection; safe to call more than once. */
  close(): void;
}

/**
 * Compressed bytes handed to the inflater at a time: deflate expands at most ~1032:1, so one
 * step produces at most ~1 MiB before the reader can count it and stop.
 */
const INFLATE_STEP = 1024;

const requireBuiltin = createRequire(import.meta.url);

/**
 * node:http or node:https, loaded on the first request (a local revert needs neither) and
 * through require: an ESM import of node:http builds its module namespace, whose getters load
 * undici (Node's fetch), about 40 ms of every CLI run that fetches; require does not.
 */
function httpModule(protocol: string): typeof http | typeof https {
  return protocol === 'https:' ? (requireBuiltin('node:https') as typeof https) : (requireBuiltin('node:http') as typeof http);
}

/** Smart HTTP(S) over node:http, connecting only where `policy` allows. */
export function createHttpTransport(options: { policy: NetworkPolicy; displayUrl: string }): GitTransport {
  const { policy, displayUrl } = options;
  const lookup = createGuardedLookup(policy, displayUrl);
  return { request: (req) => sendRequest(req, policy, displayUrl, lookup), close: () => {} };
}

async function sendRequest(
  req: GitHttpRequest,
  policy: NetworkPolicy,
  displayUrl: string,
  lookup: ReturnType<typeof createGuardedLookup>,
): Promise<GitHttpResponse> {
  const url = new URL(req.url);
  const client = httpModule(url.protocol);
  const body = req.body ? await collectBody(req.body) : undefined;
  const headers: Record<string, string> = { 'accept-encoding': 'gzip, deflate', ...req.headers };
  if (body) headers['content-length'] = String(body.length);
  return new Promise<GitHttpResponse>((resolve, reject) => {
    const request = client.request(url, { method: req.method ?? 'GET', headers, agent: false, lookup, signal: req.signal as AbortSignal | undefined });
    request.once('socket', (socket) => guardConnectedSocket(socket, policy, displayUrl, url.hostname.replace(/^\[|\]$/g, '')));
    request.once('error', reject);
    request.once('response', (res) => {
      const encoding = String(res.headers['content-encoding'] ?? 'identity')
        .toLowerCase()
        .trim();
      if (encoding !== 'identity' && encoding !== 'gzip' && encoding !== 'x-gzip' && encoding !== 'deflate') {
        res.destroy();
        reject(new RemoteError({ url: displayUrl, detail: 'the server answered with an unsupported content encoding' }));
        return;
      }
      resolve({
        url: req.url,
        method: req.method,
        statusCode: res.statusCode ?? 0,
        statusMessage: res.statusMessage ?? '',
        headers: flattenHeaders(res.headers),
        body: encoding === 'identity' ? readChunks(res) : inflateInSteps(res, encoding === 'deflate' ? 'deflate' : 'gzip'),
      });
    });
    request.end(body);
  });
}

async function* readChunks(res: http.IncomingMessage): AsyncIterableIterator<Uint8Array> {
  try {
    for await (const chunk of res) yield chunk as Buffer;
  } finally {
    res.destroy();
  }
}

/**
 * Inflates a response body, feeding the inflater INFLATE_STEP bytes at a time and waiting for
 * its output to be read, so at most about a megabyte is inflated ahead of the reader (who
 * counts the bytes and stops at its limit).
 */
async function* inflateInSteps(res: http.IncomingMessage, encoding: 'gzip' | 'deflate'): AsyncIterableIterator<Uint8Array> {
  const inflater = encoding === 'gzip' ? createGunzip() : createInflate();
  const stop = new AbortController();
  const feed = async () => {
    for await (const chunk of res) {
      const bytes = chunk as Buffer;
      for (let offset = 0; offset < bytes.length; offset += INFLATE_STEP) {
        if (!inflater.write(bytes.subarray(offset, offset + INFLATE_STEP))) await once(inflater, 'drain', { signal: stop.signal });
      }
    }
    inflater.end();
  };
  feed().catch((error: unknown) => inflater.destroy(error as Error));
  try {
    for await (const chunk of inflater) yield chunk as Buffer;
  } finally {
    stop.abort();
    inflater.destroy();
    res.destroy();
  }
}

function flattenHeaders(headers: http.IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  return flat;
}
