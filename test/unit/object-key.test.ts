import { objectKey, splitObjectKey } from '../../src/object-key.js';
import { shortSha } from '../../src/short-sha.js';

describe('object keys and short SHAs', () => {
  test('a key is namespace/name and splits back into both', () => {
    const key = objectKey({ metadata: { namespace: 'flux-system', name: 'apps' } });
    expect(key).toBe('flux-system/apps');
    expect(splitObjectKey(key)).toEqual({ namespace: 'flux-system', name: 'apps' });
  });

  test('a SHA is shown by its first 12 hex digits, a missing one as (unknown)', () => {
    expect(shortSha('0123456789abcdef0123456789abcdef01234567')).toBe('0123456789ab');
    expect(shortSha(undefined)).toBe('(unknown)');
  });
});
