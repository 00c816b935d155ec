import { UploadPackProtocolError, UploadPackResponseReader, type UploadPackEvent } from '../../../src/git/wire/upload-pack-response.js';

function pkt(payload: string | Buffer): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  return Buffer.concat([Buffer.from((data.length + 4).toString(16).padStart(4, '0')), data]);
}
const FLUSH = Buffer.from('0000');
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);

/** Feeds the response one byte at a time (the hardest split) and collects the events. */
function read(response: Buffer): UploadPackEvent[] {
  const reader = new UploadPackResponseReader();
  const events: UploadPackEvent[] = [];
  for (let i = 0; i < response.length; i++) events.push(...reader.push(response.subarray(i, i + 1)));
  reader.end();
  return events;
}

describe('UploadPackResponseReader', () => {
  test('shallow-info, NAK, then pack data and progress from the side bands', () => {
    const response = Buffer.concat([
      pkt(`shallow ${A}\n`),
      pkt(`unshallow ${B}\n`),
      FLUSH,
      pkt('NAK\n'),
      pkt(Buffer.concat([Buffer.from([1]), Buffer.from('PACK')])),
      pkt(Buffer.concat([Buffer.from([2]), Buffer.from('Counting objects: 3\r')])),
      pkt(Buffer.concat([Buffer.from([1]), Buffer.from('rest')])),
      FLUSH,
    ]);
    const events = read(response);
    expect(events.map((e) => e.kind)).toEqual(['shallow', 'unshallow', 'pack', 'progress', 'pack']);
    expect(events[0]).toEqual({ kind: 'shallow', oid: A });
    expect(Buffer.concat(events.filter((e) => e.kind === 'pack').map((e) => (e as { data: Buffer }).data)).toString()).toBe('PACKrest');
  });

  test('an ACK of our have also starts the pack, and more ACKs before it are read as such', () => {
    expect(read(Buffer.concat([pkt(`ACK ${A}\n`), pkt(Buffer.from([1, 0x50])), FLUSH])).map((e) => e.kind)).toEqual(['pack']);
    // git 2.39 answering a deepen: its head, then the boundary commit it deepened past.
    const twice = Buffer.concat([
      pkt(`shallow ${A}\n`),
      pkt(`unshallow ${B}\n`),
      FLUSH,
      pkt(`ACK ${A}\n`),
      pkt(`ACK ${B}\n`),
      pkt(Buffer.from([1, 0x50])),
      FLUSH,
    ]);
    expect(read(twice).map((e) => e.kind)).toEqual(['shallow', 'unshallow', 'pack']);
  });

  test.each([
    ['not pkt-lines', Buffer.from('PACK\0\0\0\x02'), /not in pkt-line format/, false],
    ['an ERR line', pkt('ERR upload-pack: not our ref deadbeef\n'), /^upload-pack: not our ref deadbeef$/, true],
    [
      'a fatal side-band message',
      Buffer.concat([pkt('NAK\n'), pkt(Buffer.concat([Buffer.from([3]), Buffer.from('fatal: out of memory\x1b[31m\n')]))]),
      /^fatal: out of memory \[31m$/,
      true,
    ],
    ['an unknown line', pkt('HELLO\n'), /unexpected line/, false],
    ['a packet longer than git writes', Buffer.from('fff1'), /invalid length/, false],
    ['data after the final flush', Buffer.concat([pkt('NAK\n'), FLUSH, pkt(Buffer.from([1, 1]))]), /after the end of the pack/, false],
    ['an end before the pack', Buffer.concat([pkt(`shallow ${A}\n`), FLUSH]), /ends before the pack/, false],
  ])('refuses %s', (_name, response, message, fromServer) => {
    let error: unknown;
    try {
      read(response);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UploadPackProtocolError);
    expect((error as UploadPackProtocolError).detail).toMatch(message);
    expect((error as UploadPackProtocolError).fromServer).toBe(fromServer);
  });
});
