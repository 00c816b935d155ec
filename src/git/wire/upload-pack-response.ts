/**
 * Reads a git-upload-pack response (protocol v0, side-band-64k) as it streams in: first the
 * shallow-info lines (`shallow <oid>`, `unshallow <oid>`, a flush), then one `ACK <oid>` or
 * `NAK`, then the pack in side-band packets (1 pack data, 2 progress, 3 a fatal error) and a
 * final flush (git's Documentation/gitprotocol-pack.txt). Nothing here keeps more than the
 * packet being read: pack data goes on to the caller chunk by chunk.
 */
import { CodedError } from '../../coded-error.js';
import { ByteQueue } from './byte-queue.js';

export type UploadPackEvent =
  { kind: 'shallow'; oid: string } | { kind: 'unshallow'; oid: string } | { kind: 'pack'; data: Buffer } | { kind: 'progress'; text: string };

/** The largest pkt-line git writes (LARGE_PACKET_MAX): anything longer is not git. */
const MAX_PACKET = 65520;
const OID = /^[0-9a-f]{40}$/;

/** Why a response is not what upload-pack sends; the caller turns it into a typed error. */
export class UploadPackProtocolError extends CodedError {
  readonly code = 'UploadPackProtocolError' as const;
  constructor(
    readonly detail: string,
    /** The server said why (an ERR line or side band 3), in its words, cut to one short line. */
    readonly fromServer = false,
  ) {
    super(detail);
  }
}

export class UploadPackResponseReader {
  private readonly queue = new ByteQueue();
  private phase: 'negotiation' | 'pack' | 'ended' = 'negotiation';
  private acknowledged = false;

  /** Events for the packets this chunk completes; throws UploadPackProtocolError. */
  push(chunk: Buffer): UploadPackEvent[] {
    this.queue.push(chunk);
    const events: UploadPackEvent[] = [];
    for (;;) {
      const packet = this.nextPacket();
      if (packet === undefined) return events;
      if (this.phase === 'negotiation') this.readNegotiation(packet, events);
      else if (this.phase === 'pack') this.readSideBand(packet, events);
      else if (packet !== null) throw new UploadPackProtocolError('the server sent data after the end of the pack');
    }
  }

  /** The response ended: it must have got to the pack (an empty answer is not a fetch). */
  end(): void {
    if (this.queue.length > 0) throw new UploadPackProtocolError('the response ends inside a packet');
    if (this.phase === 'negotiation') throw new UploadPackProtocolError('the response ends before the pack');
  }

  /** The next packet's payload, null for a flush, undefined when incomplete. */
  private nextPacket(): Buffer | null | undefined {
    if (this.queue.length < 4) return undefined;
    const hex = this.queue.head(4).toString('latin1');
    if (!/^[0-9a-f]{4}$/i.test(hex)) throw new UploadPackProtocolError('the response is not in pkt-line format');
    const length = parseInt(hex, 16);
    if (length === 0) {
      this.queue.consume(4);
      return null;
    }
    if (length < 4 || length > MAX_PACKET) throw new UploadPackProtocolError(`a packet has an invalid length (${length})`);
    if (this.queue.length < length) return undefined;
    // A view, not a copy: the queue never writes into the chunks it was given.
    const payload = this.queue.head(length).subarray(4);
    this.queue.consume(length);
    return payload;
  }

  private readNegotiation(packet: Buffer | null, events: UploadPackEvent[]): void {
    if (packet === null) {
      // Before the ACKs: the end of the shallow-info section; after them: the end, no pack.
      if (this.acknowledged) this.phase = 'ended';
      return;
    }
    // The pack starts with the first side-band packet, after at least one ACK or NAK: a server
    // may acknowledge several of our haves (git 2.39 ACKs a deepened boundary commit again).
    if (this.acknowledged && packet[0] >= 1 && packet[0] <= 3) {
      this.phase = 'pack';
      this.readSideBand(packet, events);
      return;
    }
    const line = packet.toString('latin1').replace(/\n$/, '');
    const [word, argument = ''] = splitOnce(line);
    if ((word === 'shallow' || word === 'unshallow') && OID.test(argument) && !this.acknowledged) {
      events.push({ kind: word, oid: argument });
    } else if (word === 'NAK' || (word === 'ACK' && OID.test(argument.slice(0, 40)))) {
      this.acknowledged = true;
    } else if (word === 'ERR') {
      throw new UploadPackProtocolError(serverText(argument), true);
    } else {
      throw new UploadPackProtocolError('the server answered the fetch with an unexpected line');
    }
  }

  private readSideBand(packet: Buffer | null, events: UploadPackEvent[]): void {
    if (packet === null) {
      this.phase = 'ended';
      return;
    }
    const band = packet[0];
    if (band === 1) events.push({ kind: 'pack', data: packet.subarray(1) });
    else if (band === 2) events.push({ kind: 'progress', text: serverText(packet.subarray(1).toString('utf8')) });
    else if (band === 3) throw new UploadPackProtocolError(serverText(packet.subarray(1).toString('utf8')), true);
    else throw new UploadPackProtocolError(`a packet names an unknown side band (${band})`);
  }
}

function splitOnce(line: string): [string, string?] {
  const space = line.indexOf(' ');
  return space < 0 ? [line] : [line.slice(0, space), line.slice(space + 1)];
}

/** What a server says, as one printable line of at most 200 characters. */
function serverText(text: string): string {
  return text
    .replace(/[^\x20-\x7e]+/g, ' ')
    .trim()
    .slice(0, 200);
}
