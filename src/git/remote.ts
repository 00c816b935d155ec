/**
 * Talks to git remotes over smart HTTP(S), or over SSH presented as smart HTTP
 * (./ssh-transport.ts): a bare cache repository per remote URL, shallow then incremental
 * fetches, deepening on demand, and a thin push that sends only the objects a revert wrote (no
 * tree walks). Every request has an inactivity timeout and every operation a total deadline;
 * every response is read against a byte limit (./transfer-limits.ts) and an upload-pack response
 * is checked object by object as it arrives (./upload-pack-guard.ts); URLs are checked against
 * the network policy first (./url-policy.ts). Credentials travel only in the Authorization
 * header (or the SSH handshake) and never appear in errors or logs.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import git, { type GitHttpRequest, type GitHttpResponse, type HttpClient } from 'isomorphic-git';
import {
  AuthFailedError,
  GitRollbackError,
  GitTimeoutError,
  InvalidRequestError,
  PushRejectedError,
  RemoteError,
  RepositoryNotFoundError,
  TransferLimitExceededError,
  type TransferLimitKind,
} from './errors.js';
import type { Fs } from './object-store.js';
import { openSshTransport } from './ssh-transport.js';
import { isSshUrl, parseSshUrl } from './ssh-url.js';
import { resolveTransferLimits, type TransferLimits } from './transfer-limits.js';
import { createHttpTransport, type GitTransport } from './transport.js';
import { UploadPackGuard } from './upload-pack-guard.js';
import { checkRepositoryUrl, LOCAL_NETWORK_POLICY, type NetworkPolicy } from './url-policy.js';

export interface Credentials {
  username?: string;
  /** HTTP password or token; for SSH, the passphrase of `identity`. */
  password?: string;
  bearerToken?: string;
  /** SSH private key, PEM or OpenSSH format (Flux Secret key `identity`). */
  identity?: string;
  /** SSH known_hosts lines the server's host key must match (Flux Secret key `known_hosts`). */
  knownHosts?: string;
}

export interface ProgressEvent {
  phase: string;
  loaded: number;
  total?: number;
}

export interface RemoteOptions {
  /**
   * Smart HTTP(S) URL, or an SSH address (`ssh://[user@]host[:port]/path` or `[user@]host:path`,
   * see ./ssh-transport.ts). Credentials, a query or a fragment in it are refused
   * (InvalidRepositoryUrlError), as is whatever `policy` does not allow.
   */
  url: string;
  branch: string;
  credentials?: Credentials;
  /**
   * Inactivity timeout per HTTP request (default 60 s): a request is aborted with
   * GitTimeoutError when no response, or no further body bytes, arrive for this long.
   * Like git's http.lowSpeedTime, a large but progressing download is not cut off.
   */
  timeoutMs?: number;
  /** Which URLs and addresses may be contacted; default LOCAL_NETWORK_POLICY (the CLI's). */
  policy?: NetworkPolicy;
  /** Byte, object and time limits; unset ones take DEFAULT_TRANSFER_LIMITS. */
  limits?: Partial<TransferLimits>;
  onProgress?: (e: ProgressEvent) => void;
}

export const DEFAULT_TIMEOUT_MS = 60_000;
export const DEFAULT_FETCH_DEPTH = 50;
const REMOTE = 'origin';
/** Where we remember the depth of the shallow cache, to double it on deepen. */
const DEPTH_CONFIG_KEY = 'gitopsrollback.depth';
const ZERO_OID = '0'.repeat(40);
const OID_PATTERN = /^[0-9a-f]{40}$/;

/** A remote with credentials separated from its URL; `url` is safe to show. */
interface ResolvedRemote {
  url: string;
  /** The URL isomorphic-git is given: `url` for HTTP(S), a placeholder the SSH transport ignores. */
  protocolUrl: string;
  /** Opens the transport for one operation. */
  connect(): GitTransport;
  branch: string;
  headers: Record<string, string>;
  secrets: string[];
  timeoutMs: number;
  limits: TransferLimits;
  onProgress?: (e: ProgressEvent) => void;
}

