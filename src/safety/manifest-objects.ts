/**
 * Reads the Kubernetes objects a manifest file declares: every YAML document (and the items of a
 * `kind: List`), identified by API group, kind, namespace and name. Pure: the caller supplies the
 * bytes. A file that does not parse is reported, not guessed at.
 */
import { parseAllDocuments } from 'yaml';

/** A Kubernetes object found in a manifest file. */
export interface ManifestObject {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  /** The file that declares it. */
  file: string;
  /** The parsed object, for comparing versions of it. */
  content: unknown;
}

export type ParsedManifest = { ok: true; objects: ManifestObject[] } | { ok: false; error: string };

const MANIFEST_EXTENSION = /\.(ya?ml|json)$/i;

/** True for the files manifests live in: .yaml, .yml and .json (JSON is YAML). */
export function isManifestPath(path: string): boolean {
  return MANIFEST_EXTENSION.test(path);
}

/**
 * Parses all documents of a manifest file. Documents that are not Kubernetes objects (no kind,
 * apiVersion or metadata.name, e.g. a values file) are skipped; any YAML error makes the whole
 * file unparsable.
 */
export function parseManifestObjects(file: string, text: string): ParsedManifest {
  let documents;
  try {
    documents = parseAllDocuments(text, { prettyErrors: false, uniqueKeys: false });
  } catch (error) {
    return { ok: false, error: firstLine((error as Error).message) };
  }
  // A stream that is not YAML at all comes back as a single EmptyStream-like value.
  const list = Array.isArray(documents) ? documents : [];
  const objects: ManifestObject[] = [];
  for (const document of list) {
    if (document.errors.length) return { ok: false, error: firstLine(document.errors[0].message) };
    let value: unknown;
    try {
      value = document.toJS({ maxAliasCount: 100 });
    } catch (error) {
      return { ok: false, error: firstLine((error as Error).message) };
    }
    collectObjects(file, value, objects);
  }
  return { ok: true, objects };
}

/** The key an object is known by: group, kind, namespace, name (the version is a representation). */
export function identifyObject(object: Pick<ManifestObject, 'apiVersion' | 'kind' | 'namespace' | 'name'>): string {
  const group = object.apiVersion.includes('/') ? object.apiVersion.slice(0, object.apiVersion.lastIndexOf('/')) : '';
  return `${group}|${object.kind}|${object.namespace ?? ''}|${object.name}`;
}

function collectObjects(file: string, value: unknown, into: ManifestObject[]): void {
  if (!isRecord(value)) return;
  const { apiVersion, kind, metadata } = value;
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') return;
  if (/List$/.test(kind) && Array.isArray(value.items)) {
    for (const item of value.items) collectObjects(file, item, into);
    return;
  }
  if (!isRecord(metadata) || typeof metadata.name !== 'string' || !metadata.name) return;
  const namespace = typeof metadata.namespace === 'string' && metadata.namespace ? metadata.namespace : undefined;
  into.push({ apiVersion, kind, name: metadata.name, namespace, file, content: value });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function firstLine(message: string): string {
  return message.split('\n')[0].slice(0, 300);
}
