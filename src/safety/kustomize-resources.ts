/**
 * The objects a kustomization builds, resolved the way `kustomize build` finds its inputs: the
 * `resources`, `bases` and `components` lists, where an entry is a file (its documents are
 * objects) or a directory (its kustomization.yaml, kustomization.yml or Kustomization, followed
 * recursively). Transformers (namespace, namePrefix, patches, labels, ...) are not applied: an
 * object's content is compared together with the transformer fields of every kustomization on
 * its way in, so changing any of them reads as changing every object they reach. Pure: files are
 * read through a callback, within the repository, under a shared budget of files and bytes.
 */
import { posix } from 'node:path';
import { parse } from 'yaml';
import type { UnparsableFile } from './object-change.js';
import { identifyObject, parseManifestObjects, type ManifestObject } from './manifest-objects.js';

/** The file names kustomize looks for in a directory, in its order. */
export const KUSTOMIZATION_FILE_NAMES: readonly string[] = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];

/** True for a path whose file name kustomize reads as a kustomization. */
export function isKustomizationPath(path: string): boolean {
  return KUSTOMIZATION_FILE_NAMES.includes(posix.basename(path));
}

/** Reads a file of the repository at one version; null when absent or not a file. */
export type ReadFile = (path: string) => Promise<Uint8Array | null>;

/** Bounds on what following kustomizations may read, shared by every resolution of one inspection. */
export interface ResolveBudget {
  /** Files left to read (kustomizations and resources). */
  files: number;
  /** Bytes left to read. */
  bytes: number;
}

/** The limits one inspection starts with (both versions together), and how deep bases nest. */
export const KUSTOMIZE_LIMITS = { files: 4000, bytes: 64 * 1024 * 1024, depth: 20 } as const;

/** An object as a kustomization builds it: where it is declared and what shapes it. */
export interface BuiltObject {
  object: ManifestObject;
  /** The object's content plus the transformer fields on its way in, for comparing versions. */
  shape: unknown;
}

export interface ResolvedKustomization {
  /** Objects by identity (group|kind|namespace|name). */
  objects: Map<string, BuiltObject>;
  /** Files that could not be read, parsed or followed, at this version. */
  problems: UnparsableFile[];
  /** Remote references (URLs) that were not followed, as "<kustomization dir>: <entry>". */
  remote: string[];
}

/** Fields that list inputs; every other field of a kustomization transforms what it builds. */
const INPUT_FIELDS = ['resources', 'bases', 'components'];

/**
 * Resolves the kustomization at `path` (a kustomization file) at one version. A missing root
 * builds nothing (the kustomization is deleted); anything that cannot be followed becomes a
 * problem of `version`, never a silent gap.
 */
export async function resolveKustomization(
  path: string,
  read: ReadFile,
  version: UnparsableFile['version'],
  budget: ResolveBudget,
): Promise<ResolvedKustomization> {
  const result: ResolvedKustomization = { objects: new Map(), problems: [], remote: [] };
  const problem = (file: string, error: string): void => {
    result.problems.push({ file, version, error });
  };
  const readText = async (file: string): Promise<string | null | undefined> => {
    if (budget.files <= 0) {
      problem(file, `more than ${KUSTOMIZE_LIMITS.files} files referenced through kustomizations, not followed`);
      return undefined;
    }
    budget.files--;
    const bytes = await read(file);
    if (bytes === null) return null;
    if (bytes.byteLength > budget.bytes) {
      budget.bytes = 0;
      problem(file, `more than ${KUSTOMIZE_LIMITS.bytes / 1024 / 1024} MiB referenced through kustomizations, not followed`);
      return undefined;
    }
    budget.bytes -= bytes.byteLength;
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      problem(file, 'not UTF-8 text');
      return undefined;
    }
  };

  const visit = async (file: string, text: string, transforms: unknown[], stack: string[]): Promise<void> => {
    let document: unknown;
    try {
      document = parse(text, { prettyErrors: false, uniqueKeys: false, maxAliasCount: 100 });
    } catch (error) {
      problem(file, firstLine((error as Error).message));
      return;
    }
    if (document === null || document === undefined) return;
    if (!isRecord(document)) {
      problem(file, 'a kustomization must be a mapping');
      return;
    }
    const chain = [...transforms, transformerFields(document)];
    const dir = posix.dirname(file);
    for (const field of INPUT_FIELDS) {
      const entries = document[field];
      if (entries === undefined || entries === null) continue;
      if (!Array.isArray(entries)) {
        problem(file, `${field} must be a list`);
        continue;
      }
      for (const entry of entries) {
        if (typeof entry !== 'string' || !entry.trim()) {
          problem(file, `${field} entries must be non-empty strings`);
          continue;
        }
        await visitEntry(file, dir, entry.trim(), chain, stack);
      }
    }
  };

  const visitEntry = async (from: string, dir: string, entry: string, chain: unknown[], stack: string[]): Promise<void> => {
    if (isRemote(entry)) {
      result.remote.push(`${dir}: ${entry}`);
      return;
    }
    const target = posix.normalize(posix.join(dir, entry)).replace(/\/+$/, '');
    if (posix.isAbsolute(entry) || target === '..' || target.startsWith('../')) {
      problem(from, `${entry} is outside the repository, not followed`);
      return;
    }
    const text = await readText(target);
    if (text === undefined) return;
    if (text !== null) {
      const parsed = parseManifestObjects(target, text);
      if (!parsed.ok) problem(target, parsed.error);
      else for (const object of parsed.objects) result.objects.set(identifyObject(object), { object, shape: { content: object.content, transforms: chain } });
      return;
    }
    for (const name of KUSTOMIZATION_FILE_NAMES) {
      const kustomization = target === '.' ? name : `${target}/${name}`;
      const found = await readText(kustomization);
      if (found === undefined) return;
      if (found === null) continue;
      if (stack.includes(kustomization) || stack.length >= KUSTOMIZE_LIMITS.depth) {
        problem(from, `${entry} nests kustomizations in a cycle or deeper than ${KUSTOMIZE_LIMITS.depth}, not followed`);
        return;
      }
      await visit(kustomization, found, chain, [...stack, kustomization]);
      return;
    }
    problem(from, `${entry} is neither a file nor a directory with a kustomization`);
  };

  const root = await readText(path);
  if (typeof root === 'string') await visit(path, root, [], [path]);
  return result;
}

/** A kustomization without its input lists: what it does to the objects it builds. */
function transformerFields(document: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(document).filter(([key]) => !INPUT_FIELDS.includes(key)));
}

/** kustomize's remote forms: URLs, scp-like git addresses, and host-first paths (github.com/...). */
function isRemote(entry: string): boolean {
  return (
    /^[a-z][a-z0-9+.-]*:\/\//i.test(entry) ||
    /^[^/]+@[^/]+:/.test(entry) ||
    /^(github\.com|gitlab\.com|bitbucket\.org)\//i.test(entry) ||
    entry.includes('?ref=')
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function firstLine(message: string): string {
  return message.split('\n')[0].slice(0, 300);
}
