/**
 * Authentication and authorization of a bearer token, as controller-runtime's
 * `filters.WithAuthenticationAndAuthorization` (and kube-rbac-proxy) do for /metrics: a
 * TokenReview says who the token belongs to, then a SubjectAccessReview asks whether that user
 * may `get` the non-resource URL. Answers are cached briefly by the token's SHA-256 (allowed
 * longer than denied), the cache is bounded, and so are the reviews in flight, so a caller
 * spraying tokens cannot make the operator flood the API server.
 */
import { createHash } from 'node:crypto';
import { AuthenticationV1Api, AuthorizationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { createApiClient } from './client.js';
import { CodedError } from '../coded-error.js';

/** What a request with this bearer token may do: 401, 403, or go ahead. */
export type AccessDecision = 'allowed' | 'unauthenticated' | 'forbidden';

/** The user a TokenReview authenticated. */
export interface ReviewedUser {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

/** The two API calls, as a port (faked in unit tests). */
export interface AccessReviews {
  /** The token's user, or null when the API server does not authenticate it. */
  reviewToken(token: string): Promise<ReviewedUser | null>;
  /** Whether `user` may `verb` the non-resource URL `path`. */
  reviewAccess(user: ReviewedUser, path: string, verb: string): Promise<boolean>;
}

/** Raised when too many reviews are in flight; the caller answers 503 and nothing is cached. */
export class ReviewBusyError extends CodedError {
  readonly code = 'ReviewBusyError' as const;
  constructor(readonly data: { inFlight: number }) {
    super(`Too many access reviews in flight (${data.inFlight}); try again`);
  }
}

export interface AuthorizerOptions {
  /** The non-resource URL and verb checked, e.g. /metrics and get. */
  path: string;
  verb: string;
  /** How long an allowed answer is reused (kube-rbac-proxy: minutes; ours shorter). */
  allowedTtlMs?: number;
  /** How long a 401/403 answer is reused. */
  deniedTtlMs?: number;
  /** Cached answers at most (oldest dropped first). */
  maxEntries?: number;
  /** Reviews in flight at most. */
  maxInFlight?: number;
  now?: () => number;
}

/** Bearer tokens longer than this are refused without a review (ServiceAccount tokens are ~1 KiB). */
export const MAX_BEARER_TOKEN_LENGTH = 8192;

const REQUEST_TIMEOUT_MS = 10_000;

/** The TokenReview and SubjectAccessReview calls on the API server (needs `create` on both). */
export function createKubeAccessReviews(kubeConfig: KubeConfig): AccessReviews {
  const authentication = createApiClient(kubeConfig, AuthenticationV1Api, { timeoutMs: REQUEST_TIMEOUT_MS });
  const authorization = createApiClient(kubeConfig, AuthorizationV1Api, { timeoutMs: REQUEST_TIMEOUT_MS });
  return {
    async reviewToken(token) {
      const review = await authentication.createTokenReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } } });
      const user = review.status?.user;
      if (!review.status?.authenticated || !user?.username) return null;
      return { username: user.username, uid: user.uid, groups: user.groups, extra: user.extra };
    },
    async reviewAccess(user, path, verb) {
      const review = await authorization.createSubjectAccessReview({
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: { user: user.username, uid: user.uid, groups: user.groups, extra: user.extra, nonResourceAttributes: { path, verb } },
        },
      });
      return review.status?.allowed === true;
    },
  };
}

/**
 * A cached decision function for bearer tokens. Rejects with ReviewBusyError (or the API
 * error) when it cannot decide; those are not cached.
 */
export function createBearerTokenAuthorizer(reviews: AccessReviews, options: AuthorizerOptions): (token: string | undefined) => Promise<AccessDecision> {
  const { path, verb, allowedTtlMs = 60_000, deniedTtlMs = 10_000, maxEntries = 1000, maxInFlight = 16, now = Date.now } = options;
  const cache = new Map<string, { decision: AccessDecision; expires: number }>();
  let inFlight = 0;

  const decide = async (token: string): Promise<AccessDecision> => {
    const user = await reviews.reviewToken(token);
    if (!user) return 'unauthenticated';
    return (await reviews.reviewAccess(user, path, verb)) ? 'allowed' : 'forbidden';
  };

  return async (token) => {
    if (!token || token.length > MAX_BEARER_TOKEN_LENGTH) return 'unauthenticated';
    const key = createHash('sha256').update(token).digest('hex');
    const cached = cache.get(key);
    if (cached && cached.expires > now()) return cached.decision;
    cache.delete(key);
    if (inFlight >= maxInFlight) throw new ReviewBusyError({ inFlight });
    inFlight++;
    try {
      const decision = await decide(token);
      if (cache.size >= maxEntries) cache.delete(cache.keys().next().value!);
      cache.set(key, { decision, expires: now() + (decision === 'allowed' ? allowedTtlMs : deniedTtlMs) });
      return decision;
    } finally {
      inFlight--;
    }
  };
}
