/**
 * One network operation (a fetch, a deepen, a push) and the smart-HTTP requests it sends: the
 * operation has a total deadline (`limits.deadlineMs`), each request an inactivity timeout
 * (`timeoutMs`, like git's http.lowSpeedTime), and each response body is counted against its
 * byte limit (./transfer-limits.ts); an upload-pack response's objects are checked by the pack
 * indexer that reads it (./pack-indexer.ts). The first reason an operation is cut short is kept,
 * and is what the operation reports.
 */
import type { GitHttpRequest, GitHttpResponse } from 'isomorphic-git';
import { GitRollbackError, GitTimeoutError, TransferLimitExceededError, type TransferLimitKind } from './errors.js';
import type { ResolvedRemote } from './remote-endpoint.js';
import { httpStatusError } from './remote-errors.js';
import type { TransferLimits } from './transfer-limits.js';
import type { GitTransport } from './transport.js';

/** What one operation needs to time out, stay within limits and report errors without secrets. */
export interface CallContext {
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
export function startCall(remote: ResolvedRemote, operation: string): CallContext {
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
export async function requestWithTimeout(req: GitHttpRequest, ctx: CallContext): Promise<GitHttpResponse> {
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
    const check = (total: number) => {
      if (total > limit) throw new TransferLimitExceededError({ url: ctx.remote.url, what, limit });
    };
    return { ...res, body: guardBody(res.body, { expired, arm, release, check, fail: abort }) };
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
  /** Throws when `total` bytes so far go over the limit. */
  check: (total: number) => void;
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
      if (done) return;
      total += value.byteLength;
      runCheck(hooks, () => hooks.check(total));
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

export function assertHttpOk(res: GitHttpResponse, ctx: CallContext): void {
  if (res.statusCode === 200) return;
  throw httpStatusError(res.statusCode, ctx.remote.url);
}
