/**
 * Bounds on what a git server controls during one network operation: bytes, objects and time.
 * The references are git's own `transfer.*`/`http.*` settings and the memory the operator's
 * container has (config/manager: 512 MiB). A fetched pack streams to disk and is indexed as it
 * arrives (./pack-indexer.ts), with memory flat in its size, so:
 *
 * - `maxPackBytes` (128 MiB): the disk one fetch may fill. A shallow fetch of a GitOps repository
 *   is typically a few MiB; all objects of a pack may inflate to 64 times this together.
 * - `maxObjectBytes` (32 MiB): the size one object may declare or inflate to (deltas: the size of
 *   their result); indexing holds one such object. Manifests are kilobytes; this also covers
 *   vendored charts and small binaries.
 * - `maxObjects` (500,000): indexing keeps about 60 bytes per object.
 * - `maxAdvertisementBytes` (16 MiB): ref advertisements and push reports; 16 MiB is ~200,000 refs.
 * - `deadlineMs` (5 min): a whole fetch, deepen or push, however steadily the server trickles.
 */

export interface TransferLimits {
  /** Bytes of one upload-pack response (the pack and its side-band framing, decompressed). */
  maxPackBytes: number;
  /** Declared or inflated size of one object in a fetched pack (a delta: its result). */
  maxObjectBytes: number;
  /** Objects one fetched pack may declare. */
  maxObjects: number;
  /** Bytes of a ref advertisement (info/refs, SSH) or a push report. */
  maxAdvertisementBytes: number;
  /** Total time of one network operation (fetch, deepen, push), idle or not. */
  deadlineMs: number;
}

const MiB = 1024 * 1024;

export const DEFAULT_TRANSFER_LIMITS: Readonly<TransferLimits> = Object.freeze({
  maxPackBytes: 128 * MiB,
  maxObjectBytes: 32 * MiB,
  maxObjects: 500_000,
  maxAdvertisementBytes: 16 * MiB,
  deadlineMs: 5 * 60_000,
});

/** The defaults, overridden by the given (defined) values. */
export function resolveTransferLimits(overrides: Partial<TransferLimits> = {}): TransferLimits {
  const limits = { ...DEFAULT_TRANSFER_LIMITS };
  for (const [key, value] of Object.entries(overrides) as [keyof TransferLimits, number | undefined][]) {
    if (value !== undefined) limits[key] = value;
  }
  return limits;
}

/**
 * Parses a byte size such as `134217728`, `128Mi`, `512Ki` or `1Gi` (Kubernetes quantity
 * suffixes, binary only). Returns undefined when the text is not a positive size.
 */
export function parseByteSize(text: string): number | undefined {
  const match = /^\s*(\d+)\s*(Ki|Mi|Gi)?\s*$/.exec(text);
  if (!match) return undefined;
  const factor = match[2] === 'Ki' ? 1024 : match[2] === 'Mi' ? MiB : match[2] === 'Gi' ? 1024 * MiB : 1;
  const value = Number(match[1]) * factor;
  return Number.isSafeInteger(value) && value > 0 ? value : undefined;
}
