/**
 * The body of a git-receive-pack request (git's Documentation/gitprotocol-pack.txt, "Reference
 * Update Request and Packfile Transfer"; isomorphic-git's src/wire/writeReceivePackRequest.js):
 * one command `<old> <new> <ref>` with our capabilities after a NUL, a flush, then the pack.
 */
import { encodePktLine, FLUSH_PKT } from './pkt-line.js';

export interface ReceivePackCommand {
  ref: string;
  oldHead: string;
  newHead: string;
  /** Ask for side-band-64k (when the server offers it), so its messages come back apart. */
  sideBand: boolean;
  packfile: Uint8Array;
}

export function encodeReceivePackRequest(args: ReceivePackCommand): Buffer {
  const capabilities = ['report-status', ...(args.sideBand ? ['side-band-64k'] : []), 'agent=gitops-rollback'];
  const command = `${args.oldHead} ${args.newHead} ${args.ref}\0${capabilities.join(' ')}\n`;
  return Buffer.concat([encodePktLine(command), FLUSH_PKT, args.packfile]);
}