/** What one operation needs to time out, stay within limits and report errors without secrets. */
interface CallContext {
  remote: ResolvedRemote;
  transport: GitTransport;
  operation: string;
  /** Aborted when the operation's deadline passes. */
  deadline: AbortSignal;
  /** Why the operation was cut short (timeout, deadline, limit): wins over what follows from it. */
  abortedWith?: GitRollbackError;
  /** Ends the operation: stops the deadline timer and closes the transport. */
  end(): void;
}

/** Starts one network operation: its transport and its deadline. */
function startCall(remote: ResolvedRemote, operation: string): CallContext {
  const controller = new AbortController();
  const transport = remote.connect();
  const ctx: CallContext = {
    remote,
    transport,
    operation,
    deadline: controller.signal,
    end: () => {
      clearTimeout(timer);
      transport.close();
    },
  };
  const timer = setTimeout(() => {
    ctx.abortedWith ??= new GitTimeoutError({ operation, url: remote.url, timeoutMs: remote.limits.deadlineMs, deadline: true });
    controller.abort(ctx.abortedWith);
  }, remote.limits.deadlineMs);
  timer.unref();
  return ctx;
}

// ---------------------------------------------------------------------------------------------
// Cache repository

/** The gitdir of the cache repository for a remote URL: `<cacheDir>/<sha256 of the URL without credentials>`. */
export function cacheRepoPath(cacheDir: string, url: string): string {
  return join(cacheDir, createHash('sha256').update(safeCacheUrl(url)).digest('hex'));
}

function safeCacheUrl(url: string): string {
  return isSshUrl(url) ? parseSshUrl(url).displayUrl : normalizeHttpUrl(url);
}

/**
 * Opens the bare cache repository for a remote URL ({@link cacheRepoPath}), created with
 * `git init --bare` if missing. Returns its gitdir. Callers hold the repository's lock.
 */
export async function openCacheRepo(fs: Fs, cacheDir: string, url: string): Promise<string> {
  const safeUrl = safeCacheUrl(url);
  const gitdir = cacheRepoPath(cacheDir, url);
  if (!fs.existsSync(join(gitdir, 'config'))) {
    await fs.promises.mkdir(gitdir, { recursive: true });
    await git.init({ fs, gitdir, bare: true });
  }
  await ensureRemoteConfig(fs, gitdir, safeUrl);
  return gitdir;
}

/** isomorphic-git's fetch needs a fetch refspec to write refs/remotes/origin/<branch>. */
async function ensureRemoteConfig(fs: Fs, gitdir: string, safeUrl: string): Promise<void> {
  const wanted: Record<string, string> = {
    [`remote.${REMOTE}.url`]: safeUrl,
    [`remote.${REMOTE}.fetch`]: `+refs/heads/*:refs/remotes/${REMOTE}/*`,
  };
  for (const [path, value] of Object.entries(wanted)) {
    if ((await git.getConfig({ fs, gitdir, path })) !== value) await git.setConfig({ fs, gitdir, path, value });
  }
}

// ---------------------------------------------------------------------------------------------
// Fetch and deepen

/**
 * Fetches `branch` into the cache and returns the remote head, also stored at
 * `refs/remotes/origin/<branch>`. The first fetch is shallow (`depth`, default 50); later
 * fetches send the known head as "have" and receive only new objects (`depth` applies to the
 * first fetch only).
 * Throws InvalidRepositoryUrlError or GitHostNotAllowedError (refused by the policy, nothing
 * sent), RepositoryNotFoundError (repository or branch missing), AuthFailedError (401/403),
 * TransferLimitExceededError, GitTimeoutError (idle or past the deadline), RemoteError.
 */
