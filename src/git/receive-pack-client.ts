/**
 * The two smart-HTTP exchanges of a push (git's Documentation/gitprotocol-http.txt): GET
 * info/refs?service=git-receive-pack for the server's refs and capabilities, then POST
 * git-receive-pack with the request (./wire/receive-pack-request.ts) for its report-status
 * (./wire/report-status.ts). Both go through the operation's call (./remote-call.ts), so they
 * are timed and their answers bounded by `maxAdvertisementBytes`.
 */
import { assertHttpOk, requestWithTimeout, type CallContext } from './remote-call.js';
import { notGitServer } from './remote-errors.js';
import { collectBody } from './wire/collect-body.js';
import { parseRefAdvertisement, type RefAdvertisement } from './wire/ref-advertisement.js';
import { parseReportStatus, type PushReport } from './wire/report-status.js';

/** GET info/refs?service=git-receive-pack: the refs the server has now, and its capabilities. */
export async function discoverReceivePack(ctx: CallContext): Promise<RefAdvertisement> {
  const res = await requestWithTimeout({ method: 'GET', url: `${ctx.remote.url}/info/refs?service=git-receive-pack`, headers: { ...ctx.remote.headers } }, ctx);
  const body = await collectBody(res.body);
  assertHttpOk(res, ctx);
  if (!res.headers?.['content-type']?.startsWith('application/x-git-receive-pack-advertisement')) {
    throw notGitServer(ctx.remote.url);
  }
  return parseRefAdvertisement(body);
}

/** POSTs the pack to git-receive-pack; returns the report-status lines and remote messages. */
export async function postReceivePack(ctx: CallContext, body: Buffer, sideBand: boolean): Promise<PushReport> {
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
  const raw = await collectBody(res.body);
  assertHttpOk(res, ctx);
  return parseReportStatus(raw, sideBand);
}
