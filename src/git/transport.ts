/**
 * The seam between the remote protocol code and the wire: a transport answers smart-HTTP
 * requests (isomorphic-git's HttpClient shape), over HTTP(S) itself or emulated over SSH.
 * One transport serves one operation (a fetch, a deepen, a push) and is closed after it.
 */
import type { GitHttpRequest, GitHttpResponse } from 'isomorphic-git';
import nodeHttp from 'isomorphic-git/http/node';

export interface GitTransport {
  /** Answers one smart-HTTP request; honours `req.signal` by aborting. */
  request(req: GitHttpRequest): Promise<GitHttpResponse>;
  /** Releases the connection; safe to call more than once. */
  close(): void;
}

/** Smart HTTP(S) through isomorphic-git's node client: nothing to keep open. */
export function createHttpTransport(): GitTransport {
  return { request: (req) => nodeHttp.request(req), close: () => {} };
}
