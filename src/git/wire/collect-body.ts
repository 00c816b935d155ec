/**
 * Gathers a request or response body (isomorphic-git's async iterator of chunks, or an array
 * of them) into one buffer: a POST is sent whole, with its Content-Length, and small answers
 * (advertisements, push reports) are parsed whole. Unbounded by itself: response bodies are
 * read through the call's byte limit (../remote-call.ts), request bodies are ours.
 */
export async function collectBody(body: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | undefined): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  if (body) for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks);
}
