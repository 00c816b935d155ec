/**
 * What a change does to the Kubernetes objects declared in the repository: given the changed
 * files at both versions, the objects added, removed and changed, per file and per kind. Pure.
 */
import { isDeepStrictEqual } from 'node:util';
import { identifyObject, isManifestPath, parseManifestObjects, type ManifestObject } from './manifest-objects.js';
import type { KustomizationDiff, ObjectChange, ObjectChangeType, UnparsableFile } from './object-change.js';

export type { ObjectChange, ObjectChangeType, UnparsableFile } from './object-change.js';

/** A changed file at the version before (branch head) and after (the rollback); null = absent. */
export interface ChangedFile {
  path: string;
  before: string | null;
  after: string | null;
  /** A version that could not be read as text (binary, too large): the file is reported, not parsed. */
  errors?: { before?: string; after?: string };
}

export interface KindSummary {
  kind: string;
  added: number;
  removed: number;
  changed: number;
}

export interface ManifestDiff {
  /** Every changed path, manifest or not. */
  changedPaths: string[];
  /** Changed files that were parsed as manifests. */
  manifestFiles: string[];
  /** Changed files that are not manifests (by extension). */
  otherFiles: string[];
  /** Manifest files left out because a version does not parse (Flux could not apply it either). */
  unparsable: UnparsableFile[];
  objects: ObjectChange[];
  summary: KindSummary[];
}

/**
 * Compares the objects of each changed manifest file at both versions. An object is matched
 * within its file by group/kind/namespace/name, so moving an object to another file reads as a
 * removal and an addition (the files may belong to different clusters or Kustomizations).
 * "changed" means the parsed content differs; formatting and comments do not count.
 */
export function diffManifests(files: ChangedFile[]): ManifestDiff {
  const diff: ManifestDiff = { changedPaths: files.map((f) => f.path).sort(), manifestFiles: [], otherFiles: [], unparsable: [], objects: [], summary: [] };
  for (const file of [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    if (!isManifestPath(file.path)) {
      diff.otherFiles.push(file.path);
      continue;
    }
    const before = file.errors?.before ? { ok: false as const, error: file.errors.before } : parseVersion(file.path, file.before);
    const after = file.errors?.after ? { ok: false as const, error: file.errors.after } : parseVersion(file.path, file.after);
    if (!before.ok || !after.ok) {
      if (!before.ok) diff.unparsable.push({ file: file.path, version: 'before', error: before.error });
      if (!after.ok) diff.unparsable.push({ file: file.path, version: 'after', error: after.error });
      continue;
    }
    diff.manifestFiles.push(file.path);
    diff.objects.push(...compareObjects(before.objects, after.objects));
  }
  diff.summary = summarizeByKind(diff.objects);
  return diff;
}

/**
 * Adds what changed kustomizations do (diff-kustomizations.ts) to a file-by-file diff: object
 * changes the files do not already report, and files that could not be followed.
 */
export function addKustomizationDiff(diff: ManifestDiff, kustomizations: KustomizationDiff): ManifestDiff {
  const changeKey = (o: ObjectChange): string => `${identifyObject(o)}|${o.change}`;
  const seen = new Set(diff.objects.map(changeKey));
  const objects = [...diff.objects, ...kustomizations.objects.filter((o) => !seen.has(changeKey(o)) && seen.add(changeKey(o)))];
  const problemKey = (u: UnparsableFile): string => `${u.file}|${u.version}|${u.error}`;
  const reported = new Set(diff.unparsable.map(problemKey));
  const unparsable = [...diff.unparsable, ...kustomizations.unparsable.filter((u) => !reported.has(problemKey(u)) && reported.add(problemKey(u)))];
  return { ...diff, objects, unparsable, summary: summarizeByKind(objects) };
}

function parseVersion(path: string, text: string | null): { ok: true; objects: ManifestObject[] } | { ok: false; error: string } {
  return text === null ? { ok: true, objects: [] } : parseManifestObjects(path, text);
}

function compareObjects(before: ManifestObject[], after: ManifestObject[]): ObjectChange[] {
  const beforeById = indexObjects(before);
  const afterById = indexObjects(after);
  const changes: ObjectChange[] = [];
  for (const [id, old] of beforeById) {
    const next = afterById.get(id);
    if (!next) changes.push(describe(old, 'removed'));
    else if (!isDeepStrictEqual(old.content, next.content)) changes.push(describe(next, 'changed'));
  }
  for (const [id, next] of afterById) {
    if (!beforeById.has(id)) changes.push(describe(next, 'added'));
  }
  return changes;
}

/** Objects by identity; a duplicate in the same file (invalid for kustomize) keeps the last one. */
function indexObjects(objects: ManifestObject[]): Map<string, ManifestObject> {
  return new Map(objects.map((o) => [identifyObject(o), o]));
}

function describe(object: ManifestObject, change: ObjectChangeType): ObjectChange {
  const { apiVersion, kind, name, namespace, file } = object;
  return namespace ? { apiVersion, kind, name, namespace, file, change } : { apiVersion, kind, name, file, change };
}

function summarizeByKind(objects: ObjectChange[]): KindSummary[] {
  const byKind = new Map<string, KindSummary>();
  for (const object of objects) {
    const summary = byKind.get(object.kind) ?? { kind: object.kind, added: 0, removed: 0, changed: 0 };
    summary[object.change]++;
    byKind.set(object.kind, summary);
  }
  return [...byKind.values()].sort((a, b) => a.kind.localeCompare(b.kind));
}
