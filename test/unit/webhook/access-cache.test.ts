/** The receiver's policy/token cache: what a storm of requests costs the API server. */
import { cachedLoader } from '../../../src/webhook/access-cache.js';

describe('cachedLoader', () => {
  test('100 concurrent lookups of one policy make one call; answers are reused until the TTL passes', async () => {
    let time = 0;
    const calls: string[] = [];
    const load = cachedLoader(async (key) => (calls.push(key), `token-of-${key}`), { ttlMs: 5000, maxEntries: 10, now: () => time });
    const answers = await Promise.all(Array.from({ length: 100 }, () => load('ns/apps')));
    expect(new Set(answers)).toEqual(new Set(['token-of-ns/apps']));
    expect(calls).toEqual(['ns/apps']);
    time = 4999;
    await load('ns/apps');
    expect(calls).toHaveLength(1);
    time = 5000;
    await load('ns/apps');
    expect(calls).toHaveLength(2);
  });

  test('a failure is not kept: the next request tries again', async () => {
    let fail = true;
    const load = cachedLoader(
      async () => {
        if (fail) throw new Error('API down');
        return 'ok';
      },
      { ttlMs: 5000, maxEntries: 10 },
    );
    await expect(load('ns/apps')).rejects.toThrow('API down');
    fail = false;
    await expect(load('ns/apps')).resolves.toBe('ok');
  });

  test('keys are bounded: the oldest go first', async () => {
    const calls: string[] = [];
    const load = cachedLoader(async (key) => void calls.push(key), { ttlMs: 60_000, maxEntries: 2 });
    for (const key of ['a', 'b', 'c', 'a']) await load(key);
    // a was evicted by c, so it was loaded again.
    expect(calls).toEqual(['a', 'b', 'c', 'a']);
  });
});
