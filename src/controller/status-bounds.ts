/**
 * Keeps a GitOpsRollback's status within what the API server and etcd accept, whatever the
 * repository holds: every list is cut to its first entries with a count beside it, every string
 * and message to a few KiB (the Kubernetes API conventions' answer to unbounded status, and why
 * Jobs report counts rather than lists of pods). A 600-conflict revert or a 30,000-path revert
 * then writes a status of a few tens of KiB instead of megabytes.
 */
import type { GitOpsRollbackStatus } from '../api/v1alpha1/types.js';

/** Entries kept per status list. */
export const MAX_STATUS_LIST_ITEMS = 100;
/** Bytes kept per condition message (the CRD allows 32,768 characters). */
export const MAX_MESSAGE_BYTES = 4096;
/** Bytes kept per other status string (a path, a Kustomization's message). */
export const MAX_STATUS_STRING_BYTES = 1024;

/** Cuts `text` to at most `maxBytes` UTF-8 bytes on a character boundary, ending in `...` when cut. */
export function truncateBytes(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let out = '';
  let bytes = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char);
    if (bytes + size > maxBytes - 3) break;
    out += char;
    bytes += size;
  }
  return `${out}...`;
}

/**
 * The status with every list bounded (first MAX_STATUS_LIST_ITEMS entries; `<list>Count` says
 * how many there were) and every string bounded. Idempotent: a bounded status stays as it is.
 */
export function boundStatus(status: GitOpsRollbackStatus): GitOpsRollbackStatus {
  const short = (text: string) => truncateBytes(text, MAX_STATUS_STRING_BYTES);
  const bounded: GitOpsRollbackStatus = { ...status };
  const list = <T>(items: T[] | undefined, each: (item: T) => T): T[] | undefined => items?.slice(0, MAX_STATUS_LIST_ITEMS).map(each);
  // A list already cut to the maximum keeps the count it was cut with (status read back and rewritten).
  const count = (items: unknown[] | undefined, previous: number | undefined) =>
    items === undefined ? undefined : items.length === MAX_STATUS_LIST_ITEMS && (previous ?? 0) > items.length ? previous : items.length;

  bounded.conditions = status.conditions?.map((c) => ({ ...c, message: truncateBytes(c.message, MAX_MESSAGE_BYTES) }));
  bounded.changedPathsCount = count(status.changedPaths, status.changedPathsCount);
  bounded.changedPaths = list(status.changedPaths, short);
  bounded.conflictsCount = count(status.conflicts, status.conflictsCount);
  bounded.conflicts = list(status.conflicts, (c) => ({ path: short(c.path), reason: short(c.reason) }));
  bounded.revertedCommitsCount = count(status.revertedCommits, status.revertedCommitsCount);
  bounded.revertedCommits = list(status.revertedCommits, short);
  bounded.revertCommitsCount = count(status.revertCommits, status.revertCommitsCount);
  bounded.revertCommits = list(status.revertCommits, short);
  bounded.alreadyRevertedCount = count(status.alreadyReverted, status.alreadyRevertedCount);
  bounded.alreadyReverted = list(status.alreadyReverted, short);
  bounded.kustomizations = list(status.kustomizations, (k) => ({ ...k, message: k.message === undefined ? undefined : short(k.message) }));
  bounded.suspendedImageUpdates = list(status.suspendedImageUpdates, (s) => s);
  if (status.safety) {
    const { blocked, allowed, objects, unparsable } = status.safety;
    const object = <T extends { file: string }>(o: T): T => ({ ...o, file: short(o.file) });
    bounded.safety = {
      ...status.safety,
      blocked: list(blocked, object),
      allowed: list(allowed, object),
      objects: list(objects, object),
      unparsable: list(unparsable, (u) => ({ ...u, file: short(u.file), error: short(u.error) })),
    };
  }
  return dropUndefined(bounded);
}

/** A copy without the keys whose value is undefined (so counts of absent lists are not written). */
function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
