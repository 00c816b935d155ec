/**
 * The HTTP transport of the pull-request clients against a real node:http server on 127.0.0.1:
 * what arrives, what it refuses to do (follow redirects, read without bound, wait forever,
 * contact what the network policy forbids), and how ApiClient passes policy refusals through.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { GitHostNotAllowedError, InvalidRepositoryUrlError } from '../../../src/git/errors.js';
import type { NetworkPolicy } from '../../../src/git/url-policy.js';
import {
  ApiClient,
  createHttpApiTransport,
  MAX_RESPONSE_BYTES,
  type ApiAnswer,
  type ApiCall,
  type ApiTransport,
} from '../../../src/pull-request/api-client.js';
import { PullRequestApiError } from '../../../src/pull-request/errors.js';
import { scaled } from '../../helpers/time-budget.js';

const OPEN: NetworkPolicy = { allowInsecureHttp: true, allowPrivateHosts: true };
const STRICT: NetworkPolicy = { allowInsecureHttp: false, allowPrivateHosts: false };
const NO_PRIVATE: NetworkPolicy = { allowInsecureHttp: true, allowPrivateHosts: false };
const TIMEOUT_MS = 200;
/** The token the clients' headers carry. */
const TOKEN = 'glpat-Xy9_secret-0123456789';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

interface TestServer {
  server: http.Server;
  base: string;
  seen: Seen[];
}

/** A server that records every request (once its body is read) and answers with `handle`. */
async function startServer(handle: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<TestServer> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    res.on('error', () => undefined);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      handle(req, res);
    });
  });
  server.on('clientError', (_error, socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

async function stopServer(test: TestServer | undefined): Promise<void> {
  if (!test) return;
  test.server.closeAllConnections();
  await new Promise<void>((resolve) => test.server.close(() => resolve()));
}

let target: TestServer;
let main: TestServer;

beforeAll(async () => {
  target = await startServer((_req, res) => res.end('reached'));
  main = await startServer((req, res) => {
    switch (req.url) {
      case '/redirect':
        res.writeHead(302, { location: `${target.base}/stolen` }).end();
        return;
      case '/huge':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(Buffer.alloc(MAX_RESPONSE_BYTES + 1, 'a'));
        return;
      case '/exactly-max':
        res.writeHead(200).end(Buffer.alloc(MAX_RESPONSE_BYTES, 'b'));
        return;
      case '/hang':
        return; // never answers
      case '/stall-body':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"number":');
        return; // the rest never comes
      case '/empty':
        res.writeHead(204).end();
        return;
      case '/missing':
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"Not Found"}');
        return;
      case '/echo-credentials':
        // A host (or a proxy) that quotes the credential it refuses.
        res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ message: `401 Unauthorized: ${req.headers.authorization}` }));
        return;
      default:
        res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, path: req.url }));
    }
  });
});

afterAll(async () => {
  await stopServer(main);
  await stopServer(target);
});

beforeEach(() => {
  main.seen.length = 0;
  target.seen.length = 0;
});

/**
 * What `transport(call)` rejects with. The transport is an async function: a refusal is a rejected
 * promise, never a synchronous throw (which would fail this helper's first expectation).
 */
async function rejection(transport: ApiTransport, call: ApiCall): Promise<unknown> {
  let pending: Promise<ApiAnswer> | undefined;
  expect(() => {
    pending = transport(call);
  }).not.toThrow();
  expect(pending).toBeInstanceOf(Promise);
  return pending!.then(
    (answer) => new Error(`expected a rejection, got HTTP ${answer.status}`),
    (error: unknown) => error,
  );
}