export async function fetchBranch(fs: Fs, gitdir: string, opts: RemoteOptions & { depth?: number }): Promise<string> {
  const remote = resolveRemote(opts);
  if (await resolveTrackingRef(fs, gitdir, remote.branch)) {
    return runFetch(fs, gitdir, remote, { depth: await chooseIncrementalDepth(fs, gitdir), operation: 'Fetch' });
  }
  const depth = opts.depth ?? DEFAULT_FETCH_DEPTH;
  const head = await runFetch(fs, gitdir, remote, { depth, operation: 'Fetch' });
  await writeDepth(fs, gitdir, depth);
  return head;
}

/**
 * Depth for a fetch into a cache that has the branch: our head goes as "have", so the server
 * sends only new objects. A shallow cache asks for the depth it already has: a larger one would
 * make the server deepen the old history too, and no depth at all would download the whole
 * history if the remote was rewritten. A complete cache stays complete (no depth).
 */
async function chooseIncrementalDepth(fs: Fs, gitdir: string): Promise<number | undefined> {
  if ((await readShallowOids(fs, gitdir)).length === 0) return undefined;
  return (await readDepth(fs, gitdir)) ?? DEFAULT_FETCH_DEPTH;
}

/**
 * Deepens a shallow cache by its current depth (doubling it). Returns false, fetching nothing,
 * when the history is already complete; true when more history arrived.
 * Throws like fetchBranch.
 */
export async function deepenHistory(fs: Fs, gitdir: string, opts: RemoteOptions): Promise<boolean> {
  const remote = resolveRemote(opts);
  const before = await readShallowOids(fs, gitdir);
  if (before.length === 0) return false;
  const depth = (await readDepth(fs, gitdir)) ?? DEFAULT_FETCH_DEPTH;
  // deepen-relative: `depth` more commits below the current shallow boundary.
  await runFetch(fs, gitdir, remote, { depth, relative: true, operation: 'Deepen' });
  await writeDepth(fs, gitdir, depth * 2);
  const after = await readShallowOids(fs, gitdir);
  return !sameSet(before, after);
}

async function runFetch(
  fs: Fs,
  gitdir: string,
  remote: ResolvedRemote,
  args: { depth?: number; relative?: boolean; operation: string },
): Promise<string> {
  const ctx = startCall(remote, args.operation);
  const trackingRef = `refs/remotes/${REMOTE}/${remote.branch}`;
  try {
    const result = await git.fetch({
      fs,
      gitdir,
      http: createTimedHttpClient(ctx),
      url: remote.protocolUrl,
      remote: REMOTE,
      // A full ref so isomorphic-git offers our tracking head as "have" (a short name would
      // look for refs/heads/<branch>, which a cache never has, and refetch everything).
      ref: trackingRef,
      remoteRef: `refs/heads/${remote.branch}`,
      singleBranch: true,
      tags: false,
      depth: args.depth,
      relative: args.relative,
      headers: { ...remote.headers },
      onProgress: remote.onProgress,
      cache: {},
    });
    if (ctx.abortedWith) throw ctx.abortedWith;
    if (!result.fetchHead) throw new RepositoryNotFoundError({ url: remote.url, branch: remote.branch, detail: 'the repository is empty' });
    await git.writeRef({ fs, gitdir, ref: trackingRef, value: result.fetchHead, force: true });
    return result.fetchHead;
  } catch (err) {
    throw toTypedError(err, ctx);
  } finally {
    ctx.end();
  }
}

async function resolveTrackingRef(fs: Fs, gitdir: string, branch: string): Promise<string | undefined> {
  try {
    return await git.resolveRef({ fs, gitdir, ref: `refs/remotes/${REMOTE}/${branch}` });
  } catch {
    return undefined;
  }
}

async function readShallowOids(fs: Fs, gitdir: string): Promise<string[]> {
  try {
    const text = await fs.promises.readFile(join(gitdir, 'shallow'), 'utf8');
    return text.split('\n').filter((line) => OID_PATTERN.test(line));
  } catch {
    return [];
  }
}

