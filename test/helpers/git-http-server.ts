/**
 * A real git smart-HTTP server for tests: git's own `git http-backend` run as CGI behind a small
 * node:http server on 127.0.0.1, serving bare repositories under a root directory. Also helpers
 * to create bare repositories with the git CLI, install a rejecting pre-receive hook, and start
 * a server that accepts connections but never answers (for timeout tests).
 */
import { spawn } from 'node:child_process';
import { mkdir, writeFile, chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const GIT_HTTP_BACKEND = '/usr/lib/git-core/git-http-backend';

export interface GitHttpServerOptions {
  /** Directory holding the bare repositories (`<root>/<name>.git`). */
  root: string;
  /** When set, every request needs HTTP basic auth with these credentials. */
  auth?: { username: string; password: string };
  /** A fixed port (e.g. to bring a stopped server back at the same URL); default: a free one. */
  port?: number;
}

/** One request the server received, kept so tests can inspect what a client sent. */
export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  /** The raw request body as received (still gzip-compressed if the client compressed it). */
  body: Buffer;
}

export interface GitHttpServer {
  baseUrl: string;
  /** URL of a repository under the root, e.g. urlFor('app.git'). */
  urlFor(repoName: string): string;
  /** Every request received so far, in order. */
  requests: RecordedRequest[];
  stop(): Promise<void>;
}

/** Starts `git http-backend` behind node:http on a free port of 127.0.0.1. */
export async function startGitHttpServer(options: GitHttpServerOptions): Promise<GitHttpServer> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    void handleRequest(options, requests, req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(err));
    });
  });
  const sockets = trackSockets(server);
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;
  return {
    baseUrl,
    urlFor: (repoName) => `${baseUrl}/${repoName}`,
    requests,
    stop: () => closeServer(server, sockets),
  };
}

async function handleRequest(options: GitHttpServerOptions, requests: RecordedRequest[], req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readBody(req);
  requests.push({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body });
  if (options.auth && !isAuthorized(req, options.auth)) {
    res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"', 'Content-Type': 'text/plain' });
    res.end('Unauthorized\n');
    return;
  }
  await runHttpBackend(options, req, body, res);
}

function isAuthorized(req: IncomingMessage, auth: { username: string; password: string }): boolean {
  const expected = 'Basic ' + Buffer.from(`${auth.username}:${auth.password}`).toString('base64');
  return req.headers.authorization === expected;
}

/** Runs http-backend as CGI and streams its output (headers parsed, body piped) to `res`. */
function runHttpBackend(options: GitHttpServerOptions, req: IncomingMessage, body: Buffer, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    GIT_PROJECT_ROOT: options.root,
    GIT_HTTP_EXPORT_ALL: '1',
    // Enable receive-pack even for anonymous users (http-backend refuses it otherwise).
    GIT_CONFIG_COUNT: '1',
    GIT_CONFIG_KEY_0: 'http.receivepack',
    GIT_CONFIG_VALUE_0: 'true',
    GIT_CONFIG_NOSYSTEM: '1',
    HOME: options.root,
    REQUEST_METHOD: req.method ?? 'GET',
    PATH_INFO: decodeURIComponent(url.pathname),
    QUERY_STRING: url.search.slice(1),
    CONTENT_TYPE: req.headers['content-type'] ?? '',
    CONTENT_LENGTH: String(body.length),
    REMOTE_ADDR: '127.0.0.1',
    REMOTE_USER: options.auth?.username ?? 'anonymous',
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: 'HTTP/1.1',
  };
  // http-backend inflates gzip request bodies itself when told the encoding.
  if (req.headers['content-encoding']) env.HTTP_CONTENT_ENCODING = req.headers['content-encoding'];
  if (req.headers['git-protocol']) env.GIT_PROTOCOL = String(req.headers['git-protocol']);

  return new Promise((resolve, reject) => {
    const child = spawn(GIT_HTTP_BACKEND, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    child.on('error', reject);
    child.stdin.on('error', () => {}); // the backend may exit before reading everything
    child.stdin.end(body);
    const stderr: Buffer[] = [];
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    streamCgiResponse(child.stdout, res);
    child.on('close', () => {
      if (!res.headersSent) {
        res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end(Buffer.concat(stderr));
      }
      resolve();
    });
  });
}

/** Parses CGI headers (up to the blank line), then pipes the rest as the HTTP body. */
function streamCgiResponse(stdout: NodeJS.ReadableStream, res: ServerResponse): void {
  let head = Buffer.alloc(0);
  let headersDone = false;
  stdout.on('data', (chunk: Buffer) => {
    if (headersDone) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = findHeaderEnd(head);
    if (!end) return;
    headersDone = true;
    writeCgiHeaders(head.subarray(0, end.index).toString('latin1'), res);
    const rest = head.subarray(end.index + end.length);
    if (rest.length > 0) res.write(rest);
  });
  stdout.on('end', () => {
    if (!headersDone && head.length > 0) writeCgiHeaders(head.toString('latin1'), res);
    if (res.headersSent || headersDone) res.end();
  });
}