describe('createHttpApiTransport', () => {
  it('sends a GET with its headers and query, and returns the status and body', async () => {
    const transport = createHttpApiTransport({ policy: OPEN, timeoutMs: 5_000 });
    const answer = await transport({
      method: 'GET',
      url: `${main.base}/repos/o/r/pulls?head=o%3Ab&state=all`,
      headers: { authorization: 'Bearer t0ken', accept: 'application/json', 'user-agent': 'gitops-rollback' },
    });
    expect(answer).toStrictEqual({ status: 200, body: JSON.stringify({ ok: true, path: '/repos/o/r/pulls?head=o%3Ab&state=all' }) });
    expect(main.seen).toHaveLength(1);
    expect(main.seen[0]).toMatchObject({ method: 'GET', url: '/repos/o/r/pulls?head=o%3Ab&state=all', body: '' });
    expect(main.seen[0].headers).toMatchObject({ authorization: 'Bearer t0ken', accept: 'application/json', 'user-agent': 'gitops-rollback' });
    expect(main.seen[0].headers['content-length']).toBeUndefined();
  });

  it('sends a POST with its body and a content-length in bytes', async () => {
    const transport = createHttpApiTransport({ policy: OPEN, timeoutMs: 5_000 });
    const body = JSON.stringify({ title: 'Rollback: revert é → ü', body: 'x' });
    const call: ApiCall = {
      method: 'POST',
      url: `${main.base}/repos/o/r/pulls`,
      headers: { authorization: 'token abc', 'content-type': 'application/json' },
      body,
    };
    const answer = await transport(call);

    expect(answer.status).toBe(201);
    expect(main.seen).toHaveLength(1);
    expect(main.seen[0].method).toBe('POST');
    expect(main.seen[0].body).toBe(body);
    expect(main.seen[0].headers['content-length']).toBe(String(Buffer.byteLength(body)));
    expect(Buffer.byteLength(body)).toBeGreaterThan(body.length);
    expect(main.seen[0].headers).toMatchObject({ authorization: 'token abc', 'content-type': 'application/json' });
    // The caller's headers are left as they were.
    expect(call.headers).toStrictEqual({ authorization: 'token abc', 'content-type': 'application/json' });
  });

  it('does not follow a redirect', async () => {
    const transport = createHttpApiTransport({ policy: OPEN, timeoutMs: 5_000 });
    const answer = await transport({ method: 'GET', url: `${main.base}/redirect`, headers: { authorization: 'Bearer t0ken' } });
    expect(answer.status).toBe(302);
    expect(main.seen.map((s) => s.url)).toEqual(['/redirect']);
    expect(target.seen).toHaveLength(0);
  });

  it('refuses an answer larger than MAX_RESPONSE_BYTES', async () => {
    const transport = createHttpApiTransport({ policy: OPEN, timeoutMs: 5_000 });
    await expect(transport({ method: 'GET', url: `${main.base}/huge`, headers: {} })).rejects.toThrow(`the answer is larger than ${MAX_RESPONSE_BYTES} bytes`);
  });

  it('accepts an answer of exactly MAX_RESPONSE_BYTES', async () => {
    const transport = createHttpApiTransport({ policy: OPEN, timeoutMs: 5_000 });
    const answer = await transport({ method: 'GET', url: `${main.base}/exactly-max`, headers: {} });
    expect(answer.status).toBe(200);
    expect(answer.body).toHaveLength(MAX_RESPONSE_BYTES);
  });

  it('gives up on a host that never answers after timeoutMs', async () => {
    const transport = createHttpApiTransport({ policy: OPEN, timeoutMs: TIMEOUT_MS });
    const started = performance.now();
    await expect(transport({ method: 'GET', url: `${main.base}/hang`, headers: {} })).rejects.toThrow(`no answer within ${TIMEOUT_MS} ms`);
    // The request arrived: the wait was for the answer, and it lasted the deadline.
    expect(main.seen.map((s) => s.url)).toEqual(['/hang']);
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
    // ...and no longer: the deadline is timeoutMs, not a default (a bound for a slow machine only).
    expect(elapsed).toBeLessThan(TIMEOUT_MS + scaled(2_000));
  });

  it('gives up on an answer whose body never ends', async () => {
    const transport = createHttpApiTransport({ policy: OPEN, timeoutMs: TIMEOUT_MS });
    await expect(transport({ method: 'GET', url: `${main.base}/stall-body`, headers: {} })).rejects.toThrow(`no answer within ${TIMEOUT_MS} ms`);
    expect(main.seen.map((s) => s.url)).toEqual(['/stall-body']);
  });

  it('refuses plain http under the strict policy, before any request', async () => {
    const transport = createHttpApiTransport({ policy: STRICT, timeoutMs: 5_000 });
    const error = await rejection(transport, { method: 'GET', url: `${main.base}/repos/o/r/pulls/1`, headers: {} });
    expect(error).toBeInstanceOf(InvalidRepositoryUrlError);
    expect(error).toMatchObject({ code: 'InvalidRepositoryUrlError', data: { reason: 'insecure-http' } });
    expect(main.seen).toHaveLength(0);
  });

  it('refuses a loopback address when private hosts are not allowed, before any request', async () => {
    const transport = createHttpApiTransport({ policy: NO_PRIVATE, timeoutMs: 5_000 });
    const error = await rejection(transport, { method: 'GET', url: `${main.base}/repos/o/r/pulls/1`, headers: {} });
    expect(error).toBeInstanceOf(GitHostNotAllowedError);
    expect(error).toMatchObject({ code: 'GitHostNotAllowedError', data: { host: '127.0.0.1', reason: 'private-address' } });
    expect(main.seen).toHaveLength(0);
  });

  it('refuses a host name that resolves to loopback, before any request', async () => {
    const transport = createHttpApiTransport({ policy: NO_PRIVATE, timeoutMs: 5_000 });
    const port = new URL(main.base).port;
    const error = await rejection(transport, { method: 'GET', url: `http://localhost:${port}/repos/o/r/pulls/1`, headers: {} });
    expect(error).toMatchObject({ code: 'GitHostNotAllowedError', data: { reason: 'private-address' } });
    expect(main.seen).toHaveLength(0);
  });

  it('refuses a URL that does not parse, with a rejection', async () => {
    const transport = createHttpApiTransport({ policy: OPEN, timeoutMs: 5_000 });
    const error = await rejection(transport, { method: 'GET', url: 'http://exa mple.com/repos/o/r/pulls/1', headers: {} });
    expect(error).toMatchObject({ code: 'InvalidRepositoryUrlError', data: { reason: 'malformed' } });
  });

  it('refuses a host outside the allow list', async () => {
    const transport = createHttpApiTransport({ policy: { ...OPEN, allowedHosts: ['git.example.com'] }, timeoutMs: 5_000 });
    const error = await rejection(transport, { method: 'GET', url: `${main.base}/x`, headers: {} });
    expect(error).toMatchObject({ code: 'GitHostNotAllowedError', data: { reason: 'not-in-allow-list' } });
    expect(main.seen).toHaveLength(0);
  });
});

