/**
 * The body of a git-upload-pack request in protocol v0 over stateless HTTP (git's
 * Documentation/gitprotocol-pack.txt "Packfile Negotiation", gitprotocol-http.txt): the wanted
 * commit with our capabilities, the client's shallow commits, the depth, a flush, what we have,
 * then `done`. Sending everything we have at once with `done` (no flush between: on stateless
 * HTTP a flush after the haves ends the request without a pack) is what git does for a single
 * known head, and it makes the server answer with one ACK or NAK and then the pack.
 */
import { encodePktLine, FLUSH_PKT } from './pkt-line.js';

export interface UploadPackRequest {
  want: string;
  /** Commits we have: the server leaves out what they reach. */
  haves: string[];
  /** The client's shallow boundary (the `shallow` file): the server does not go below them. */
  shallows: string[];
  /** `deepen <depth>`: commits from the want (or, with `relative`, below the shallow boundary). */
  depth?: number;
  relative?: boolean;
  capabilities: string[];
}

export function encodeUploadPackRequest(request: UploadPackRequest): Buffer {
  const lines = [encodePktLine(`want ${request.want} ${request.capabilities.join(' ')}\n`)];
  for (const oid of request.shallows) lines.push(encodePktLine(`shallow ${oid}\n`));
  if (request.depth !== undefined) lines.push(encodePktLine(`deepen ${request.depth}\n`));
  lines.push(FLUSH_PKT);
  for (const oid of request.haves) lines.push(encodePktLine(`have ${oid}\n`));
  lines.push(encodePktLine('done\n'));
  return Buffer.concat(lines);
}
