/**
 * The two smart-HTTP exchanges of a fetch (git's Documentation/gitprotocol-http.txt, protocol
 * v0): GET info/refs?service=git-upload-pack for the server's refs and capabilities, then POST
 * git-upload-pack with what we want and have (./wire/upload-pack-request.ts), whose answer
 * (./wire/upload-pack-response.ts) streams the pack into ./pack-indexer.ts. Both go through the
 * operation's call (./remote-call.ts): timed, and bounded by the advertisement and pack limits.
 */
import { RemoteError } from './errors.js';
import type { Fs } from './object-store.js';
import { PackIndexer, type IndexedPack } from './pack-indexer.js';
import { ObjectDatabase } from './pack-reader.js';
import { assertHttpOk, requestWithTimeout, type CallContext } from './remote-call.js';
import { notGitServer } from './remote-errors.js';
import { collectBody } from './wire/collect-body.js';
import { parseRefAdvertisement, type RefAdvertisement } from './wire/ref-advertisement.js';
import { encodeUploadPackRequest } from './wire/upload-pack-request.js';
import { UploadPackProtocolError, UploadPackResponseReader } from './wire/upload-pack-response.js';

/**
 * How many times the pack's byte limit all its objects may inflate to together. YAML deflates
 * about 5:1 and a delta chain of small edits far more; this bounds the CPU a pack of tiny
 * deltas that copy large bases could take (8 GiB with the default 128 MiB pack limit).
 */
export const INFLATED_BYTES_PER_PACK_BYTE = 64;

export interface PackRequest {
  want: string;
  haves: string[];
  shallows: string[];
  depth?: number;
  relative?: boolean;
}

export interface FetchedPack extends IndexedPack {
  /** Commits the server made shallow boundaries, and those it no longer treats as such. */
  shallow: string[];
  unshallow: string[];
}

/** GET info/refs?service=git-upload-pack: the server's refs and capabilities. */
export async function discoverUploadPack(ctx: CallContext): Promise<RefAdvertisement> {
  const res = await requestWithTimeout({ method: 'GET', url: `${ctx.remote.url}/info/refs?service=git-upload-pack`, headers: { ...ctx.remote.headers } }, ctx);
  const body = await collectBody(res.body);
  assertHttpOk(res, ctx);
  if (!res.headers?.['content-type']?.startsWith('application/x-git-upload-pack-advertisement')) throw notGitServer(ctx.remote.url);
  return parseRefAdvertisement(body);
}

/**
 * POSTs the request and indexes the pack of the answer into `gitdir`'s objects/pack as it
 * arrives. Nothing is left in the repository when it fails. Throws RemoteError (protocol, a
 * corrupt pack, the server's own error), TransferLimitExceededError, GitTimeoutError.
 */
export async function fetchPack(ctx: CallContext, fs: Fs, gitdir: string, request: PackRequest, advertised: RefAdvertisement): Promise<FetchedPack> {
  const { url, limits, headers, onProgress } = ctx.remote;
  const body = encodeUploadPackRequest({ ...request, capabilities: chooseCapabilities(advertised.capabilities, request, url) });
  const res = await requestWithTimeout(
    {
      method: 'POST',
      url: `${url}/git-upload-pack`,
      headers: { ...headers, 'Content-Type': 'application/x-git-upload-pack-request', Accept: 'application/x-git-upload-pack-result' },
      // The node client sends an array body as one buffer, with a Content-Length.
      body: [body] as unknown as AsyncIterableIterator<Uint8Array>,
    },
    ctx,
  );
  if (res.statusCode !== 200) {
    await collectBody(res.body);
    assertHttpOk(res, ctx);
  }
  const reader = new UploadPackResponseReader();
  const shallow: string[] = [];
  const unshallow: string[] = [];
  let indexer: PackIndexer | undefined;
  try {
    for await (const chunk of res.body ?? []) {
      for (const event of reader.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength))) {
        if (event.kind === 'shallow') shallow.push(event.oid);
        else if (event.kind === 'unshallow') unshallow.push(event.oid);
        else if (event.kind === 'pack') {
          indexer ??= new PackIndexer({
            fs,
            gitdir,
            url,
            ...limits,
            maxInflatedBytes: limits.maxPackBytes * INFLATED_BYTES_PER_PACK_BYTE,
            signal: ctx.deadline,
            onProgress,
            existingObject: (oid) => ObjectDatabase.open(fs, gitdir).read(oid),
          });
          await indexer.write(event.data);
        }
      }
    }
    reader.end();
    if (!indexer) throw new RemoteError({ url, detail: 'the server sent no pack' });
    return { ...(await indexer.finish()), shallow, unshallow };
  } catch (error) {
    indexer?.abort();
    if (error instanceof UploadPackProtocolError) {
      throw new RemoteError({ url, detail: error.fromServer ? `the server refused the fetch: ${error.detail}` : error.detail });
    }
    throw error;
  }
}

/**
 * What we ask for, among what the server offers: side-band-64k so the pack arrives apart from
 * messages, ofs-delta (smaller packs), no-progress (we report our own), and what shallow fetches
 * need. thin-pack when we send haves: the server may then write deltas against objects we have
 * (the indexer appends those bases), and for a shallow repository it is also what makes it leave
 * out what we have below the boundary (without it a deepen of the 50k-file bench repository was
 * re-sent whole: 5.4 MB against 53 KB).
 */
function chooseCapabilities(offered: Set<string>, request: PackRequest, url: string): string[] {
  if (!offered.has('side-band-64k')) throw new RemoteError({ url, detail: 'the server does not offer side-band-64k' });
  const wanted = ['side-band-64k', 'ofs-delta', 'no-progress', ...(request.haves.length > 0 ? ['thin-pack'] : [])].filter((capability) =>
    offered.has(capability),
  );
  if ((request.depth !== undefined || request.shallows.length > 0) && !offered.has('shallow')) {
    throw new RemoteError({ url, detail: 'the server does not support shallow fetches' });
  }
  if (request.relative) {
    if (!offered.has('deepen-relative')) throw new RemoteError({ url, detail: 'the server cannot deepen a shallow history (no deepen-relative)' });
    wanted.push('deepen-relative');
  }
  return [...wanted, 'agent=gitops-rollback'];
}
