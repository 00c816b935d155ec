/**
 * Flux notification-controller events as the generic and generic-hmac providers post them: the
 * event JSON (involvedObject, severity, reason, message, metadata, reportingController,
 * timestamp). Validates the shape and reads the revision under its current key (`revision`,
 * notification-controller >= 1.5) or the legacy `kustomize.toolkit.fluxcd.io/revision`.
 */
import { FLUX_KUSTOMIZE_GROUP, FLUX_SOURCE_GROUP } from '../flux/api-resources.js';
import { parseRevision } from '../flux/revision.js';
import { MAX_TRIGGER_MESSAGE, MAX_TRIGGER_REVISION, toOneLine } from './event-text.js';
import { CodedError } from '../coded-error.js';

export interface FluxEvent {
  involvedObject: { kind: string; namespace: string; name: string; uid?: string; apiVersion?: string };
  severity: string;
  reason: string;
  /** The event's message as one line of at most {@link MAX_TRIGGER_MESSAGE} characters. */
  message: string;
  /** The revision the event is about, in Flux's format, when present (at most {@link MAX_TRIGGER_REVISION} characters). */
  revision?: string;
  reportingController?: string;
  timestamp?: string;
}

/** A body that is JSON but not a Flux event: the receiver answers 400 with this message. */
export class InvalidPayloadError extends CodedError {
  readonly code = 'InvalidPayloadError' as const;
}

// The legacy keys are the API group's name + `/revision`, as the controllers compose them.
const REVISION_KEYS = ['revision', `${FLUX_KUSTOMIZE_GROUP}/revision`, `${FLUX_SOURCE_GROUP}/revision`];

/** Validates a parsed JSON body as a Flux event. Throws {@link InvalidPayloadError}. */
export function parseFluxEvent(body: unknown): FluxEvent {
  if (!isObject(body)) throw new InvalidPayloadError('The body is not a JSON object');
  const involved = body.involvedObject;
  if (!isObject(involved)) throw new InvalidPayloadError('involvedObject is missing');
  const kind = requireString(involved, 'kind', 'involvedObject.kind');
  const name = requireString(involved, 'name', 'involvedObject.name');
  const namespace = requireString(involved, 'namespace', 'involvedObject.namespace');
  const reason = requireString(body, 'reason', 'reason');
  const metadata = isObject(body.metadata) ? body.metadata : {};
  const revision = REVISION_KEYS.map((key) => metadata[key]).find((value): value is string => typeof value === 'string' && value !== '');
  if (revision !== undefined && revision.length > MAX_TRIGGER_REVISION)
    throw new InvalidPayloadError(`the revision is longer than ${MAX_TRIGGER_REVISION} characters`);
  return {
    involvedObject: { kind, name, namespace, uid: optionalString(involved.uid), apiVersion: optionalString(involved.apiVersion) },
    severity: optionalString(body.severity) ?? 'info',
    reason,
    message: toOneLine(optionalString(body.message) ?? '', MAX_TRIGGER_MESSAGE),
    revision,
    reportingController: optionalString(body.reportingController),
    timestamp: optionalString(body.timestamp),
  };
}

/**
 * The commit sha of a Flux revision: `main@sha1:<sha>`, `refs/heads/main@sha1:<sha>`,
 * `sha1:<sha>`, legacy `main/<sha>`, or a bare sha. Undefined for anything else (a tag-only
 * revision, a sha256 repository, an OCI digest).
 */
export function parseRevisionSha(revision: string | undefined): string | undefined {
  const digest = revision ? parseRevision(revision)?.digest : undefined;
  // Only sha1 commit ids: the engine and the CRD take 7-40 hex characters.
  return digest?.length === 40 ? digest : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function requireString(object: Record<string, unknown>, key: string, label: string): string {
  const value = object[key];
  if (typeof value !== 'string' || value === '') throw new InvalidPayloadError(`${label} must be a non-empty string`);
  if (value.length > 1024) throw new InvalidPayloadError(`${label} is too long`);
  return value;
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export { isObject as isJsonObject };