async function readDepth(fs: Fs, gitdir: string): Promise<number | undefined> {
  const value: unknown = await git.getConfig({ fs, gitdir, path: DEPTH_CONFIG_KEY });
  const depth = Number(value);
  return Number.isInteger(depth) && depth > 0 ? depth : undefined;
}

async function writeDepth(fs: Fs, gitdir: string, depth: number): Promise<void> {
  await git.setConfig({ fs, gitdir, path: DEPTH_CONFIG_KEY, value: String(depth) });
}

function sameSet(a: string[], b: string[]): boolean {
  const setA = new Set(a);
  return a.length === b.length && b.every((x) => setA.has(x));
}

// ---------------------------------------------------------------------------------------------
// Push

/**
 * Pushes `newHead` to `refs/heads/<branch>`, expecting the remote at `oldHead` (never a force
 * push: the command is always `<oldHead> <newHead> <ref>`). Sends only `objects` (the ones the
 * revert wrote) as an undeltified pack, straight to git-receive-pack with report-status.
 * First checks the advertised refs: if the branch moved, throws PushRejectedError
 * ('stale: branch moved') without sending the pack. A refusal by the server ('ng' or unpack
 * error: hook declined, fetch first, failed to update ref...) throws PushRejectedError, with
 * the remote's messages (e.g. a hook's output) appended to the reason.
 * On success, `refs/remotes/origin/<branch>` is moved to `newHead`.
 */
export async function pushBranch(
  fs: Fs,
  gitdir: string,
  opts: RemoteOptions & { oldHead: string; newHead: string; objects: Iterable<string> },
): Promise<void> {
  const remote = resolveRemote(opts);
  const ref = `refs/heads/${remote.branch}`;
  assertOid(opts.oldHead, 'oldHead');
  assertOid(opts.newHead, 'newHead');
  const ctx = startCall(remote, 'Push');
  try {
    const advertised = await discoverReceivePack(ctx);
    if ((advertised.refs.get(ref) ?? ZERO_OID) !== opts.oldHead) {
      throw new PushRejectedError({ ref, reason: 'stale: branch moved' });
    }
    if (!advertised.capabilities.has('report-status')) {
      throw new RemoteError({ url: remote.url, detail: 'the server does not offer report-status' });
    }
    const packfile = await buildPack(fs, gitdir, opts.objects);
    const sideBand = advertised.capabilities.has('side-band-64k');
    const body = buildReceivePackRequest({ ref, oldHead: opts.oldHead, newHead: opts.newHead, sideBand, packfile });
    remote.onProgress?.({ phase: 'Sending pack', loaded: 0, total: packfile.length });
    const report = await postReceivePack(ctx, body, sideBand);
    if (ctx.abortedWith) throw ctx.abortedWith;
    remote.onProgress?.({ phase: 'Sending pack', loaded: packfile.length, total: packfile.length });
    assertPushAccepted(report, ref);
  } catch (err) {
    throw toTypedError(err, ctx);
  } finally {
    ctx.end();
  }
  await git.writeRef({ fs, gitdir, ref: `refs/remotes/${REMOTE}/${remote.branch}`, value: opts.newHead, force: true });
}

/** An undeltified pack of exactly these objects (deltas would save little on a revert). */
async function buildPack(fs: Fs, gitdir: string, objects: Iterable<string>): Promise<Uint8Array> {
  const { packfile } = await git.packObjects({ fs, gitdir, oids: [...new Set(objects)], cache: {} });
  if (!packfile) throw new InvalidRequestError('isomorphic-git built no pack for the pushed objects');
  return packfile;
}

function assertOid(oid: string, name: string): void {
  if (!OID_PATTERN.test(oid)) throw new InvalidRequestError(`${name} is not a full sha1: ${oid.slice(0, 64)}`, { [name]: oid.slice(0, 64) });
}

interface Advertisement {
  refs: Map<string, string>;
  capabilities: Set<string>;
}

