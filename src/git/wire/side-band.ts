/**
 * Side-band demultiplexing (git's Documentation/gitprotocol-pack.txt, side-band-64k;
 * isomorphic-git's src/models/GitSideBand.js): each packet's first byte names its band,
 * 1 data, 2 progress and messages, 3 a fatal error.
 */
import type { PktLine } from './pkt-line.js';

export interface SideBandStreams {
  /** Band 1, concatenated. */
  data: Buffer;
  /** Band 2, each packet's text as sent (progress meters included). */
  progress: string[];
  /** Band 3, the last one, trimmed. */
  fatal?: string;
}

export function demuxSideBand(packets: PktLine[]): SideBandStreams {
  const data: Buffer[] = [];
  const progress: string[] = [];
  let fatal: string | undefined;
  for (const packet of packets) {
    if (!packet || packet.length === 0) continue;
    const payload = packet.subarray(1);
    if (packet[0] === 1) data.push(payload);
    else if (packet[0] === 2) progress.push(payload.toString('utf8'));
    else if (packet[0] === 3) fatal = payload.toString('utf8').trim();
  }
  return { data: Buffer.concat(data), progress, fatal };
}
