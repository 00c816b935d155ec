/**
 * A short-lived cache in front of the receiver's policy and token lookups: a storm of requests
 * (Flux re-sends, or a hostile caller) costs one policy read and one Secret read per policy every
 * few seconds instead of two API calls per request. Concurrent lookups of one key share one call;
 * failures are not kept (the next request tries again); entries are bounded in number.
 */

export interface CachedLoaderOptions {
  /** How long an answer is reused. */
  ttlMs: number;
  /** Most keys kept; the oldest go first. */
  maxEntries: number;
  now?: () => number;
}

/** Wraps `load` so that answers are reused for `ttlMs` and concurrent calls share one. */
export function cachedLoader<T>(load: (key: string) => Promise<T>, options: CachedLoaderOptions): (key: string) => Promise<T> {
  const now = options.now ?? Date.now;
  const entries = new Map<string, { value: Promise<T>; expiresAt: number }>();
  return (key) => {
    const cached = entries.get(key);
    if (cached && cached.expiresAt > now()) return cached.value;
    entries.delete(key);
    const value = load(key);
    entries.set(key, { value, expiresAt: now() + options.ttlMs });
    value.catch(() => {
      if (entries.get(key)?.value === value) entries.delete(key);
    });
    for (const oldest of entries.keys()) {
      if (entries.size <= options.maxEntries) break;
      entries.delete(oldest);
    }
    return value;
  };
}