/** GET info/refs?service=git-receive-pack: the refs the server has now, and its capabilities. */
async function discoverReceivePack(ctx: CallContext): Promise<Advertisement> {
  const res = await requestWithTimeout(
    { method: 'GET', url: `${ctx.remote.url}/info/refs?service=git-receive-pack`, headers: { ...ctx.remote.headers } },
    ctx,
  );
  const body = await readAll(res);
  assertHttpOk(res, ctx);
  if (!res.headers?.['content-type']?.startsWith('application/x-git-receive-pack-advertisement')) {
    throw notGitServer(ctx.remote.url);
  }
  return parseAdvertisement(body);
}

function parseAdvertisement(body: Buffer): Advertisement {
  const lines = parsePktLines(body);
  // Smart HTTP prefixes "# service=..." and a flush before the refs.
  if (lines[0]?.toString('utf8').startsWith('# service=')) lines.splice(0, 2);
  const refs = new Map<string, string>();
  let capabilities = new Set<string>();
  for (const line of lines) {
    if (!line) break;
    const text = line.toString('utf8').replace(/\n$/, '');
    const [refPart, caps] = text.split('\0');
    if (caps !== undefined) capabilities = new Set(caps.split(' ').filter(Boolean));
    const [oid, name] = refPart.split(' ');
    if (name && !name.endsWith('^{}')) refs.set(name, oid);
  }
  return { refs, capabilities };
}

function buildReceivePackRequest(args: { ref: string; oldHead: string; newHead: string; sideBand: boolean; packfile: Uint8Array }): Buffer {
  const capabilities = ['report-status', ...(args.sideBand ? ['side-band-64k'] : []), 'agent=gitops-rollback'];
  const command = `${args.oldHead} ${args.newHead} ${args.ref}\0${capabilities.join(' ')}\n`;
  return Buffer.concat([encodePktLine(command), Buffer.from('0000'), args.packfile]);
}

/** POSTs the pack to git-receive-pack; returns the report-status lines and remote messages. */
async function postReceivePack(ctx: CallContext, body: Buffer, sideBand: boolean): Promise<PushReport> {
  const res = await requestWithTimeout(
    {
      method: 'POST',
      url: `${ctx.remote.url}/git-receive-pack`,
      headers: {
        ...ctx.remote.headers,
        'Content-Type': 'application/x-git-receive-pack-request',
        Accept: 'application/x-git-receive-pack-result',
      },
      // The node client sends an array body as one buffer, with a Content-Length.
      body: [body] as unknown as AsyncIterableIterator<Uint8Array>,
    },
    ctx,
  );
  const raw = await readAll(res);
  assertHttpOk(res, ctx);
  return parsePushReport(raw, sideBand);
}

interface PushReport {
  lines: string[];
  messages: string[];
  fatal?: string;
}

function parsePushReport(raw: Buffer, sideBand: boolean): PushReport {
  if (!sideBand) return { lines: pktLinesToText(parsePktLines(raw)), messages: [] };
  const data: Buffer[] = [];
  const messages: string[] = [];
  let fatal: string | undefined;
  for (const packet of parsePktLines(raw)) {
    if (!packet || packet.length === 0) continue;
    const payload = packet.subarray(1);
    if (packet[0] === 1) data.push(payload);
    else if (packet[0] === 2) messages.push(payload.toString('utf8'));
    else if (packet[0] === 3) fatal = payload.toString('utf8').trim();
  }
  return { lines: pktLinesToText(parsePktLines(Buffer.concat(data))), messages: remoteMessages(messages), fatal };
}

/** Keeps complete lines of remote output (drops \r progress meters), bounded in size. */
function remoteMessages(chunks: string[]): string[] {
  return chunks
    .join('')
    .split('\n')
    .filter((line) => line.trim() && !line.includes('\r'))
    .map((line) => line.trim().slice(0, 200))
    .slice(0, 10);
}

