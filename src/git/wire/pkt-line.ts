/**
 * pkt-line framing (git's Documentation/gitprotocol-common.txt, isomorphic-git's
 * src/models/GitPktLine.js): four hex digits giving the length including themselves, then the
 * payload; `0000` is a flush (and `0001`/`0002`, v2's delim and response-end, carry nothing).
 * Pure codecs, shared by the smart-HTTP client code and the SSH transport.
 */

/** The flush packet: ends a ref advertisement, a command list or a request. */
export const FLUSH_PKT = Buffer.from('0000');

/** One decoded packet: its payload, or `null` for a flush (and the v2 delim/end) packets. */
export type PktLine = Buffer | null;

export function encodePktLine(text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  return Buffer.concat([Buffer.from((payload.length + 4).toString(16).padStart(4, '0')), payload]);
}

/** Splits a complete pkt-line stream; stops quietly at the first length that is not hex. */
export function parsePktLines(buf: Buffer): PktLine[] {
  const packets: PktLine[] = [];
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

/** The payloads as text, flushes dropped, each without its trailing '\n'. */
export function pktLinesToText(packets: PktLine[]): string[] {
  return packets.filter((p): p is Buffer => p !== null).map((p) => p.toString('utf8').replace(/\n$/, ''));
}

/** Where {@link scanToFlush} got to in a buffer that is still growing. */
export type FlushScan =
  /** The flush packet ends at `end`: bytes after it belong to what follows. */
  | { kind: 'flush'; end: number }
  /** No flush yet: scan again from `offset` once more bytes arrived. */
  | { kind: 'incomplete'; offset: number }
  /** A length that is not hex: the stream is not pkt-lines. */
  | { kind: 'not-pkt-line' };

/**
 * Walks complete packets from `offset` to the first flush, for a reader that receives a stream
 * in chunks (the SSH ref advertisement) and must stop exactly after the flush.
 */
export function scanToFlush(buf: Buffer, offset: number): FlushScan {
  while (offset + 4 <= buf.length) {
    const length = parseInt(buf.subarray(offset, offset + 4).toString('latin1'), 16);
    if (Number.isNaN(length)) return { kind: 'not-pkt-line' };
    if (length === 0) return { kind: 'flush', end: offset + 4 };
    if (length < 4 || offset + length > buf.length) break;
    offset += length;
  }
  return { kind: 'incomplete', offset };
}
