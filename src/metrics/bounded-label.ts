/**
 * Bounds the values of a metric label a tenant controls (repository URLs, changed paths, policy
 * names): each value is cut to a maximum length, and only the first `maxValues` distinct values
 * seen keep their own series; later ones share OTHER_LABEL_VALUE. Prometheus keeps a series per
 * label combination, so an unbounded label is unbounded memory in the operator and the server.
 */

/** The value every label beyond the first `maxValues` distinct ones is counted under. */
export const OTHER_LABEL_VALUE = 'other';

/** Default bounds: distinct values per label, and characters per value. */
export const LABEL_VALUE_LIMITS = { maxValues: 100, maxLength: 128 } as const;

/** The distinct values seen for one label, up to a limit. */
export class BoundedLabelValues {
  private readonly seen = new Set<string>();

  constructor(
    readonly maxValues: number = LABEL_VALUE_LIMITS.maxValues,
    readonly maxLength: number = LABEL_VALUE_LIMITS.maxLength,
  ) {}

  /** The value to record: itself (cut to maxLength) while there is room, else OTHER_LABEL_VALUE. */
  bound(value: string): string {
    const cut = value.slice(0, this.maxLength);
    if (this.seen.has(cut)) return cut;
    if (this.seen.size >= this.maxValues) return OTHER_LABEL_VALUE;
    this.seen.add(cut);
    return cut;
  }

  /** How many distinct values have their own series. */
  get size(): number {
    return this.seen.size;
  }
}
