/**
 * Inflates zlib streams one after another through one zlib handle, reset between streams, into
 * a caller's buffer. `zlib.inflateSync` builds a whole stream object per call (a Transform with
 * its state, a native handle, a 16 KiB output chunk): for a pack of 50,000 small manifests that
 * was most of the indexing time and of the garbage. The handle of one `zlib.Inflate` is used
 * directly (`_handle.writeSync`, `_writeState`, `reset`), as zlib.js itself does in
 * processChunkSync. That is internal to Node: its shape is checked once, and when it differs
 * every call goes through inflateSync instead (same results, slower).
 */
import * as zlib from 'node:zlib';

export type InflateResult =
  /** The stream ended: `body` (a view of the output buffer) and the compressed bytes it took. */
  | { kind: 'done'; body: Buffer; consumed: number }
  /** The input ends before the stream does. */
  | { kind: 'incomplete' }
  /** The stream produces more than `size` bytes. */
  | { kind: 'too-large' }
  /** Not a zlib stream, or a damaged one. */
  | { kind: 'corrupt'; reason: string };

interface RawHandle {
  reset(): void;
  writeSync(flush: number, input: Buffer, inOffset: number, inLength: number, output: Buffer, outOffset: number, outLength: number): void;
}

interface InternalInflate {
  _handle?: RawHandle;
  _writeState?: Uint32Array;
  destroyed: boolean;
  errored?: { code?: string; message?: string } | null;
}

export class Inflater {
  private stream?: zlib.Inflate;

  /**
   * Inflates the zlib stream at the start of `input`, expecting `size` bytes, into `output`
   * (at least size + 1 bytes: one more tells "longer" from "exact").
   */
  inflate(input: Buffer, size: number, output: Buffer): InflateResult {
    const stream = this.handle();
    if (!stream) return inflateWithSync(input, size, output);
    const internal = stream as unknown as InternalInflate;
    internal._handle!.reset();
    internal._handle!.writeSync(zlib.constants.Z_FINISH, input, 0, input.length, output, 0, size + 1);
    if (internal.destroyed) {
      // Errors are reported through the stream, which closes its handle: start a new one.
      this.stream = undefined;
      const code = internal.errored?.code;
      return code === 'Z_BUF_ERROR' ? { kind: 'incomplete' } : { kind: 'corrupt', reason: code ?? 'zlib error' };
    }
    const [outLeft, inLeft] = internal._writeState!;
    const produced = size + 1 - outLeft;
    if (produced > size) return { kind: 'too-large' };
    return { kind: 'done', body: output.subarray(0, produced), consumed: input.length - inLeft };
  }

  /** The reusable stream, or undefined when this Node's zlib does not have the expected shape. */
  private handle(): zlib.Inflate | undefined {
    if (this.stream) return this.stream;
    if (usable === false) return undefined;
    const stream = zlib.createInflate();
    const internal = stream as unknown as InternalInflate;
    usable = typeof internal._handle?.writeSync === 'function' && typeof internal._handle.reset === 'function' && internal._writeState instanceof Uint32Array;
    if (!usable) return undefined;
    // The stream is never written through; errors reach us through `destroyed` and `errored`.
    stream.on('error', () => {});
    this.stream = stream;
    return stream;
  }

  close(): void {
    this.stream?.close();
    this.stream = undefined;
  }
}

let usable: boolean | undefined;

/** The same through zlib.inflateSync (exported for the test that compares the two). */
export function inflateWithSync(input: Buffer, size: number, output: Buffer): InflateResult {
  let result: { buffer: Buffer; engine: { bytesWritten: number } };
  try {
    result = zlib.inflateSync(input, { info: true, chunkSize: Math.max(64, size + 1), maxOutputLength: size + 1 }) as unknown as typeof result;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') return { kind: 'too-large' };
    if (code === 'Z_BUF_ERROR') return { kind: 'incomplete' };
    return { kind: 'corrupt', reason: code ?? 'zlib error' };
  }
  if (result.buffer.length > size) return { kind: 'too-large' };
  result.buffer.copy(output);
  return { kind: 'done', body: output.subarray(0, result.buffer.length), consumed: result.engine.bytesWritten };
}
