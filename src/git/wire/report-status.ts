/**
 * The report-status answer of git-receive-pack (git's Documentation/gitprotocol-pack.txt,
 * "Report Status"; isomorphic-git's src/wire/parseReceivePackResponse.js): `unpack ok|<error>`,
 * then `ok <ref>` or `ng <ref> <reason>` per command, possibly inside side-band 1 with the
 * remote's messages (a hook's output) on band 2.
 */
import { PushRejectedError } from '../errors.js';
import { parsePktLines, pktLinesToText } from './pkt-line.js';
import { demuxSideBand } from './side-band.js';

export interface PushReport {
  lines: string[];
  /** Complete lines of remote output, bounded: at most 10, 200 characters each. */
  messages: string[];
  fatal?: string;
}

export function parseReportStatus(raw: Buffer, sideBand: boolean): PushReport {
  if (!sideBand) return { lines: pktLinesToText(parsePktLines(raw)), messages: [] };
  const { data, progress, fatal } = demuxSideBand(parsePktLines(raw));
  return { lines: pktLinesToText(parsePktLines(data)), messages: remoteMessages(progress), fatal };
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

/** Throws PushRejectedError unless the report says the pack unpacked and `ref` was updated. */
export function assertPushAccepted(report: PushReport, ref: string): void {
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