function assertPushAccepted(report: PushReport, ref: string): void {
  const suffix = report.messages.length ? ` (remote: ${report.messages.join('; ')})` : '';
  if (report.fatal) throw new PushRejectedError({ ref, reason: report.fatal + suffix });
  const unpack = report.lines.find((line) => line.startsWith('unpack '));
  if (!unpack) throw new PushRejectedError({ ref, reason: `no report-status from the server${suffix}` });
  if (unpack !== 'unpack ok') throw new PushRejectedError({ ref, reason: `unpack failed: ${unpack.slice(7)}${suffix}` });
  const status = report.lines.find((line) => line.startsWith(`ok ${ref}`) || line.startsWith(`ng ${ref} `));
  if (status === `ok ${ref}`) return;
  const reason = status?.slice(`ng ${ref} `.length) ?? 'the server did not report on the ref';
  throw new PushRejectedError({ ref, reason: reason + suffix });
}

// ---------------------------------------------------------------------------------------------
// pkt-line

function encodePktLine(text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  return Buffer.concat([Buffer.from((payload.length + 4).toString(16).padStart(4, '0')), payload]);
}

/** Splits a pkt-line stream; `null` stands for flush (and the v2 delim/end) packets. */
function parsePktLines(buf: Buffer): (Buffer | null)[] {
  const packets: (Buffer | null)[] = [];
  let offset = 0;
  while (offset + 4 <= buf.length) {
    const length = parseInt(buf.subarray(offset, offset + 4).toString('latin1'), 16);
    if (Number.isNaN(length)) break;
    if (length < 4) {
      packets.push(null);
      offset += 4;
      continue;
    }
    packets.push(buf.subarray(offset + 4, offset + length));
    offset += length;
  }
  return packets;
}

function pktLinesToText(packets: (Buffer | null)[]): string[] {
  return packets.filter((p): p is Buffer => p !== null).map((p) => p.toString('utf8').replace(/\n$/, ''));
}

// ---------------------------------------------------------------------------------------------
// Credentials and URLs

/**
 * Checks the URL against the policy (credentials in it, a query or fragment are always refused)
 * and turns the credentials into an Authorization header.
 */
function resolveRemote(opts: RemoteOptions): ResolvedRemote {
  const policy = opts.policy ?? LOCAL_NETWORK_POLICY;
  const { displayUrl } = checkRepositoryUrl(opts.url, policy);
  if (isSshUrl(opts.url)) return resolveSshRemote(opts, policy);
  // No trailing slash, so "<url>/info/refs" stays well-formed.
  const url = displayUrl.replace(/\/+$/, '');
  const credentials = opts.credentials ?? {};
  return {
    url,
    protocolUrl: url,
    connect: () => createHttpTransport({ policy, displayUrl: url }),
    branch: opts.branch,
    headers: authorizationHeaders(credentials),
    secrets: [credentials.password, credentials.bearerToken].filter((s): s is string => !!s),
    timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    limits: resolveTransferLimits(opts.limits),
    onProgress: opts.onProgress,
  };
}

/** SSH: keys instead of headers; the identity and its passphrase are the secrets to scrub. */
function resolveSshRemote(opts: RemoteOptions, policy: NetworkPolicy): ResolvedRemote {
  const endpoint = parseSshUrl(opts.url);
  const { identity, knownHosts, password } = opts.credentials ?? {};
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const limits = resolveTransferLimits(opts.limits);
  return {
    url: endpoint.displayUrl,
    protocolUrl: 'https://ssh-transport.invalid/repository',
    connect: () =>
      openSshTransport({ endpoint, identity, passphrase: password, knownHosts, timeoutMs, policy, maxAdvertisementBytes: limits.maxAdvertisementBytes }),
    branch: opts.branch,
    headers: {},
    secrets: [identity, password].filter((s): s is string => !!s),
    timeoutMs,
    limits,
    onProgress: opts.onProgress,
  };
}

