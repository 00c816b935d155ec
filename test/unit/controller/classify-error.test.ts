/**
 * classify-error for the engine's failures that used to arrive untyped: the disk, a damaged or
 * refused repository, and the last resort. Sorted the same after crossing from an engine worker.
 */
import * as fs from 'node:fs';
import { Reason } from '../../../src/api/v1alpha1/conditions.js';
import { classifyError } from '../../../src/controller/classify-error.js';
import { reviveError, serializeError } from '../../../src/controller/engine-protocol.js';
import { CorruptRepositoryError, InternalError, StorageError } from '../../../src/git/errors.js';
import { toTypedError } from '../../../src/git/remote-errors.js';

const storage = (errno: string) => new StorageError({ location: 'cache', errno, syscall: 'write', path: '/var/cache/gitops-rollback' });
const corrupt = (kind: 'damaged' | 'malformed', removed: boolean) =>
  new CorruptRepositoryError({ repository: 'https://git.example.com/app.git', kind, detail: 'x', removed });

describe('classifyError', () => {
  const cases: [string, Error, { stalling: boolean; reason: string }][] = [
    ['a full cache volume is retried (eviction or other runs may free it)', storage('ENOSPC'), { stalling: false, reason: Reason.StorageFailed }],
    ['a read-only cache volume makes Stalled=True', storage('EROFS'), { stalling: true, reason: Reason.StorageFailed }],
    ['an unwritable cache directory makes Stalled=True', storage('EACCES'), { stalling: true, reason: Reason.StorageFailed }],
    ['a damaged cache that was removed is retried (fetched again)', corrupt('damaged', true), { stalling: false, reason: Reason.RepositoryCorrupt }],
    ['a damaged repository not removed makes Stalled=True', corrupt('damaged', false), { stalling: true, reason: Reason.RepositoryCorrupt }],
    ['an object the engine refuses makes Stalled=True', corrupt('malformed', false), { stalling: true, reason: Reason.RepositoryCorrupt }],
    [
      "the engine's last resort is retried as InternalError",
      new InternalError({ name: 'TypeError', detail: 'boom' }),
      { stalling: false, reason: Reason.InternalError },
    ],
  ];
  test.each(cases)('%s', (_name, error, expected) => {
    expect(classifyError(error)).toEqual({ ...expected, message: error.message });
    expect(classifyError(reviveError(serializeError(error)))).toEqual({ ...expected, message: error.message });
  });

  test('an unknown error is InternalError, never "Unexpected error"', () => {
    expect(classifyError(new RangeError('Invalid array length'))).toEqual({
      stalling: false,
      reason: Reason.InternalError,
      message: 'Internal error: Invalid array length',
    });
  });

  test('messages say what to do', () => {
    expect(storage('ENOSPC').message).toBe(
      'The cache directory (/var/cache/gitops-rollback) cannot be used: no space left on the device (ENOSPC on write); free space on its volume, or choose another directory',
    );
    expect(corrupt('damaged', true).message).toContain('it was removed and is fetched again on the next run');
  });
});

describe('toTypedError (a network operation)', () => {
  const call = { remote: { url: 'https://git.example.com/app.git', branch: 'main', secrets: [] } };

  test('a full disk while the fetch writes the cache is StorageError, not a RemoteError', () => {
    let enospc: unknown;
    try {
      fs.writeFileSync('/dev/full', 'x');
    } catch (error) {
      enospc = error;
    }
    expect(enospc).toMatchObject({ code: 'ENOSPC' });
    expect(toTypedError(enospc, call)).toMatchObject({ code: 'StorageError', data: { location: 'cache', errno: 'ENOSPC', syscall: 'write' } });
  });

  test('a connection reset stays a RemoteError', () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', syscall: 'read' });
    expect(toTypedError(reset, call)).toMatchObject({ code: 'RemoteError' });
  });
});
