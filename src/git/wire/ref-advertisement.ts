/**
 * The ref advertisement of protocol v0 (git's Documentation/gitprotocol-pack.txt, isomorphic-git's
 * src/wire/parseRefsAdResponse.js): `<oid> <refname>` lines, capabilities after a NUL on the
 * first, ended by a flush; smart HTTP puts a `# service=<service>` packet and a flush before it.
 */
import { encodePktLine, FLUSH_PKT, parsePktLines } from './pkt-line.js';

export type GitService = 'git-upload-pack' | 'git-receive-pack';

export interface RefAdvertisement {
  /** Ref name to oid; peeled `^{}` entries are left out. */
  refs: Map<string, string>;
  capabilities: Set<string>;
}

/** The `# service=` packet and flush smart HTTP sends before the advertisement itself. */
export function encodeServiceAnnouncement(service: GitService): Buffer {
  return Buffer.concat([encodePktLine(`# service=${service}\n`), FLUSH_PKT]);
}

/** Parses an advertisement, with or without smart HTTP's service announcement. */
export function parseRefAdvertisement(body: Buffer): RefAdvertisement {
  const lines = parsePktLines(body);
  if (lines[0]?.toString('utf8').startsWith('# service=')) lines.splice(0, 2);
  const refs = new Map<string, string>();
  let capabilities = new Set<string>();
  for (const line of lines) {
    if (!line) break;
    const text = line.toString('utf8').replace(/\n$/, '');
    const [refPart, caps] = text.split('\0');
    if (caps !== undefined) capabilities = new Set(caps.split(' ').filter(Boolean));
    const [oid, name] = refPart.split(' ');
    if (name && !name.endsWith('^{}')) refs.set(name, oid);
  }
  return { refs, capabilities };
}
