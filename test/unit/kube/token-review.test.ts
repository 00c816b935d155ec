/**
 * The cached bearer-token decision for /metrics (TokenReview, then SubjectAccessReview), with the
 * two reviews faked at their port: who is asked, what is cached and for how long, and the bounds
 * (token length, reviews in flight, cache size).
 */
import { createBearerTokenAuthorizer, ReviewBusyError, type AccessReviews, type ReviewedUser } from '../../../src/kube/token-review.js';

/** Reviews that know `users` (token -> user) and allow `readers` (usernames); counts the calls. */
function fakeReviews(users: Record<string, string>, readers: string[]) {
  const calls = { token: 0, access: [] as { user: ReviewedUser; path: string; verb: string }[] };
  const reviews: AccessReviews = {
    reviewToken: async (token) => {
      calls.token++;
      return users[token] ? { username: users[token], groups: ['system:authenticated'] } : null;
    },
    reviewAccess: async (user, path, verb) => {
      calls.access.push({ user, path, verb });
      return readers.includes(user.username);
    },
  };
  return { reviews, calls };
}

describe('bearer token authorizer', () => {
  test.each([
    ['no token', undefined, 'unauthenticated'],
    ['an unknown token', 'nope', 'unauthenticated'],
    ['a user without the right', 'stranger-token', 'forbidden'],
    ['a user with the right', 'reader-token', 'allowed'],
  ] as const)('%s is %s', async (_name, token, decision) => {
    const { reviews, calls } = fakeReviews({ 'stranger-token': 'stranger', 'reader-token': 'prometheus' }, ['prometheus']);
    const authorize = createBearerTokenAuthorizer(reviews, { path: '/metrics', verb: 'get' });
    expect(await authorize(token)).toBe(decision);
    for (const call of calls.access) expect(call).toMatchObject({ path: '/metrics', verb: 'get' });
  });

  test('answers are reused until their time is up, allowed longer than denied', async () => {
    let now = 0;
    const { reviews, calls } = fakeReviews({ r: 'prometheus', s: 'stranger' }, ['prometheus']);
    const authorize = createBearerTokenAuthorizer(reviews, { path: '/metrics', verb: 'get', allowedTtlMs: 60_000, deniedTtlMs: 10_000, now: () => now });
    await authorize('r');
    await authorize('s');
    now = 9_999;
    await authorize('r');
    await authorize('s');
    expect(calls.token).toBe(2);
    now = 10_001;
    await authorize('r');
    await authorize('s');
    expect(calls.token).toBe(3);
    now = 60_001;
    await authorize('r');
    expect(calls.token).toBe(4);
  });

  test('a token longer than 8 KiB is refused without asking the API server', async () => {
    const { reviews, calls } = fakeReviews({}, []);
    expect(await createBearerTokenAuthorizer(reviews, { path: '/metrics', verb: 'get' })('x'.repeat(8193))).toBe('unauthenticated');
    expect(calls.token).toBe(0);
  });

  test('reviews in flight are bounded: beyond the limit the caller is told to come back', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const reviews: AccessReviews = { reviewToken: async () => (await gate, null), reviewAccess: async () => false };
    const authorize = createBearerTokenAuthorizer(reviews, { path: '/metrics', verb: 'get', maxInFlight: 2 });
    const first = [authorize('a'), authorize('b')];
    await expect(authorize('c')).rejects.toBeInstanceOf(ReviewBusyError);
    release();
    expect(await Promise.all(first)).toEqual(['unauthenticated', 'unauthenticated']);
    expect(await authorize('c')).toBe('unauthenticated');
  });

  test('the cache holds at most maxEntries answers, dropping the oldest', async () => {
    const { reviews, calls } = fakeReviews({}, []);
    const authorize = createBearerTokenAuthorizer(reviews, { path: '/metrics', verb: 'get', maxEntries: 3 });
    for (const token of ['a', 'b', 'c', 'd']) await authorize(token);
    await authorize('d');
    expect(calls.token).toBe(4);
    await authorize('a');
    expect(calls.token).toBe(5);
  });

  test('an API error is passed on and not cached', async () => {
    let fail = true;
    const reviews: AccessReviews = {
      reviewToken: async () => {
        if (fail) throw new Error('connection refused');
        return { username: 'prometheus' };
      },
      reviewAccess: async () => true,
    };
    const authorize = createBearerTokenAuthorizer(reviews, { path: '/metrics', verb: 'get' });
    await expect(authorize('t')).rejects.toThrow('connection refused');
    fail = false;
    expect(await authorize('t')).toBe('allowed');
  });
});
