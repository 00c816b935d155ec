/**
 * The JSON merge patch (RFC 7386) that turns one status into another, derived from the two
 * objects: what changed is set, what went away is null, nested objects are patched key by key and
 * lists are replaced whole (a merge patch cannot edit a list). Mirrors Flux's patch helper, which
 * diffs the object against the snapshot taken when the reconcile began and sends only that.
 */

/** A JSON merge patch: a value sets, null removes, a nested object patches that object. */
export type MergePatch = { [key: string]: unknown };

/** The patch from `before` to `after`; undefined when they hold the same JSON. Undefined values count as absent. */
export function diffMergePatch(before: object | undefined, after: object): MergePatch | undefined {
  const old = definedEntries(before ?? {});
  const next = definedEntries(after);
  const patch: MergePatch = {};
  for (const key of Object.keys(old)) if (!(key in next)) patch[key] = null;
  for (const [key, value] of Object.entries(next)) {
    if (isPlainObject(value) && isPlainObject(old[key])) {
      const nested = diffMergePatch(old[key], value);
      if (nested) patch[key] = nested;
    } else if (!isSameJson(old[key], value)) {
      patch[key] = value;
    }
  }
  return Object.keys(patch).length > 0 ? patch : undefined;
}

/** `target` with `patch` applied as the API server applies a merge patch (what fakes store). */
export function applyMergePatch<T extends object>(target: T | undefined, patch: MergePatch): T {
  const result: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else if (isPlainObject(value)) result[key] = applyMergePatch(isPlainObject(result[key]) ? result[key] : undefined, value);
    else result[key] = value;
  }
  return result as T;
}

/** Deep equality of JSON values whatever the key order (the API server returns keys sorted). */
export function isSameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (isPlainObject(value)) {
    return Object.fromEntries(
      Object.entries(definedEntries(value))
        .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
        .map(([k, v]) => [k, canonical(v)]),
    );
  }
  return value;
}

function definedEntries(value: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
