/**
 * The safety verdict on a change: deleting or changing an object of a protected kind blocks the
 * rollback unless the request allows that kind. Adding objects never blocks. Pure.
 */
import type { ManifestDiff, ObjectChange } from './diff-manifests.js';

/** Kinds whose deletion or change loses data or cascades (a CRD takes all its objects with it). */
export const DEFAULT_PROTECTED_KINDS: readonly string[] = ['CustomResourceDefinition', 'PersistentVolumeClaim', 'PersistentVolume', 'Namespace'];

/**
 * The allow entry that lets a rollback through although changed manifests could not be parsed
 * or followed (their objects are unknown, so they block by default).
 */
export const UNPARSABLE_ALLOW = 'Unparsable';

export interface SafetyPolicy {
  /** Kinds guarded in addition to DEFAULT_PROTECTED_KINDS (the operator's configuration). */
  protectedKinds?: readonly string[];
  /** Kinds the request explicitly allows to be deleted or changed (spec.safety.allow); UNPARSABLE_ALLOW lets unparsable files through. */
  allow?: readonly string[];
}

export type Verdict = 'Passed' | 'Blocked';

export interface SafetyVerdict extends ManifestDiff {
  verdict: Verdict;
  /** Protected objects removed or changed, not allowed: the reason for Blocked. */
  blocked: ObjectChange[];
  /** Protected objects removed or changed that the request allowed. */
  allowed: ObjectChange[];
  /** True when unparsable files block (some were found and UNPARSABLE_ALLOW was not given). */
  unparsableBlocked: boolean;
  protectedKinds: string[];
}

/** The full protected list: defaults plus the extra kinds, without duplicates (case-insensitive). */
export function listProtectedKinds(extra: readonly string[] = []): string[] {
  const seen = new Map<string, string>();
  for (const kind of [...DEFAULT_PROTECTED_KINDS, ...extra].map((k) => k.trim()).filter(Boolean)) {
    if (!seen.has(kind.toLowerCase())) seen.set(kind.toLowerCase(), kind);
  }
  return [...seen.values()];
}

/** Judges a manifest diff. Kinds compare case-insensitively. */
export function evaluateSafety(diff: ManifestDiff, policy: SafetyPolicy = {}): SafetyVerdict {
  const protectedKinds = listProtectedKinds(policy.protectedKinds);
  const isProtected = toMatcher(protectedKinds);
  const isAllowed = toMatcher(policy.allow ?? []);
  const risky = diff.objects.filter((o) => o.change !== 'added' && isProtected(o.kind));
  const blocked = risky.filter((o) => !isAllowed(o.kind));
  const allowed = risky.filter((o) => isAllowed(o.kind));
  const unparsableBlocked = diff.unparsable.length > 0 && !isAllowed(UNPARSABLE_ALLOW);
  return { ...diff, verdict: blocked.length || unparsableBlocked ? 'Blocked' : 'Passed', blocked, allowed, unparsableBlocked, protectedKinds };
}

/** "removed CustomResourceDefinition widgets.example.com (crds/widgets.yaml)". */
export function describeObjectChange(object: ObjectChange): string {
  const name = object.namespace ? `${object.namespace}/${object.name}` : object.name;
  return `${object.change} ${object.kind} ${name} (${object.file})`;
}

/**
 * One line for a condition or a terminal: which objects block, in which files. The caller adds
 * how to allow them (spec.safety.allow, or the CLI's --allow-kind).
 */
export function formatBlockedMessage(verdict: SafetyVerdict, limit = 10): string {
  const parts: string[] = [];
  if (verdict.blocked.length) {
    const shown = verdict.blocked.slice(0, limit).map(describeObjectChange);
    const more = verdict.blocked.length > limit ? `; and ${verdict.blocked.length - limit} more` : '';
    parts.push(`${shown.join('; ')}${more}; protected kinds (${verdict.protectedKinds.join(', ')}) are not deleted or changed unless allowed`);
  }
  if (verdict.unparsableBlocked) {
    const shown = verdict.unparsable.slice(0, limit).map((u) => `${u.file} (${u.version}): ${u.error}`);
    const more = verdict.unparsable.length > limit ? `; and ${verdict.unparsable.length - limit} more` : '';
    parts.push(`could not parse ${shown.join('; ')}${more}; what unparsable files delete is unknown, so they block unless ${UNPARSABLE_ALLOW} is allowed`);
  }
  return `Safety check blocked the rollback: ${parts.join('; ')}`;
}

/** The kinds (and UNPARSABLE_ALLOW) that would have to be allowed for the verdict to pass. */
export function listBlockedKinds(verdict: SafetyVerdict): string[] {
  return [...new Set([...verdict.blocked.map((o) => o.kind), ...(verdict.unparsableBlocked ? [UNPARSABLE_ALLOW] : [])])];
}

function toMatcher(kinds: readonly string[]): (kind: string) => boolean {
  const set = new Set(kinds.map((k) => k.trim().toLowerCase()));
  return (kind) => set.has(kind.toLowerCase());
}

/** The verdict as reported (status.safety, the CLI's JSON): without the per-file lists. */
export interface SafetyReport {
  verdict: Verdict;
  blocked: ObjectChange[];
  allowed: ObjectChange[];
  summary: ManifestDiff['summary'];
  /** The first `maxObjects` objects added, removed or changed. */
  objects: ObjectChange[];
  objectCount: number;
  unparsable: ManifestDiff['unparsable'];
  protectedKinds: string[];
}

/** Reduces a verdict to its report; `maxObjects` bounds the object and unparsable lists (status size). */
export function summarizeVerdict(verdict: SafetyVerdict, maxObjects = 100): SafetyReport {
  return {
    verdict: verdict.verdict,
    blocked: verdict.blocked,
    allowed: verdict.allowed,
    summary: verdict.summary,
    objects: verdict.objects.slice(0, maxObjects),
    objectCount: verdict.objects.length,
    unparsable: verdict.unparsable.slice(0, maxObjects),
    protectedKinds: verdict.protectedKinds,
  };
}

/** Lines for a person: verdict, counts per kind, blocked and allowed objects, unparsable files. */
export function formatVerdictLines(verdict: SafetyVerdict): string[] {
  const lines = [`Safety check: ${verdict.verdict}${verdict.objects.length ? '' : ' (no Kubernetes objects changed)'}`];
  for (const s of verdict.summary) lines.push(`  ${s.kind}: ${s.added} added, ${s.removed} removed, ${s.changed} changed`);
  for (const o of verdict.blocked) lines.push(`  blocked: ${describeObjectChange(o)}`);
  for (const o of verdict.allowed) lines.push(`  allowed: ${describeObjectChange(o)}`);
  for (const u of verdict.unparsable) lines.push(`  not parsed: ${u.file} (${u.version}): ${u.error}`);
  return lines;
}