/** The cache key of an HTTP(S) URL: without credentials, query, fragment or trailing slash. */
function normalizeHttpUrl(raw: string): string {
  try {
    const parsed = new URL(raw);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`.replace(/\/+$/, '');
  } catch {
    return raw;
  }
}

function authorizationHeaders(credentials: Credentials): Record<string, string> {
  if (credentials.bearerToken) return { Authorization: `Bearer ${credentials.bearerToken}` };
  if (credentials.username || credentials.password) {
    // A token alone goes as the password, with a placeholder user (what GitHub/GitLab accept).
    const user = credentials.username || 'x-access-token';
    const basic = Buffer.from(`${user}:${credentials.password ?? ''}`).toString('base64');
    return { Authorization: `Basic ${basic}` };
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// HTTP with timeouts

/** An isomorphic-git HttpClient whose requests abort on inactivity, the deadline or a limit. */
function createTimedHttpClient(ctx: CallContext): HttpClient {
  return { request: (req) => requestWithTimeout(req, ctx) };
}

/** Which limit bounds a response: advertisements, packs and push reports each have their own. */
function responseLimit(req: GitHttpRequest, limits: TransferLimits): { what: TransferLimitKind; limit: number } {
  if ((req.method ?? 'GET') === 'GET') return { what: 'advertisement', limit: limits.maxAdvertisementBytes };
  if (req.url.endsWith('/git-upload-pack')) return { what: 'pack', limit: limits.maxPackBytes };
  return { what: 'report', limit: limits.maxAdvertisementBytes };
}

/**
 * Sends one request through the operation's transport. It is aborted (and the operation fails
 * with that reason) when nothing arrives for `timeoutMs`, when the operation's deadline passes,
 * or when the response goes over its byte limit or the upload-pack guard refuses the pack.
 */
async function requestWithTimeout(req: GitHttpRequest, ctx: CallContext): Promise<GitHttpResponse> {
  // isomorphic-git reads a body that failed as one that ended, and may go on to the next request
  // with what it got: an operation cut short sends nothing more.
  if (ctx.abortedWith) throw ctx.abortedWith;
  const { timeoutMs } = ctx.remote;
  const controller = new AbortController();
  const abort = (error: GitRollbackError) => {
    ctx.abortedWith ??= error;
    controller.abort(ctx.abortedWith);
  };
  let timer: NodeJS.Timeout | undefined;
  const disarm = () => clearTimeout(timer);
  const arm = () => {
    disarm();
    timer = setTimeout(() => abort(new GitTimeoutError({ operation: ctx.operation, url: ctx.remote.url, timeoutMs })), timeoutMs);
    // The socket keeps the process alive while needed; an unread body must not delay exit.
    timer.unref();
  };
  const onDeadline = () => abort(ctx.deadline.reason as GitRollbackError);
  if (ctx.deadline.aborted) onDeadline();
  else ctx.deadline.addEventListener('abort', onDeadline, { once: true });
  const expired = new Promise<never>((_, reject) => {
    const fail = () => reject(controller.signal.reason);
    if (controller.signal.aborted) fail();
    else controller.signal.addEventListener('abort', fail, { once: true });
  });
  expired.catch(() => {}); // observed through the races below
  const release = () => {
    disarm();
    ctx.deadline.removeEventListener('abort', onDeadline);
  };
  arm();
  const pending = ctx.transport.request({ ...req, signal: controller.signal });
  pending.catch(() => {}); // the race reports it; after a timeout nobody else listens
  try {
    const res = await Promise.race([pending, expired]);
    if (!res.body) {
      release();
      return res;
    }
    const { what, limit } = responseLimit(req, ctx.remote.limits);
    const packGuard = what === 'pack' && res.statusCode === 200 ? new UploadPackGuard({ url: ctx.remote.url, ...ctx.remote.limits }) : undefined;
    const check = (chunk: Uint8Array, total: number) => {
      if (total > limit) throw new TransferLimitExceededError({ url: ctx.remote.url, what, limit });
      packGuard?.check(chunk);
    };
    return { ...res, body: guardBody(res.body, { expired, arm, release, check, finish: () => packGuard?.finish(), fail: abort }) };
  } catch (err) {
    release();
    throw err;
  }
}

interface BodyHooks {
  /** Rejects once the request is aborted (inactivity, deadline, limit). */
  expired: Promise<never>;
  /** Restarts the inactivity timer. */
  arm: () => void;
  /** Stops the timers; the response is done with. */
  release: () => void;
  /** Throws when the chunk (and `total` bytes so far) goes over a limit. */
  check: (chunk: Uint8Array, total: number) => void;
  /** Called at the end of the body. */
  finish: () => void;
  /** Aborts the request with the error a check threw. */
  fail: (error: GitRollbackError) => void;
}

/**
 * Re-arms the inactivity timer on each chunk and checks it against the limits before handing
 * it on; a stalled body, the deadline or a limit rejects instead of hanging or growing.
 */
async function* guardBody(body: AsyncIterableIterator<Uint8Array>, hooks: BodyHooks): AsyncIterableIterator<Uint8Array> {
  const iterator = body[Symbol.asyncIterator]();
  let total = 0;
  try {
    for (;;) {
      const { value, done } = await Promise.race([iterator.next(), hooks.expired]);
      if (done) {
        runCheck(hooks, () => hooks.finish());
        return;
      }
      total += value.byteLength;
      runCheck(hooks, () => hooks.check(value, total));
      hooks.arm();
      yield value;
    }
  } finally {
    hooks.release();
    await iterator.return?.();
  }
}

/** Runs a check; the typed error it throws also aborts the request, and is what gets reported. */
function runCheck(hooks: BodyHooks, check: () => void): void {
  try {
    check();
  } catch (error) {
    if (error instanceof GitRollbackError) hooks.fail(error);
    throw error;
  }
}

async function readAll(res: GitHttpResponse): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  if (res.body) for await (const chunk of res.body) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function assertHttpOk(res: GitHttpResponse, ctx: CallContext): void {
  if (res.statusCode === 200) return;
  throw httpStatusError(res.statusCode, ctx);
}

/**
 * 401/403 and 404 are what a git server answers for bad credentials and a missing repository;
 * every other status gets one generic message, so pointing the operator at a URL that is not a
 * git server tells nothing about what answered there.
 */
function httpStatusError(status: number, ctx: CallContext): GitRollbackError {
  const { url } = ctx.remote;
  if (status === 401 || status === 403) return new AuthFailedError({ url, status });
  if (status === 404) return new RepositoryNotFoundError({ url });
  return notGitServer(url);
}

function notGitServer(url: string): RemoteError {
  return new RemoteError({ url, detail: 'the server did not answer as a git smart HTTP server' });
}

// ---------------------------------------------------------------------------------------------
// Errors

/** Turns anything thrown during a network operation into one of our typed errors. */
function toTypedError(err: unknown, ctx: CallContext): GitRollbackError {
  const { url, branch } = ctx.remote;
  if (ctx.abortedWith) return ctx.abortedWith;
  if (err instanceof GitRollbackError) return err;
  const e = err as { code?: string; message?: string; data?: { statusCode?: number } };
  if (e.code === 'HttpError' && e.data?.statusCode) return httpStatusError(e.data.statusCode, ctx);
  // isomorphic-git's NotFoundError during fetch means the remote does not advertise the ref.
  if (e.code === 'NotFoundError') return new RepositoryNotFoundError({ url, branch });
  if (e.code === 'SmartHttpError') return notGitServer(url);
  const detail = e.code && !e.message?.includes(e.code) ? `${e.code}: ${e.message ?? ''}` : (e.message ?? String(err));
  return new RemoteError({ url, detail: scrubSecrets(detail, ctx.remote.secrets) });
}

/** Defense in depth: no message we build should contain a secret, but make sure. */
function scrubSecrets(text: string, secrets: string[]): string {
  let result = text;
  for (const secret of secrets) result = result.split(secret).join('***');
  return result.replace(/\/\/[^/@\s]*:[^/@\s]*@/g, '//');
}