describe('ApiClient', () => {
  const CALL_URL = 'https://git.example.com/api/v1/repos/o/r/pulls/1';

  it('rethrows a GitHostNotAllowedError of the transport as it is', async () => {
    const refusal = new GitHostNotAllowedError({ url: CALL_URL, host: 'git.example.com', reason: 'private-address' });
    const api = new ApiClient(
      'gitea',
      'https://git.example.com/api/v1',
      { authorization: `token ${TOKEN}` },
      async () => {
        throw refusal;
      },
      TOKEN,
    );
    await expect(api.get('read pull request', '/repos/o/r/pulls/1')).rejects.toBe(refusal);
  });

  it('rethrows an InvalidRepositoryUrlError of the transport as it is', async () => {
    const refusal = new InvalidRepositoryUrlError({ url: CALL_URL, reason: 'insecure-http' });
    const api = new ApiClient(
      'gitea',
      'https://git.example.com/api/v1',
      {},
      async () => {
        throw refusal;
      },
      TOKEN,
    );
    await expect(api.post('open pull request', '/repos/o/r/pulls', { a: 1 })).rejects.toBe(refusal);
  });

  it('passes a policy refusal of the real transport through, unwrapped', async () => {
    const api = new ApiClient('gitea', `${main.base}/api/v1`, {}, createHttpApiTransport({ policy: NO_PRIVATE, timeoutMs: 5_000 }), TOKEN);
    const error = await api.get('read pull request', '/repos/o/r/pulls/1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GitHostNotAllowedError);
    expect(error).not.toBeInstanceOf(PullRequestApiError);
    expect(main.seen).toHaveLength(0);
  });

  it('sends JSON with its content type over the real transport and reads the JSON answer', async () => {
    const api = new ApiClient('github', main.base, { authorization: `Bearer ${TOKEN}` }, createHttpApiTransport({ policy: OPEN, timeoutMs: 5_000 }), TOKEN);
    const result = await api.post('open pull request', '/repos/o/r/pulls', { head: 'a/b', base: 'main' });
    expect(result).toStrictEqual({ status: 201, json: { ok: true, path: '/repos/o/r/pulls' } });
    expect(main.seen[0].headers['content-type']).toBe('application/json');
    expect(JSON.parse(main.seen[0].body)).toStrictEqual({ head: 'a/b', base: 'main' });
  });

  it('returns an accepted non-2xx status instead of throwing, and reads an empty body as null', async () => {
    const api = new ApiClient('gitea', main.base, {}, createHttpApiTransport({ policy: OPEN, timeoutMs: 5_000 }), TOKEN);
    expect(await api.get('find pull request', '/missing', [404])).toStrictEqual({ status: 404, json: { message: 'Not Found' } });
    expect(await api.get('find pull request', '/empty')).toStrictEqual({ status: 204, json: null });
    const error = await api.get('find pull request', '/missing').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PullRequestApiError);
    expect(error).toMatchObject({ data: { status: 404, detail: 'Not Found', transient: false } });
  });

  it('turns a redirect into a non-transient error', async () => {
    const api = new ApiClient('github', main.base, {}, createHttpApiTransport({ policy: OPEN, timeoutMs: 5_000 }), TOKEN);
    const error = await api.get('read pull request', '/redirect').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'PullRequestApiError', data: { status: 302, transient: false } });
    expect(target.seen).toHaveLength(0);
  });

  it('turns a deadline into a transient error', async () => {
    const api = new ApiClient('gitlab', main.base, {}, createHttpApiTransport({ policy: OPEN, timeoutMs: TIMEOUT_MS }), TOKEN);
    const error = await api.get('read merge request', '/hang').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PullRequestApiError);
    expect((error as PullRequestApiError).data).toStrictEqual({
      provider: 'gitlab',
      operation: 'read merge request',
      url: `${main.base}/hang`,
      detail: `no answer within ${TIMEOUT_MS} ms`,
      transient: true,
    });
  });

  it('puts [redacted] where a host echoes the token of its headers, over the real transport', async () => {
    const api = new ApiClient('gitlab', main.base, { authorization: `Bearer ${TOKEN}` }, createHttpApiTransport({ policy: OPEN, timeoutMs: 5_000 }), TOKEN);
    const error = await api.get('read merge request', '/echo-credentials').catch((e: unknown) => e);
    // The token did travel in the header: the host saw it.
    expect(main.seen[0].headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(error).toBeInstanceOf(PullRequestApiError);
    expect((error as PullRequestApiError).data).toStrictEqual({
      provider: 'gitlab',
      operation: 'read merge request',
      url: `${main.base}/echo-credentials`,
      status: 401,
      detail: '401 Unauthorized: Bearer [redacted]',
      transient: false,
    });
    expect((error as Error).message).toBe(
      `gitlab API: read merge request at ${main.base}/echo-credentials failed: HTTP 401: 401 Unauthorized: Bearer [redacted]`,
    );
  });

  it("puts [redacted] where a transport error's message has the token", async () => {
    const api = new ApiClient(
      'github',
      'https://api.github.com',
      {},
      async () => {
        throw new Error(`proxy CONNECT refused, header was: Authorization: Bearer ${TOKEN} (${TOKEN})`);
      },
      TOKEN,
    );
    const error = await api.post('open pull request', '/repos/o/r/pulls', { a: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PullRequestApiError);
    expect((error as PullRequestApiError).data).toMatchObject({
      detail: 'proxy CONNECT refused, header was: Authorization: Bearer [redacted] ([redacted])',
      transient: true,
    });
    expect((error as Error).message).not.toContain(TOKEN);
  });

  it('redacts only the token it was given', async () => {
    const other = 'ghp_AnotherValue0000000000';
    const api = new ApiClient(
      'github',
      'https://api.github.com',
      {},
      async () => ({ status: 403, body: JSON.stringify({ message: `${other} / ${TOKEN}` }) }),
      TOKEN,
    );
    const error = await api.get('read pull request', '/repos/o/r/pulls/1').catch((e: unknown) => e);
    expect((error as PullRequestApiError).data.detail).toBe(`${other} / [redacted]`);
  });

  it('leaves the message as it is when it carries no token', async () => {
    const api = new ApiClient('gitea', 'https://git.example.com/api/v1', {}, async () => ({ status: 404, body: '{"message":"Not Found"}' }), '');
    const error = await api.get('read pull request', '/repos/o/r/pulls/1').catch((e: unknown) => e);
    expect((error as PullRequestApiError).data.detail).toBe('Not Found');
  });
});