function findHeaderEnd(buf: Buffer): { index: number; length: number } | undefined {
  const crlf = buf.indexOf('\r\n\r\n');
  const lf = buf.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { index: crlf, length: 4 };
  if (lf >= 0) return { index: lf, length: 2 };
  return undefined;
}

function writeCgiHeaders(text: string, res: ServerResponse): void {
  let status = 200;
  const headers: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === 'status') status = parseInt(value, 10);
    else headers[name] = value;
  }
  res.writeHead(status, headers);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function trackSockets(server: { on(event: 'connection', cb: (s: Socket) => void): unknown }): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  return sockets;
}

function closeServer(server: { close(cb: () => void): unknown }, sockets: Set<Socket>): Promise<void> {
  return new Promise((resolve) => {
    for (const socket of sockets) socket.destroy();
    server.close(() => resolve());
  });
}

/** A TCP server that accepts connections and never answers: for timeout tests. */
export async function startSilentServer(): Promise<{ baseUrl: string; stop(): Promise<void> }> {
  const server = createNetServer(() => {});
  const sockets = trackSockets(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { baseUrl: `http://127.0.0.1:${port}`, stop: () => closeServer(server, sockets) };
}

/** Runs the git CLI with a fixed identity and no user config; returns trimmed stdout. */
export function runGit(args: string[], cwd?: string, input?: Uint8Array): Promise<string> {
  const env = {
    ...process.env,
    GIT_AUTHOR_NAME: 'Test',
    GIT_AUTHOR_EMAIL: 'test@example.com',
    GIT_COMMITTER_NAME: 'Test',
    GIT_COMMITTER_EMAIL: 'test@example.com',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
  };
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString('utf8').trim());
      else reject(new Error(`git ${args.join(' ')} exited with ${code}: ${Buffer.concat(err).toString('utf8')}`));
    });
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

export interface BareRepoOptions {
  /** Number of commits on the branch; commit i writes `file-<i>.txt` and `app.yaml`. */
  commits: number;
  branch?: string;
}

/** Creates `<root>/<name>` as a bare repository with `commits` commits on `branch`. */
export async function createBareRepo(root: string, name: string, options: BareRepoOptions): Promise<string> {
  const branch = options.branch ?? 'main';
  const bare = join(root, name);
  await mkdir(root, { recursive: true });
  await runGit(['init', '--quiet', '--bare', `--initial-branch=${branch}`, bare]);
  await addCommits(bare, options.commits, { branch, prefix: 'initial' });
  return bare;
}

/** Adds `count` commits on top of `branch` of a bare repository (through a temporary clone). */
export async function addCommits(bare: string, count: number, opts: { branch?: string; prefix?: string } = {}): Promise<string> {
  const branch = opts.branch ?? 'main';
  const prefix = opts.prefix ?? `extra-${Date.now()}`;
  const work = await mkdtemp(join(tmpdir(), 'git-work-'));
  try {
    await runGit(['init', '--quiet', `--initial-branch=${branch}`, work]);
    const hasBranch = await runGit(['--git-dir', bare, 'rev-parse', '--verify', '--quiet', `refs/heads/${branch}`]).catch(() => '');
    if (hasBranch) {
      await runGit(['fetch', '--quiet', bare, `refs/heads/${branch}`], work);
      await runGit(['reset', '--quiet', '--hard', 'FETCH_HEAD'], work);
    }
    for (let i = 0; i < count; i++) {
      await writeFile(join(work, `${prefix}-${i}.txt`), `${prefix} ${i}\n`);
      await writeFile(join(work, 'app.yaml'), `replicas: ${i}\nprefix: ${prefix}\n`);
      await runGit(['add', '-A'], work);
      await runGit(['commit', '--quiet', '-m', `${prefix} commit ${i}`], work);
    }
    await runGit(['push', '--quiet', bare, `HEAD:refs/heads/${branch}`], work);
    return await runGit(['--git-dir', bare, 'rev-parse', `refs/heads/${branch}`]);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Installs a pre-receive hook that prints `message` and declines every push. */
export async function installRejectingHook(bare: string, message: string): Promise<void> {
  const hook = join(bare, 'hooks', 'pre-receive');
  await mkdir(join(bare, 'hooks'), { recursive: true });
  await writeFile(hook, `#!/bin/sh\necho ${JSON.stringify(message)} >&2\nexit 1\n`);
  await chmod(hook, 0o755);
}

/** Removes the pre-receive hook installed by installRejectingHook. */
export async function removePreReceiveHook(bare: string): Promise<void> {
  await rm(join(bare, 'hooks', 'pre-receive'), { force: true });
}
